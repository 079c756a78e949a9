/**
 * The job_ledger callback on podman hosts: plain native async tasks recorded with no role in
 * the playbook, resumed by async_job_load, the CLI and long_running_task check; a host crash
 * gives lost; a controller killed right after the journal (the test hook) is replayed by
 * `ansible-jobs replay` and by the next run, nothing lost or doubled; the store down warns
 * and the journal is replayed later; no_log; async_job_save on the same task gives one record;
 * strategy free; a delegate_to launch is recorded under the host it runs on.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import type { JobRecord } from "../../src/engine/record.js";
import { cli, ensureBuilt } from "../cli/helpers.js";
import { type RunResult, playbook, recordsIn, tempDir } from "../helpers/ansible.js";
import { type Hosts, hostCtl, podmanHosts } from "../helpers/hosts.js";
import { type Moto, freePort, startMoto, useTestAwsEnv } from "../helpers/moto.js";
import { roleRunner } from "../helpers/roles.js";
import { ANSIBLE_LINE } from "../helpers/tools.js";

const DIR = path.join(import.meta.dirname, "callback");
const LOAD = path.join(import.meta.dirname, "roles", "load.yml");
const CALLBACK = "rstyczynski.ansible.job_ledger";

/** Every record (heads and history) of a store, by "host name" (several attempts show as repeats). */
/** The output with 2.14's wrapped warnings joined again (it wraps at spaces). */
const flat = (r: RunResult) => r.out.replace(/\n(?!\n)/g, " ");

const names = (recs: JobRecord[], host: string) => recs.filter((r) => r.host === host).map((r) => r.name).sort();

