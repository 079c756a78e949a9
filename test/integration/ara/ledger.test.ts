/**
 * The ledger playbook: several controllers creating it at once, `ara playbook prune`
 * deleting it (detected and reported, then a new ledger), and prune keeping a ledger in use.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type JobsError, isCode } from "../../../src/engine/errors.js";
import { makeAraStore } from "../../../src/stores/ara.js";
import { ledgerPath } from "../../../src/stores/ara/book.js";
import { ARA_CLI, type AraServer, araApi, startAra } from "../../helpers/ara.js";

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));

async function ledgerPlaybooks(server: AraServer, name: string): Promise<{ id: number; started: string; items: { records: number } }[]> {
  const res = await araApi(server, "GET", `playbooks?path=${encodeURIComponent(ledgerPath(name))}&limit=1000`);
  return ((res.body as { results: { id: number; path: string; started: string; items: { records: number } }[] }).results ?? []).filter(
    (p) => p.path === ledgerPath(name),
  );
}

/** The real Ara CLI against the test server. */
async function araCli(server: AraServer, ...args: string[]): Promise<string> {
  const { stdout, stderr } = await run(ARA_CLI, args, { env: server.env, timeout: 60_000 });
  return stdout + stderr;
}

describe("ara ledger playbook", () => {
  let server: AraServer;
  before(async () => {
    server = await startAra();
    console.log(`# ara server ${server.http} up in ${server.startMs} ms`);
  });
  after(async () => server?.stop());

  test("four controllers (processes) creating the ledger at once agree on one ledger and one winner", async () => {
    const name = "race";
    const url = `${server.storeUrl}?ledger=${name}`;
    const startAt = Date.now() + 2500; // after every process has started
    const outs = await Promise.all(
      [1, 2, 3, 4].map(async (i) => {
        const { stdout } = await run(process.execPath, ["--import", "tsx", path.join(here, "fixtures/create-worker.ts"), url, String(startAt), `doc${i}`], {
          env: { ...process.env, ARA_API_USERNAME: "" },
          timeout: 60_000,
        });
        return JSON.parse(stdout.trim().split("\n").pop()!) as { ledger: number; same: string; error?: string };
      }),
    );
    for (const o of outs) assert.equal(o.error, undefined, JSON.stringify(o));
    const ledgers = new Set(outs.map((o) => o.ledger));
    assert.equal(ledgers.size, 1, `every controller uses the same ledger: ${JSON.stringify(outs)}`);
    assert.deepEqual(outs.map((o) => o.same).sort(), ["exists", "exists", "exists", "won"]);
    // Duplicates created in the race were dropped; the oldest ledger holds every document.
    const books = await ledgerPlaybooks(server, name);
    assert.equal(books.length, 1, JSON.stringify(books));
    assert.equal(books[0]!.id, [...ledgers][0]);
    const store = makeAraStore(url, {}, {});
    const listed = await store.list(["race"]);
    assert.deepEqual(listed.entries.map((e) => e.key.join("/")).sort(), ["race/doc1", "race/doc2", "race/doc3", "race/doc4", "race/same"]);
    const log = server.log();
    console.log(`# ledger playbooks created during the race: ${(log.match(/"POST \/api\/v1\/playbooks HTTP\/1\.1" 201/g) ?? []).length}`);
  });

  test("a controller that first sees only a newer duplicate switches to the older ledger before writing", async () => {
    // An older ledger that becomes visible late (its creator's commit was slow): played here by
    // a playbook made first under another path and moved to the ledger path during the settle wait.
    const name = "late";
    const body = { name: "x", ansible_version: "n/a", status: "completed", arguments: {} };
    const older = await araApi(server, "POST", "playbooks", { ...body, path: "somewhere/else.yml" });
    const newer = await araApi(server, "POST", "playbooks", { ...body, path: ledgerPath(name) });
    const olderId = (older.body as { id: number }).id;
    const newerId = (newer.body as { id: number }).id;
    assert.ok(olderId < newerId);
    const store = makeAraStore(`${server.storeUrl}?ledger=${name}`, {}, {});
    const writing = store.create(["t", "x"], { v: 1 });
    await new Promise((r) => setTimeout(r, 500)); // the store saw only the newer one and waits
    assert.equal((await araApi(server, "PATCH", `playbooks/${olderId}`, { path: ledgerPath(name) })).status, 200);
    await writing;
    assert.equal(await store.ledgerId(), olderId);
    const recs = await araApi(server, "GET", `records?playbook=${newerId}`);
    assert.equal((recs.body as { count: number }).count, 0, "nothing was written into the newer duplicate");
  });

  test("a playbook row left without the ledger's label by a failed create (HTTP 500) is dropped by the next controller", async () => {
    // Seen in CI: two creators raced, one POST answered 500 after Ara had inserted the row but
    // not its labels; that creator retried, so the row was nobody's and stayed as a duplicate.
    const name = "leftover";
    const first = makeAraStore(`${server.storeUrl}?ledger=${name}`, {}, {});
    await first.create(["t", "a"], { v: 1 });
    const ledger = await first.ledgerId();
    const body = { name: "ansible-jobs ledger (leftover)", ansible_version: "n/a", status: "completed", arguments: {} };
    const left = await araApi(server, "POST", "playbooks", { ...body, path: ledgerPath(name) });
    assert.equal(left.status, 201);
    assert.deepEqual((await ledgerPlaybooks(server, name)).map((b) => b.id).sort(), [ledger, (left.body as { id: number }).id].sort());
    const next = makeAraStore(`${server.storeUrl}?ledger=${name}`, {}, {});
    await next.create(["t", "b"], { v: 1 });
    assert.equal(await next.ledgerId(), ledger);
    assert.deepEqual((await ledgerPlaybooks(server, name)).map((b) => b.id), [ledger], "the leftover is gone, the ledger stays");
  });

  test("`ara playbook prune` deletes the ledger: detected, reported clearly, and a new ledger is made", async () => {
    const name = "pruned";
    const url = `${server.storeUrl}?ledger=${name}`;
    const a = makeAraStore(url, {}, {});
    await a.create(["heads", "default", "web1", "backup"], { v: 1 });
    const got = await a.get(["heads", "default", "web1", "backup"]);
    const old = await a.ledgerId();
    // The real CLI, as an admin would run it from cron.
    const out = await araCli(server, "playbook", "prune", "--days", "0", "--path", ledgerPath(name), "--confirm");
    assert.match(out, /deleted|Deleted|1/);
    assert.equal((await ledgerPlaybooks(server, name)).length, 0, "the CLI really deleted it");

    // The process that used it: every operation now says what happened (never "not found").
    const vanished = (e: unknown) => {
      assert.ok(isCode(e, "store_unavailable"), String(e));
      assert.match((e as JobsError).message, new RegExp(`ledger playbook #${old} \\(ansible-jobs://ledger/pruned\\) no longer exists`));
      assert.match((e as JobsError).message, /ara playbook prune/);
      return true;
    };
    await assert.rejects(a.update(["heads", "default", "web1", "backup"], { v: 2 }, got!.version), vanished);
    await assert.rejects(a.get(["heads", "default", "web1", "backup"]), vanished);
    await assert.rejects(a.list([]), vanished);
    await assert.rejects(a.now(), vanished);

    // A later run: reads find nothing but are told why; the first write makes a new ledger.
    const b = makeAraStore(url, {}, {});
    assert.equal(await b.get(["heads", "default", "web1", "backup"]), undefined);
    assert.match(b.warnings.join("\n"), /existed on this server before .* deleted or pruned .* job records it held are lost/);
    await b.create(["heads", "default", "web1", "backup"], { v: "new" });
    const fresh = await b.ledgerId();
    assert.notEqual(fresh, old);
    assert.match(b.warnings.join("\n"), /a new, empty ledger was created/);
    assert.deepEqual((await b.get(["heads", "default", "web1", "backup"]))?.value, { v: "new" });
  });

  test("a ledger in use is kept by `ara playbook prune --days N`: the store refreshes its start date", async () => {
    const name = "kept";
    const url = `${server.storeUrl}?ledger=${name}`;
    const a = makeAraStore(url, {}, {});
    await a.create(["t", "x"], { keep: true });
    const id = await a.ledgerId();
    const threeDaysAgo = new Date(Date.now() - 3 * 86400_000).toISOString();
    assert.equal((await araApi(server, "PATCH", `playbooks/${id}`, { started: threeDaysAgo })).status, 200);
    // The next run opens the store and uses it: the ledger's `started` moves to the server's now.
    const b = makeAraStore(url, {}, {});
    assert.deepEqual((await b.get(["t", "x"]))?.value, { keep: true });
    const [book] = await ledgerPlaybooks(server, name);
    assert.ok(Date.now() - Date.parse(book!.started) < 120_000, `started refreshed: ${book!.started}`);
    await araCli(server, "playbook", "prune", "--days", "2", "--confirm");
    assert.equal((await ledgerPlaybooks(server, name)).length, 1, "prune --days 2 kept the ledger");
    assert.deepEqual((await makeAraStore(url, {}, {}).get(["t", "x"]))?.value, { keep: true });
  });
});
