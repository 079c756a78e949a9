/**
 * The Ledger's one query API (query, select): the store is told the filter (so a store that
 * filters server-side, like Ara, fetches less), documents that are not valid job records are
 * reported instead of filtered away, and select() gives the CLI's order with each attempt once.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Ledger, keys, newRecord } from "../../src/engine/ledger.js";
import { documentFilter, recordHooks } from "../../src/engine/query.js";
import type { JobRecord } from "../../src/engine/record.js";
import type { DocumentFilter, Key, ListResult } from "../../src/stores/types.js";
import { MemoryStore } from "../helpers/memory-store.js";

class SpyStore extends MemoryStore {
  readonly lists: { prefix: Key; filter: DocumentFilter | undefined }[] = [];
  override list(prefix: Key, filter?: DocumentFilter): Promise<ListResult> {
    this.lists.push({ prefix, filter });
    return super.list(prefix, filter);
  }
}

function rec(host: string, name: string, attempt: number, status: JobRecord["status"], fields: Partial<JobRecord> = {}): JobRecord {
  return { ...newRecord({ namespace: "default", host, name }, attempt, { playbook: "/p/site.yml" }), status, ...fields };
}

test("query passes the store a filter built from the record filter, one list per host and layout prefix", async () => {
  const store = new SpyStore();
  await store.create(keys.head({ namespace: "default", host: "h1", name: "a" }), rec("h1", "a", 1, "failed"));
  await store.create(keys.head({ namespace: "default", host: "h2", name: "a" }), rec("h2", "a", 1, "running"));
  const ledger = new Ledger(store);
  const res = await ledger.query({ namespace: "default", hosts: ["h1", "h2"], status: ["failed"], history: true });
  assert.deepEqual(
    res.records.map((r) => `${r.host}/${r.name}`),
    ["h1/a"],
  );
  assert.deepEqual(
    store.lists.map((l) => l.prefix.join("/")),
    ["heads/default/h1", "history/default/h1", "heads/default/h2", "history/default/h2"],
  );
  for (const l of store.lists) assert.equal(typeof l.filter?.matches, "function");
});

test("a document that is not a valid job record passes the filter and is reported, whatever it claims", async () => {
  const store = new MemoryStore();
  await store.create(keys.head({ namespace: "default", host: "h1", name: "bad" }), { namespace: "default", host: "h1", name: "bad", status: "running" });
  await store.create(keys.head({ namespace: "default", host: "h1", name: "ok" }), rec("h1", "ok", 1, "failed"));
  const res = await new Ledger(store).select({ namespace: "default", status: ["failed"] });
  assert.deepEqual(
    res.records.map((r) => r.name),
    ["ok"],
  );
  assert.equal(res.errors.length, 1);
  assert.match(res.errors[0]!, /bad.*not a valid job record/);
});

test("select sorts by namespace, host, name and attempt and lists an attempt found as head and in history once (the head)", async () => {
  const store = new MemoryStore();
  const id = { namespace: "default", host: "h2", name: "b" };
  const head = rec("h2", "b", 2, "succeeded");
  await store.create(keys.head(id), head);
  await store.create(keys.history(id, 2), { ...head, status: "running" });
  await store.create(keys.history(id, 1), rec("h2", "b", 1, "failed"));
  await store.create(keys.head({ namespace: "default", host: "h1", name: "z" }), rec("h1", "z", 1, "running"));
  const res = await new Ledger(store).select({ history: true });
  assert.deepEqual(
    res.records.map((r) => `${r.host}/${r.name}#${r.attempt}:${r.status}`),
    ["h1/z#1:running", "h2/b#1:failed", "h2/b#2:succeeded"],
  );
});

test("summaries and the filter's mayMatch agree: status and updated_at", () => {
  const r = rec("h1", "a", 1, "failed", { updated_at: "2020-01-01T00:00:00.000Z" });
  const summary = recordHooks.summarize(["heads"], r);
  assert.deepEqual(summary, { status: "failed", updated_at: "2020-01-01T00:00:00.000Z" });
  assert.equal(documentFilter({ status: ["failed"] }).mayMatch?.(summary!), true);
  assert.equal(documentFilter({ status: ["running"] }).mayMatch?.(summary!), false);
  assert.equal(documentFilter({ updatedBefore: new Date("2021-01-01T00:00:00Z") }).mayMatch?.(summary!), true);
  assert.equal(documentFilter({ updatedSince: new Date("2021-01-01T00:00:00Z") }).mayMatch?.(summary!), false);
});

test("links are asked for job heads only, named like Ara's run links", () => {
  const r = rec("web1", "backup", 1, "running");
  assert.equal(recordHooks.link(keys.history(r, 1), r), undefined);
  assert.equal(recordHooks.link(keys.head(r), r)?.name, "ansible_job:backup@web1");
  const ns = { ...r, namespace: "nightly" };
  assert.equal(recordHooks.link(keys.head(ns), ns)?.name, "ansible_job:nightly/backup@web1");
  assert.equal(recordHooks.link(keys.head(ns), ns)?.title, 'job "backup" on web1');
});
