/** Filesystem store specifics: confinement, modes, corrupt files, atomicity across processes. */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import fs, { mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { hostname } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { describe, test } from "node:test";
import { createHash } from "node:crypto";
import { isCode } from "../../src/engine/errors.js";
import { Ledger, keys, newRecord } from "../../src/engine/ledger.js";
import { encodeKey, encodeSegment } from "../../src/stores/encode.js";
import { FilesystemStore } from "../../src/stores/filesystem.js";
import type { Entry } from "../../src/stores/types.js";
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
    const final = (await store.get(["c", "counter"]))!;
    assert.equal((final.value as { n: number }).n, procs * each, "every update landed");
    assert.equal(final.version.split(":")[0], String(procs * each), "one version (slot) per update");
    const conflicts = outs.map((o) => JSON.parse(o.stdout).conflicts as number).reduce((a, b) => a + b, 0);
    assert.ok(conflicts > 0, "concurrent writers did collide (and lost with a conflict, then retried)");
    // The last writer may have met another's temp file; the next write tidies whatever is left.
    const next = await store.update(["c", "counter"], { n: 0 }, final.version);
    assert.deepEqual(readdirSync(path.join(root, "c")), [path.basename(next.where)], "no temp files or old versions left");
    assert.equal(path.basename(next.where), `counter@${String(procs * each + 1).padStart(6, "0")}.json`);
  });
  test("a store in the layout before fencing (one NAME.json per document) is read as it is, then updated in place", async () => {
    // Built by hand the way the store wrote it before: JSON.stringify(value, null, 1), mode 0600,
    // plus the litter a kill left then (temp files, a lock file, clock probes).
    const root = path.join(tempDir("fslegacy"), "state");
    const id = { namespace: "default", host: "web1", name: "backup" };
    const rec = { ...newRecord(id, 2, { playbook: "/p/site.yml" }), status: "running" as const, jid: "j1.1" };
    const old = { ...newRecord(id, 1, {}), status: "succeeded" as const, finished_at: rec.started_at };
    const put = (key: readonly string[], value: unknown) => {
      const file = `${path.join(root, ...encodeKey(key))}.json`;
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      writeFileSync(file, `${JSON.stringify(value, null, 1)}\n`, { mode: 0o600 });
      return file;
    };
    const headFile = put(keys.head(id), rec);
    put(keys.history(id, 1), old);
    put(keys.jid("default", "web1", "j1.1"), { namespace: "default", host: "web1", name: "backup", attempt: 2, id: rec.id });
    const dir = path.dirname(headFile);
    const litter = [path.join(dir, ".backup.json.0123456789ab.tmp"), path.join(dir, "backup.json.lock"), path.join(root, ".clock.5f3a9c")];
    for (const f of litter) writeFileSync(f, "x");
    const ledger = new Ledger(new FilesystemStore(root));
    assert.deepEqual((await ledger.head(id))?.record, rec);
    assert.equal((await ledger.head(id))?.entry.version.split(":")[0], "0", "a file of the old layout is version 0");
    assert.deepEqual((await ledger.byJid("default", "web1", "j1.1"))?.record.id, rec.id);
    assert.deepEqual((await ledger.history(id)).records.map((r) => r.attempt), [1, 2]);
    assert.deepEqual((await ledger.list({})).records.map((r) => r.id), [rec.id]);
    const done = await ledger.setStatus(id, "cancelled", "by hand");
    assert.equal(done.record.status, "cancelled");
    assert.deepEqual((await ledger.head(id))?.record, done.record);
    assert.deepEqual(readdirSync(dir).filter((n) => !n.includes("lock") && !n.endsWith(".tmp")), ["backup@000001.json"], "the old file was the base, pruned");
    // Litter of the old layout is left to age out (an old writer may still be at work)...
    for (const f of litter) assert.ok(readdirSync(path.dirname(f)).includes(path.basename(f)), f);
    // ...and, once old by the store's clock, the next writer or list removes it.
    for (const f of litter) utimesSync(f, new Date(Date.now() - 3600_000), new Date(Date.now() - 3600_000));
    assert.equal((await ledger.list({})).records.length, 1);
    for (const f of litter) assert.ok(!readdirSync(path.dirname(f)).includes(path.basename(f)), `${f} was removed`);
  });

  test("a version file that is corrupt is named, and does not hide the other documents", async () => {
    const root = path.join(tempDir("fsbadv"), "state");
    const store = new FilesystemStore(root);
    const a = await store.create(["t", "a"], { n: 0 });
    await store.update(["t", "a"], { n: 1 }, a.version);
    await store.create(["t", "b"], { n: 0 });
    const file = path.join(root, "t", "a@000001.json");
    writeFileSync(file, '{"n": ');
    await assert.rejects(store.get(["t", "a"]), (e) => isCode(e, "corrupt") && (e as Error).message.startsWith(`${file}: not valid JSON`));
    const res = await store.list(["t"]);
    assert.deepEqual(res.entries.map((e) => e.value), [{ n: 0 }]);
    assert.equal(res.errors.length, 1);
    assert.ok(res.errors[0]!.message.startsWith(`${file}: not valid JSON`), res.errors[0]!.message);
  });

  test("versions name their slot; a delete leaves nothing, and the key can be created again", async () => {
    const root = path.join(tempDir("fsdel"), "state");
    const store = new FilesystemStore(root);
    const c = await store.create(["t", "x"], { n: 0 });
    assert.match(c.version, /^0:[0-9a-f]{32}$/);
    const u = await store.update(["t", "x"], { n: 1 }, c.version);
    assert.match(u.version, /^1:[0-9a-f]{32}$/);
    assert.deepEqual(readdirSync(path.join(root, "t")), ["x@000001.json"]);
    await assert.rejects(store.update(["t", "x"], { n: 2 }, c.version), (e) => isCode(e, "conflict"));
    await store.delete(["t", "x"], u.version);
    assert.deepEqual(readdirSync(path.join(root, "t")), []);
    assert.equal(await store.get(["t", "x"]), undefined);
    await assert.rejects(store.update(["t", "x"], { n: 2 }, u.version), (e) => isCode(e, "not_found"));
    const again = await store.create(["t", "x"], { life: 2 });
    assert.deepEqual((await store.get(["t", "x"]))?.value, { life: 2 });
    assert.equal(again.version.split(":")[0], "0");
  });

  test("list gives each document's key, file and value, its version on demand; without versions, asking for one is an error", async () => {
    const root = path.join(tempDir("fslist"), "state");
    const store = new FilesystemStore(root);
    const small = await store.create(["t", "Small doc"], { n: 1 });
    // Bigger than the list's read buffer (64 KiB), and past its first update (slot 1).
    const bigValue = { text: "é".repeat(50_000) };
    const big = await store.update(["t", "big"], bigValue, (await store.create(["t", "big"], { n: 0 })).version);
    const byName = (entries: readonly Entry[]) => [...entries].sort((a, b) => (a.key[1]! < b.key[1]! ? -1 : 1));

    const withVersions = byName((await store.list(["t"])).entries);
    assert.deepEqual(
      withVersions.map((e) => [e.key, e.where, e.value, e.version]),
      [
        [["t", "Small doc"], path.join(root, "t", `${encodeSegment("Small doc")}.json`), { n: 1 }, small.version],
        [["t", "big"], path.join(root, "t", "big@000001.json"), bigValue, big.version],
      ],
    );

    const valuesOnly = await store.list(["t"], undefined, { versions: false });
    assert.deepEqual(valuesOnly.errors, []);
    const entries = byName(valuesOnly.entries);
    assert.deepEqual(
      entries.map((e) => [e.key, e.where, e.value]),
      withVersions.map((e) => [e.key, e.where, e.value]),
    );
    assert.throws(() => entries[0]!.version, (e) => isCode(e, "internal") && /listed without versions/.test((e as Error).message));
  });

  test("a file read short (as FUSE with direct_io may) is read on to its end before it is parsed or called corrupt", async () => {
    const root = path.join(tempDir("fsshort"), "state");
    const ledger = new Ledger(new FilesystemStore(root));
    for (const name of ["a", "b", "c"]) await ledger.claim({ namespace: "default", host: "h1", name }, {}, {}, 300);
    const dir = path.join(root, "heads", "default", "h1");
    writeFileSync(path.join(dir, "broken.json"), '{"schema": 1, "id": ');
    const store = new FilesystemStore(root);
    const expected = await store.list(["heads"]);
    // The first read of each file returns only part of it: its first 100 bytes, the bytes up to
    // the last newline in them (which looks like the end of a document this store wrote), or all
    // but its last byte (a whole JSON document without its newline).
    const shortReads = async (cut: "100" | "newline" | "last") => {
      const readSync = fs.readSync;
      const closeSync = fs.closeSync;
      const shortened = new Set<number>();
      let count = 0;
      fs.readSync = ((fd: number, buffer: Buffer, offset: number, length: number, position: null) => {
        if (shortened.has(fd) || length <= 100) return readSync(fd, buffer, offset, length, position);
        shortened.add(fd);
        const size = fs.fstatSync(fd).size;
        const head = Buffer.alloc(100);
        readSync(fd, head, 0, 100, 0); // pread: the file offset stays
        const n = cut === "100" ? 100 : cut === "newline" ? head.lastIndexOf(10) + 1 : size - 1;
        if (size <= 100 || n <= 0) return readSync(fd, buffer, offset, length, position);
        count++;
        return readSync(fd, buffer, offset, n, position);
      }) as typeof fs.readSync;
      fs.closeSync = (fd: number) => {
        shortened.delete(fd);
        closeSync(fd);
      };
      syncBuiltinESMExports();
      try {
        const { records, errors } = await ledger.list({});
        assert.deepEqual(records.map((r) => r.name).sort(), ["a", "b", "c"]);
        assert.equal(errors.length, 1);
        assert.match(errors[0]!, new RegExp(`^${dir}/broken\\.json: not valid JSON`));
        const listed = await store.list(["heads"]);
        assert.deepEqual(
          listed.entries.map((e) => [e.where, e.version]).sort(),
          expected.entries.map((e) => [e.where, e.version]).sort(),
        );
      } finally {
        fs.readSync = readSync;
        fs.closeSync = closeSync;
        syncBuiltinESMExports();
      }
      assert.ok(count >= 6, `${count} short reads`);
    };
    await shortReads("100");
    await shortReads("newline");
    await shortReads("last");
  });

  test("a delete killed half way (a tombstone, or a slot a remover renamed its marker over) reads as deleted and is removed", async () => {
    const root = path.join(tempDir("fshalf"), "state");
    const store = new FilesystemStore(root);
    const dir = path.join(root, "t");
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "a@000003.json"), "\u0000deleted\n"); // the tombstone, not yet removed
    writeFileSync(path.join(dir, "b.json"), "{}\n");
    writeFileSync(path.join(dir, "b@000001.json"), "\u0000pruned\n"); // the remover was killed before its unlink
    await store.create(["t", "c"], { n: 0 });
    assert.equal(await store.get(["t", "a"]), undefined);
    assert.equal(await store.get(["t", "b"]), undefined);
    const res = await store.list(["t"]);
    assert.deepEqual(res.errors, []);
    assert.deepEqual(res.entries.map((e) => e.value), [{ n: 0 }]);
    assert.deepEqual(readdirSync(dir), ["c.json"], "list removed what the killed deletes left");
    await store.create(["t", "b"], { n: 1 });
    assert.deepEqual((await store.get(["t", "b"]))?.value, { n: 1 });
  });

  test("temp files of a dead writer on this host are removed by the next writer; another host's once old by the store's clock", async () => {
    const root = path.join(tempDir("fslit"), "state");
    const store = new FilesystemStore(root);
    await store.create(["t", "a"], { n: 0 });
    const dead = await new Promise<number>((resolve) => {
      const p = spawn(process.execPath, ["-e", "0"]);
      p.on("exit", () => resolve(p.pid!));
    });
    const tag = createHash("sha256").update(hostname()).digest("hex").slice(0, 8);
    const dir = path.join(root, "t");
    const mine = path.join(dir, `.b@0.${tag}.${dead}.0123456789ab.tmp`);
    const theirs = path.join(dir, ".c@0.ffffffff.12345.0123456789ab.tmp");
    const marker = path.join(dir, `.a@0.${tag}.${dead}.0123456789ab.gone`);
    for (const f of [mine, theirs, marker]) writeFileSync(f, "{}\n");
    await store.create(["t", "d"], { n: 0 });
    assert.deepEqual(readdirSync(dir).sort(), [".c@0.ffffffff.12345.0123456789ab.tmp", "a.json", "d.json"]);
    utimesSync(theirs, new Date(Date.now() - 3600_000), new Date(Date.now() - 3600_000));
    await store.create(["t", "e"], { n: 0 });
    assert.deepEqual(readdirSync(dir).sort(), ["a.json", "d.json", "e.json"]);
  });

  // A real pause: the writer stops itself (SIGSTOP) at a chosen system call; this test changes the store, then lets it go.
  const pausedWriter = async (mode: "update" | "prune", root: string, key: string, version: string, meanwhile: () => Promise<void>) => {
    const worker = path.join(import.meta.dirname, "..", "helpers", "paused-writer.ts");
    const child = spawn(process.execPath, ["--import", "tsx", worker, mode, root, key, version], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (d) => {
        out += d;
        if (out.includes("paused\n")) resolve();
      });
      child.on("exit", () => reject(new Error(`the writer ended before pausing: ${out}`)));
    });
    // Wait until it is really stopped (state T in /proc/PID/stat).
    while (!/^\d+ \(.*\) T/.test(readFileSync(`/proc/${child.pid}/stat`, "utf8"))) await new Promise((r) => setImmediate(r));
    await meanwhile();
    const done = new Promise<void>((resolve) => child.on("exit", () => resolve()));
    child.kill("SIGCONT");
    await done;
    return JSON.parse(out.split("\n").filter(Boolean).at(-1)!) as { ok: boolean; code?: string; stopped: boolean };
  };

  test("a writer paused between its checks and its link(2) never wins, even once its slot was written and pruned", async () => {
    const root = path.join(tempDir("fspause"), "state");
    const store = new FilesystemStore(root);
    const c = await store.create(["t", "x"], { n: 0 });
    const r = await pausedWriter("update", root, "t/x", c.version, async () => {
      const one = await store.update(["t", "x"], { n: 1 }, c.version); // takes the paused writer's slot
      await store.update(["t", "x"], { n: 2 }, one.version); // and prunes it
      assert.deepEqual(readdirSync(path.join(root, "t")), ["x@000002.json"], "the paused writer's temp file was disarmed");
    });
    assert.equal(r.stopped, true);
    assert.equal(r.ok, false, JSON.stringify(r));
    assert.equal(r.code, "conflict");
    assert.deepEqual((await store.get(["t", "x"]))?.value, { n: 2 });
    assert.deepEqual(readdirSync(path.join(root, "t")), ["x@000002.json"]);
  });

  test("a remover paused before its unlink never removes the next life of a deleted key", async () => {
    const root = path.join(tempDir("fsprune"), "state");
    const store = new FilesystemStore(root);
    const c = await store.create(["t", "x"], { life: 1 });
    // The writer updates (slot 1), then stops while it prunes slot 0.
    const r = await pausedWriter("prune", root, "t/x", c.version, async () => {
      await store.delete(["t", "x"]);
      await store.create(["t", "x"], { life: 2 }); // slot 0 again, a new life
    });
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.deepEqual((await store.get(["t", "x"]))?.value, { life: 2 });
    assert.deepEqual(readdirSync(path.join(root, "t")), ["x.json"]);
  });
});
