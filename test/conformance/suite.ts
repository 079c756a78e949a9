/**
 * One conformance suite for every store. Each capability a store declares is checked;
 * nothing is skipped to let a store pass: a store that cannot do a thing must not declare it.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { isCode } from "../../src/engine/errors.js";
import { Ledger } from "../../src/engine/ledger.js";
import { newRecord } from "../../src/engine/ledger.js";
import { type RecordFilter, documentFilter } from "../../src/engine/query.js";
import type { Key, Store } from "../../src/stores/types.js";

export interface StoreFixture {
  store: Store;
  /** Writes raw bytes where the document for `key` lives (to test corrupt documents). */
  corrupt?: (key: Key, bytes: string) => Promise<void>;
  cleanup: () => Promise<void>;
}

let seq = 0;
const uniq = (p: string) => `${p}-${process.pid}-${Date.now()}-${seq++}`;

export const TRICKY_NAMES = [
  "../../x",
  "a/b",
  "..",
  ".",
  ".hidden",
  "Web",
  "web",
  "WEB",
  "zażółć gęślą jaźń",
  "名前",
  "emoji 🚀 job",
  "x".repeat(1000),
  `${"É".repeat(300)}-a`,
  `${"É".repeat(300)}-b`,
  "with space",
  "percent%2F",
  "back\\slash",
  "colon:star*?",
];

/** `times` read-modify-write increments of `{ n }` at `key`, each retried on conflict; returns the conflicts met. */
export async function casIncrements(store: Store, key: Key, times: number): Promise<number> {
  let conflicts = 0;
  for (let i = 0; i < times; i++) {
    for (;;) {
      const cur = (await store.get(key))!;
      try {
        await store.update(key, { n: (cur.value as { n: number }).n + 1 }, cur.version);
        break;
      } catch (e) {
        if (!isCode(e, "conflict")) throw e;
        conflicts++;
      }
    }
  }
  return conflicts;
}

