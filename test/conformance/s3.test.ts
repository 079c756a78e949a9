/**
 * The S3 store against a real moto_server (started here, on a free 127.0.0.1 port):
 * the shared conformance suite, plus paging past 1000 objects and a second controller
 * (another store instance, and another process) racing the first.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { isCode } from "../../src/engine/errors.js";
import { openStore } from "../../src/stores/open.js";
import { type S3Store, openS3Store } from "../../src/stores/s3.js";
import { type Moto, raw, startMoto, useTestAwsEnv } from "../helpers/moto.js";
import { casIncrements, testStore } from "./suite.js";

useTestAwsEnv();

let motoP: Promise<Moto> | undefined;
const moto = () => {
  motoP ??= startMoto();
  return motoP;
};
after(async () => {
  if (motoP) await (await motoP).stop();
});

const bucketName = () => `jobs-${randomBytes(4).toString("hex")}`;

async function s3Store(bucket: string, prefix: string, extra: Record<string, unknown> = {}): Promise<S3Store> {
  const m = await moto();
  return (await openS3Store(`s3://${bucket}/${prefix}`, { endpoint: m.endpoint, ...extra })) as S3Store;
}

testStore("s3 (moto_server)", async () => {
  const m = await moto();
  const bucket = bucketName();
  await m.createBucket(bucket);
  const store = await s3Store(bucket, "team/ledger");
  return {
    store,
    corrupt: async (key, bytes) => m.putRaw(bucket, store.objectKey(key), bytes),
    cleanup: async () => {},
  };
});

describe("s3 store on moto_server: beyond the shared suite", () => {
  let bucket: string;
  let store: S3Store;
  before(async () => {
    const m = await moto();
    bucket = bucketName();
    await m.createBucket(bucket);
    store = await s3Store(bucket, "p");
  });
  after(async () => store?.close());

  test("the probe finds moto enforcing If-None-Match, If-Match and DELETE If-Match", async () => {
    await store.create(["probe", "x"], { x: 1 });
    assert.deepEqual(store.conditional, { atomicCreate: true, compareAndSwap: true, conditionalDelete: true, rejectsConditionalHeaders: false });
    assert.deepEqual(store.capabilities, { atomicCreate: true, compareAndSwap: true, clock: true });
    // The probe object is gone, and never listed.
    const all = await store.list([]);
    assert.equal(all.errors.length, 0);
    assert.ok(all.entries.every((e) => !e.where.includes(".ansible-jobs-probe")));
  });

  test("objects live at PREFIX/<encoded key>.json and the entry names s3://bucket/key", async () => {
    const e = await store.create(["heads", "default", "Web1", "back up"], { ok: 1 });
    assert.equal(e.where, `s3://${bucket}/p/heads/default/%57eb1/back%20up.json`);
    const r = await raw((await moto()).port, "GET", `/${bucket}/p/heads/default/%2557eb1/back%2520up.json`);
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { ok: 1 });
    const got = await store.get(["heads", "default", "Web1", "back up"]);
    assert.ok(got?.modified instanceof Date);
    assert.match(got!.version, /^"[0-9a-f]{32}"$/);
  });

  test("list pages past 1000 objects (1100 records, ListObjectsV2 continuation)", async () => {
    const n = 1100;
    const ids = Array.from({ length: n }, (_, i) => `job-${String(i).padStart(4, "0")}`);
    for (let i = 0; i < n; i += 50) {
      await Promise.all(ids.slice(i, i + 50).map((id) => store.create(["many", id], { id })));
    }
    const res = await store.list(["many"]);
    assert.equal(res.errors.length, 0);
    assert.equal(res.entries.length, n);
    assert.deepEqual(res.entries.map((e) => (e.value as { id: string }).id).sort(), ids);
    assert.deepEqual(res.entries.map((e) => e.key.join("/")).sort(), ids.map((id) => `many/${id}`));
  });

  test("a second controller (another store instance) racing creates and updates: one winner, no lost update", async () => {
    const other = await s3Store(bucket, "p");
    try {
      for (let round = 0; round < 5; round++) {
        const key = ["race", `r${round}`];
        const results = await Promise.allSettled([
          ...Array.from({ length: 4 }, (_, i) => store.create(key, { by: "a", i })),
          ...Array.from({ length: 4 }, (_, i) => other.create(key, { by: "b", i })),
        ]);
        assert.equal(results.filter((r) => r.status === "fulfilled").length, 1, `round ${round}`);
        for (const r of results) if (r.status === "rejected") assert.ok(isCode(r.reason, "exists"), String(r.reason));
      }
      const key = ["race", "counter"];
      await store.create(key, { n: 0 });
      await Promise.all([store, other, store, other].map((s) => casIncrements(s, key, 5)));
      assert.deepEqual((await store.get(key))?.value, { n: 20 });
    } finally {
      await other.close();
    }
  });

  test("a second controller in another process racing creates: exactly one winner", async () => {
    const m = await moto();
    const here = path.dirname(fileURLToPath(import.meta.url));
    const s3mod = path.resolve(here, "../../src/stores/s3.ts");
    const key = ["race", `proc-${randomBytes(3).toString("hex")}`];
    const code = `
      const { openS3Store } = await import(${JSON.stringify(s3mod)});
      const s = await openS3Store(${JSON.stringify(`s3://${bucket}/p`)}, { endpoint: ${JSON.stringify(m.endpoint)} });
      const r = await Promise.allSettled(Array.from({ length: 4 }, (_, i) => s.create(${JSON.stringify(key)}, { by: "child", i })));
      await s.close();
      console.log(JSON.stringify(r.map((x) => x.status === "fulfilled" ? "won" : x.reason.code)));
    `;
    const child = new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { env: process.env, timeout: 60_000 }, (err, out, errOut) =>
        err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out),
      ),
    );
    // Give the child a head start of its node/tsx start-up, then race it.
    await new Promise((r) => setTimeout(r, 400));
    const mine = await Promise.allSettled(Array.from({ length: 4 }, (_, i) => store.create(key, { by: "parent", i })));
    const theirs = JSON.parse((await child).trim().split("\n").pop()!) as string[];
    const wins = mine.filter((r) => r.status === "fulfilled").length + theirs.filter((s) => s === "won").length;
    assert.equal(wins, 1, `parent: ${mine.map((r) => r.status)}, child: ${theirs}`);
    for (const r of mine) if (r.status === "rejected") assert.ok(isCode(r.reason, "exists"), String(r.reason));
    for (const s of theirs) assert.ok(s === "won" || s === "exists", s);
  });

  test("delete with a stale version conflicts (DELETE If-Match); with the current one it deletes", async () => {
    const key = ["del", "v"];
    const c = await store.create(key, { n: 0 });
    const u = await store.update(key, { n: 1 }, c.version);
    await assert.rejects(store.delete(key, c.version), (e) => isCode(e, "conflict"));
    await store.delete(key, u.version);
    assert.equal(await store.get(key), undefined);
    await store.delete(key, u.version); // missing is fine
  });

  test("now() is the server's Date header, and modified is its Last-Modified", async () => {
    const before = Date.now();
    const e = await store.create(["clock", randomBytes(3).toString("hex")], { t: 1 });
    const now = await store.now();
    assert.ok(Math.abs(now.getTime() - before) < 60_000);
    assert.ok(e.modified && Math.abs(e.modified.getTime() - now.getTime()) < 60_000);
  });

  test("sse AES256 is sent with every write", async () => {
    const enc = await s3Store(bucket, "sse", { sse: "AES256" });
    try {
      await enc.create(["x"], { secret: false });
      const r = await raw((await moto()).port, "HEAD", `/${bucket}/sse/x.json`);
      assert.equal(r.headers["x-amz-server-side-encryption"], "AES256");
    } finally {
      await enc.close();
    }
  });

  test("openStore dispatches s3:// URLs, with the endpoint from ANSIBLE_JOBS_S3_ENDPOINT", async () => {
    process.env.ANSIBLE_JOBS_S3_ENDPOINT = (await moto()).endpoint;
    try {
      const s = await openStore(`s3://${bucket}/via-open`);
      assert.equal(s.kind, "s3");
      assert.equal(s.url, `s3://${bucket}/via-open`);
      await s.create(["k"], { v: 1 });
      assert.deepEqual((await s.get(["k"]))?.value, { v: 1 });
      await s.close?.();
    } finally {
      delete process.env.ANSIBLE_JOBS_S3_ENDPOINT;
    }
  });
});
