/** ansible-jobs watch: refreshes while another process changes the store; --until-done, --timeout, signals. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Value } from "@sinclair/typebox/value";
import { JobRecord } from "../../src/engine/record.js";
import { EVIDENCE, launch, observe, openLedger } from "./fixtures.js";
import { ANSI, Running, cli, cliOnTty, haveScript, useScratch } from "./helpers.js";

const root = useScratch();

const web1 = { namespace: "default", host: "web1", name: "build" };
const web2 = { namespace: "default", host: "web2", name: "build" };

/** Two running jobs. */
async function activeStore() {
  const dir = root.fresh();
  const ledger = openLedger(dir);
  await launch(ledger, web1);
  await launch(ledger, web2);
  return { dir, ledger };
}

const frames = (stdout: string) => stdout.split(/^Every /m).length - 1;

describe("ansible-jobs watch", () => {
  test("--until-done follows changes made by another process and exits when nothing is active", async () => {
    const { dir, ledger } = await activeStore();
    const w = new Running(["watch", "--store", dir, "--until-done", "--interval", "0.2"]);
    await w.waitFor(/2 job\(s\): 2 running/);
    // This test process is the "other controller": it finishes one job, then the other.
    await observe(ledger, web1, EVIDENCE.succeeded);
    await w.waitFor(/2 job\(s\): 1 running, 1 succeeded/);
    await observe(ledger, web2, EVIDENCE.failed);
    const r = await w.done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.doesNotMatch(r.stdout, ANSI, "no ANSI when stdout is not a terminal");
    assert.ok(frames(r.stdout) >= 3, `one frame per refresh, appended:\n${r.stdout}`);
    const last = r.stdout.slice(r.stdout.lastIndexOf("Every "));
    assert.match(last, /^Every 0\.2s: ansible-jobs watch {2}\S+ {2}\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n2 job\(s\): 1 succeeded, 1 failed\n\nHOST +NAME +STATUS/);
    assert.match(last, /\nweb1 +build +succeeded +1 /);
    assert.match(last, /\nweb2 +build +failed +1 /);
  });

  test("--fail-on applies to the last refresh (exit 3)", async () => {
    const { dir, ledger } = await activeStore();
    const w = new Running(["watch", "--store", dir, "--until-done", "--interval", "0.2", "--fail-on", "failed,lost"]);
    await w.waitFor(/2 running/);
    await observe(ledger, web1, EVIDENCE.lost);
    await observe(ledger, web2, EVIDENCE.succeeded);
    const r = await w.done;
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /--fail-on: 1 job\(s\) with a failing status: 1 lost/);
  });

  test("--ndjson streams each record when it appears and whenever it changes", async () => {
    const { dir, ledger } = await activeStore();
    const w = new Running(["watch", "--store", dir, "--until-done", "--interval", "0.2", "--ndjson"]);
    await w.waitFor(/(.*\n){2}/);
    await observe(ledger, web1, EVIDENCE.running);
    await w.waitFor(/(.*\n){3}/);
    await observe(ledger, web1, EVIDENCE.cancelled);
    await observe(ledger, web2, EVIDENCE.timed_out);
    const r = await w.done;
    assert.equal(r.code, 0, r.stderr);
    const events = r.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as JobRecord);
    for (const e of events) assert.ok(Value.Check(JobRecord, e));
    const seen = events.map((e) => `${e.host}:${e.status}`);
    assert.deepEqual(seen.slice(0, 3), ["web1:running", "web2:running", "web1:running"], "the probe's check is a change");
    assert.deepEqual(seen.slice(3).sort(), ["web1:cancelled", "web2:timed_out"]);
  });

  test("--json prints one array per refresh", async () => {
    const dir = root.fresh();
    const ledger = openLedger(dir);
    await launch(ledger, web1);
    await observe(ledger, web1, EVIDENCE.succeeded);
    const r = await cli(["watch", "--store", dir, "--until-done", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 1, "nothing active: one refresh");
    assert.deepEqual(
      (JSON.parse(lines[0]!) as JobRecord[]).map((x) => x.status),
      ["succeeded"],
    );
  });

  test("--until-done on an empty selection or a missing store exits at once", async () => {
    const { dir } = await activeStore();
    const r = await cli(["watch", "--store", dir, "--until-done", "--host", "nobody"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Every 2s: .*\n0 job\(s\)\n\nNo jobs found in /);
    const m = await cli(["watch", "--store", root.path("missing"), "--until-done"]);
    assert.equal(m.code, 0, m.stderr);
    assert.match(m.stdout, /the store directory does not exist yet/);
  });

  test("SIGINT stops watching cleanly (exit 0)", async () => {
    const { dir } = await activeStore();
    const w = new Running(["watch", "--store", dir, "--interval", "60"]);
    await w.waitFor(/2 running/);
    w.child.kill("SIGINT");
    const t0 = Date.now();
    const r = await w.done;
    assert.ok(Date.now() - t0 < 15_000, "does not wait for the next refresh (60 s away)");
    assert.equal(r.signal, null);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(frames(r.stdout), 1);
  });

  test("--timeout gives up with exit 5 while jobs are still active", async () => {
    const { dir } = await activeStore();
    const r = await cli(["watch", "--store", dir, "--until-done", "--interval", "0.2", "--timeout", "1s"]);
    assert.equal(r.code, 5);
    assert.ok(frames(r.stdout) >= 2);
    assert.equal(r.stderr, "ansible-jobs: watch: --timeout 1s reached with 2 job(s) still active\n");
  });

  test("bad --interval and --timeout are usage errors", async () => {
    const a = await cli(["watch", "--interval", "0"]);
    assert.equal(a.code, 2);
    assert.match(a.stderr, /^ansible-jobs: error: --interval must be at least 0\.1s/);
    const b = await cli(["watch", "--timeout", "soon"]);
    assert.equal(b.code, 2);
    assert.match(b.stderr, /--timeout: "soon" is not a duration/);
  });

  test("on a terminal it redraws in place, in colour", { skip: haveScript() ? false : "script(1) is not installed: no pseudo-terminal" }, async () => {
    const { dir, ledger } = await activeStore();
    await observe(ledger, web1, EVIDENCE.succeeded);
    await observe(ledger, web2, EVIDENCE.failed);
    const r = await cliOnTty(["watch", "--store", dir, "--until-done"]);
    assert.equal(r.code, 0, r.stdout);
    assert.ok(r.stdout.includes("\u001b[H\u001b[2J"), "clears the screen and homes the cursor");
    assert.ok(r.stdout.includes("\u001b[K"), "clears each line's end");
    assert.ok(r.stdout.includes("\u001b[32msucceeded\u001b[39m"));
    assert.ok(r.stdout.includes("\u001b[31mfailed\u001b[39m"));
    const plain = await cliOnTty(["watch", "--store", dir, "--until-done"], { env: { NO_COLOR: "1" } });
    assert.ok(plain.stdout.includes("\u001b[H"), "NO_COLOR still redraws in place");
    assert.ok(!plain.stdout.includes("\u001b[32m") && !plain.stdout.includes("\u001b[1m"), "but without colour");
  });
});
