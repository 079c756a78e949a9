/**
 * How the S3 store fails: each case must give JobsError with a message naming the store,
 * the endpoint and the cause, within a few seconds, and never an SDK error or stack trace.
 *
 * Every server here is real and on 127.0.0.1:
 * - moto_server for the missing bucket, and with its IAM auth switched on (reset-auth) for
 *   wrong credentials (unknown access key, wrong secret);
 * - s3rver (npm) for a server that ignores If-None-Match / If-Match;
 * - a port with nothing listening; a python socket that never accepts (connects hang);
 *   a node TCP server that accepts and never answers.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { JobsError, describe as describeErr, isCode } from "../../../src/engine/errors.js";
import { type S3Store, openS3Store } from "../../../src/stores/s3.js";
import { type Moto, freePort, startMoto, useTestAwsEnv } from "../../helpers/moto.js";

useTestAwsEnv();

async function open(url: string, opts: Record<string, unknown>): Promise<S3Store> {
  return (await openS3Store(url, opts)) as S3Store;
}

/** Asserts a clean store error: JobsError, the code, the message pieces, no stack in the text. */
async function failsWith(p: Promise<unknown>, code: string, ...pieces: (string | RegExp)[]): Promise<JobsError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof JobsError, `expected a JobsError, got ${caught === undefined ? "success" : String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  const msg = describeErr(caught);
  for (const piece of pieces) {
    if (typeof piece === "string") assert.ok(msg.includes(piece), `"${msg}" should include "${piece}"`);
    else assert.match(msg, piece);
  }
  assert.doesNotMatch(msg, /\n\s+at /, "no stack trace in the message");
  return caught;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T | undefined; error: unknown }> {
  const t = Date.now();
  try {
    return { ms: Date.now() - t, value: await fn(), error: undefined };
  } catch (error) {
    return { ms: Date.now() - t, value: undefined, error };
  }
}

/**
 * Runs `fn` with the endpoint of a loopback socket that listens and never accepts, its queue
 * already full: further connects get no answer (a hung connect, not a refusal).
 */
async function withHungConnect(fn: (endpoint: string) => Promise<void>): Promise<void> {
  const py: ChildProcess = spawn("python3", [
    "-c",
    "import socket,time\ns=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(0); print(s.getsockname()[1], flush=True); time.sleep(60)",
  ]);
  const filler: net.Socket[] = [];
  try {
    const port = await new Promise<number>((resolve, reject) => {
      py.once("error", reject);
      py.stdout?.once("data", (d: Buffer) => resolve(Number(String(d).trim())));
    });
    for (let i = 0; i < 3; i++) filler.push(net.connect(port, "127.0.0.1").on("error", () => {}));
    await new Promise((r) => setTimeout(r, 200));
    await fn(`http://127.0.0.1:${port}`);
  } finally {
    for (const f of filler) f.destroy();
    py.kill();
  }
}

describe("s3 store failures on moto_server", () => {
  let moto: Moto;
  before(async () => {
    moto = await startMoto();
    await moto.createBucket("jobs-present");
  });
  after(async () => moto?.stop());

  test("missing bucket: every operation names endpoint, bucket and cause", async () => {
    const s = await open("s3://jobs-missing/p", { endpoint: moto.endpoint });
    const expect = `s3 store s3://jobs-missing/p (endpoint ${moto.endpoint}): bucket "jobs-missing" does not exist`;
    const e = await failsWith(s.get(["a"]), "store_unavailable", expect);
    assert.equal(e.message, expect);
    await failsWith(s.list([]), "store_unavailable", expect);
    await failsWith(s.now(), "store_unavailable", expect);
    await failsWith(s.create(["a"], { a: 1 }), "store_unavailable", expect);
    await s.close();
  });

  test("invalid store URLs and options name the field", async () => {
    await failsWith(openS3Store("s3://", {}), "invalid_argument", "store:", "no bucket name");
    await failsWith(openS3Store("s3://ab/p", {}), "invalid_argument", '"ab" is not a valid bucket name');
    await failsWith(openS3Store("s3://bucket/a/../b", {}), "invalid_argument", '".."');
    await failsWith(openS3Store("s3://bucket", { endpiont: "x" }), "invalid_argument", "s3.endpiont", "unknown S3 store option");
    await failsWith(openS3Store("s3://bucket", { endpoint: "localhost:9000" }), "invalid_argument", "s3.endpoint", "http://");
    await failsWith(openS3Store("s3://bucket", { sse: "rot13" }), "invalid_argument", "s3.sse");
    await failsWith(openS3Store("s3://bucket", { path_style: "maybe" }), "invalid_argument", "s3.path_style");
  });
});

