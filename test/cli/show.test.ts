/** ansible-jobs show and history: the whole record, by name or jid, attempts, not found and corrupt records. */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { Value } from "@sinclair/typebox/value";
import { JobRecord } from "../../src/engine/record.js";
import { type Filled, fillStore } from "./fixtures.js";
import { ANSI, cli, tableRows, useScratch } from "./helpers.js";

const root = useScratch();
let f: Filled;

before(async () => {
  f = await fillStore(root.path("store"));
});

const run = (...args: string[]) => cli([...args, "--store", f.dir]);

describe("ansible-jobs show", () => {
  test("prints identity, origin, times with durations, status with last_error, result and output tails", async () => {
    const r = await run("show", "build", "--host", "web2");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.doesNotMatch(r.stdout, ANSI);
    const rec = f.jobs["web2/build"]!;
    const out = r.stdout;
    assert.match(out, /^Job "build" on web2 {2}\(namespace default, attempt 1\)\n/);
    for (const re of [
      /\nJob\n {2}status +failed {2}\(terminal\)\n/,
      /\n {2}last error +job "build" \(jid \d+\.\d+\) on web2 failed: non-zero return code\n/,
      new RegExp(`\\n {2}id +${rec.id}\\n`),
      new RegExp(`\\n {2}jid +${rec.jid!.replace(".", "\\.")}\\n`),
      new RegExp(`\\n {2}results file +/root/\\.ansible_async/${rec.jid!.replace(".", "\\.")}\\n`),
      /\n {2}async timeout +3600s\n/,
      /\nOrigin\n {2}playbook +\/srv\/ops\/deploy\.yml\n {2}play +Deploy the app {2}\(id 0242ac11-0002-81b5-5d5c-000000000008\)\n {2}task +Build in the background\n {2}controller +ci-runner-1\n/,
      /\nTimes\n {2}started +\d{4}-\d\d-\d\dT[\d:.]+Z {2}\(\d+s ago\)\n/,
      /\n {2}finished +\d{4}-\d\d-\d\dT[\d:.]+Z {2}\(\d+s ago; ran \d+s\)\n/,
      /\nResult\n {2}rc +2\n {2}msg +non-zero return code\n {2}failed +yes\n/,
      /\nstdout \(tail\)\n {2}\| compiling\.\.\.\n/,
      /\nstderr \(tail\)\n {2}\| error: disk full\n$/,
    ]) {
      assert.match(out, re);
    }
  });

  test("an active job shows how long it has been running, its session and host incarnation", async () => {
    const r = await run("show", "build", "--host", "web1");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\n {2}status +running {2}\(active\)\n/);
    assert.match(r.stdout, /\n {2}session id +4242\n/);
    assert.match(r.stdout, /\n {2}host incarnation +boot_id=6f1c2d0e-boot boot_time=1700000000 pid1_start=1700000001\n/);
    assert.match(r.stdout, /\n {2}running for +\d+s\n/);
    assert.match(r.stdout, /\n {2}\| step 1\/3\n {2}\| step 2\/3\n/);
  });

  test("NAME alone is enough when one host has it; several hosts are a usage error naming them", async () => {
    const one = await run("show", "deploy");
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /^Job "deploy" on app1 /);
    assert.match(one.stdout, /\n {2}status +starting {2}\(active\)\n/);
    assert.match(one.stdout, /\n {2}claim token +[0-9a-f]{32}\n/);
    const many = await run("show", "migrate", "--namespace", "default");
    assert.equal(many.code, 0);
    const amb = await run("show", "backup");
    assert.equal(amb.code, 2);
    const lines = amb.stderr.trimEnd().split("\n");
    assert.match(lines.at(-1)!, /^ansible-jobs: error: job "backup" exists on 3 hosts \(db1, db3, web1\); choose one with --host/);
    // The unreadable documents might have been the job: they are named too.
    assert.equal(lines.filter((l) => l.startsWith("ansible-jobs: warning: unreadable record: ")).length, 2);
  });

  test("--jid finds a job with or without --host; --json prints the record", async () => {
    const rec = f.jobs["web2/migrate"]!;
    const withHost = await run("show", "--jid", rec.jid!, "--host", "web2", "--json");
    assert.equal(withHost.code, 0, withHost.stderr);
    const got = JSON.parse(withHost.stdout);
    assert.ok(Value.Check(JobRecord, got));
    assert.deepEqual(got, rec);
    const scan = await run("show", "--jid", rec.jid!);
    assert.equal(scan.code, 0, scan.stderr);
    assert.match(scan.stdout, /^Job "migrate" on web2 /);
    assert.match(scan.stdout, /\n {2}status +timed_out {2}\(terminal\)\n/);
    assert.match(scan.stdout, /killed by Ansible's async time limit \(3600s\)/);
    const nd = await run("show", "migrate", "--host", "web2", "--ndjson");
    assert.equal(nd.stdout.trimEnd().split("\n").length, 1);
    assert.deepEqual(JSON.parse(nd.stdout), rec);
  });

  test("--attempt shows an earlier attempt", async () => {
    const first = await run("show", "reindex", "--host", "db1", "--attempt", "1", "--json");
    assert.equal(first.code, 0, first.stderr);
    const rec = JSON.parse(first.stdout) as JobRecord;
    assert.equal(rec.attempt, 1);
    assert.equal(rec.status, "failed");
    const none = await run("show", "reindex", "--host", "db1", "--attempt", "7");
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^ansible-jobs: error: job "reindex" on db1 has no attempt 7 \(attempts kept: 1, 2, 3\)\n$/);
    const bad = await run("show", "reindex", "--host", "db1", "--attempt", "zero");
    assert.equal(bad.code, 2);
  });

  test("not found exits 1 with one line saying where it looked", async () => {
    const r = await run("show", "nope", "--host", "web1");
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr, `ansible-jobs: error: no job "nope" on web1 in namespace default of ${f.dir}\n`);
    const jid = await run("show", "--jid", "j1.1", "--host", "web1");
    assert.equal(jid.code, 1);
    assert.match(jid.stderr, /^ansible-jobs: error: no job with jid j1\.1 on web1 /);
    const missing = await cli(["show", "x", "--host", "h", "--store", root.path("missing")]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /the store directory does not exist/);
    const usage = await run("show");
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /give a job NAME or --jid JID/);
  });

  test("a corrupt record is a store error (exit 4) naming the file", async () => {
    const r = await run("show", "broken", "--host", "web1");
    assert.equal(r.code, 4);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, new RegExp(`^ansible-jobs: error: ${f.corrupt[0]!.replace(/[.]/g, "\\.")}: not valid JSON \\(.*\\)\\n$`));
  });
});

