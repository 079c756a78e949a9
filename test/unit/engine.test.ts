/** The engine's pure parts: state machine, record validation, classification. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { boundResult, classifyLaunch, classifyProbe, finishedStatus } from "../../src/engine/classify.js";
import { isCode } from "../../src/engine/errors.js";
import { applyPatch, checkIdentity, newRecord } from "../../src/engine/ledger.js";
import { LIMITS, type JobRecord, validateRecord } from "../../src/engine/record.js";
import { STATUSES, TERMINAL, canTransition } from "../../src/engine/status.js";

const base = (over: Partial<JobRecord> = {}): JobRecord => ({
  ...newRecord({ namespace: "default", host: "web1", name: "backup" }, 1, { playbook: "/p/site.yml" }),
  status: "running",
  jid: "j123.45",
  results_file: "/root/.ansible_async/j123.45",
  ...over,
});
const NOW = "2026-11-27T00:00:00.000Z";

describe("state machine", () => {
  test("terminal statuses never move, non-terminal ones never go back to starting", () => {
    for (const from of STATUSES) {
      for (const to of STATUSES) {
        const allowed = canTransition(from, to);
        if (TERMINAL.has(from)) assert.equal(allowed, false, `${from} -> ${to}`);
        else if (to === "starting") assert.equal(allowed, from === "starting", `${from} -> ${to}`);
        else assert.equal(allowed, true, `${from} -> ${to}`);
      }
    }
  });

  test("an illegal transition is an error that names the job", () => {
    const done = base({ status: "succeeded" });
    assert.throws(() => applyPatch(done, { status: "running" }), (e) => isCode(e, "illegal_transition") && /backup.*web1.*succeeded/.test((e as Error).message));
    assert.throws(() => applyPatch(base(), { status: "starting" }), (e) => isCode(e, "illegal_transition"));
  });

  test("a terminal record only learns cleaned_at; becoming terminal sets finished_at", () => {
    const done = base({ status: "failed" });
    assert.equal(applyPatch(done, { status: "failed", last_error: "other" }), undefined);
    assert.equal(applyPatch(done, { cleaned_at: NOW })?.cleaned_at, NOW);
    const lost = applyPatch(base(), { status: "lost" }, NOW);
    assert.equal(lost?.finished_at, NOW);
    assert.equal(lost?.updated_at, NOW);
  });

  test("a patch that changes nothing is no update", () => {
    assert.equal(applyPatch(base(), { status: "running" }), undefined);
  });
});

describe("record validation", () => {
  test("a new record is valid and round-trips through JSON", () => {
    const r = base();
    assert.deepEqual(validateRecord(JSON.parse(JSON.stringify(r)), "x"), r);
  });

  test("missing fields, wrong types, foreign JSON and other schema versions are named", () => {
    const { status: _s, ...noStatus } = base();
    assert.throws(() => validateRecord(noStatus, "/s/a.json"), /\/s\/a\.json: not a valid job record \(\/status/);
    assert.throws(() => validateRecord({ ...base(), attempt: "1" }, "k"), /k: not a valid job record \(\/attempt/);
    assert.throws(() => validateRecord({ hello: "world" }, "f.json"), /f\.json: not a valid job record/);
    assert.throws(() => validateRecord({ ...base(), schema: 2 }, "f.json"), /record schema 2 is not supported \(this version reads schema 1\)/);
    assert.throws(() => validateRecord({ ...base(), status: "done" }, "f.json"), /\/status/);
    assert.throws(() => validateRecord({ ...base(), extra: 1 }, "f.json"), /not a valid job record/);
  });

  test("metadata read back is bounded by its JSON length, exactly at the limit", () => {
    const tooLong = /f\.json: not a valid job record \(\/metadata is longer than 8192 characters of JSON\)/;
    const meta = (v: string) => base({ metadata: { k: v } }); // {"k":"..."}: 8 characters around v's JSON
    assert.equal(validateRecord(meta("x".repeat(8184)), "f.json").metadata?.k, "x".repeat(8184));
    assert.throws(() => validateRecord(meta("x".repeat(8185)), "f.json"), tooLong);
    // Control characters take 6 characters of JSON each; "é" takes 1 (no quick bound settles it).
    assert.doesNotThrow(() => validateRecord(meta("\u0001".repeat(1364)), "f.json"));
    assert.throws(() => validateRecord(meta("\u0001".repeat(1365)), "f.json"), tooLong);
    assert.doesNotThrow(() => validateRecord(meta("é".repeat(8184)), "f.json"));
    assert.throws(() => validateRecord(meta("é".repeat(8185)), "f.json"), tooLong);
  });

  test("identity checks: empty, control characters, too long", () => {
    assert.throws(() => checkIdentity({ namespace: "default", host: "h", name: "" }), /name: must be a non-empty string/);
    assert.throws(() => checkIdentity({ namespace: "default", host: "h\n1", name: "x" }), /host: .* contains control characters/);
    assert.throws(() => checkIdentity({ namespace: "default", host: "h", name: "x".repeat(2000) }), /name: is 2000 characters long \(max 1024\)/);
    assert.doesNotThrow(() => checkIdentity({ namespace: "default", host: "h", name: "../../x" }));
  });
});

describe("classification", () => {
  test("finished results: succeeded, failed by rc or flag, timed out, cancelled", () => {
    assert.equal(finishedStatus({ rc: 0 }), "succeeded");
    assert.equal(finishedStatus({ rc: 2 }), "failed");
    assert.equal(finishedStatus({ rc: "0", failed: "true" }), "failed");
    assert.equal(finishedStatus({ msg: "Timeout exceeded", failed: true, child_pid: 9 }), "timed_out");
    assert.equal(finishedStatus({ failed: 1, cancelled: 1 }), "cancelled");
  });

  test("bounded results keep tails and nothing at all for no_log", () => {
    const big = "x".repeat(LIMITS.tail + 100);
    const r = boundResult({ rc: 0, stdout: `${big}END`, stderr: "" }, false)!;
    assert.equal(r.stdout_tail!.length, LIMITS.tail);
    assert.ok(r.stdout_tail!.endsWith("END"));
    assert.equal(r.truncated, true);
    assert.equal(boundResult({ rc: 0, stdout: "secret" }, true), null);
  });

  test("launch: poll 0 result, failed launch, unreachable, skipped, finished poll>0 result", () => {
    const claim = base({ status: "starting", jid: null, results_file: null });
    assert.deepEqual(classifyLaunch(claim, { ansible_job_id: "j9.1", results_file: "/r/j9.1", started: 1, finished: 0 }, false), {
      jid: "j9.1",
      results_file: "/r/j9.1",
      status: "running",
      last_error: null,
    });
    assert.equal(classifyLaunch(claim, { failed: true, msg: "boom" }, false)?.status, "failed");
    assert.match(String(classifyLaunch(claim, { failed: true, msg: "boom" }, false)?.last_error), /launch of job "backup" on web1 failed: boom/);
    assert.equal(classifyLaunch(claim, { unreachable: true, msg: "Failed to connect. More text" }, false)?.status, "unreachable");
    assert.equal(classifyLaunch(claim, { skipped: true }, false), undefined);
    assert.equal(classifyLaunch(claim, { ansible_job_id: "j9.1", finished: 1, rc: 0 }, false)?.status, "succeeded");
  });

  test("probe: running keeps session and incarnation, finished takes the result", () => {
    const ev = { state: "running" as const, session_id: 39, incarnation: { boot_id: "b", boot_time: 1, pid1_start: 2 } };
    const p = classifyProbe(base(), ev, NOW)!;
    assert.equal(p.status, "running");
    assert.equal(p.session_id, 39);
    assert.deepEqual(p.host_incarnation, { boot_id: "b", boot_time: 1, pid1_start: 2 });
    const done = classifyProbe(base(), { state: "finished", result: { rc: 0, stdout: "ok" } }, NOW)!;
    assert.equal(done.status, "succeeded");
    assert.equal(done.result?.stdout_tail, "ok");
    const bad = classifyProbe(base(), { state: "finished", result: { rc: 3, msg: "non-zero return code" } }, NOW)!;
    assert.equal(bad.status, "failed");
    assert.match(String(bad.last_error), /job "backup" \(jid j123\.45\) on web1 failed: non-zero return code/);
  });

  test("probe: gone is lost with the reason; unknown is never lost", () => {
    const restarted = classifyProbe(base(), { state: "gone", restarted: true, job_file: { exists: true } }, NOW)!;
    assert.equal(restarted.status, "lost");
    assert.equal(restarted.last_error, 'job "backup" (jid j123.45) on web1 is lost: host restarted after the job began');
    assert.match(String(classifyProbe(base(), { state: "gone", job_file: { exists: false } }, NOW)?.last_error), /job file missing/);
    assert.match(String(classifyProbe(base(), { state: "gone", job_file: { exists: true } }, NOW)?.last_error), /process gone without a result/);
    const unknown = classifyProbe(base(), { state: "unknown", visible: false, visibility: "hidepid=2 on /proc" }, NOW)!;
    assert.equal(unknown.status, undefined);
    assert.match(String(unknown.last_error), /cannot tell whether it runs: hidepid=2/);
  });

  test("probe: unreachable, skipped, cancelled, and a young claim that is not lost yet", () => {
    assert.equal(classifyProbe(base(), { unreachable: true, msg: "Failed to connect to the host via ssh. x" }, NOW)?.status, "unreachable");
    assert.equal(classifyProbe(base(), { skipped: true }, NOW), undefined);
    assert.equal(classifyProbe(base(), { state: "finished", cancelled: true }, NOW)?.status, "cancelled");
    const claim = base({ status: "starting", jid: null });
    assert.equal(classifyProbe(claim, { state: "gone" }, NOW, { staleClaim: false })?.status, undefined);
    assert.match(String(classifyProbe(claim, { state: "gone" }, NOW, { staleClaim: true })?.last_error), /the claim was never launched/);
    const adopted = classifyProbe(claim, { state: "running", adopted_jid: "j7.1", adopted_results_file: "/r/j7.1" }, NOW)!;
    assert.equal(adopted.jid, "j7.1");
    assert.equal(adopted.status, "running");
  });

  test("probe evidence about another state of the job changes nothing", () => {
    // A token-only probe that ran before another controller recorded its launch.
    const early = { state: "gone" as const, jid: null, results_file: null, job_file: { exists: false } };
    assert.equal(classifyProbe(base({ status: "running" }), early, NOW, { staleClaim: true }), undefined);
    assert.equal(classifyProbe(base({ status: "starting", jid: null }), early, NOW, { staleClaim: true })?.status, "lost");
    // Evidence about another jid, or a jid it did not adopt, says nothing about this one.
    assert.equal(classifyProbe(base(), { state: "gone", jid: "j999.1", job_file: { exists: true } }, NOW), undefined);
    assert.equal(classifyProbe(base({ status: "starting", jid: null }), { state: "gone", jid: "j999.1" }, NOW, { staleClaim: true }), undefined);
    assert.equal(classifyProbe(base(), { state: "gone", jid: "j123.45", job_file: { exists: true } }, NOW)?.status, "lost");
  });

  test("evidence gathered by another attempt's claim token says nothing about this attempt", () => {
    // The holder a first claim reported ended and was claimed again meanwhile (simulation seed -637471592).
    const asked = (claim_token: string) => ({ invocation: { module_args: { jid: null, claim_token } } });
    const again = base({ status: "starting", jid: null, claim_token: "new" });
    const ev = { state: "finished" as const, jid: "j7.1", adopted_jid: "j7.1", result: { rc: 0 }, ...asked("old") };
    assert.equal(classifyProbe(again, ev, NOW, { staleClaim: true }), undefined);
    assert.equal(classifyProbe(again, { ...ev, ...asked("new") }, NOW)?.jid, "j7.1");
    assert.equal(classifyProbe(again, { state: "gone", jid: null, ...asked("old") }, NOW, { staleClaim: true }), undefined);
  });

  test("a fresh claim that a probe found unreachable is not lost before it is stale", () => {
    // Found by make soak: the not-stale guard held for `starting` only.
    const marked = base({ status: "unreachable", jid: null });
    assert.equal(classifyProbe(marked, { state: "gone" }, NOW, { staleClaim: false })?.status, undefined);
    assert.match(String(classifyProbe(marked, { state: "gone" }, NOW, { staleClaim: true })?.last_error), /the claim was never launched/);
  });

  test("probe on a terminal record: only cleanup is recorded", () => {
    const done = base({ status: "succeeded" });
    assert.equal(classifyProbe(done, { state: "gone" }, NOW), undefined);
    assert.deepEqual(classifyProbe(done, { state: "gone", removed: ["/root/.ansible_async/j123.45"] }, NOW), { cleaned_at: NOW });
  });
});