describe("s3 store failures: wrong credentials (moto_server with IAM auth on)", () => {
  let moto: Moto;
  let keys: { accessKeyId: string; secretAccessKey: string };
  before(async () => {
    moto = await startMoto();
    await moto.createBucket("jobs-auth");
    keys = await moto.createUser("ansible-jobs");
    await moto.enableAuth();
  });
  after(async () => {
    useTestAwsEnv();
    await moto?.stop();
  });

  const withKeys = (id: string, secret: string) => {
    process.env.AWS_ACCESS_KEY_ID = id;
    process.env.AWS_SECRET_ACCESS_KEY = secret;
  };

  test("the right keys work (so moto really checks them)", async () => {
    withKeys(keys.accessKeyId, keys.secretAccessKey);
    // At the bucket root, with plain names: moto's signature check (like for the AWS SDK's own
    // requests) decodes "%" in keys and "/" in query values once too often, so a prefix
    // ("prefix=p%2F") or an encoded name would fail there although AWS accepts them.
    const s = await open("s3://jobs-auth", { endpoint: moto.endpoint });
    await s.create(["ok"], { ok: true });
    assert.deepEqual((await s.get(["ok"]))?.value, { ok: true });
    assert.equal((await s.list([])).entries.length, 1);
    await s.now();
    await s.close();
  });

  test("an unknown access key id: store_unavailable naming the cause", async () => {
    withKeys("AKIAUNKNOWNKEY000000", keys.secretAccessKey);
    const s = await open("s3://jobs-auth/p", { endpoint: moto.endpoint });
    await failsWith(s.get(["ok"]), "store_unavailable", `s3 store s3://jobs-auth/p (endpoint ${moto.endpoint}): wrong credentials`, "InvalidAccessKeyId");
    await failsWith(s.list([]), "store_unavailable", "InvalidAccessKeyId");
    // HEAD answers have no body: the message says what it can.
    await failsWith(s.now(), "store_unavailable", "HTTP 403", "wrong credentials or missing permission", '"jobs-auth"');
    await s.close();
  });

  test("a wrong secret key: store_unavailable naming the cause", async () => {
    withKeys(keys.accessKeyId, "wrong-secret-wrong-secret-wrong-secret00");
    const s = await open("s3://jobs-auth/p", { endpoint: moto.endpoint });
    await failsWith(s.get(["ok"]), "store_unavailable", `(endpoint ${moto.endpoint}): wrong credentials`, "SignatureDoesNotMatch");
    await failsWith(s.create(["x"], { x: 1 }), "store_unavailable", "SignatureDoesNotMatch");
    await s.close();
  });

  test("no credentials anywhere in the chain: a clear message, no network guesswork", async () => {
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    const s = await open("s3://jobs-auth/p", { endpoint: moto.endpoint });
    await failsWith(s.get(["ok"]), "store_unavailable", "s3 store s3://jobs-auth/p", "no usable AWS credentials", "AWS_PROFILE");
    await s.close();
  });
});

describe("s3 store failures: unreachable endpoints fail within a few seconds", () => {
  test("nothing listening on the port (connection refused)", async () => {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const s = await open("s3://jobs/p", { endpoint });
    const r = await timed(() => s.get(["a"]));
    await failsWith(Promise.reject(r.error), "store_unavailable", `s3 store s3://jobs/p (endpoint ${endpoint}): cannot reach the endpoint`, "ECONNREFUSED", "3 attempts");
    assert.ok(r.ms < 5000, `took ${r.ms} ms`);
    await s.close();
  });

  test("a connect that hangs (listen queue full): the connect timeout", async () => {
    await withHungConnect(async (endpoint) => {
      const s = await open("s3://jobs/p", { endpoint, connect_timeout: 0.5 });
      const r = await timed(() => s.get(["a"]));
      await failsWith(Promise.reject(r.error), "store_unavailable", `(endpoint ${endpoint}): cannot reach the endpoint`, "no connection within 0.5s");
      assert.ok(r.ms < 5000, `took ${r.ms} ms`);
      await s.close();
    });
  });

  test("the default connect timeout and retries bound a hung connect to a few seconds", async () => {
    await withHungConnect(async (endpoint) => {
      const s = await open("s3://jobs/p", { endpoint });
      const r = await timed(() => s.now());
      await failsWith(Promise.reject(r.error), "store_unavailable", "no connection within 2s", "3 attempts");
      assert.ok(r.ms < 9000, `took ${r.ms} ms`);
      await s.close();
    });
  });

  test("a server that accepts and never answers: the request timeout", async () => {
    const sockets: net.Socket[] = [];
    const srv = net.createServer((sock) => sockets.push(sock));
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const endpoint = `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`;
    try {
      const s = await open("s3://jobs/p", { endpoint, timeout: 0.5, retries: 1 });
      const r = await timed(() => s.get(["a"]));
      await failsWith(Promise.reject(r.error), "store_unavailable", `(endpoint ${endpoint})`, "no complete answer within 0.5s", "2 attempts");
      assert.ok(r.ms < 4000, `took ${r.ms} ms`);
      await s.close();
    } finally {
      for (const s of sockets) s.destroy();
      srv.close();
    }
  });
});

