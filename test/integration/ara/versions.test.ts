/**
 * The version layout under stress: reads stay right whatever the hint says, create/delete
 * cycles keep mutual exclusion, and the recovery paths for what Ara does under races are
 * exercised through a fault-injecting proxy: a duplicate answered as HTTP 500 (IntegrityError),
 * an answer lost after the server wrote the record, and a 500 before any write.
 */
import assert from "node:assert/strict";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import { after, before, describe, test } from "node:test";
import { isCode } from "../../../src/engine/errors.js";
import { newRecord } from "../../../src/engine/ledger.js";
import { documentFilter, recordHooks } from "../../../src/engine/query.js";
import { makeAraStore } from "../../../src/stores/ara.js";
import { docKeyOf, versionKey } from "../../../src/stores/ara/keys.js";
import { type AraServer, araApi, startAra } from "../../helpers/ara.js";

type Fault = "dup-as-500" | "drop-answer" | "500-before-write";

/** Forwards to Ara; the next POSTs to /records meet the queued faults. */
function faultProxy(target: string): { server: Server; faults: Fault[]; seen: Fault[]; valueFetches: () => number; url: () => string } {
  const faults: Fault[] = [];
  const seen: Fault[] = [];
  let valueFetches = 0;
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === "GET" && /^\/api\/v1\/records\/\d+$/.test(req.url ?? "")) valueFetches++;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const fault = req.method === "POST" && req.url?.startsWith("/api/v1/records") ? faults.shift() : undefined;
    if (fault) seen.push(fault);
    if (fault === "500-before-write") {
      res.writeHead(500, { "content-type": "text/html" });
      res.end("<h1>Server Error (500)</h1>");
      return;
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string" && k !== "host" && k !== "content-length") headers[k] = v;
    const up = await fetch(`${target}${req.url}`, { method: req.method, headers, body: body.length ? body : undefined });
    const text = await up.text();
    if (fault === "drop-answer") {
      req.socket.destroy(); // written on the server, but the answer never arrives
      return;
    }
    if (fault === "dup-as-500" && up.status === 400 && /unique/.test(text)) {
      res.writeHead(500, { "content-type": "text/html" });
      res.end("<h1>Server Error (500)</h1>"); // what a race past the validator gives: IntegrityError
      return;
    }
    const out: Record<string, string> = {};
    up.headers.forEach((v, k) => {
      if (k !== "content-length" && k !== "transfer-encoding" && k !== "connection" && k !== "keep-alive") out[k] = v;
    });
    res.writeHead(up.status, out);
    res.end(text);
  });
  return { server, faults, seen, valueFetches: () => valueFetches, url: () => `ara+http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

describe("ara store: versions, hints and recovery", () => {
  let ara: AraServer;
  let proxy: ReturnType<typeof faultProxy>;
  before(async () => {
    ara = await startAra();
    console.log(`# ara server ${ara.http} up in ${ara.startMs} ms`);
    proxy = faultProxy(ara.http);
    await new Promise<void>((r) => proxy.server.listen(0, "127.0.0.1", () => r()));
  });
  after(async () => {
    proxy?.server.close();
    await ara?.stop();
  });

  test("reads are right whatever the hint says (stale, ahead, wrong id, deleted)", async () => {
    const store = makeAraStore(`${ara.storeUrl}?ledger=hints`, {}, {});
    const key = ["heads", "default", "web1", "backup"];
    let e = await store.create(key, { n: 1 });
    for (let i = 2; i <= 6; i++) e = await store.update(key, { n: i }, e.version);
    const ledger = await store.ledgerId();
    const docKey = docKeyOf(key);
    const hintRow = async () =>
      ((await araApi(ara, "GET", `records?playbook=${ledger}&key=${encodeURIComponent(docKey)}`)).body as { results: { id: number; type: string }[] })
        .results[0]!;
    const v3 = ((await araApi(ara, "GET", `records?playbook=${ledger}&key=${encodeURIComponent(versionKey(docKey, 3))}`)).body as { results: { id: number }[] })
      .results[0]!;
    const read = async () => (await makeAraStore(`${ara.storeUrl}?ledger=hints`, {}, {}).get(key))?.value;
    assert.deepEqual(await read(), { n: 6 });
    const h = await hintRow();
    for (const type of [`ansible-jobs:head:3:${v3.id}:live`, "ansible-jobs:head:99:1:live", `ansible-jobs:head:6:${v3.id}:live`, "garbage"]) {
      assert.equal((await araApi(ara, "PATCH", `records/${h.id}`, { type })).status, 200);
      assert.deepEqual(await read(), { n: 6 }, `hint ${type}`);
    }
    assert.equal((await araApi(ara, "DELETE", `records/${h.id}`)).status, 204);
    assert.deepEqual(await read(), { n: 6 }, "no hint at all");
    // and writes go on from there, recreating the hint
    const cur = (await store.get(key))!;
    await store.update(key, { n: 7 }, cur.version);
    assert.deepEqual(await read(), { n: 7 });
    assert.match((await hintRow()).type, /^ansible-jobs:head:7:/);
    // Write paths trust no hint either: "deleted" over a live document, or a version ahead.
    const fresh = () => makeAraStore(`${ara.storeUrl}?ledger=hints`, {}, {});
    const h7 = await hintRow();
    for (const type of [h7.type.replace(/live$/, "deleted"), "ansible-jobs:head:99:1:live"]) {
      assert.equal((await araApi(ara, "PATCH", `records/${h7.id}`, { type })).status, 200);
      await assert.rejects(fresh().create(key, { n: "again" }), (err) => isCode(err, "exists"), `create under hint ${type}`);
    }
    await fresh().delete(key);
    assert.equal(await read(), undefined);
    await fresh().create(key, { n: "reborn" });
    assert.deepEqual(await read(), { n: "reborn" });
  });

  test("modified is Ara's `updated` and now() is the server's clock", async () => {
    const store = makeAraStore(`${ara.storeUrl}?ledger=clock`, {}, {});
    await store.create(["t", "clock"], { x: 1 });
    const got = (await store.get(["t", "clock"]))!;
    const now = await store.now();
    assert.ok(got.modified instanceof Date);
    // The Date header has whole seconds: now may trail `updated` by up to a second.
    assert.ok(Math.abs(now.getTime() - got.modified.getTime()) < 5000, `${now.toISOString()} vs ${got.modified.toISOString()}`);
  });

  test("create/delete cycles from 6 writers keep mutual exclusion", async () => {
    const stores = Array.from({ length: 6 }, () => makeAraStore(`${ara.storeUrl}?ledger=mutex`, {}, {}));
    await stores[0]!.ledgerId(true);
    const key = ["locks", "the-one"];
    let holders = 0;
    let maxHolders = 0;
    let acquired = 0;
    await Promise.all(
      stores.map(async (store, w) => {
        for (let round = 0; round < 4; ) {
          try {
            const e = await store.create(key, { w, round });
            holders++;
            maxHolders = Math.max(maxHolders, holders);
            acquired++;
            await new Promise((r) => setTimeout(r, 5));
            holders--;
            await store.delete(key, e.version);
            round++;
          } catch (err) {
            if (!isCode(err, "exists")) throw err;
            await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
          }
        }
      }),
    );
    assert.equal(maxHolders, 1);
    assert.equal(acquired, 24);
    assert.equal(await stores[0]!.get(key), undefined);
    assert.equal((await stores[0]!.list(["locks"])).entries.length, 0);
  });

  test("list with a status or age filter fetches only the values that can match", async () => {
    const store = makeAraStore(`${proxy.url()}?ledger=summary`, {}, {});
    store.describeWith(recordHooks); // what a Ledger does: records get summaries
    const old = "2020-01-01T00:00:00.000Z";
    for (let i = 0; i < 10; i++) {
      const rec = { ...newRecord({ namespace: "default", host: `h${i}`, name: "job" }, 1, {}), status: i < 3 ? "failed" : "running" };
      if (i === 0 || i === 5) rec.updated_at = old;
      await store.create(["heads", "default", `h${i}`, "job"], rec);
    }
    const fresh = makeAraStore(`${proxy.url()}?ledger=summary`, {}, {});
    let before = proxy.valueFetches();
    const failed = await fresh.list(["heads"], documentFilter({ status: ["failed"] }));
    assert.equal(failed.entries.length, 3);
    assert.equal(proxy.valueFetches() - before, 3, "only the 3 failed records were fetched");
    before = proxy.valueFetches();
    const stale = await fresh.list(["heads"], documentFilter({ updatedBefore: new Date("2021-01-01T00:00:00Z") }));
    assert.deepEqual(stale.entries.map((e) => (e.value as { host: string }).host).sort(), ["h0", "h5"]);
    assert.equal(proxy.valueFetches() - before, 2);
    before = proxy.valueFetches();
    assert.equal((await fresh.list(["heads"])).entries.length, 10);
    assert.equal(proxy.valueFetches() - before, 10);
  });

  test("a duplicate answered as HTTP 500 (IntegrityError) is `exists` / `conflict`", async () => {
    const store = makeAraStore(`${proxy.url()}?ledger=faults`, {}, {});
    const c = await store.create(["t", "dup"], { v: 1 });
    proxy.faults.push("dup-as-500");
    await assert.rejects(makeAraStore(`${proxy.url()}?ledger=faults`, {}, {}).create(["t", "dup"], { v: 2 }), (e) => isCode(e, "exists"));
    await store.update(["t", "dup"], { v: 2 }, c.version);
    proxy.faults.push("dup-as-500");
    await assert.rejects(store.update(["t", "dup"], { v: 3 }, c.version), (e) => isCode(e, "conflict"));
    assert.deepEqual((await store.get(["t", "dup"]))?.value, { v: 2 });
    assert.ok(proxy.seen.filter((f) => f === "dup-as-500").length >= 2);
  });

  test("an answer lost after the server wrote the record: the writer recognises its own write", async () => {
    const store = makeAraStore(`${proxy.url()}?ledger=faults`, {}, {});
    proxy.faults.push("drop-answer");
    const c = await store.create(["t", "lost-answer"], { v: 1 });
    assert.deepEqual((await store.get(["t", "lost-answer"]))?.value, { v: 1 });
    proxy.faults.push("drop-answer");
    const u = await store.update(["t", "lost-answer"], { v: 2 }, c.version);
    assert.deepEqual((await store.get(["t", "lost-answer"]))?.value, { v: 2 });
    assert.notEqual(u.version, c.version);
  });

  test("a 500 before any write (database locked): retried, and the write lands once", async () => {
    const store = makeAraStore(`${proxy.url()}?ledger=faults`, {}, {});
    proxy.faults.push("500-before-write", "500-before-write");
    await store.create(["t", "db-error"], { v: 1 });
    assert.deepEqual((await store.get(["t", "db-error"]))?.value, { v: 1 });
    const ledger = await store.ledgerId();
    const versions = await araApi(ara, "GET", `records?playbook=${ledger}&key=${encodeURIComponent(versionKey(docKeyOf(["t", "db-error"]), 2))}`);
    assert.equal((versions.body as { count: number }).count, 0, "no stray second version");
  });

  test("a server that keeps failing POSTs gives a clear store_unavailable", async () => {
    const store = makeAraStore(`${proxy.url()}?ledger=faults`, {}, {});
    proxy.faults.push("500-before-write", "500-before-write", "500-before-write", "500-before-write");
    await assert.rejects(store.create(["t", "always-500"], { v: 1 }), (e) => isCode(e, "store_unavailable") && /keeps failing \(HTTP 500\)/.test((e as Error).message));
  });
});
