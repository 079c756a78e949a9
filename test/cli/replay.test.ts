/** ansible-jobs replay without Ansible: journals written here, in the format src/engine/journal.ts owns. */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { before, test } from "node:test";
import { Ledger } from "../../src/engine/ledger.js";
import { openStore } from "../../src/stores/open.js";
import { cli, ensureBuilt } from "./helpers.js";

before(ensureBuilt);

const launch = (store: string, name: string, jid: string) =>
  `${JSON.stringify({ v: 1, kind: "launch", at: "2026-01-01T00:00:00.000Z", store, playbook_dir: "/tmp", namespace: "default", name, host: "web1", jid, results_file: null, async_timeout: 60, no_log: false, playbook: "/tmp/site.yml", play: "p", play_id: null, task: name, controller: "ctl" })}\n`;

test("replay records a journal's launches once, removes it, and says so", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "lrt-replay-"));
  const store = path.join(dir, "state");
  writeFileSync(path.join(dir, "journal-a.jsonl"), launch(store, "backup", "j1.1") + launch(store, "backup", "j1.1"));
  const r = await cli(["replay", "--journal-dir", dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${path.join(dir, "journal-a.jsonl")}: 1 recorded, 1 already there, journal removed\nrecorded 1 launch(es) from 1 journal(s) (${dir})\n`);
  const s = await openStore(store);
  const { records } = await new Ledger(s).select({ history: true });
  assert.deepEqual(records.map((x) => [x.name, x.attempt, x.jid, x.status]), [["backup", 1, "j1.1", "running"]]);
});

test("a line of another format version keeps the journal: a warning naming file and line, exit 4", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "lrt-replay-"));
  const file = path.join(dir, "journal-b.jsonl");
  writeFileSync(file, `${JSON.stringify({ v: 9, kind: "launch" })}\n`);
  const r = await cli(["replay", "--journal-dir", dir]);
  assert.equal(r.code, 4);
  assert.equal(r.stderr, `ansible-jobs: warning: ansible-jobs replay: ${file}:1: journal format 9 is not supported (this version reads 1)\n`);
  assert.ok(existsSync(file));
});

test("bad --journal-dir: one line, no stack trace, exit 2; a missing one is empty", async () => {
  const r = await cli(["replay", "--journal-dir", "/etc/passwd"]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, "ansible-jobs: error: journal directory /etc/passwd: cannot read it (ENOTDIR)\n");
  const none = await cli(["replay", "--journal-dir", "/nonexistent/journal"]);
  assert.equal(none.code, 0, none.stderr);
  assert.equal(none.stdout, "recorded 0 launch(es) from 0 journal(s) (/nonexistent/journal)\n");
});
