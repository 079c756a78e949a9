/**
 * The roles on real podman hosts: idempotent start, cancel, async timeout, crash variants,
 * argument validation, check mode, cleanup, and save/load around other modules. The races of
 * the exactly-once start are in claims.test.ts.
 */
import assert from "node:assert/strict";
import { readdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { playbook, storeFiles, tempDir } from "../helpers/ansible.js";
import { roleRunner } from "../helpers/roles.js";
import { type Hosts, countProcs, hostCtl, inHost, killSessionOf, killWrappers, podmanHosts, sshHost } from "../helpers/hosts.js";

const DIR = path.join(import.meta.dirname, "roles");
import { sleep } from "../../src/engine/clock.js";

describe("long_running_task, async_job_save and async_job_load on podman hosts", () => {
  let hosts: Hosts;
  let store: string;
  const { lrt, rec } = roleRunner(
    () => hosts.inventory,
    () => store,
  );
  const status = (out: string, host: string) => new RegExp(`STATUS ${host} (\\S+)`).exec(out)?.[1];

  before(async () => {
    hosts = await podmanHosts("lrt-roles", 2);
    store = path.join(tempDir("roles"), "state");
  });
  after(async () => hosts.down());

  test("start is idempotent: a second start reports the running job and launches nothing", async () => {
    const vars = { long_running_task_name: "idem", long_running_task_command: "sleep 61" };
    const first = await lrt(vars);
    assert.equal(first.code, 0, first.out);
    const jid = rec("idem", "lrt-roles-1")?.jid;
    const second = await lrt(vars);
    assert.equal(second.code, 0, second.out);
    assert.match(second.out, /lrt-roles-1: idem running \(jid /);
    assert.equal(rec("idem", "lrt-roles-1")?.attempt, 1);
    assert.equal(rec("idem", "lrt-roles-1")?.jid, jid);
    for (const h of hosts.names) assert.equal(await countProcs(h, "sleep 61"), 1, h);
  });

  test("cancel kills the job's session and records cancelled", async () => {
    const vars = { long_running_task_name: "cancel-me", long_running_task_argv: ["sleep", "303"] };
    assert.equal((await lrt(vars)).code, 0);
    assert.equal(await countProcs("lrt-roles-1", "sleep 303"), 1);
    const c = await lrt({ ...vars, long_running_task_mode: "cancel" });
    assert.equal(c.code, 0, c.out);
    for (const h of hosts.names) {
      assert.equal(rec("cancel-me", h)?.status, "cancelled");
      assert.equal(await countProcs(h, "sleep 303"), 0);
    }
    // A second cancel changes nothing; a new start is a new attempt.
    const again = await lrt({ ...vars, long_running_task_mode: "cancel" });
    assert.match(again.out, /cancel-me cancelled/);
    const restart = await lrt(vars);
    assert.equal(restart.code, 0);
    assert.equal(rec("cancel-me", "lrt-roles-1")?.attempt, 2);
    await lrt({ ...vars, long_running_task_mode: "cancel" });
  });

  test("Ansible's async time limit gives timed_out and fails the host", async () => {
    const r = await lrt({
      long_running_task_mode: "wait",
      long_running_task_name: "too-slow",
      long_running_task_command: "sleep 30",
      long_running_task_async: 3,
      long_running_task_poll: 1,
    });
    assert.equal(r.code, 2, r.out);
    assert.equal(rec("too-slow", "lrt-roles-1")?.status, "timed_out");
    assert.match(r.out, /job \\"too-slow\\" \(jid \S+\) on lrt-roles-1 was killed by Ansible's async time limit \(3s\)/);
  });

  test("crash variants: processes killed, job file deleted, wrapper killed while the command lives on", async () => {
    const vars = (name: string) => ({ long_running_task_name: name, long_running_task_command: `sleep 64; echo ${name}` });
    for (const n of ["killed", "nofile", "orphan"]) assert.equal((await lrt(vars(n))).code, 0);
    const h = "lrt-roles-1";
    // 1. Only the job's processes die; the host stays up.
    assert.ok(Number(await killSessionOf(h, String(rec("killed", h)!.jid).split(".")[0]!)) >= 3, "killed the job session");
    // 2. The job file goes away while the job runs, then the job dies.
    await inHost(h, `import os; os.remove(${JSON.stringify(rec("nofile", h)!.results_file)})`);
    // 3. Only the async wrapper dies; the user's command goes on in the same session.
    const orphanToken = String(rec("orphan", h)!.jid).split(".")[0]!;
    assert.ok(Number(await killWrappers(h, orphanToken)) >= 1);

    const checks = await Promise.all(["killed", "nofile", "orphan"].map((n) => lrt({ ...vars(n), long_running_task_mode: "check", target: h })));
    assert.equal(rec("killed", h)!.status, "lost", checks[0]!.out);
    assert.equal(checks[0]!.code, 2);
    assert.match(checks[0]!.out, /fatal: \[lrt-roles-1\]: FAILED! => .*is lost: process gone without a result/);
    assert.match(rec("killed", h)!.last_error as string, /is lost: process gone without a result/);
    assert.equal(status(checks[1]!.out, h), "running", "a live process without its job file still runs");
    assert.equal(status(checks[2]!.out, h), "running", "the user's command outlived its wrapper");
    assert.equal(await countProcs(h, "sleep 64"), 2);

    await killSessionOf(h, String(rec("nofile", h)!.jid).split(".")[0]!);
    await killSessionOf(h, "sleep 64"); // the orphan's session
    const nofile = await lrt({ ...vars("nofile"), long_running_task_mode: "check", target: h });
    assert.equal(nofile.code, 2);
    assert.match(rec("nofile", h)!.last_error as string, /is lost: job file missing and no process left/);
    const orphan = await lrt({ ...vars("orphan"), long_running_task_mode: "check", target: h });
    assert.equal(orphan.code, 2);
    assert.equal(rec("orphan", h)!.status, "lost");
    // The other host was never touched.
    assert.equal(rec("killed", "lrt-roles-2")?.status, "running");
  });

  test("argument validation gives clear errors without stack traces", async () => {
    const noName = await lrt({ long_running_task_command: "true" });
    assert.notEqual(noName.code, 0);
    assert.match(noName.out, /missing required arguments: long_running_task_name/);
    const badMode = await lrt({ long_running_task_name: "x", long_running_task_mode: "launch", long_running_task_command: "true" });
    assert.match(badMode.out, /long_running_task_mode must be one of: start, wait, check, cancel, cleanup/);
    const both = await lrt({ long_running_task_name: "x", long_running_task_command: "true", long_running_task_argv: ["true"] });
    assert.match(both.out, /needs exactly one of long_running_task_command or long_running_task_argv/);
    const badAsync = await lrt({ long_running_task_name: "x", long_running_task_command: "true", long_running_task_async: "soon" });
    assert.match(badAsync.out, /long_running_task_async/);
    for (const r of [noName, badMode, both, badAsync]) assert.doesNotMatch(r.out, /Traceback|\.cjs:\d+/);
    assert.equal(rec("x", "lrt-roles-1"), undefined);
  });

  test("--check launches nothing and writes nothing", async () => {
    const before = storeFiles(store).size;
    const r = await lrt({ long_running_task_name: "dry", long_running_task_command: "sleep 65" }, { args: ["--check"] });
    assert.equal(r.code, 0, r.out);
    assert.equal(storeFiles(store).size, before);
    assert.equal(await countProcs("lrt-roles-1", "sleep 65"), 0);
  });

  test("cleanup removes the job files of finished jobs only", async () => {
    await lrt({ long_running_task_name: "tidy", long_running_task_command: "true", long_running_task_mode: "wait", long_running_task_poll: 1 });
    const file = rec("tidy", "lrt-roles-1")!.results_file as string;
    assert.equal(await inHost("lrt-roles-1", `import os; print(os.path.exists(${JSON.stringify(file)}))`), "True");
    const r = await lrt({ long_running_task_name: "tidy", long_running_task_mode: "cleanup" });
    assert.equal(r.code, 0, r.out);
    assert.equal(await inHost("lrt-roles-1", `import os; print(os.path.exists(${JSON.stringify(file)}))`), "False");
    assert.ok(rec("tidy", "lrt-roles-1")!.cleaned_at);
    assert.equal(rec("tidy", "lrt-roles-1")!.status, "succeeded");
  });

  test("async_job_save and async_job_load around wait_for, get_url and a loop", async () => {
    await inHost("lrt-roles-1", "import os; os.path.exists('/tmp/lrt-flag') and os.remove('/tmp/lrt-flag')");
    await inHost("lrt-roles-2", "import os; os.path.exists('/tmp/lrt-flag') and os.remove('/tmp/lrt-flag')");
    const saved = await playbook(path.join(DIR, "save_load.yml"), { inventory: hosts.inventory, extraVars: { store } });
    assert.equal(saved.code, 0, saved.out);
    assert.equal(rec("flag-wait", "lrt-roles-1")?.async_timeout, 150);
    assert.ok(rec("naps[1]", "lrt-roles-2"));
    const load = (vars: Record<string, unknown>) =>
      playbook(path.join(DIR, "load.yml"), { inventory: hosts.inventory, extraVars: { store, ...vars }, cwd: tempDir("later") });
    const waiting = await load({ job_name: "flag-wait" });
    assert.equal(waiting.code, 0, waiting.out);
    assert.match(waiting.out, /LOADED lrt-roles-1 found=True running/);
    await inHost("lrt-roles-1", "open('/tmp/lrt-flag', 'w').close()");
    await sleep(2000);
    const jids = Object.fromEntries(hosts.names.map((h) => [h, rec("flag-wait", h)!.jid]));
    const byJid = await load({ job_ids: jids });
    assert.match(byJid.out, /LOADED lrt-roles-1 found=True succeeded/);
    assert.match(byJid.out, /LOADED lrt-roles-2 found=True running/);
    const fetched = await load({ job_name: "fetch" });
    assert.match(fetched.out, /LOADED lrt-roles-2 found=True succeeded/);
    const missing = await load({ job_name: "never-saved" });
    assert.equal(missing.code, 0);
    assert.match(missing.out, /LOADED lrt-roles-1 found=False {2}-/);
    await inHost("lrt-roles-2", "open('/tmp/lrt-flag', 'w').close()");
  });

  test("strategy free with long_running_task_batch false: each host starts and checks its own job", async () => {
    const free = (mode: string) =>
      playbook(path.join(DIR, "lrt_free.yml"), {
        inventory: hosts.inventory,
        extraVars: { long_running_task_store: store, long_running_task_name: "free", long_running_task_command: "sleep 2", long_running_task_mode: mode },
      });
    const started = await free("start");
    assert.equal(started.code, 0, started.out);
    for (const h of hosts.names) assert.match(started.out, new RegExp(`STATUS ${h} running j`));
    await sleep(4000);
    const checked = await free("check");
    assert.equal(checked.code, 0, checked.out);
    for (const h of hosts.names) {
      assert.match(checked.out, new RegExp(`STATUS ${h} succeeded j`));
      assert.equal(rec("free", h)?.status, "succeeded");
      assert.equal(rec("free", h)?.attempt, 1);
    }
  });

  test("async_job_load fails the host whose record is corrupt, naming the file, and loads the others", async () => {
    const started = await lrt({ long_running_task_name: "corrupt-me", long_running_task_command: "true" });
    assert.equal(started.code, 0, started.out);
    const dir = path.join(store, "heads", "default", "lrt-roles-1");
    const file = readdirSync(dir).find((f) => f.startsWith("corrupt-me@"))!;
    writeFileSync(path.join(dir, file), "{not json");
    const r = await playbook(path.join(DIR, "load.yml"), { inventory: hosts.inventory, extraVars: { store, job_name: "corrupt-me" } });
    assert.notEqual(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`fatal: \\[lrt-roles-1\\]: FAILED! => .*${file.replace(/[.@]/g, "\\$&")}`));
    assert.doesNotMatch(r.out, /Traceback|at .*\.ts:\d+/);
    assert.match(r.out, /LOADED lrt-roles-2 found=True (running|succeeded)/);
  });
});

describe("an SSH-connected host that is stopped and started", () => {
  let ssh: Awaited<ReturnType<typeof sshHost>>;
  let store: string;
  before(async () => {
    ssh = await sshHost("lrt-ssh");
    store = path.join(tempDir("ssh"), "state");
  });
  after(async () => ssh.down());

  test("unreachable while stopped, lost once it is back", async () => {
    const run = (mode: string) =>
      playbook(path.join(DIR, "lrt.yml"), {
        inventory: ssh.inventory,
        extraVars: { target: "ssh_targets", long_running_task_store: store, long_running_task_name: "over-ssh", long_running_task_command: "sleep 66", long_running_task_mode: mode },
      });
    assert.equal((await run("start")).code, 0);
    await hostCtl("ssh-stop", "lrt-ssh");
    const down = await run("check");
    assert.equal(down.code, 0, down.out);
    assert.match(down.out, /STATUS lrt-ssh unreachable/);
    await hostCtl("ssh-start", "lrt-ssh");
    const back = await run("check");
    assert.equal(back.code, 2, back.out);
    assert.match(back.out, /job \\"over-ssh\\" \(jid \S+\) on lrt-ssh is lost: host restarted after the job began/);
  });
});