describe("the job_ledger callback on podman hosts", () => {
  let hosts: Hosts;
  let root: string;
  let store: string;
  let journals: string;
  const { lrt } = roleRunner(
    () => hosts.inventory,
    () => store,
  );
  const withCallback = (extra: Record<string, string | undefined> = {}) => ({
    ANSIBLE_CALLBACKS_ENABLED: CALLBACK,
    ANSIBLE_JOBS_STORE: store,
    ANSIBLE_JOB_LEDGER_DIR: journals,
    ...extra,
  });
  const journalFiles = () => (existsSync(journals) ? readdirSync(journals).filter((f) => f.endsWith(".jsonl")) : []);

  before(async () => {
    useTestAwsEnv();
    [hosts] = await Promise.all([podmanHosts("lrt-cb", 2), ensureBuilt()]);
    root = tempDir("callback");
    store = path.join(root, "state");
    journals = path.join(root, "journal");
  });
  after(async () => hosts?.down());

  test("plain native tasks are recorded while the play runs, once each; no_log warns; async_job_save adopts the record", async () => {
    const r = await playbook(path.join(DIR, "native.yml"), { inventory: hosts.inventory, env: withCallback() });
    assert.equal(r.code, 0, r.out);
    // The store held both hosts' four launches when the fifth task ran.
    assert.match(r.out, /"msg": "SEEN 8"/);
    assert.match(
      flat(r),
      /\[WARNING\]: job_ledger: task "Secret sleep" is no_log, so its result \(and its job id\) is hidden from callbacks: its async job is not recorded\. To record it, register the result and save it with the rstyczynski\.ansible\.async_job_save role and async_job_save_no_log: true/,
    );
    assert.equal(flat(r).match(/is no_log, so its result/g)?.length, 1, "one warning per task, not per host");
    const recs = await recordsIn(store, { history: true });
    for (const h of hosts.names) {
      // Not the no_log task, not async_status, the saved task once, under the save's name, and
      // both items of a loop whose second item failed (it launched all the same).
      assert.deepEqual(names(recs, h), ["Long sleep", "Loop sleeps[0]", "Loop sleeps[1]", "Loop with a failed item[0]", "Loop with a failed item[1]", "Wait for a port", "saved-by-role"], h);
      const saved = recs.find((x) => x.host === h && x.name === "saved-by-role")!;
      assert.equal(saved.status, "running");
      assert.equal(saved.attempt, 1);
      assert.equal(saved.async_timeout, 300);
      const long = recs.find((x) => x.host === h && x.name === "Long sleep")!;
      assert.equal(long.status, "running");
      assert.match(long.jid ?? "", /^j\d+\.\d+$/);
      assert.equal(long.results_file, `/root/.ansible_async/${long.jid}`);
      assert.equal(long.async_timeout, 600);
      assert.equal(long.playbook, path.join(DIR, "native.yml"));
      assert.equal(long.play, "Native async tasks under the job_ledger callback");
      assert.match(long.play_id ?? "", /^[0-9a-f-]{36}$/);
      assert.equal(long.task, "Long sleep");
      assert.equal(long.controller, hostname());
      assert.equal(long.no_log, false);
    }
    assert.deepEqual(journalFiles(), [], "every journal flushed and removed");
  });

  test("a second playbook resumes them: async_job_load by name and by jid, the CLI, long_running_task check; a crashed host gives lost", async () => {
    await hostCtl("kill", "lrt-cb-2");
    await hostCtl("start", "lrt-cb-2");
    const byName = await playbook(LOAD, { inventory: hosts.inventory, extraVars: { job_name: "Long sleep", store } });
    assert.equal(byName.code, 2, byName.out); // lost fails lrt-cb-2 (async_job_load_fail_on)
    assert.match(byName.out, /LOADED lrt-cb-1 found=True running j\d+/);
    const recs = await recordsIn(store, { history: true });
    const loopJid = Object.fromEntries(hosts.names.map((h) => [h, recs.find((x) => x.host === h && x.name === "Loop sleeps[0]")!.jid]));
    const byJid = await playbook(LOAD, { inventory: hosts.inventory, extraVars: { job_ids: loopJid, store }, args: ["--limit", "lrt-cb-1"] });
    assert.equal(byJid.code, 0, byJid.out);
    assert.match(byJid.out, new RegExp(`LOADED lrt-cb-1 found=True running ${loopJid["lrt-cb-1"]!.replace(".", "\\.")}`));
    const check = await lrt({ long_running_task_mode: "check", long_running_task_name: "Wait for a port" });
    assert.equal(check.code, 2, check.out);
    assert.match(check.out, /STATUS lrt-cb-1 running j\d+/);
    assert.match(check.out, /"lrt-cb-2: Wait for a port lost \(jid j\d+\.\d+, attempt 1\) - job \\"Wait for a port\\" \(jid j\d+\.\d+\) on lrt-cb-2 is lost: host restarted after the job began"/);
    const list = await cli(["list", "--store", store, "--json"]);
    assert.equal(list.code, 0, list.stderr);
    const listed = JSON.parse(list.stdout) as JobRecord[];
    const status = (h: string, n: string) => listed.find((x) => x.host === h && x.name === n)?.status;
    assert.equal(status("lrt-cb-2", "Long sleep"), "lost");
    assert.equal(status("lrt-cb-2", "Wait for a port"), "lost");
    assert.equal(status("lrt-cb-1", "Long sleep"), "running");
    assert.equal(status("lrt-cb-1", "saved-by-role"), "running");
  });

  test("long_running_task's own launch is not recorded by the callback", async () => {
    const r = await playbook(path.join(import.meta.dirname, "roles", "lrt.yml"), {
      inventory: hosts.inventory,
      env: withCallback(),
      extraVars: { long_running_task_store: store, long_running_task_name: "lrt-own", long_running_task_command: "sleep 290" },
    });
    assert.equal(r.code, 0, r.out);
    const recs = await recordsIn(store, { history: true });
    for (const h of hosts.names) {
      // One record of the role's own, none under the role's task names.
      assert.deepEqual(recs.filter((x) => x.host === h && x.name === "lrt-own").map((x) => [x.attempt, x.status]), [[1, "running"]], h);
      assert.ok(!recs.some((x) => /Launch the job|long_running_task/.test(x.name)), h);
    }
  });

  test("controller killed right after the journal: replayed by ansible-jobs and by the next run, nothing lost or doubled", async () => {
    const kill = (step: string) =>
      playbook(path.join(DIR, "kill.yml"), {
        inventory: hosts.inventory,
        extraVars: { target: "lrt-cb-1", step },
        env: withCallback({ ANSIBLE_JOB_LEDGER_TEST_KILL_AFTER_JOURNAL: "1" }),
      });
    const a = await kill("a");
    assert.notEqual(a.code, 0, a.out);
    assert.doesNotMatch(a.out, /STEP a/, "the controller died before the next task");
    const [ja] = journalFiles();
    assert.ok(ja, "a journal is left");
    const line = JSON.parse(readFileSync(path.join(journals, ja), "utf8").trim()) as Record<string, unknown>;
    assert.equal(line.v, 1);
    assert.equal(line.kind, "launch");
    assert.equal(line.name, "Killed launch a");
    assert.ok(existsSync(path.join(journals, `${ja}.lock`)), "the dead run's lock is left too");
    assert.ok(!(await recordsIn(store, { history: true })).some((x) => x.name === "Killed launch a"), "not in the store yet");

    // A live run's journal (its lock held by a live process: this one) is not touched by a replay.
    const live = path.join(journals, "journal-live-test.jsonl");
    writeFileSync(live, `${JSON.stringify({ ...line, name: "live journal", jid: "j1.1" })}\n`);
    writeFileSync(`${live}.lock`, JSON.stringify({ pid: process.pid, controller: hostname(), at: new Date().toISOString() }));

    const replay = await cli(["replay", "--journal-dir", journals]);
    assert.equal(replay.code, 0, replay.stderr);
    assert.match(replay.stdout, new RegExp(`${ja}: 1 recorded, 0 already there, journal removed`));
    assert.match(replay.stdout, /journal-live-test\.jsonl: skipped, in use by pid \d+/);
    const again = await cli(["replay", "--journal-dir", journals, "--json"]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).changed, false);

    const b = await kill("b");
    assert.notEqual(b.code, 0, b.out);
    // The next run with the callback replays what the killed one left (here: launching nothing).
    const next = await playbook(path.join(DIR, "kill.yml"), { inventory: hosts.inventory, extraVars: { target: "lrt-cb-1", step: "none" }, env: withCallback() });
    assert.equal(next.code, 0, next.out);
    assert.deepEqual(journalFiles(), ["journal-live-test.jsonl"]);
    const recs = (await recordsIn(store, { history: true })).filter((x) => x.name.startsWith("Killed launch"));
    assert.deepEqual(
      recs.map((x) => [x.host, x.name, x.attempt, x.status]),
      [
        ["lrt-cb-1", "Killed launch a", 1, "running"],
        ["lrt-cb-1", "Killed launch b", 1, "running"],
      ],
    );
    assert.ok(!(await recordsIn(store, { history: true })).some((x) => x.name === "live journal"));
  });

  test("the store down: a warning naming the store, the play goes on, the journal is replayed once the store is back", async () => {
    const url = "s3://lrt-cb/p";
    const down = `http://127.0.0.1:${await freePort()}`;
    const r = await playbook(path.join(DIR, "kill.yml"), {
      inventory: hosts.inventory,
      extraVars: { target: "targets", step: "down" },
      env: withCallback({ ANSIBLE_JOBS_STORE: url, AWS_ENDPOINT_URL: down }),
    });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /STEP down/);
    assert.match(flat(r), /\[WARNING\]: job_ledger: the job store s3:\/\/lrt-cb\/p did not take 2 launch\(es\) \(.*cannot reach the endpoint.*\); they stay in the journal /);
    const left = journalFiles().filter((f) => f !== "journal-live-test.jsonl");
    assert.equal(left.length, 1, "the journal is kept");
    let moto: Moto | undefined;
    try {
      moto = await startMoto();
      await moto.createBucket("lrt-cb");
      const replay = await cli(["replay", "--journal-dir", journals], { env: { AWS_ENDPOINT_URL: moto.endpoint } });
      assert.equal(replay.code, 0, replay.stderr);
      assert.match(replay.stdout, /: 2 recorded, 0 already there, journal removed/);
      process.env.AWS_ENDPOINT_URL = moto.endpoint;
      const recs = await recordsIn(url, { history: true });
      assert.deepEqual(
        recs.map((x) => [x.host, x.name, x.attempt, x.status]),
        hosts.names.map((h) => [h, "Store down launch", 1, "running"]),
      );
    } finally {
      delete process.env.AWS_ENDPOINT_URL;
      await moto?.stop();
    }
  });

  test("delegate_to: the launch is recorded under the host the job runs on, and a check there finds it running", async () => {
    const own = path.join(root, "delegate-state");
    const [runner, worker] = hosts.names as [string, string];
    const r = await playbook(path.join(DIR, "delegate.yml"), {
      inventory: hosts.inventory,
      extraVars: { runner, worker },
      env: withCallback({ ANSIBLE_JOBS_STORE: own }),
    });
    assert.equal(r.code, 0, r.out);
    // 2.19 and 2.14 do not tell callbacks where a loop item ran: the callback templates
    // delegate_to with the item; where that needs more (here: groups), it warns and records nothing.
    const perItem = ANSIBLE_LINE === undefined || Number(ANSIBLE_LINE.split(".")[1]) >= 21;
    const recs = await recordsIn(own, { history: true });
    assert.deepEqual(
      recs.map((x) => [x.host, x.name, x.status, x.task]).sort(),
      [
        [runner, "Delegated loop[0]", "running", "Delegated loop"],
        ...(perItem ? [[worker, "Delegated by group[0]", "running", "Delegated by group"]] : []),
        [worker, "Delegated loop[1]", "running", "Delegated loop"],
        [worker, "Delegated sleep", "running", "Delegated sleep"],
      ],
    );
    const warned = /\[WARNING\]: job_ledger: task "Delegated by group" delegates each loop item to a host this ansible-core does not report to callbacks \(delegate_to: \{\{ groups\['targets'\]\[item\] \}\}\): its async jobs are not recorded\./;
    if (perItem) assert.doesNotMatch(flat(r), /delegates each loop item/);
    else assert.match(flat(r), warned);
    // The probe runs on the host of the record: the job is there, so it is running, not lost.
    const { lrt: lrtOwn } = roleRunner(() => hosts.inventory, () => own);
    const check = await lrtOwn({ long_running_task_mode: "check", long_running_task_name: "Delegated sleep", target: worker });
    assert.equal(check.code, 0, check.out);
    assert.match(check.out, new RegExp(`STATUS ${worker} running j\\d+`));
  });

  test("strategy free: a host's launch is in the store before that host's next task; job_ledger_name and job_ledger_namespace; a re-run is a new attempt", async () => {
    const own = path.join(root, "free-state");
    const r: RunResult = await playbook(path.join(DIR, "free.yml"), { inventory: hosts.inventory, env: withCallback({ ANSIBLE_JOBS_STORE: own }) });
    assert.equal(r.code, 0, r.out);
    for (const h of hosts.names) assert.match(r.out, new RegExp(`"msg": "FREE ${h} 1"`));
    const recs = await recordsIn(own, { history: true });
    // Named and namespaced by the task's and the play's vars.
    assert.deepEqual(
      recs.map((x) => [x.namespace, x.host, x.name, x.attempt, x.status, x.task]),
      hosts.names.map((h) => ["free", h, "free-launch", 1, "running", "Free launch"]),
    );
    // A re-run launches again while the first job runs: a new attempt, the first kept in history.
    const again = await playbook(path.join(DIR, "free.yml"), { inventory: hosts.inventory, env: withCallback({ ANSIBLE_JOBS_STORE: own }) });
    assert.equal(again.code, 0, again.out);
    assert.deepEqual(
      (await recordsIn(own, { history: true })).map((x) => [x.host, x.attempt, x.status]),
      hosts.names.flatMap((h) => [
        [h, 1, "running"],
        [h, 2, "running"],
      ]),
    );
  });
});
