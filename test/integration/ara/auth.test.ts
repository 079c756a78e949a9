/**
 * Ara with login required (ARA_READ_LOGIN_REQUIRED / ARA_WRITE_LOGIN_REQUIRED and a Django
 * superuser): the store authenticates like Ara's own client, from ARA_API_USERNAME /
 * ARA_API_PASSWORD, and refused credentials give one clear store_unavailable error.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { JobsError, describe as describeError, isCode } from "../../../src/engine/errors.js";
import { Ledger } from "../../../src/engine/ledger.js";
import { makeAraStore } from "../../../src/stores/ara.js";
import { type AraServer, araApi, startAra } from "../../helpers/ara.js";

const AUTH = { username: "jobs-ci", password: "Pa55-w0rd:with@odd/chars" };

function assertClean(err: unknown, ...patterns: RegExp[]): true {
  assert.ok(err instanceof JobsError, String(err));
  assert.equal(err.code, "store_unavailable", err.message);
  const msg = describeError(err);
  assert.doesNotMatch(msg, /\n\s+at /, "no stack trace in the message");
  assert.doesNotMatch(msg, /Pa55|wrong-secret/, "the password never shows");
  for (const p of patterns) assert.match(msg, p);
  return true;
}

describe("ara store with login required", () => {
  let server: AraServer;
  before(async () => {
    server = await startAra({ auth: AUTH });
    console.log(`# ara server (auth on) ${server.http} up in ${server.startMs} ms`);
  });
  after(async () => server?.stop());

  test("the server really requires a login", async () => {
    assert.equal((await araApi({ ...server, auth: undefined }, "GET", "records")).status, 401);
    assert.equal((await araApi(server, "GET", "records")).status, 200);
  });

  test("right credentials from ARA_API_USERNAME / ARA_API_PASSWORD: create, get, update, list, claim", async () => {
    const env = { ARA_API_USERNAME: AUTH.username, ARA_API_PASSWORD: AUTH.password };
    const store = makeAraStore(`${server.storeUrl}?ledger=auth-ok`, {}, env);
    const c = await store.create(["t", "a"], { n: 1 });
    const u = await store.update(["t", "a"], { n: 2 }, c.version);
    assert.deepEqual((await store.get(["t", "a"]))?.value, { n: 2 });
    await assert.rejects(store.update(["t", "a"], { n: 3 }, c.version), (e) => isCode(e, "conflict"));
    assert.equal((await store.list(["t"])).entries.length, 1);
    await store.delete(["t", "a"], u.version);
    const claim = await new Ledger(store).claim({ namespace: "default", host: "web1", name: "backup" }, {}, {}, 300);
    assert.equal(claim.claimed, true);
    assert.ok(Math.abs((await store.now()).getTime() - Date.now()) < 60_000);
    assert.doesNotMatch(store.url, /jobs-ci|Pa55/, "the store URL shown to users has no credentials");
  });

  test("credentials in the URL (user:password@) work too and never show in the store URL", async () => {
    const u = `ara+http://${encodeURIComponent(AUTH.username)}:${encodeURIComponent(AUTH.password)}@127.0.0.1:${server.port}?ledger=auth-url`;
    const store = makeAraStore(u, {}, {});
    await store.create(["t", "b"], { ok: true });
    assert.deepEqual((await store.get(["t", "b"]))?.value, { ok: true });
    assert.equal(store.url, `ara+http://127.0.0.1:${server.port}?ledger=auth-url`);
  });

  test("wrong credentials: a clear store_unavailable naming the URL, the user and the variables", async () => {
    const store = makeAraStore(`${server.storeUrl}?ledger=auth-bad`, {}, { ARA_API_USERNAME: AUTH.username, ARA_API_PASSWORD: "wrong-secret" });
    for (const op of [() => store.get(["t", "x"]), () => store.create(["t", "x"], {}), () => store.list([]), () => store.now()]) {
      await assert.rejects(op(), (e) =>
        assertClean(e, new RegExp(`ara store ara\\+http://127\\.0\\.0\\.1:${server.port}`), /refused the credentials of user "jobs-ci"/, /HTTP 401/, /ARA_API_USERNAME \/ ARA_API_PASSWORD/),
      );
    }
  });

  test("no credentials at all: the error says the server requires a login and what to set", async () => {
    const store = makeAraStore(server.storeUrl, {}, {});
    await assert.rejects(store.get(["t", "x"]), (e) => assertClean(e, /requires a login \(HTTP 401/, /set ARA_API_USERNAME and ARA_API_PASSWORD/));
  });
});
