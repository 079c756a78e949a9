/**
 * Clear errors, bounded in time: server down, server gone mid-session and back, a URL that is
 * not an Ara API, a server that never answers, malformed URLs. Never a stack trace.
 */
import assert from "node:assert/strict";
import { type Server, createServer } from "node:http";
import { type Server as NetServer, createServer as createNetServer } from "node:net";
import { after, before, describe, test } from "node:test";
import { JobsError, describe as describeError, isCode } from "../../../src/engine/errors.js";
import { makeAraStore } from "../../../src/stores/ara.js";
import { openStore } from "../../../src/stores/open.js";
import { type AraServer, freePort, startAra } from "../../helpers/ara.js";

function assertUnavailable(err: unknown, ...patterns: RegExp[]): true {
  assert.ok(err instanceof JobsError, String(err));
  assert.equal(err.code, "store_unavailable", err.message);
  assert.doesNotMatch(describeError(err), /\n\s+at /);
  for (const p of patterns) assert.match(err.message, p);
  return true;
}

describe("ara store errors", () => {
  let server: AraServer;
  let html: Server;
  let silent: NetServer;
  let htmlPort: number;
  let silentPort: number;
  before(async () => {
    server = await startAra();
    console.log(`# ara server ${server.http} up in ${server.startMs} ms`);
    html = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<html><body><h1>Welcome to nginx!</h1></body></html>");
    });
    await new Promise<void>((r) => html.listen(0, "127.0.0.1", () => r()));
    htmlPort = (html.address() as { port: number }).port;
    silent = createNetServer(() => {}); // accepts, never answers
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
    silentPort = (silent.address() as { port: number }).port;
  });
  after(async () => {
    html?.close();
    silent?.close();
    await server?.stop();
  });

  test("nothing listens on the port: connection refused, naming the URL", async () => {
    const port = await freePort();
    const store = makeAraStore(`ara+http://127.0.0.1:${port}`, {}, {});
    const t0 = Date.now();
    for (const op of [() => store.get(["a"]), () => store.create(["a"], {}), () => store.list([]), () => store.now()]) {
      await assert.rejects(op(), (e) => assertUnavailable(e, new RegExp(`ara store ara\\+http://127\\.0\\.0\\.1:${port}: cannot reach`), /connection refused/));
    }
    assert.ok(Date.now() - t0 < 10_000, "fails fast");
  });

  test("the server goes down mid-session, then comes back: clear error, then it works again", async () => {
    const store = makeAraStore(`${server.storeUrl}?ledger=downtime`, {}, {});
    const c = await store.create(["t", "k"], { n: 1 });
    await server.stop({ keepData: true });
    await assert.rejects(store.update(["t", "k"], { n: 2 }, c.version), (e) => assertUnavailable(e, /connection refused/));
    await assert.rejects(store.get(["t", "k"]), (e) => assertUnavailable(e, /connection refused/));
    await server.restart();
    const u = await store.update(["t", "k"], { n: 2 }, c.version);
    assert.deepEqual((await store.get(["t", "k"]))?.value, { n: 2 });
    assert.notEqual(u.version, c.version);
  });

  test("a URL that reaches a web server that is not Ara", async () => {
    const store = makeAraStore(`ara+http://127.0.0.1:${htmlPort}`, {}, {});
    await assert.rejects(store.get(["a"]), (e) => assertUnavailable(e, /did not answer with JSON: is this an Ara server/));
  });

  test("a URL with a wrong path on a real Ara server", async () => {
    const store = makeAraStore(`${server.storeUrl}/not-ara`, {}, {});
    await assert.rejects(store.get(["a"]), (e) => assertUnavailable(e, /HTTP 404: this is not an Ara API server/, /not-ara\/api\/v1\/playbooks/));
  });

  test("the API address pasted as the store URL is accepted", async () => {
    const store = makeAraStore(`${server.storeUrl}/api/v1/?ledger=pasted`, {}, {});
    await store.create(["p"], { ok: 1 });
    assert.equal(store.url, `${server.storeUrl}?ledger=pasted`);
  });

  test("a server that never answers: bounded by the timeout (ARA_API_TIMEOUT)", async () => {
    const store = makeAraStore(`ara+http://127.0.0.1:${silentPort}`, {}, { ARA_API_TIMEOUT: "0.5" });
    const t0 = Date.now();
    await assert.rejects(store.get(["a"]), (e) => assertUnavailable(e, /no answer within 0\.5s/));
    assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
  });

  test("an unknown host name", async () => {
    const store = makeAraStore("ara+http://no-such-host.invalid:8000", { timeout: 5 }, {});
    await assert.rejects(store.now(), (e) => assertUnavailable(e, /no-such-host\.invalid/, /host not found|no answer/));
  });

  test("malformed URLs are invalid_argument naming the store field, and hide passwords", async () => {
    for (const u of ["ara+http://", "ara+http://host:99999", "ara+http://host?foo=1", "ara+http://host?ledger=Bad Name", "ara+http://u:secret@host:1:2"]) {
      await assert.rejects(openStore(u), (e) => {
        assert.ok(isCode(e, "invalid_argument"), `${u}: ${String(e)}`);
        assert.equal((e as JobsError).field, "store");
        assert.doesNotMatch((e as Error).message, /secret/);
        return true;
      });
    }
    const store = await openStore("ara+https://ara.example.com/ara/?ledger=prod");
    assert.equal(store.kind, "ara");
    assert.equal(store.url, "ara+https://ara.example.com/ara?ledger=prod");
  });
});
