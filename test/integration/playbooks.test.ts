/**
 * The operator playbooks (rstyczynski.ansible.check, cancel, cleanup, prune) and
 * `ansible-jobs refresh`, run as an operator runs them (ansible-playbook by FQCN, from another
 * directory) on podman hosts, on jobs started by long_running_task and by async_job_save.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { sleep } from "../../src/engine/clock.js";
import { type RunResult, heads, playbook, tempDir } from "../helpers/ansible.js";
import { cli, ensureBuilt } from "../cli/helpers.js";
import { type Hosts, countProcs, inHost, podmanHosts } from "../helpers/hosts.js";

const START = path.join(import.meta.dirname, "playbooks", "start.yml");
/** refresh runs ansible-playbook on the hosts: more than cli()'s default 30 s may pass. */
const REFRESH_MS = 180_000;
const NO_STORE =
  /no job store given\. This playbook lives in the installed collection, so the default store \(<playbook_dir>\/\.ansible_async_state\) would be inside the collection: set ANSIBLE_JOBS_STORE or pass -e store=URL/;

describe("operator playbooks and ansible-jobs refresh on podman hosts", () => {
  let hosts: Hosts;
  let store: string;
  /** The operator's own directory: not the playbook's, not the collection's. */
  const cwd = tempDir("ops-cwd");
  const ops = (name: string, vars: Record<string, unknown>, opts: { args?: string[]; env?: Record<string, string | undefined> } = {}) =>
    playbook(`rstyczynski.ansible.${name}`, {
      inventory: hosts.inventory,
      extraVars: vars,
      cwd,
      args: opts.args,
      env: { ANSIBLE_JOBS_STORE: undefined, ...opts.env },
    });
  const rec = (name: string, host: string) => heads(store).find((r) => r.name === name && r.host === host) as Record<string, unknown> | undefined;
  const ok = (r: RunResult) => assert.equal(r.code, 0, r.out.slice(-4000));

  before(async () => {
    await ensureBuilt();
    hosts = await podmanHosts("lrt-ops", 2);
    store = path.join(tempDir("ops"), "state");
    ok(await playbook(START, { inventory: hosts.inventory, extraVars: { store } }));
  });
  after(async () => hosts.down());

  test("without a store (neither -e store nor ANSIBLE_JOBS_STORE) each playbook fails with one clear message", async () => {
    for (const name of ["check", "cancel", "cleanup"]) {
      const r = await ops(name, { job: "lrt-job" });
      assert.notEqual(r.code, 0, r.out);
      assert.match(r.out, new RegExp(`rstyczynski\\.ansible\\.${name}: ${NO_STORE.source}`));
      assert.doesNotMatch(r.out, /Traceback/);
    }
    const prune = await ops("prune", { older_than: "1d" });
    assert.notEqual(prune.code, 0);
    assert.match(prune.out, new RegExp(`rstyczynski\\.ansible\\.prune: ${NO_STORE.source}`));
    const noJob = await ops("check", { store });
    assert.notEqual(noJob.code, 0);
    assert.match(noJob.out, /rstyczynski\.ansible\.check: name the job with -e job=NAME/);
    const unknown = await ops("check", { store, job: "no-such-job" });
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.out, new RegExp(`rstyczynski\\.ansible\\.check: no record of job \\\\"no-such-job\\\\" in namespace default of ${store}`));
    assert.equal(rec("lrt-job", "lrt-ops-1")?.checked_at, null, "nothing was checked");
  });

  test("check refreshes both kinds of records from the hosts and keeps the playbook that started them", async () => {
    const before = Object.fromEntries(["lrt-job", "native-job", "quick-job"].map((n) => [n, rec(n, "lrt-ops-1")!]));
    assert.equal(before["quick-job"]!.status, "running");
    await sleep(1500); // the quick job (sleep 1) is over on the hosts
    // The store from the environment this time.
    const quick = await ops("check", { job: "quick-job" }, { env: { ANSIBLE_JOBS_STORE: store } });
    ok(quick);
    assert.match(quick.out, /lrt-ops-1: quick-job succeeded \(jid \S+, attempt 1, rc 0\)/);
    const native = await ops("check", { store, job: "native-job" });
    ok(native);
    assert.match(native.out, /lrt-ops-2: native-job running/);
    const lrt = await ops("check", { store, job: "lrt-job" });
    ok(lrt);
    // check fails the hosts whose job failed (fail_on, as the role); -e fail_on=[] does not.
    const bad = await ops("check", { store, job: "bad-job" });
    assert.equal(bad.code, 2, bad.out);
    assert.match(bad.out, /lrt-ops-2: bad-job failed \(jid \S+, attempt 1, rc 3\)/);
    ok(await ops("check", { store, job: "bad-job", fail_on: [] }));
    for (const h of hosts.names) {
      assert.equal(rec("quick-job", h)?.status, "succeeded", h);
      assert.equal(rec("bad-job", h)?.status, "failed", h);
      for (const n of ["lrt-job", "native-job"]) {
        const r = rec(n, h)!;
        assert.equal(r.status, "running", `${n} ${h}`);
        assert.ok(typeof r.checked_at === "string", `${n} ${h} was checked`);
      }
      for (const n of ["lrt-job", "native-job", "quick-job"]) {
        const r = rec(n, h)!;
        assert.equal(r.playbook, START, `${n} on ${h} keeps its playbook`);
        assert.equal(r.play, "Start jobs the two ways");
        assert.equal(r.task, before[n]!.task);
      }
    }
  });

  test("cancel: -e job_hosts and --limit restrict the hosts; the process is gone where it was cancelled", async () => {
    const one = await ops("cancel", { store, job: "lrt-job", job_hosts: "lrt-ops-1" });
    ok(one);
    assert.doesNotMatch(one.out, /lrt-ops-2/);
    assert.equal(rec("lrt-job", "lrt-ops-1")?.status, "cancelled");
    assert.equal(rec("lrt-job", "lrt-ops-2")?.status, "running");
    assert.equal(await countProcs("lrt-ops-1", "sleep 301"), 0);
    assert.equal(await countProcs("lrt-ops-2", "sleep 301"), 1);

    const two = await ops("cancel", { store, job: "native-job" }, { args: ["--limit", "lrt-ops-2"] });
    ok(two);
    assert.equal(rec("native-job", "lrt-ops-2")?.status, "cancelled");
    assert.equal(rec("native-job", "lrt-ops-1")?.status, "running");
    assert.equal(await countProcs("lrt-ops-2", "sleep 302"), 0);
    assert.equal(await countProcs("lrt-ops-1", "sleep 302"), 1);
    for (const h of hosts.names) assert.equal(rec("native-job", h)?.playbook, START);

    // Everything else, on every host that still has it running.
    ok(await ops("cancel", { store, job: "lrt-job" }));
    ok(await ops("cancel", { store, job: "native-job" }));
    for (const h of hosts.names) {
      assert.equal(rec("lrt-job", h)?.status, "cancelled");
      assert.equal(rec("native-job", h)?.status, "cancelled");
      assert.equal(await countProcs(h, "sleep 301"), 0);
      assert.equal(await countProcs(h, "sleep 302"), 0);
    }
  });

  test("cleanup removes the finished job's file from the hosts and marks the record", async () => {
    const file = String(rec("quick-job", "lrt-ops-1")!.results_file);
    const exists = (h: string) => inHost(h, `import os; print(os.path.exists(${JSON.stringify(file.replace(/^~/, "/root"))}))`);
    assert.equal(await exists("lrt-ops-1"), "True");
    ok(await ops("cleanup", { store, job: "quick-job" }));
    assert.equal(await exists("lrt-ops-1"), "False");
    for (const h of hosts.names) {
      assert.equal(rec("quick-job", h)?.status, "succeeded");
      assert.ok(typeof rec("quick-job", h)?.cleaned_at === "string", h);
      assert.equal(rec("quick-job", h)?.playbook, START);
    }
  });

  test("prune deletes old terminal records (--check only lists them)", async () => {
    const dry = await ops("prune", { store, older_than: "0s", job: "lrt-job" }, { args: ["--check"] });
    ok(dry);
    assert.match(dry.out, /would prune 2 job record\(s\) in /);
    assert.match(dry.out, /lrt-ops-1 lrt-job 1 cancelled/);
    assert.ok(rec("lrt-job", "lrt-ops-1"), "a dry run deletes nothing");
    const kept = await ops("prune", { store, older_than: "1d" });
    ok(kept);
    assert.match(kept.out, /pruned 0 job record\(s\)/);
    const real = await ops("prune", { store, older_than: "0s", statuses: "cancelled", job_namespace: "default" });
    ok(real);
    assert.match(real.out, /pruned 4 job record\(s\)/);
    assert.deepEqual(heads(store).map((r) => `${r.host} ${r.name}`).sort(), ["lrt-ops-1 bad-job", "lrt-ops-1 quick-job", "lrt-ops-2 bad-job", "lrt-ops-2 quick-job"]);
  });

  test("ansible-jobs refresh runs the check playbook, then prints the list of the job", async () => {
    ok(await playbook(START, { inventory: hosts.inventory, extraVars: { store } }));
    const jobs = (...args: string[]) => cli(args, { cwd, env: { NO_COLOR: "1" }, timeoutMs: REFRESH_MS });
    await sleep(1500);
    const r = await jobs("refresh", "quick-job", "-i", hosts.inventory, "--store", store, "--limit", "lrt-ops-1");
    assert.equal(r.code, 0, r.out);
    assert.match(r.stderr, /PLAY \[Check a job on the hosts that have a record of it\]/, "the playbook's output streams to stderr");
    assert.match(r.stdout, /^HOST\s+NAME\s+STATUS/);
    assert.match(r.stdout, /lrt-ops-1\s+quick-job\s+succeeded\s+2\s/);
    assert.match(r.stdout, /lrt-ops-2\s+quick-job\s+running\s+2\s/, "--limit kept lrt-ops-2 out of the check");
    assert.doesNotMatch(r.stdout, /lrt-job|native-job/);

    const json = await jobs("refresh", "lrt-job", "-i", hosts.inventory, "--store", store, "--quiet", "--json");
    assert.equal(json.code, 0, json.out);
    assert.equal(json.stderr, "", "--quiet: no playbook output when it succeeds");
    const recs = JSON.parse(json.stdout) as { host: string; status: string; playbook: string; checked_at: string | null }[];
    assert.deepEqual(recs.map((x) => `${x.host} ${x.status}`), ["lrt-ops-1 running", "lrt-ops-2 running"]);
    for (const x of recs) {
      assert.equal(x.playbook, START);
      assert.ok(x.checked_at);
    }

    // A job's status is judged by --fail-on (exit 3, as list does), not by the playbook.
    const failed = await jobs("refresh", "bad-job", "-i", hosts.inventory, "--store", store, "--quiet");
    assert.equal(failed.code, 0, failed.out);
    assert.match(failed.stdout, /lrt-ops-1\s+bad-job\s+failed\s+2\s/);
    const gate = await jobs("refresh", "lrt-job", "-i", hosts.inventory, "--store", store, "--quiet", "--fail-on", "running,lost");
    assert.equal(gate.code, 3, gate.out);
    assert.match(gate.stderr, /--fail-on: 2 job\(s\) with a failing status: 2 running/);
    assert.match(gate.stdout, /lrt-ops-1\s+lrt-job\s+running/);

    // A failing playbook (no record of the job) gives exit 6, its output, and the (empty) list.
    const none = await jobs("refresh", "no-such-job", "-i", hosts.inventory, "--store", store, "--quiet");
    assert.equal(none.code, 6, none.out);
    assert.match(none.stderr, /no record of job \\"no-such-job\\"/);
    assert.match(none.stderr, /ansible-jobs: refresh: ansible-playbook rstyczynski\.ansible\.check failed \(exit 2\)/);
    assert.match(none.stderr, /No jobs found in /);

    // ansible-playbook not on PATH; no -i.
    const missing = await cli(["refresh", "lrt-job", "-i", hosts.inventory, "--store", store], { cwd, env: { PATH: "/nonexistent" } });
    assert.equal(missing.code, 6, missing.out);
    assert.match(missing.stderr, /^ansible-jobs: error: refresh runs ansible-playbook, which is not on PATH: install ansible-core/);
    assert.doesNotMatch(missing.stderr, /at .*\.cjs/);
    const noInv = await jobs("refresh", "lrt-job", "--store", store);
    assert.equal(noInv.code, 2);
    assert.match(noInv.stderr, /refresh needs -i INVENTORY/);
    ok(await ops("cancel", { store, job: "lrt-job" }));
    ok(await ops("cancel", { store, job: "native-job" }));
  });
});