export function testStore(name: string, open: () => Promise<StoreFixture>): void {
  describe(`store conformance: ${name}`, () => {
    let fx: StoreFixture;
    let store: Store;
    before(async () => {
      fx = await open();
      store = fx.store;
    });
    after(async () => {
      await store.close?.();
      await fx.cleanup();
    });

    test("get of a missing key is undefined", async () => {
      assert.equal(await store.get(["t", uniq("missing")]), undefined);
    });

    test("create then get returns the value and a version", async () => {
      const key = ["t", uniq("c")];
      const created = await store.create(key, { a: 1 });
      const got = await store.get(key);
      assert.deepEqual(got?.value, { a: 1 });
      assert.equal(got?.version, created.version);
      assert.ok(got?.where.length);
    });

    test("create of an existing key fails with exists, and keeps the first value", async () => {
      const key = ["t", uniq("dup")];
      await store.create(key, { v: "first" });
      await assert.rejects(store.create(key, { v: "second" }), (e) => isCode(e, "exists"));
      assert.deepEqual((await store.get(key))?.value, { v: "first" });
    });

    test("update with the current version replaces the value and changes the version", async () => {
      const key = ["t", uniq("u")];
      const c = await store.create(key, { n: 0 });
      const u = await store.update(key, { n: 1 }, c.version);
      assert.notEqual(u.version, c.version);
      assert.deepEqual((await store.get(key))?.value, { n: 1 });
    });

    test("update of a missing key fails with not_found", async () => {
      await assert.rejects(store.update(["t", uniq("nf")], { n: 1 }, "v"), (e) => isCode(e, "not_found"));
    });

    test("delete removes; deleting a missing key is fine", async () => {
      const key = ["t", uniq("d")];
      await store.create(key, { x: 1 });
      await store.delete(key);
      assert.equal(await store.get(key), undefined);
      await store.delete(key);
    });

    test("tricky names stay distinct, round-trip and stay inside the store", async () => {
      const base = uniq("names");
      for (const n of TRICKY_NAMES) await store.create(["t", base, n], { n });
      for (const n of TRICKY_NAMES) assert.deepEqual((await store.get(["t", base, n]))?.value, { n }, n);
      const listed = await store.list(["t", base]);
      assert.equal(listed.errors.length, 0);
      assert.deepEqual(
        listed.entries.map((e) => (e.value as { n: string }).n).sort(),
        [...TRICKY_NAMES].sort(),
      );
    });

    test("list filters job records by host, name, status and playbook", async () => {
      const ns = uniq("ns");
      const mk = (host: string, name: string, status: "running" | "failed", playbook: string) => ({
        ...newRecord({ namespace: ns, host, name }, 1, { playbook }),
        status,
      });
      await store.create(["heads", ns, "h1", "a"], mk("h1", "a", "running", "/p/one.yml"));
      await store.create(["heads", ns, "h1", "b"], mk("h1", "b", "failed", "/p/two.yml"));
      await store.create(["heads", ns, "h2", "a"], mk("h2", "a", "failed", "/p/one.yml"));
      const names = async (f: RecordFilter | undefined) =>
        (await store.list(["heads", ns], f && documentFilter(f))).entries.map((e) => `${(e.value as { host: string }).host}/${(e.value as { name: string }).name}`).sort();
      assert.deepEqual(await names(undefined), ["h1/a", "h1/b", "h2/a"]);
      assert.deepEqual(await names({ host: "h1" }), ["h1/a", "h1/b"]);
      assert.deepEqual(await names({ name: "a" }), ["h1/a", "h2/a"]);
      assert.deepEqual(await names({ status: ["failed"] }), ["h1/b", "h2/a"]);
      assert.deepEqual(await names({ playbook: "one.yml" }), ["h1/a", "h2/a"]);
    });

    test("a corrupt document is reported by name and does not hide the others", async (t) => {
      if (!fx.corrupt) return t.skip("this store has no way to hold a corrupt document");
      const base = uniq("corrupt");
      await store.create(["t", base, "good"], { ok: true });
      await fx.corrupt(["t", base, "bad"], '{"truncated": ');
      const res = await store.list(["t", base]);
      assert.equal(res.entries.length, 1);
      assert.equal(res.errors.length, 1);
      assert.match(res.errors[0]!.message, /bad/);
      await assert.rejects(store.get(["t", base, "bad"]), (e) => isCode(e, "corrupt") && /bad/.test((e as Error).message));
    });

    test("now() reports the store's clock", async () => {
      const now = await store.now();
      assert.ok(Math.abs(now.getTime() - Date.now()) < 10 * 60 * 1000);
    });

    test("capability atomicCreate: concurrent creates have exactly one winner", async (t) => {
      if (!store.capabilities.atomicCreate) return t.skip("not declared");
      const key = ["t", uniq("race")];
      const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => store.create(key, { i })));
      assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
      for (const r of results) if (r.status === "rejected") assert.ok(isCode(r.reason, "exists"), String(r.reason));
    });

    test("capability compareAndSwap: stale versions conflict and no update is lost", async (t) => {
      if (!store.capabilities.compareAndSwap) return t.skip("not declared");
      const key = ["t", uniq("cas")];
      const c = await store.create(key, { n: 0 });
      await store.update(key, { n: 1 }, c.version);
      await assert.rejects(store.update(key, { n: 99 }, c.version), (e) => isCode(e, "conflict"));
      await assert.rejects(store.delete(key, c.version), (e) => isCode(e, "conflict"));
      // 6 writers x 5 increments, each a read-modify-CAS loop.
      const conflicts = await Promise.all(Array.from({ length: 6 }, () => casIncrements(store, key, 5)));
      assert.deepEqual((await store.get(key))?.value, { n: 31 });
      t.diagnostic(`conflicts retried: ${conflicts.reduce((a, b) => a + b)}`);
    });

    test("ledger: concurrent claims of one name give exactly one claim", async (t) => {
      if (!store.capabilities.atomicCreate || !store.capabilities.compareAndSwap) return t.skip("needs atomicCreate and compareAndSwap");
      const ledger = new Ledger(store);
      const id = { namespace: uniq("claims"), host: "h1", name: "job" };
      const res = await Promise.all(Array.from({ length: 8 }, () => new Ledger(store).claim(id, {}, {}, 300)));
      assert.equal(res.filter((r) => r.claimed).length, 1);
      const head = await ledger.head(id);
      assert.equal(head?.record.status, "starting");
      assert.equal(head?.record.attempt, 1);
    });
  });
}
