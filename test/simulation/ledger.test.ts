/**
 * The deterministic simulation of the ledger protocol (simulate.ts) as part of `make test`:
 * 10,000 schedules in all, most against the in-memory store, a sample against the filesystem
 * store on tmpfs and on disk, on S3 (a real moto_server) and on Ara (a real Ara server). Each
 * batch runs in a child process (node:test's async hooks slow promise-heavy code several
 * times), two at a time. A failure shows the seed, the shortest schedule, the invariant that
 * broke with what happened, and the command that replays it.
 *
 *   SIM_SCALE=N  multiplies every batch's schedule count (make soak runs more)
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as path from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";

const run = promisify(execFile);
const SIM = path.join(import.meta.dirname, "simulate.ts");
const SCALE = Number(process.env.SIM_SCALE ?? 1);

// [store, schedules, modes, pause]: the claim path, async_job_save next to it, and pauses past
// stale_after (paused writers, late launches) each get their own batch.
const BATCHES: [string, number, string, boolean][] = [
  ["memory", 4000, "start,start,start,check,cancel,load", false],
  ["memory", 2500, "start,start,check,cancel,save", true],
  ["memory", 2000, "start,start,start,check,cancel,load,save", true],
  ["tmpfs", 1100, "start,start,check,cancel,load,save", true],
  ["disk", 360, "start,start,check,cancel,load,save", true],
  ["s3", 30, "start,start,check,cancel,save", true],
  ["ara", 10, "start,start,check,cancel,save", true],
];

test(`simulation: ${BATCHES.reduce((n, b) => n + b[1] * SCALE, 0)} schedules of controllers, stores and hosts under faults`, { timeout: 30 * 60_000 }, async (t) => {
  const queue = [...BATCHES];
  const failures: string[] = [];
  const worker = async () => {
    for (let b = queue.shift(); b; b = queue.shift()) {
      const [store, runs, modes, pause] = b;
      const args = ["--import", "tsx", SIM, store, String(Math.max(1, Math.round(runs * SCALE))), modes, ...(pause ? ["--pause"] : [])];
      try {
        const { stdout } = await run(process.execPath, args, { maxBuffer: 64 << 20, env: { ...process.env, SEED: "", SIM_PATH: "" } });
        t.diagnostic(stdout.trim());
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string; code?: number };
        failures.push(`--- ${store} ${runs} ${modes}${pause ? " --pause" : ""} (exit ${e.code}) ---\n${e.stdout ?? ""}${e.stderr ?? ""}`);
      }
    }
  };
  await Promise.all([worker(), worker()]);
  assert.deepEqual(failures, [], failures.join("\n"));
});
