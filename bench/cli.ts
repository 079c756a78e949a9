/**
 * ansible-jobs list over a 10k-record filesystem store, against bare `node -e 0`.
 *
 *   node scripts/build.mjs && node --import tsx bench/cli.ts [--records N] [--runs N]
 *
 * The records are written by the engine's Ledger (recordNew, then observe for some, so
 * statuses vary) into a directory on tmpfs when /dev/shm exists (the store fsyncs every
 * write, which makes filling 10k records on a disk take minutes), then copied to a plain
 * temp directory, which is what gets listed. The commands run in turns (alternating), 7 times
 * each after one warm-up turn. Budget: `list --json` within 500 ms; target: the table `list`
 * within 300 ms above `node -e 0` (printed, not enforced).
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Ledger } from "../src/engine/ledger.js";
import { FilesystemStore } from "../src/stores/filesystem.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const CLI = path.join(REPO, "dist", "ansible-jobs.cjs");
const BUDGET_MS = 500;
/** Issue 14: the table listing within this much of a bare `node -e 0` (median against median). */
const TARGET_ABOVE_NODE_MS = 300;

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}
const RECORDS = arg("--records", 10_000);
const RUNS = arg("--runs", 7);
const HOSTS = 100;

/** N records written by the Ledger: 100 hosts, a quarter still running, every seventh failed (also bench/serve.ts). */
export async function fill(dir: string, n: number): Promise<void> {
  const ledger = new Ledger(new FilesystemStore(dir));
  for (let i = 0; i < n; i++) {
    const host = `host-${String(i % HOSTS).padStart(3, "0")}.example.com`;
    const id = { namespace: "default", host, name: `job-${Math.floor(i / HOSTS)}` };
    const jid = `j${100000000 + i}.${2000 + (i % 97)}`;
    const finished = i % 4 !== 0;
    await ledger.recordNew(
      id,
      { playbook: `/srv/ops/${i % 3 ? "deploy" : "nightly"}.yml`, play: "Deploy", task: "Long build", controller: "ci-runner-1" },
      { async_timeout: 3600 },
      finished
        ? { ansible_job_id: jid, results_file: `/root/.ansible_async/${jid}`, started: 1, finished: 1, rc: i % 7 === 0 ? 2 : 0, stdout: `output of ${i}\n`.repeat(20) }
        : { ansible_job_id: jid, results_file: `/root/.ansible_async/${jid}`, started: 1, finished: 0 },
    );
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * CPU time (user + sys, ms) of waited-for children, from /proc/self/stat (Linux): a figure
 * that other load on the machine disturbs much less than wall time. Undefined elsewhere.
 */
function childrenCpuMs(): number | undefined {
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields after the command name start at field 3; cutime and cstime are fields 16 and 17.
    return ((Number(fields[13]) + Number(fields[14])) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}
const CLOCK_TICKS = 100;

interface Timing {
  label: string;
  median: number;
  min: number;
  max: number;
  cpu: number | undefined;
}

/**
 * Runs the commands in turns (A B C A B C ...), so that a change in the machine's load
 * hits all of them alike; the first turn warms the page cache and is not counted.
 */
function timeAlternating(commands: [label: string, argv: string[]][], runs: number): Timing[] {
  const devnull = openSync("/dev/null", "w");
  const ms = commands.map((): number[] => []);
  const cpu = commands.map((): number[] => []);
  for (let i = 0; i < runs + 1; i++) {
    commands.forEach(([label, argv], k) => {
      const c0 = childrenCpuMs();
      const t0 = process.hrtime.bigint();
      const r = spawnSync(process.execPath, argv, { stdio: ["ignore", devnull, "pipe"] });
      const t = Number(process.hrtime.bigint() - t0) / 1e6;
      const c1 = childrenCpuMs();
      if (r.status !== 0) throw new Error(`${label}: exit ${r.status}: ${r.stderr}`);
      if (i === 0) return;
      ms[k]!.push(t);
      if (c0 !== undefined && c1 !== undefined) cpu[k]!.push(c1 - c0);
    });
  }
  return commands.map(([label], k) => ({
    label,
    median: median(ms[k]!),
    min: Math.min(...ms[k]!),
    max: Math.max(...ms[k]!),
    cpu: cpu[k]!.length ? median(cpu[k]!) : undefined,
  }));
}

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run node scripts/build.mjs first`);
  const scratch = existsSync("/dev/shm") ? mkdtempSync("/dev/shm/ajbench-") : mkdtempSync(path.join(tmpdir(), "ajbench-fill-"));
  const work = mkdtempSync(path.join(tmpdir(), "ajbench-"));
  const store = path.join(work, "store");
  try {
    const t0 = Date.now();
    await fill(path.join(scratch, "store"), RECORDS);
    cpSync(path.join(scratch, "store"), store, { recursive: true });
    console.log(`filled ${RECORDS} records with the Ledger in ${((Date.now() - t0) / 1000).toFixed(1)} s -> ${store}`);

    const check = spawnSync(process.execPath, [CLI, "list", "--store", store, "--json"], { maxBuffer: 1 << 30 });
    const listed = (JSON.parse(check.stdout.toString()) as unknown[]).length;
    if (listed !== RECORDS) throw new Error(`list --json printed ${listed} records, expected ${RECORDS}`);
    console.log(`list --json prints ${listed} records (${(check.stdout.length / 1e6).toFixed(1)} MB); node ${process.version}; ${RUNS} timed runs each after one warm-up`);
    console.log(`bundle ${path.relative(REPO, CLI)}: ${(statSync(CLI).size / 1024).toFixed(1)} KiB\n`);

    const rows = timeAlternating(
      [
        ["node -e 0", ["-e", "0"]],
        ["ansible-jobs version", [CLI, "version"]],
        ["ansible-jobs list --json", [CLI, "list", "--store", store, "--json"]],
        ["ansible-jobs list (table)", [CLI, "list", "--store", store]],
        ["ansible-jobs list --status failed", [CLI, "list", "--store", store, "--status", "failed"]],
      ],
      RUNS,
    );
    const base = rows[0]!.median;
    const load = existsSync("/proc/loadavg") ? readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ") : "?";
    console.log(`wall time (median, min, max) and CPU time (user+sys, median); load average ${load} on ${availableParallelism()} CPU(s)`);
    console.log(
      `${"command".padEnd(36)}${"median".padStart(9)}${"min".padStart(9)}${"max".padStart(9)}${"x node".padStart(9)}${"+ node".padStart(9)}${"cpu".padStart(9)}`,
    );
    for (const r of rows) {
      console.log(
        `${r.label.padEnd(36)}${`${r.median.toFixed(0)} ms`.padStart(9)}${`${r.min.toFixed(0)} ms`.padStart(9)}${`${r.max.toFixed(0)} ms`.padStart(9)}${(r.median / base).toFixed(1).padStart(9)}${`${(r.median - base).toFixed(0)} ms`.padStart(9)}${(r.cpu === undefined ? "-" : `${r.cpu.toFixed(0)} ms`).padStart(9)}`,
      );
    }
    const json = rows[2]!.median;
    const ok = json <= BUDGET_MS;
    console.log(`\nbudget: list --json over ${RECORDS} records within ${BUDGET_MS} ms: ${ok ? "OK" : "OVER"} (${json.toFixed(0)} ms)`);
    const above = rows[3]!.median - base;
    console.log(
      `target: list (table) over ${RECORDS} records at most ${TARGET_ABOVE_NODE_MS} ms above node -e 0: ${above <= TARGET_ABOVE_NODE_MS ? "OK" : "OVER"} (${above.toFixed(0)} ms above)`,
    );
    if (!ok) process.exitCode = 1;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}

// Run as a script (bench/serve.ts imports fill() only).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