describe("s3 store failures: a server that ignores conditional headers (s3rver)", () => {
  // s3rver is a real, if old, S3 look-alike from npm; it ignores If-None-Match and If-Match.
  let server: { close(): Promise<void> } | undefined;
  let endpoint: string;
  let dir: string;
  before(async () => {
    // s3rver checks signatures against its one built-in key pair.
    process.env.AWS_ACCESS_KEY_ID = "S3RVER";
    process.env.AWS_SECRET_ACCESS_KEY = "S3RVER";
    dir = mkdtempSync(path.join(tmpdir(), "s3rver-"));
    const port = await freePort();
    // @ts-expect-error s3rver ships no types
    const mod = (await import("s3rver")) as { default: new (o: Record<string, unknown>) => { run(): Promise<unknown>; close(): Promise<void> } };
    const S3rver = mod.default;
    const s = new S3rver({ address: "127.0.0.1", port, silent: true, directory: dir, configureBuckets: [{ name: "jobs-lax" }] });
    await s.run();
    server = s;
    endpoint = `http://127.0.0.1:${port}`;
  });
  after(async () => {
    useTestAwsEnv();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("s3rver really does ignore If-None-Match (the premise of this test)", async () => {
    const s = await open("s3://jobs-lax/raw", { endpoint, allow_unsafe_writes: true });
    // Bypass the store's fallback: two conditional creates through the client both land.
    const client = (s as unknown as { client: { send(r: unknown): Promise<{ status: number }> } }).client;
    const put = (v: string) => client.send({ method: "PUT", key: "raw/x.json", body: Buffer.from(v), headers: { "if-none-match": "*" } });
    assert.equal((await put("1")).status, 200);
    assert.equal((await put("2")).status, 200);
    await s.close();
  });

  test("writes are refused with a message naming the endpoint and bucket", async () => {
    const s = await open("s3://jobs-lax/p", { endpoint });
    await failsWith(
      s.create(["a"], { a: 1 }),
      "unsupported",
      `s3 store s3://jobs-lax/p (endpoint ${endpoint}): the server ignores conditional writes on bucket "jobs-lax"`,
      "If-None-Match",
      "If-Match",
      "ANSIBLE_JOBS_S3_UNSAFE_WRITES",
    );
    await failsWith(s.update(["a"], { a: 2 }, '"x"'), "unsupported", "ignores conditional writes");
    await failsWith(s.delete(["a"], '"x"'), "unsupported", "ignores conditional writes");
    // Nothing was written; reads still work.
    assert.equal(await s.get(["a"]), undefined);
    assert.deepEqual((await s.list([])).entries, []);
    await s.close();
  });

  test("with allow_unsafe_writes: capabilities say false, a warning is given, read-check-write still catches the simple cases", async () => {
    const s = await open("s3://jobs-lax/unsafe", { endpoint, allow_unsafe_writes: "yes" });
    const c = await s.create(["a"], { a: 1 });
    assert.deepEqual(s.capabilities, { atomicCreate: false, compareAndSwap: false, clock: true });
    assert.equal(s.conditional?.atomicCreate, false);
    assert.equal(s.warnings.length, 1);
    assert.match(s.warnings[0]!, /ignores If-None-Match.*allow_unsafe_writes is set/);
    await assert.rejects(s.create(["a"], { a: 2 }), (e) => isCode(e, "exists"));
    const u = await s.update(["a"], { a: 3 }, c.version);
    await assert.rejects(s.update(["a"], { a: 4 }, c.version), (e) => isCode(e, "conflict"));
    await assert.rejects(s.update(["missing"], { a: 4 }, c.version), (e) => isCode(e, "not_found"));
    assert.deepEqual((await s.get(["a"]))?.value, { a: 3 });
    await s.delete(["a"], u.version);
    assert.equal(await s.get(["a"]), undefined);
    await s.close();
  });

  test("ANSIBLE_JOBS_S3_UNSAFE_WRITES=true works like the option", async () => {
    process.env.ANSIBLE_JOBS_S3_UNSAFE_WRITES = "true";
    try {
      const s = await open("s3://jobs-lax/env", { endpoint });
      await s.create(["b"], { b: 1 });
      assert.equal(s.capabilities.atomicCreate, false);
      await s.close();
    } finally {
      delete process.env.ANSIBLE_JOBS_S3_UNSAFE_WRITES;
    }
  });
});