describe("ansible-jobs history", () => {
  test("lists every attempt of a job, oldest first", async () => {
    const r = await run("history", "reindex", "--host", "db1");
    assert.equal(r.code, 0, r.stderr);
    const [title, ...table] = r.stdout.split("\n");
    assert.equal(title, 'Job "reindex" on db1 (namespace default): 3 attempt(s)');
    const rows = tableRows(table.join("\n"));
    assert.deepEqual(rows[0], ["ATTEMPT", "STATUS", "JID", "STARTED", "RAN", "RC", "OUTCOME"]);
    assert.deepEqual(
      rows.slice(1).map((c) => [c[0], c[1], c[5]]),
      [
        ["1", "failed", "2"],
        ["2", "succeeded", "0"],
        ["3", "cancelled", "-"],
      ],
    );
    assert.match(rows[1]![6]!, /failed: non-zero return code$/);
    assert.match(rows[3]![6]!, /was cancelled$/);
  });

  test("--json prints the attempts as records; the host is found when unique", async () => {
    const r = await run("history", "reindex", "--json");
    assert.equal(r.code, 0, r.stderr);
    const recs = JSON.parse(r.stdout) as unknown[];
    assert.equal(recs.length, 3);
    for (const x of recs) assert.ok(Value.Check(JobRecord, x));
    assert.deepEqual(
      (recs as JobRecord[]).map((x) => x.attempt),
      [1, 2, 3],
    );
  });

  test("not found exits 1; NAME is required", async () => {
    const r = await run("history", "nope", "--host", "db1");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ansible-jobs: error: no job "nope" on db1 /);
    const u = await run("history");
    assert.equal(u.code, 2);
    assert.match(u.stderr, /^ansible-jobs: error: missing NAME/);
  });
});
