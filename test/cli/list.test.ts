/** ansible-jobs list: table, filters, JSON output checked against the record schema, unreadable records, exit codes. */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import * as path from "node:path";
import { before, describe, test } from "node:test";
import { Value } from "@sinclair/typebox/value";
import { JobRecord } from "../../src/engine/record.js";
import { backdate, type Filled, fillStore, launch, openLedger } from "./fixtures.js";
import { ANSI, cli, tableRows, useScratch } from "./helpers.js";

const DAY = 86400;
const root = useScratch();
let clean: Filled;
let dirty: Filled;

before(async () => {
  clean = await fillStore(root.path("clean"), { corrupt: false });
  dirty = await fillStore(root.path("dirty"));
  for (const f of [clean, dirty]) {
    await backdate(f.ledger, { namespace: "default", host: "web1", name: "backup" }, 3 * DAY);
    await backdate(f.ledger, { namespace: "default", host: "db1", name: "reindex" }, 10 * DAY, 1);
  }
});

const list = (...args: string[]) => cli(["list", "--store", clean.dir, ...args]);
/** host/name[#attempt] of each table row, in order. */
function ids(stdout: string, withAttempt = false): string[] {
  if (stdout === "") return [];
  const [head, ...rows] = tableRows(stdout);
  const h = head!.indexOf("HOST");
  return rows.map((r) => `${r[h]}/${r[h + 1]}${withAttempt ? `#${r[h + 3]}` : ""}`);
}
function parseJson(stdout: string): JobRecord[] {
  const v = JSON.parse(stdout) as unknown[];
  assert.ok(Array.isArray(v));
  for (const r of v) assert.ok(Value.Check(JobRecord, r), `not a valid record: ${JSON.stringify([...Value.Errors(JobRecord, r)][0])}`);
  return v as JobRecord[];
}

describe("ansible-jobs list", () => {
  test("prints a table of the current attempts, sorted by host and name", async () => {
    const r = await list();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.doesNotMatch(r.stdout, ANSI, "no ANSI when stdout is not a terminal");
    const rows = tableRows(r.stdout);
    assert.deepEqual(rows[0], ["HOST", "NAME", "STATUS", "ATTEMPT", "JID", "AGE/UPDATED", "PLAYBOOK"]);
    assert.deepEqual(ids(r.stdout), [
      "app1/deploy",
      "db1/backup",
      "db1/reindex",
      "db3/backup",
      "web1/backup",
      "web1/build",
      "web2/build",
      "web2/migrate",
    ]);
    const byId = new Map(rows.slice(1).map((c) => [`${c[0]}/${c[1]}`, c]));
    assert.deepEqual(byId.get("app1/deploy")!.slice(2, 5), ["starting", "1", "-"]);
    assert.deepEqual(byId.get("db1/reindex")!.slice(2, 4), ["cancelled", "3"]);
    assert.equal(byId.get("web2/build")![4], clean.jobs["web2/build"]!.jid);
    assert.match(byId.get("web1/backup")![5]!, /^3d\d*h?\/3d\d*h?$/, "AGE/UPDATED of a record 3 days old");
    assert.match(byId.get("web2/build")![5]!, /^\d+s\/\d+s$/);
    assert.equal(byId.get("web1/backup")![6], "/srv/ops/nightly.yml");
  });

  test("--host takes a comma list and may be repeated; --name is exact", async () => {
    assert.deepEqual(ids((await list("--host", "web1,web2")).stdout), ["web1/backup", "web1/build", "web2/build", "web2/migrate"]);
    assert.deepEqual(ids((await list("--host", "web2", "--host=db3")).stdout), ["db3/backup", "web2/build", "web2/migrate"]);
    assert.deepEqual(ids((await list("--name", "backup")).stdout), ["db1/backup", "db3/backup", "web1/backup"]);
    assert.deepEqual(ids((await list("--name", "back")).stdout), []);
  });

  test("--status takes statuses and the groups active and terminal", async () => {
    assert.deepEqual(ids((await list("--status", "failed,lost")).stdout), ["db1/backup", "web2/build"]);
    assert.deepEqual(ids((await list("--status", "active")).stdout), ["app1/deploy", "db3/backup", "web1/build"]);
    assert.deepEqual(ids((await list("--status", "terminal")).stdout), ["db1/backup", "db1/reindex", "web1/backup", "web2/build", "web2/migrate"]);
    assert.deepEqual(ids((await list("--status", "TIMED_OUT")).stdout), ["web2/migrate"]);
  });

  test("--playbook matches the full path or a trailing part", async () => {
    assert.deepEqual(ids((await list("--playbook", "nightly.yml")).stdout), ["db1/backup", "db3/backup", "web1/backup"]);
    assert.equal(ids((await list("--playbook", "/srv/ops/deploy.yml")).stdout).length, 5);
    assert.deepEqual(ids((await list("--playbook", "ops/nightly.yml", "--host", "web1")).stdout), ["web1/backup"]);
  });

  test("--older-than and --newer-than compare updated_at", async () => {
    assert.deepEqual(ids((await list("--older-than", "1d")).stdout), ["web1/backup"]);
    assert.deepEqual(ids((await list("--older-than", "72h")).stdout), ["web1/backup"]);
    assert.deepEqual(ids((await list("--older-than", "4d")).stdout), []);
    const newer = ids((await list("--newer-than", "12h")).stdout);
    assert.equal(newer.length, 7);
    assert.ok(!newer.includes("web1/backup"));
  });

  test("--namespace, --all-namespaces (with a NAMESPACE column) and --history", async () => {
    assert.deepEqual(ids((await list("--namespace", "staging")).stdout), ["web1/build"]);
    assert.deepEqual(ids((await list("-n", "nope")).stdout), []);
    const all = await list("--all-namespaces");
    assert.equal(tableRows(all.stdout)[0]![0], "NAMESPACE");
    assert.equal(tableRows(all.stdout).length - 1, 9);
    assert.equal(tableRows(all.stdout).at(-1)![0], "staging");
    assert.deepEqual(ids((await list("--history", "--host", "db1")).stdout, true), [
      "db1/backup#1",
      "db1/reindex#1",
      "db1/reindex#2",
      "db1/reindex#3",
    ]);
    assert.deepEqual(ids((await list("--history", "--older-than", "5d")).stdout, true), ["db1/reindex#1"]);
  });

  test("--json prints an array of records that pass the record schema", async () => {
    const r = await list("--json");
    assert.equal(r.code, 0, r.stderr);
    const recs = parseJson(r.stdout);
    assert.equal(recs.length, 8);
    assert.deepEqual(
      recs.map((x) => `${x.host}/${x.name}:${x.status}`),
      [
        "app1/deploy:starting",
        "db1/backup:lost",
        "db1/reindex:cancelled",
        "db3/backup:unreachable",
        "web1/backup:succeeded",
        "web1/build:running",
        "web2/build:failed",
        "web2/migrate:timed_out",
      ],
    );
    const failed = recs.find((x) => x.status === "failed")!;
    assert.equal(failed.result?.rc, 2);
    assert.equal(failed.result?.stderr_tail, "error: disk full\n");
    assert.equal(failed.playbook, "/srv/ops/deploy.yml");
    const hist = parseJson((await list("--json", "--history", "-A")).stdout);
    assert.equal(hist.length, 11);
  });

  test("--ndjson prints one record per line", async () => {
    const r = await list("--ndjson", "--status", "terminal");
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 5);
    for (const l of lines) assert.ok(Value.Check(JobRecord, JSON.parse(l)));
    assert.equal((await list("--ndjson", "--host", "nobody")).stdout, "");
    assert.equal((await list("--json", "--host", "nobody")).stdout, "[]\n");
  });

  test("--fail-on exits 3 when a listed job has one of the statuses (CI gate)", async () => {
    const hit = await list("--fail-on", "failed,lost");
    assert.equal(hit.code, 3);
    assert.equal(ids(hit.stdout).length, 8, "the list is still printed");
    assert.match(hit.stderr, /^ansible-jobs: --fail-on: 2 job\(s\) with a failing status: 1 failed, 1 lost\n$/);
    const json = await list("--json", "--status", "failed", "--fail-on", "failed");
    assert.equal(json.code, 3);
    assert.equal(parseJson(json.stdout).length, 1);
    const miss = await list("--host", "web1", "--fail-on", "failed,lost,timed_out");
    assert.equal(miss.code, 0, miss.stderr);
    const bad = await list("--fail-on", "broken");
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^ansible-jobs: error: --fail-on: unknown status "broken"/);
  });

  test("unreadable records are reported on stderr, one line naming each file, and hide nothing else (exit 4)", async () => {
    const r = await cli(["list", "--store", dirty.dir]);
    assert.equal(r.code, 4);
    assert.equal(ids(r.stdout).length, 8, "every readable record is still listed");
    const lines = r.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 2, r.stderr);
    for (const file of dirty.corrupt) {
      const line = lines.find((l) => l.includes(file));
      assert.ok(line, `${file} is named: ${r.stderr}`);
      assert.match(line, /^ansible-jobs: warning: unreadable record: /);
    }
    assert.match(r.stderr, /broken\.json: not valid JSON/);
    assert.match(r.stderr, /not-a-record\.json: not a valid job record/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    const json = await cli(["list", "--store", dirty.dir, "--json"]);
    assert.equal(json.code, 4);
    assert.equal(parseJson(json.stdout).length, 8);
    const other = await cli(["list", "--store", dirty.dir, "--host", "db1"]);
    assert.equal(other.code, 0, "a selection without unreadable files is clean");
    const gate = await cli(["list", "--store", dirty.dir, "--fail-on", "failed"]);
    assert.equal(gate.code, 3, "--fail-on wins over unreadable records");
  });

  test("a store directory that does not exist is an empty list, not an error", async () => {
    const missing = root.path("does", "not", "exist");
    const r = await cli(["list", "--store", missing]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /No jobs found in .*does\/not\/exist \(namespace default\); the store directory does not exist yet\./);
    const j = await cli(["list", "--store", missing, "--json"]);
    assert.equal(j.code, 0);
    assert.equal(j.stdout, "[]\n");
    assert.equal(j.stderr, "");
    const gate = await cli(["list", "--store", missing, "--fail-on", "failed"]);
    assert.equal(gate.code, 0);
  });

  test("the store comes from --store (before or after the command), file://, ANSIBLE_JOBS_STORE, else ./.ansible_async_state", async () => {
    assert.equal(ids((await cli(["--store", clean.dir, "list", "--host", "web2"])).stdout).length, 2);
    assert.equal(ids((await cli(["list", `--store=file://${clean.dir}`, "--host", "web2"])).stdout).length, 2);
    assert.equal(ids((await cli(["list", "--host", "web2"], { env: { ANSIBLE_JOBS_STORE: clean.dir } })).stdout).length, 2);
    const cwd = root.path("project");
    mkdirSync(cwd);
    const empty = await cli(["list"], { cwd });
    assert.equal(empty.code, 0);
    assert.match(empty.stderr, new RegExp(`No jobs found in ${path.join(cwd, ".ansible_async_state")}`));
    await fillStore(path.join(cwd, ".ansible_async_state"), { corrupt: false });
    assert.equal(ids((await cli(["list"], { cwd })).stdout).length, 8);
    const explicit = await cli(["list", "--store", root.path("nowhere")], { cwd, env: { ANSIBLE_JOBS_STORE: clean.dir } });
    assert.match(explicit.stderr, /nowhere/, "--store wins over ANSIBLE_JOBS_STORE");
  });

  test("an empty namespace names the namespaces where the same selection finds jobs", async () => {
    const dir = root.path("namespaces");
    const ledger = openLedger(dir);
    await launch(ledger, { namespace: "Nightly backup", host: "web1", name: "backup" });
    await launch(ledger, { namespace: "Weekly report", host: "web1", name: "report" });
    const r = await cli(["list", "--store", dir]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /No jobs found in .* \(namespace default\); 2 in other namespaces \(Nightly backup, Weekly report\): ansible-jobs list -A, or -n NAMESPACE\./);
    const host = await cli(["list", "--store", dir, "--host", "db1"]);
    assert.doesNotMatch(host.stderr, /other namespaces/, "the hint keeps the other filters");
    assert.equal(ids((await cli(["list", "--store", dir, "-A"])).stdout).length, 2);
  });

  test("ls is an alias of list", async () => {
    assert.deepEqual(ids((await cli(["ls", "--store", clean.dir, "--host", "db3"])).stdout), ["db3/backup"]);
  });
});
