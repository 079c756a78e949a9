/**
 * The job_ledger journal (src/engine/journal.ts): its format, its lock, and a replay that
 * records each launch once, however often and however concurrently it runs.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { Operations } from "../../src/bridge/ops.js";
import { JOB_STORE_OPTIONS } from "../../src/bridge/spec.js";
import { type JournalLaunch, lockHolder, parseJournal, replayJournal, takeLock } from "../../src/engine/journal.js";
import { Ledger } from "../../src/engine/ledger.js";
import { coerceTo } from "../../src/engine/options.js";
import { MemoryStore } from "../helpers/memory-store.js";

const dir = () => mkdtempSync(path.join(tmpdir(), "lrt-journal-"));

function launch(name: string, host: string, jid: string): JournalLaunch {
  return {
    v: 1,
    kind: "launch",
    at: "2026-01-01T00:00:00.000Z",
    store: "mem://",
    playbook_dir: "/tmp",
    namespace: "default",
    name,
    host,
    jid,
    results_file: `/root/.ansible_async/${jid}`,
    async_timeout: 600,
    no_log: false,
    playbook: "/tmp/site.yml",
    play: "Play",
    play_id: "uuid",
    task: name,
    controller: "ctl",
  };
}

const lines = (...ls: unknown[]) => ls.map((l) => `${typeof l === "string" ? l : JSON.stringify(l)}\n`).join("");

test("parse: launches in order; a torn last line is dropped; other versions and incomplete lines are named", () => {
  const text = `${lines(launch("a", "h1", "j1.1"), { v: 2, kind: "launch" }, { v: 1, kind: "launch", name: "x" }, "{oops", { v: 1, kind: "later-kind" })}{"v":1,"kind":"lau`;
  const { launches, errors } = parseJournal(text, "J");
  assert.deepEqual(
    launches.map((l) => l.name),
    ["a"],
  );
  assert.deepEqual(errors, [
    "J:2: journal format 2 is not supported (this version reads 1)",
    "J:3: a launch needs namespace, name, host and jid",
    "J:4: not JSON",
  ]);
});

test("lock: a live holder keeps it; a dead run's lock on this machine is broken and taken", () => {
  const file = path.join(dir(), "journal-x.jsonl");
  writeFileSync(`${file}.lock`, JSON.stringify({ pid: process.pid, controller: hostname(), at: "" }));
  assert.equal(takeLock(file), undefined);
  assert.deepEqual(lockHolder(file), { pid: process.pid, controller: hostname() });
  const dead = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" });
  writeFileSync(`${file}.lock`, JSON.stringify({ pid: Number(dead.stdout.trim()), controller: hostname(), at: "" }));
  assert.equal(lockHolder(file), undefined);
  const release = takeLock(file);
  assert.ok(release);
  assert.equal(JSON.parse(readFileSync(`${file}.lock`, "utf8")).pid, process.pid);
  // Another controller's lock is never judged from here.
  release();
  assert.ok(!existsSync(`${file}.lock`));
  writeFileSync(`${file}.lock`, JSON.stringify({ pid: 1, controller: "other-controller", at: "" }));
  assert.equal(takeLock(file), undefined);
});

test("replay: each launch once, even replayed twice at once; the journal goes when all are recorded", async () => {
  const d = dir();
  const file = path.join(d, "journal-a.jsonl");
  const copy = path.join(d, "journal-b.jsonl");
  const text = lines(launch("backup", "h1", "j1.1"), launch("backup", "h2", "j2.1"), launch("loop[0]", "h1", "j3.1"));
  writeFileSync(file, text);
  writeFileSync(copy, text); // the same launches in a second journal (a replay killed before deleting its file)
  const store = new MemoryStore();
  const ledger = new Ledger(store);
  const [a, b] = await Promise.all([replayJournal(file, async () => ledger), replayJournal(copy, async () => ledger)]);
  assert.equal(a.recorded.length + b.recorded.length, 3);
  assert.equal(a.present + b.present, 3);
  assert.ok(a.removed && b.removed && !existsSync(file) && !existsSync(copy));
  const { records } = await ledger.select({ history: true });
  assert.deepEqual(
    records.map((r) => [r.host, r.name, r.attempt, r.status, r.jid, r.started_at, r.async_timeout]),
    [
      ["h1", "backup", 1, "running", "j1.1", "2026-01-01T00:00:00.000Z", 600],
      ["h1", "loop[0]", 1, "running", "j3.1", "2026-01-01T00:00:00.000Z", 600],
      ["h2", "backup", 1, "running", "j2.1", "2026-01-01T00:00:00.000Z", 600],
    ],
  );
});

test("replay: a store that fails keeps the journal and names the store", async () => {
  const file = path.join(dir(), "journal-a.jsonl");
  writeFileSync(file, lines(launch("backup", "h1", "j1.1")));
  const out = await replayJournal(file, async () => {
    throw new Error("connection refused");
  });
  assert.equal(out.pending, 1);
  assert.ok(!out.removed && existsSync(file));
  assert.deepEqual(Object.keys(out.failedStores), ["mem://"]);
});

test("async_job_save adopts the callback's record of the same jid: one record, under the save's name", async () => {
  const store = new MemoryStore();
  const ledger = new Ledger(store);
  const file = path.join(dir(), "journal-a.jsonl");
  writeFileSync(file, lines(launch("Run the backup", "h1", "j1.1")));
  await replayJournal(file, async () => ledger);
  const ops = new Operations(ledger, coerceTo(JOB_STORE_OPTIONS, { op: "save", name: "backup" }), {});
  const res = await ops.save("h1", { result: { ansible_job_id: "j1.1", results_file: "/root/.ansible_async/j1.1", started: 1, finished: 0 } });
  assert.equal(res.job?.name, "backup");
  assert.equal(res.job?.started_at, "2026-01-01T00:00:00.000Z");
  assert.equal(res.job?.async_timeout, 600);
  const { records } = await ledger.select({ history: true });
  assert.deepEqual(
    records.map((r) => [r.name, r.attempt, r.jid]),
    [["backup", 1, "j1.1"]],
  );
  assert.equal((await ledger.byJid("default", "h1", "j1.1"))?.record.name, "backup");
  // Saving the same result again is not a new attempt.
  await ops.save("h1", { result: { ansible_job_id: "j1.1", started: 1, finished: 0 } });
  assert.equal((await ledger.select({ history: true })).records.length, 1);
});
