/** ansible-jobs prune and delete: what goes, what stays, dry runs, confirmations and refusals. */
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import { Value } from "@sinclair/typebox/value";
import { JobRecord } from "../../src/engine/record.js";
import { backdate, fillStore } from "./fixtures.js";
import { cli, cliOnTty, haveScript, tableRows, useScratch } from "./helpers.js";

const DAY = 86400;
const root = useScratch();

/** A fresh store: web1/backup updated 3 days ago, reindex attempt 1 ten days ago. */
async function store(corrupt = false) {
  const f = await fillStore(root.fresh(), { corrupt });
  await backdate(f.ledger, { namespace: "default", host: "web1", name: "backup" }, 3 * DAY);
  await backdate(f.ledger, { namespace: "default", host: "db1", name: "reindex" }, 10 * DAY, 1);
  return f;
}

function files(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

const historyIds = async (dir: string) =>
  (JSON.parse((await cli(["list", "--store", dir, "--history", "-A", "--json"])).stdout) as JobRecord[]).map(
    (r) => `${r.namespace}/${r.host}/${r.name}#${r.attempt}`,
  );

describe("ansible-jobs prune", () => {
  test("--dry-run prints what would go and deletes nothing; the real run deletes exactly that", async () => {
    const f = await store();
    const before = files(f.dir);
    const dry = await cli(["prune", "--store", f.dir, "--older-than", "1d", "--dry-run"]);
    assert.equal(dry.code, 0, dry.stderr);
    const rows = tableRows(dry.stdout);
    assert.deepEqual(rows[0], ["HOST", "NAME", "STATUS", "ATTEMPT", "JID", "AGE/UPDATED", "PLAYBOOK"]);
    assert.deepEqual(
      rows.slice(1, -1).map((c) => `${c[0]}/${c[1]}#${c[3]}:${c[2]}`),
      ["db1/reindex#1:failed", "web1/backup#1:succeeded"],
    );
    assert.equal(dry.stdout.trimEnd().split("\n").at(-1), `Would prune 2 record(s) from ${f.dir} (dry run: nothing deleted).`);
    assert.deepEqual(files(f.dir), before, "a dry run changes nothing");

    const real = await cli(["prune", "--store", f.dir, "--older-than", "1d"]);
    assert.equal(real.code, 0, real.stderr);
    assert.equal(real.stdout.trimEnd().split("\n").at(-1), `Pruned 2 record(s) from ${f.dir}.`);
    const left = await historyIds(f.dir);
    assert.equal(left.length, 9);
    assert.ok(!left.includes("default/web1/backup#1"));
    assert.ok(!left.includes("default/db1/reindex#1"));
    assert.ok(left.includes("default/db1/reindex#2") && left.includes("default/db1/reindex#3"));
    // The jid index entries of pruned attempts go too.
    const gone = [f.jobs["web1/backup"]!.jid!];
    for (const jid of gone) assert.ok(!existsSync(path.join(f.dir, "jids", "default", "web1", `${jid}.json`)));
    const again = await cli(["prune", "--store", f.dir, "--older-than", "1d"]);
    assert.equal(again.stdout, `Pruned 0 record(s) from ${f.dir}.\n`);
  });

  test("--status, --host and --json narrow and report; active jobs are never pruned", async () => {
    const f = await store();
    const r = await cli(["prune", "--store", f.dir, "--older-than", "0s", "--status", "failed", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const pruned = JSON.parse(r.stdout) as JobRecord[];
    for (const x of pruned) assert.ok(Value.Check(JobRecord, x));
    assert.deepEqual(pruned.map((x) => `${x.host}/${x.name}#${x.attempt}:${x.status}`).sort(), ["db1/reindex#1:failed", "web2/build#1:failed"]);
    const host = await cli(["prune", "--store", f.dir, "--older-than", "0s", "--host", "web2", "--ndjson"]);
    assert.deepEqual(
      host.stdout.trimEnd().split("\n").map((l) => JSON.parse(l).name),
      ["migrate"],
    );
    const all = await cli(["prune", "--store", f.dir, "--older-than", "0s", "-A"]);
    assert.equal(all.code, 0, all.stderr);
    const left = await historyIds(f.dir);
    assert.deepEqual(left, ["default/app1/deploy#1", "default/db3/backup#1", "default/web1/build#1"], "only active jobs stay");
  });

  test("needs --older-than, and only terminal statuses", async () => {
    const f = await store();
    const none = await cli(["prune", "--store", f.dir]);
    assert.equal(none.code, 2);
    assert.equal(none.stderr, "ansible-jobs: error: prune needs --older-than DURATION (for example 7d) (see ansible-jobs prune --help)\n");
    const active = await cli(["prune", "--store", f.dir, "--older-than", "1d", "--status", "running,failed"]);
    assert.equal(active.code, 2);
    assert.match(active.stderr, /prune only removes terminal jobs; running is not terminal/);
    const bad = await cli(["prune", "--store", f.dir, "--older-than", "a week"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--older-than: "a week" is not a duration/);
    const missing = await cli(["prune", "--store", root.path("missing"), "--older-than", "1d"]);
    assert.equal(missing.code, 0);
    assert.match(missing.stdout, /^Pruned 0 record\(s\)/);
    assert.ok(!existsSync(root.path("missing")), "looking does not create the store");
  });

  test("unreadable records are reported and kept (exit 4); the rest is pruned", async () => {
    const f = await store(true);
    const r = await cli(["prune", "--store", f.dir, "--older-than", "1d"]);
    assert.equal(r.code, 4);
    assert.match(r.stdout, /Pruned 2 record\(s\)/);
    assert.equal(r.stderr.trimEnd().split("\n").length, 2);
    for (const file of f.corrupt) assert.ok(r.stderr.includes(file));
    for (const file of f.corrupt) assert.ok(existsSync(file));
  });
});

describe("ansible-jobs delete", () => {
  test("--yes deletes every attempt and the jid entries of one job", async () => {
    const f = await store();
    const r = await cli(["delete", "reindex", "--host", "db1", "--yes", "--store", f.dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Deleted job "reindex" on db1: 3 record(s) (attempts 1, 2, 3).\n');
    assert.equal((await cli(["history", "reindex", "--host", "db1", "--store", f.dir])).code, 1);
    assert.deepEqual(
      files(f.dir).filter((p) => p.includes("reindex") || p.startsWith("jids/default/db1/")),
      [`jids/default/db1/${f.jobs["db1/backup"]!.jid}.json`],
      "only the other db1 job's jid entry is left",
    );
    const json = await cli(["rm", "backup", "--host", "db1", "-y", "--json", "--store", f.dir]);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(
      (JSON.parse(json.stdout) as JobRecord[]).map((x) => x.status),
      ["lost"],
    );
  });

  test("refuses without --yes when stdin is not a terminal, and deletes nothing", async () => {
    const f = await store();
    const before = files(f.dir);
    const r = await cli(["delete", "reindex", "--host", "db1", "--store", f.dir]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^ansible-jobs: error: refusing to delete job "reindex" on db1 \(namespace default\): 3 record\(s\), current attempt 3 is cancelled without --yes \(stdin is not a terminal\)/);
    assert.deepEqual(files(f.dir), before);
  });

  test("an active job needs --force", async () => {
    const f = await store();
    const r = await cli(["delete", "build", "--host", "web1", "--yes", "--store", f.dir]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /job "build" on web1 is running \(jid [\d.]+\): deleting its record does not stop it and forgets its jid; cancel it first .* or use --force/);
    assert.equal((await cli(["show", "build", "--host", "web1", "--store", f.dir])).code, 0);
    const forced = await cli(["delete", "build", "--host", "web1", "--yes", "--force", "--store", f.dir]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal((await cli(["show", "build", "--host", "web1", "--store", f.dir])).code, 1);
  });

  test("not found exits 1; --host is required", async () => {
    const f = await store();
    const r = await cli(["delete", "nope", "--host", "web1", "--yes", "--store", f.dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ansible-jobs: error: no job "nope" on web1 /);
    const h = await cli(["delete", "build", "--yes", "--store", f.dir]);
    assert.equal(h.code, 2);
    assert.match(h.stderr, /delete needs --host HOST/);
  });

  test("a corrupt record is kept unless --force", async () => {
    const f = await store(true);
    const r = await cli(["delete", "broken", "--host", "web1", "--yes", "--store", f.dir]);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /broken\.json: not valid JSON .*; use --force to delete it anyway/);
    assert.ok(existsSync(f.corrupt[0]!));
    const forced = await cli(["delete", "broken", "--host", "web1", "--yes", "--force", "--store", f.dir]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.ok(!existsSync(f.corrupt[0]!));
  });

  test("on a terminal it asks, and only 'y' deletes", { skip: haveScript() ? false : "script(1) is not installed: no pseudo-terminal" }, async () => {
    const f = await store();
    const no = await cliOnTty(["delete", "reindex", "--host", "db1", "--store", f.dir], { input: "n\n" });
    assert.match(no.stdout, /Delete job "reindex" on db1 \(namespace default\): 3 record\(s\), current attempt 3 is cancelled\? \[y\/N\]/);
    assert.match(no.stdout, /ansible-jobs: error: not deleted/);
    assert.equal(no.code, 1);
    assert.equal((await cli(["history", "reindex", "--host", "db1", "--store", f.dir])).code, 0);
    const yes = await cliOnTty(["delete", "reindex", "--host", "db1", "--store", f.dir], { input: "y\n" });
    assert.equal(yes.code, 0, yes.stdout);
    assert.match(yes.stdout, /Deleted job "reindex" on db1: 3 record\(s\)/);
    assert.equal((await cli(["history", "reindex", "--host", "db1", "--store", f.dir])).code, 1);
  });
});
