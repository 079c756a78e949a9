/** Filesystem store specifics: confinement, modes, corrupt files, atomicity across processes. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { describe, test } from "node:test";
import { Ledger } from "../../src/engine/ledger.js";
import { encodeSegment } from "../../src/stores/encode.js";
import { FilesystemStore } from "../../src/stores/filesystem.js";
import { TRICKY_NAMES } from "../conformance/suite.js";
import { tempDir } from "../helpers/ansible.js";

const run = promisify(execFile);

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    return d.isDirectory() ? [p, ...walk(p)] : [p];
  });
}

describe("filesystem store", () => {
  test("segment encoding: one safe segment, case kept apart, long names hashed under 255 bytes", () => {
    for (const n of TRICKY_NAMES) {
      const e = encodeSegment(n);
      assert.ok(!e.includes("/") && e !== "." && e !== ".." && !e.startsWith("."), `${n} -> ${e}`);
      assert.ok(Buffer.byteLength(e) <= 200, `${n} is ${Buffer.byteLength(e)} bytes`);
      assert.equal(e, e.toLowerCase().replace(/%[0-9a-f]{2}/g, (m) => m.toUpperCase()), "only escapes carry upper case");
    }
    assert.notEqual(encodeSegment("Web"), encodeSegment("web"));
    assert.equal(new Set(TRICKY_NAMES.map(encodeSegment)).size, TRICKY_NAMES.length);
  });

  test("no name or host escapes the root; files are 0600 and directories 0700", async () => {
    const root = path.join(tempDir("fsu"), "state");
    const ledger = new Ledger(new FilesystemStore(root));
    for (const n of TRICKY_NAMES) await ledger.claim({ namespace: "../ns", host: "../../etc", name: n }, {}, {}, 300);
    const outside = readdirSync(path.dirname(root));
    assert.deepEqual(outside, ["state"]);
    for (const p of walk(root)) {
      assert.ok(p.startsWith(`${root}/`));
      const mode = statSync(p).mode & 0o777;
      assert.equal(mode, statSync(p).isDirectory() ? 0o700 : 0o600, p);
    }
    const { records, errors } = await ledger.list({});
    assert.equal(errors.length, 0);
    assert.deepEqual(records.map((r) => r.name).sort(), [...TRICKY_NAMES].sort());
  });

  test("an update starts from the head its caller just read; a stale one costs a re-read, not an update", async () => {
    const store = new FilesystemStore(path.join(tempDir("fsk"), "state"));
    let reads = 0;
    const get = store.get.bind(store);
    store.get = (key) => {
      reads++;
      return get(key);
    };
    const ledger = new Ledger(store);
    const id = { namespace: "default", host: "h1", name: "job" };
    await ledger.claim(id, {}, {}, 300);
    const head = (await ledger.head(id))!;
    reads = 0;
    const launched = await ledger.recordLaunch(id, head.record.claim_token ?? undefined, { ansible_job_id: "j1.1", started: 1, finished: 0 }, head);
    assert.equal(launched.record.status, "running");
    assert.equal(reads, 0, "no second read of the head");
    // The head moved on since `head` was read: the first try conflicts, the re-read wins.
    const done = await ledger.setStatus(id, "cancelled", "by hand", head);
    assert.equal(done.record.status, "cancelled");
    assert.equal(done.record.jid, "j1.1", "the launch recorded meanwhile is kept");
    assert.equal(reads, 1);
  });

  test("corrupt, truncated and foreign files are named and never hide the others", async () => {
    const root = path.join(tempDir("fsc"), "state");
    const ledger = new Ledger(new FilesystemStore(root));
    await ledger.claim({ namespace: "default", host: "h1", name: "good" }, {}, {}, 300);
    const dir = path.join(root, "heads", "default", "h1");
    writeFileSync(path.join(dir, "truncated.json"), '{"schema": 1, "id": ');
    writeFileSync(path.join(dir, "empty.json"), "");
    writeFileSync(path.join(dir, "foreign.json"), '{"some": "other tool"}');
    const { records, errors } = await ledger.list({});
    assert.deepEqual(records.map((r) => r.name), ["good"]);
    assert.equal(errors.length, 3);
    assert.ok(errors.some((e) => e.includes(`${dir}/truncated.json: not valid JSON`)));
    assert.ok(errors.some((e) => e.includes(`${dir}/empty.json: empty file`)));
    assert.ok(errors.some((e) => e.includes(`${dir}/foreign.json: not a valid job record`)));
    await assert.rejects(ledger.head({ namespace: "default", host: "h1", name: "foreign" }), /foreign\.json: not a valid job record/);
  });

  test("the store's clock is one fixed file: reading it leaves no litter", async () => {
    const root = path.join(tempDir("fsclock"), "state");
    const store = new FilesystemStore(root);
    const times = [await store.now(), await store.now(), await store.now()];
    assert.ok(times.every((t) => t instanceof Date && !Number.isNaN(t.getTime())));
    assert.ok(times[2]!.getTime() >= times[0]!.getTime());
    assert.deepEqual(readdirSync(root), [".clock"]);
    assert.equal(statSync(path.join(root, ".clock")).mode & 0o777, 0o600);
  });

  test("a store path that is a regular file is an error naming it, never an empty store", async () => {
    const dir = tempDir("fsfile");
    const file = path.join(dir, "state");
    writeFileSync(file, "not a directory\n");
    const store = new FilesystemStore(file);
    await assert.rejects(store.list([]), { message: `filesystem store ${file} is not a directory` });
    await assert.rejects(store.list(["heads", "default"]), { message: `filesystem store ${file} is not a directory` });
    await assert.rejects(store.get(["heads", "default", "web1", "backup"]), { message: `filesystem store ${file} is not a directory` });
    // A document where the layout has a directory is named too.
    const root = path.join(dir, "root");
    mkdirSync(path.join(root, "heads"), { recursive: true });
    writeFileSync(path.join(root, "heads", "default"), "{}");
    await assert.rejects(new FilesystemStore(root).list(["heads", "default"]), {
      message: `filesystem store ${root}: ${path.join(root, "heads", "default")} is not a directory`,
    });
    assert.equal(readFileSync(file, "utf8"), "not a directory\n", "nothing was written");
  });

  test("an unwritable store gives a clear error naming the path", async () => {
    const root = path.join(tempDir("fsro"), "state");
    mkdirSync(root, { mode: 0o500 });
    const store = new FilesystemStore(path.join(root, "sub"));
    if (process.getuid?.() === 0) {
      // root ignores permissions; use a path under a regular file instead.
      writeFileSync(path.join(root, "file"), "x");
      const bad = new FilesystemStore(path.join(root, "file", "state"));
      await assert.rejects(bad.create(["a"], {}), /filesystem store: cannot create directory .*file\/state.*/);
    } else {
      await assert.rejects(store.create(["a"], {}), /permission denied/);
    }
  });

  test("compare-and-swap holds across processes: no lost update, every loser gets a conflict", async () => {
    const root = path.join(tempDir("fscas"), "state");
    const store = new FilesystemStore(root);
    await store.create(["c", "counter"], { n: 0 });
    const worker = path.join(import.meta.dirname, "..", "helpers", "cas-worker.ts");
    const procs = 6;
    const each = 15;
    const outs = await Promise.all(
      Array.from({ length: procs }, () => run(process.execPath, ["--import", "tsx", worker, root, "counter", String(each)])),
    );
    const final = JSON.parse(readFileSync(path.join(root, "c", "counter.json"), "utf8"));
    assert.equal(final.n, procs * each, "every update landed");
    const conflicts = outs.map((o) => JSON.parse(o.stdout).conflicts as number).reduce((a, b) => a + b, 0);
    assert.ok(conflicts > 0, "concurrent writers did collide (and lost with a conflict, then retried)");
    assert.deepEqual(readdirSync(path.join(root, "c")), ["counter.json"], "no temp or lock files left");
  });
});
