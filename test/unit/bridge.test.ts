/** The bundled engine as the action plugin runs it: JSON in, JSON out, errors as messages. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import { REPO, tempDir } from "../helpers/ansible.js";

const ENGINE = path.join(REPO, "dist", "job_store_engine.cjs");
const call = (input: string, env: Record<string, string> = {}) => {
  const r = spawnSync(process.execPath, [ENGINE], { input, encoding: "utf8", env: { ...process.env, ...env } });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
};
const req = (args: Record<string, unknown>, hosts: Record<string, unknown> = { h1: {} }, context: Record<string, unknown> = {}) =>
  JSON.stringify({ args, hosts, context });

describe("job_store engine bundle", () => {
  test("malformed requests and bad options fail with a message naming the problem, no stack trace", () => {
    const notJson = call("{nope");
    assert.equal(notJson.failed, true);
    assert.match(notJson.msg, /the request is not JSON/);
    assert.equal(notJson.exception, undefined);
    assert.match(call(req({})).msg, /^op: is required$/);
    assert.match(call(req({ op: "launch" })).msg, /op: "launch" is not one of: save, load, list, update, delete, prune/);
    assert.match(call(req({ op: "load", name: "x", store: "ftp://h/x" })).msg, /unknown store URL scheme "ftp:\/\/"/);
    assert.match(call(req({ op: "list", statuses: ["done"] })).msg, /statuses: \["done"\] is not one of/);
  });

  test("errors from the embedded S3 and Ara store bundles stay user errors (no stack trace)", () => {
    const port = 9; // discard port: nothing listens on loopback here
    const ara = call(req({ op: "load", name: "x", store: `ara+http://127.0.0.1:${port}` }));
    assert.match(ara.hosts.h1.msg, /^ara store ara\+http:\/\/127\.0\.0\.1:9: cannot reach/);
    assert.equal(ara.exception, undefined);
    const s3 = call(req({ op: "load", name: "x", store: "s3://bucket/p" }), {
      AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`,
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
    });
    assert.match(s3.hosts.h1.msg, /^s3 store s3:\/\/bucket\/p \(endpoint http:\/\/127\.0\.0\.1:9\): cannot reach the endpoint/);
    assert.equal(s3.exception, undefined);
  });

  test("one host's bad input fails only that host", () => {
    const store = path.join(tempDir("br"), "state");
    const out = call(req({ op: "save", claim: true, store, name: "ok" }, { h1: {}, h2: { args: { name: "bad\u0001name" } }, h3: {} }));
    assert.equal(out.failed, false);
    assert.equal(out.hosts.h1.claimed, true);
    assert.equal(out.hosts.h3.claimed, true);
    assert.equal(out.hosts.h2.failed, true);
    assert.match(out.hosts.h2.msg, /name: "bad\\u0001name" contains control characters/);
    assert.match(out.msg, /job_store save failed for h2/);
    assert.deepEqual(out.summary.length, 3);
  });

  test("the default store is <playbook_dir>/.ansible_async_state, ANSIBLE_JOBS_STORE overrides it, AWX gets a warning", () => {
    const dir = tempDir("brd");
    const out = call(req({ op: "save", claim: true, name: "d" }, { h1: {} }, { playbook_dir: dir, awx_job_id: 42 }), { ANSIBLE_JOBS_STORE: "" });
    assert.equal(out.store, path.join(dir, ".ansible_async_state"));
    assert.match(out.warnings[0], /lives inside this AWX\/AAP job and disappears with it.*s3:\/\/BUCKET\/PREFIX or ara\+https/);
    const env = path.join(tempDir("bre"), "state");
    assert.equal(call(req({ op: "load", name: "d" }, { h1: {} }, { playbook_dir: dir }), { ANSIBLE_JOBS_STORE: env }).store, env);
  });

  test("a claim that lost the race is not taken over by evidence older than the winner's launch", () => {
    // Controller B probed A's claim by its token before A launched (nothing found), then A
    // recorded its launch, then B came back with that evidence to claim again.
    const store = path.join(tempDir("brr"), "state");
    const a = call(req({ op: "save", claim: true, store, name: "race" }));
    assert.equal(a.hosts.h1.claimed, true);
    const b = call(req({ op: "save", claim: true, store, name: "race" }));
    assert.equal(b.hosts.h1.claimed, false);
    const launch = { ansible_job_id: "j42.7", started: 1, finished: 0, results_file: "/root/.ansible_async/j42.7" };
    assert.equal(call(req({ op: "update", store, name: "race" }, { h1: { result: launch } })).hosts.h1.job.status, "running");
    const early = { state: "gone", jid: null, results_file: null, job_file: { exists: false } };
    const again = call(req({ op: "save", claim: true, store, name: "race", stale_after: 0 }, { h1: { probe: early } }));
    assert.equal(again.hosts.h1.claimed, false, JSON.stringify(again));
    assert.match(again.hosts.h1.msg, /job "race" on h1 is already running \(attempt 1, jid j42\.7\)/);
    const head = call(req({ op: "load", store, name: "race" })).hosts.h1.job;
    assert.equal(head.status, "running");
    assert.equal(head.attempt, 1);
    // The same rule on update: evidence about another jid, even a failed probe that only says
    // which jid it was asked about, leaves the record alone and says why.
    const other = call(req({ op: "update", store, name: "race" }, { h1: { probe: { state: "gone", jid: "j9.9" } } }));
    assert.equal(other.hosts.h1.msg, "evidence for jid j9.9 ignored: the current attempt is jid j42.7");
    const failed = { failed: true, msg: "boom", invocation: { module_args: { jid: "j9.9" } } };
    assert.equal(call(req({ op: "update", store, name: "race" }, { h1: { probe: failed } })).hosts.h1.changed, false);
    const token = call(req({ op: "update", store, name: "race" }, { h1: { probe: early } }));
    assert.equal(token.hosts.h1.msg, "evidence for a claim-token probe ignored: the current attempt is jid j42.7");
    assert.deepEqual(call(req({ op: "load", store, name: "race" })).hosts.h1.job, head);
  });

  test("op=list on a store path that is a regular file fails, naming the path", () => {
    const file = path.join(tempDir("brt"), "state");
    writeFileSync(file, "x");
    const r = call(req({ op: "list", store: file }));
    assert.equal(r.failed, true, JSON.stringify(r));
    assert.equal(r.msg, `filesystem store ${file} is not a directory`);
    assert.equal(r.exception, undefined);
  });

  test("a check that finds nothing new refreshes checked_at but reports unchanged (idempotent resumes)", () => {
    const store = path.join(tempDir("brt"), "state");
    const launch = { ansible_job_id: "j77.1", started: 1, finished: 0, results_file: "/root/.ansible_async/j77.1" };
    assert.equal(call(req({ op: "save", store, name: "idem" }, { h1: { result: launch } })).hosts.h1.changed, true);
    const running = { state: "running", jid: "j77.1", results_file: "/root/.ansible_async/j77.1", session_id: 41 };
    const first = call(req({ op: "update", store, name: "idem" }, { h1: { probe: running } })).hosts.h1;
    const second = call(req({ op: "update", store, name: "idem" }, { h1: { probe: running } })).hosts.h1;
    assert.equal(second.changed, false, JSON.stringify(second));
    assert.equal(second.job.status, "running");
    assert.ok(second.job.checked_at >= first.job.checked_at, "the check time is still written");
    assert.deepEqual(call(req({ op: "load", store, name: "idem" })).hosts.h1.job, second.job);
  });

  test("each answer with a job says whether its status is final (terminal), the roles' only source for it", () => {
    const store = path.join(tempDir("brterm"), "state");
    const claimed = call(req({ op: "save", claim: true, store, name: "fin" })).hosts.h1;
    assert.deepEqual([claimed.status, claimed.terminal], ["starting", false]);
    const launch = { ansible_job_id: "j90.1", started: 1, finished: 0, results_file: "/root/.ansible_async/j90.1" };
    const token = claimed.job.claim_token;
    const running = call(req({ op: "update", store, name: "fin", claim_token: token }, { h1: { result: launch } })).hosts.h1;
    assert.deepEqual([running.status, running.terminal], ["running", false]);
    const probe = { state: "finished", jid: "j90.1", results_file: "/root/.ansible_async/j90.1", job_file: { finished: 1, rc: 0 } };
    const done = call(req({ op: "update", store, name: "fin" }, { h1: { probe } })).hosts.h1;
    assert.deepEqual([done.status, done.terminal], ["succeeded", true]);
    assert.equal(call(req({ op: "load", store, name: "fin" })).hosts.h1.terminal, true);
    const none = call(req({ op: "load", store, name: "never" })).hosts.h1;
    assert.deepEqual([none.found, "terminal" in none], [false, false]);
  });

  test("an update from another playbook (the operator playbooks) keeps where the job came from", () => {
    const store = path.join(tempDir("brp"), "state");
    const from = { playbooks: ["/srv/ops/site.yml"], playbook_dir: "/srv/ops", play: "Deploy", play_id: "p-1", task: "Launch" };
    const launch = { ansible_job_id: "j88.1", started: 1, finished: 0, results_file: "/root/.ansible_async/j88.1" };
    call(req({ op: "save", store, name: "keep" }, { h1: { result: launch } }, from));
    const coll = "/usr/share/ansible/collections/ansible_collections/rstyczynski/ansible/playbooks";
    const operator = { playbooks: ["rstyczynski.ansible.check"], playbook_dir: coll, play: "Check a job", play_id: "p-2", task: "Store" };
    const probe = { state: "finished", jid: "j88.1", results_file: "/root/.ansible_async/j88.1", job_file: { finished: 1, rc: 0 } };
    const checked = call(req({ op: "update", store, name: "keep" }, { h1: { probe } }, operator)).hosts.h1.job;
    assert.equal(checked.status, "succeeded", JSON.stringify(checked));
    const cancelled = call(req({ op: "save", claim: true, store, name: "keep2" }, { h1: {} }, from)).hosts.h1.job;
    const set = call(req({ op: "update", store, name: "keep2", status: "cancelled" }, { h1: {} }, operator)).hosts.h1.job;
    for (const [before, after] of [[{ ...from, playbook: "/srv/ops/site.yml" }, checked], [cancelled, set]] as const) {
      assert.equal(after.playbook, "/srv/ops/site.yml");
      assert.equal(after.play, "Deploy");
      assert.equal(after.play_id, before.play_id);
      assert.equal(after.task, "Launch");
    }
  });

  test("a launch is recorded only on the attempt whose claim token it carries", () => {
    const store = path.join(tempDir("brt"), "state");
    const claim = call(req({ op: "save", claim: true, store, name: "tok" })).hosts.h1.job;
    assert.match(String(claim.claim_token), /^[0-9a-f-]{16,}$/);
    const launch = { ansible_job_id: "j43.1", started: 1, finished: 0 };
    const stale = call(req({ op: "update", store, name: "tok", claim_token: "someone-else" }, { h1: { result: launch } }));
    assert.equal(stale.hosts.h1.failed, true);
    assert.match(stale.hosts.h1.msg, /job "tok" on h1: the claim was taken over by another controller/);
    assert.equal(call(req({ op: "load", store, name: "tok" })).hosts.h1.job.status, "starting");
    // A host whose launch was skipped (it did not hold the claim) is left as it is.
    const skipped = call(req({ op: "update", store, name: "tok", claim_token: "someone-else" }, { h1: { result: { skipped: true } } }));
    assert.equal(skipped.hosts.h1.failed, undefined, JSON.stringify(skipped));
    const ok = call(req({ op: "update", store, name: "tok", claim_token: claim.claim_token }, { h1: { result: launch } }));
    assert.equal(ok.hosts.h1.job.status, "running");
    assert.equal(ok.hosts.h1.job.jid, "j43.1");
  });

  test("check mode claims nothing and reports what it would do", () => {
    const store = path.join(tempDir("brc"), "state");
    const out = call(req({ op: "save", claim: true, store, name: "c" }, { h1: {} }, { check_mode: true }));
    assert.equal(out.hosts.h1.msg, 'would start job "c" on h1');
    assert.equal(call(req({ op: "load", store, name: "c" })).hosts.h1.found, false);
  });
});
