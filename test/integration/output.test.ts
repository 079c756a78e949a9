/**
 * Live output of long_running_task on a real podman host: the capture files beside the job
 * file, their tails in check and in the record, their bound, and a job that behaves exactly
 * as without capture (exit code, signals, argv, working directory, result).
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { CLI, ensureBuilt } from "../cli/helpers.js";
import { heads, playbook, run, tempDir } from "../helpers/ansible.js";
import { type Hosts, inHost, podmanHosts } from "../helpers/hosts.js";

const LRT = path.join(import.meta.dirname, "roles", "lrt.yml");
import { sleep } from "../../src/engine/clock.js";
type Rec = Record<string, unknown> & { result: Record<string, unknown> | null; output_files: { stdout: string; stderr: string } | null };

describe("long_running_task live output on a podman host", () => {
  let hosts: Hosts;
  let store: string;
  let h: string;
  const lrt = (vars: Record<string, unknown>, args: string[] = []) =>
    playbook(LRT, { inventory: hosts.inventory, extraVars: { long_running_task_store: store, long_running_task_capture_output: true, ...vars }, args });
  const rec = (name: string) => heads(store).find((r) => r.name === name && r.host === h) as Rec | undefined;
  /** Whether each path exists on the host, and its size (-1 when missing). */
  const sizes = async (...paths: string[]): Promise<number[]> =>
    JSON.parse(await inHost(h, `import os, json, sys; print(json.dumps([os.path.getsize(p) if os.path.exists(p) else -1 for p in ${JSON.stringify(paths)}]))`));
  /** Live processes of the capture (tees, trimmer) on the host. */
  const captureProcs = async () =>
    Number(
      await inHost(
        h,
        `import os
n = 0
for p in os.listdir('/proc'):
    if not p.isdigit() or int(p) == os.getpid():
        continue
    try:
        argv = open('/proc/%s/cmdline' % p, 'rb').read().split(b'\\0')
    except (OSError, IOError):
        continue
    n += argv[0] == b'tee' or any(b'lrt_out=' in a for a in argv)
print(n)`,
      ),
    );
  const jobFile = async (file: string) => JSON.parse(await inHost(h, `print(open(${JSON.stringify(file)}).read())`)) as Record<string, unknown>;

  before(async () => {
    hosts = await podmanHosts("lrt-out", 1);
    h = hosts.names[0]!;
    store = path.join(tempDir("output"), "state");
    await ensureBuilt();
  });
  after(async () => hosts.down());

  test("check shows the latest lines of a running job; the record and ansible-jobs show keep them; cleanup removes the files", async () => {
    const vars = {
      long_running_task_name: "ticker",
      long_running_task_command: "for i in $(seq 1 30); do echo line $i; echo err $i >&2; sleep 1; done",
      long_running_task_tail_lines: 3,
    };
    const started = await lrt(vars);
    assert.equal(started.code, 0, started.out);
    const files = rec("ticker")!.output_files!;
    assert.match(files.stdout, /^\/root\/\.ansible_async\/lrt-[0-9a-f]{24}\.out$/);
    assert.equal(files.stderr, files.stdout.replace(/\.out$/, ".err"));

    await sleep(4000);
    const checked = await lrt({ ...vars, long_running_task_mode: "check" });
    assert.equal(checked.code, 0, checked.out);
    const r = rec("ticker")!;
    assert.equal(r.status, "running");
    const out = String(r.result!.stdout_tail).split("\n");
    const err = String(r.result!.stderr_tail).split("\n");
    assert.equal(out.length, 3, String(r.result!.stdout_tail));
    const n = Number(/^line (\d+)$/.exec(out[2]!)?.[1]);
    assert.ok(n >= 4 && n <= 12, `recent lines: ${out}`);
    assert.deepEqual(out, [`line ${n - 2}`, `line ${n - 1}`, `line ${n}`]);
    assert.match(err[2]!, /^err \d+$/);
    assert.ok(err.every((l) => /^err \d+$/.test(l)), String(r.result!.stderr_tail));
    const [o, e] = await sizes(files.stdout, files.stderr);
    assert.ok(o! > 0 && e! > 0, "the files exist on the host");
    // Files are 0600 (the output may hold anything).
    assert.equal(await inHost(h, `import os; print(oct(os.stat(${JSON.stringify(files.stdout)}).st_mode & 0o777))`), "0o600");

    const show = await run(process.execPath, [CLI, "show", "ticker", "--host", h, "--store", store]);
    assert.equal(show.code, 0, show.out);
    assert.match(show.stdout, /stdout \(tail\)\n(.*\n)*.*line \d+/);
    assert.match(show.stdout, /stderr \(tail\)\n(.*\n)*.*err \d+/);
    assert.ok(show.stdout.includes(files.stdout), "show names the output files");

    // A later check keeps the newest tail.
    await sleep(2000);
    await lrt({ ...vars, long_running_task_mode: "check" });
    const later = Number(/line (\d+)$/.exec(String(rec("ticker")!.result!.stdout_tail))?.[1]);
    assert.ok(later > n, `${later} > ${n}`);

    // cleanup refuses while the job runs, then removes the job file and both output files.
    await lrt({ ...vars, long_running_task_mode: "cleanup" });
    assert.deepEqual((await sizes(files.stdout)).map((s) => s > 0), [true]);
    assert.equal((await lrt({ ...vars, long_running_task_mode: "cancel" })).code, 0);
    assert.equal(rec("ticker")!.status, "cancelled");
    const cleaned = await lrt({ ...vars, long_running_task_mode: "cleanup" });
    assert.equal(cleaned.code, 0, cleaned.out);
    assert.deepEqual(await sizes(files.stdout, files.stderr, String(rec("ticker")!.results_file)), [-1, -1, -1]);
    assert.ok(rec("ticker")!.cleaned_at);
  });

  test("the files stay bounded while the job prints a lot", async () => {
    const max = 65536;
    const vars = {
      long_running_task_name: "flood",
      // 3 MB at once on stdout and 1 MB on stderr (lines of 99 zeros), then a last line, then quiet.
      long_running_task_command: 'z=$(printf %099d 0); yes "$z" | head -n 30000; yes "$z" | head -n 10000 >&2; echo last line; sleep 30',
      long_running_task_output_max_bytes: max,
      long_running_task_tail_lines: 2,
    };
    assert.equal((await lrt(vars)).code, 0);
    await sleep(4000);
    const files = rec("flood")!.output_files!;
    const [o, e] = await sizes(files.stdout, files.stderr);
    assert.ok(o! > 0 && o! <= 2 * max, `stdout file ${o} bytes <= ${2 * max}`);
    assert.ok(e! > 0 && e! <= 2 * max, `stderr file ${e} bytes <= ${2 * max}`);
    await lrt({ ...vars, long_running_task_mode: "check" });
    const zeros = "0".repeat(99);
    assert.equal(rec("flood")!.result!.stdout_tail, `${zeros}\nlast line`);
    assert.equal(rec("flood")!.result!.stderr_tail, `${zeros}\n${zeros}`);
    assert.equal((await lrt({ ...vars, long_running_task_mode: "cancel" })).code, 0);
    // Nothing of the capture outlives the cancelled job.
    assert.equal(await captureProcs(), 0);
  });

  test("the job's exit code (signals too), argv, working directory and result are those without capture", async () => {
    const cases: Record<string, Record<string, unknown>> = {
      rc3: { long_running_task_command: "echo out; echo err >&2; exit 3" },
      argv: { long_running_task_argv: ["printf", "%s|", "a b", "c'd"] },
      cwd: { long_running_task_command: "pwd", long_running_task_chdir: "/tmp" },
      // The user's process killed by a signal: rc -15, as Ansible reports it without capture.
      term: { long_running_task_command: "echo before; kill -TERM $$; echo never" },
      // A shell whose child was killed exits 128+15: still the same with capture.
      child: { long_running_task_command: "sh -c 'kill -TERM $$'; echo rc=$?; exit 143" },
      killed: { long_running_task_argv: ["/bin/sh", "-c", "echo x; kill -KILL $$"] },
    };
    const names = Object.keys(cases);
    const runs = await Promise.all(
      names.flatMap((name) =>
        [true, false].map((capture) =>
          lrt({
            long_running_task_mode: "wait",
            long_running_task_poll: 1,
            long_running_task_name: `${name}-${capture ? "on" : "off"}`,
            long_running_task_capture_output: capture,
            ...cases[name],
          }),
        ),
      ),
    );
    const expected: Record<string, { status: string; rc: number; stdout: string }> = {
      rc3: { status: "failed", rc: 3, stdout: "out" },
      argv: { status: "succeeded", rc: 0, stdout: "a b|c'd|" },
      cwd: { status: "succeeded", rc: 0, stdout: "/tmp" },
      term: { status: "failed", rc: -15, stdout: "before" },
      child: { status: "failed", rc: 143, stdout: "rc=143" },
      killed: { status: "failed", rc: -9, stdout: "x" },
    };
    for (const [i, name] of names.entries()) {
      const on = rec(`${name}-on`)!;
      const off = rec(`${name}-off`)!;
      assert.equal(runs[2 * i]!.code, expected[name]!.status === "succeeded" ? 0 : 2, runs[2 * i]!.out);
      assert.ok(on.output_files, name);
      assert.equal(off.output_files, null, name);
      assert.equal(on.status, expected[name]!.status, name);
      assert.equal(on.result!.rc, expected[name]!.rc, name);
      assert.equal(on.result!.stdout_tail, expected[name]!.stdout, name);
      assert.deepEqual(on.result, off.result, `${name}: same record result with and without capture`);
      // The job files on the host: identical but for cmd (the capture wrapper's argv).
      const a = await jobFile(String(on.results_file));
      const b = await jobFile(String(off.results_file));
      for (const k of ["rc", "stdout", "stderr", "stdout_lines", "stderr_lines", "failed", "msg", "changed"]) {
        assert.deepEqual(a[k], b[k], `${name}: ${k}`);
      }
      assert.deepEqual((a.cmd as string[]).slice(7), b.cmd, `${name}: the user's argv behind the wrapper`);
      // The finished job's files hold the same output.
      assert.equal(await inHost(h, `print(open(${JSON.stringify(on.output_files!.stdout)}).read().rstrip('\\n'))`), b.stdout);
    }
  });

  test("another output directory, another $HOME at launch, capture off, no_log and --check", async () => {
    // ~ is expanded with the launch's $HOME; a check that runs with the usual $HOME finds the files.
    const homed = {
      long_running_task_name: "homed",
      long_running_task_command: "echo hello; sleep 30",
      long_running_task_environment: { HOME: "/tmp/lrt-home" },
      long_running_task_output_dir: "~/live",
    };
    assert.equal((await lrt(homed)).code, 0);
    assert.match(rec("homed")!.output_files!.stdout, /^\/tmp\/lrt-home\/live\/lrt-[0-9a-f]{24}\.out$/);
    assert.equal(await inHost(h, "import os; print(oct(os.stat('/tmp/lrt-home/live').st_mode & 0o777))"), "0o700");
    await sleep(1500);
    await lrt({ ...homed, long_running_task_mode: "check" });
    assert.equal(rec("homed")!.result!.stdout_tail, "hello");
    await lrt({ ...homed, long_running_task_mode: "cancel" });

    const bad = await lrt({ long_running_task_name: "bad-dir", long_running_task_command: "true", long_running_task_output_dir: "relative/dir" });
    assert.equal(bad.code, 2);
    assert.match(bad.out, /long_running_task_output_dir must be an absolute path or start with ~\/, not: relative\/dir/);
    assert.equal(rec("bad-dir"), undefined, "nothing claimed");

    const dir = "/tmp/lrt-unused";
    for (const [name, extra, args] of [
      ["off", { long_running_task_capture_output: false }, []],
      ["secret", { long_running_task_no_log: true }, []],
      ["dry", {}, ["--check"]],
    ] as const) {
      const r = await lrt({ long_running_task_name: name, long_running_task_command: "echo quiet", long_running_task_output_dir: dir, ...extra }, [...args]);
      assert.equal(r.code, 0, r.out);
      if (name !== "dry") assert.equal(rec(name)!.output_files, null, name);
    }
    assert.equal(rec("dry"), undefined);
    assert.equal(await inHost(h, `import os; print(os.path.exists(${JSON.stringify(dir)}))`), "False");
  });
});
