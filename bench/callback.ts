/**
 * The job_ledger callback against the same play without it, on real podman hosts (make bench):
 * one `command` with async/poll 0 on every host, alternating runs, median and spread, plus the
 * node processes the callback started per run (one flush per task, whatever the host count).
 */
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { COLLECTIONS, tempDir } from "../test/helpers/ansible.js";
import { podmanHosts } from "../test/helpers/hosts.js";
import { NATIVE_LAUNCH_PLAY, countingNode, fmt, median, ratio, timeCmd } from "./lib.js";

export async function benchCallback(hostCount = Number(process.env.LRT_BENCH_HOSTS ?? 30), rounds = Number(process.env.LRT_BENCH_ROUNDS ?? 5)): Promise<void> {
  const dir = tempDir("bench-callback");
  const play = path.join(dir, "play.yml");
  writeFileSync(play, NATIVE_LAUNCH_PLAY);
  const { shim, calls } = countingNode(dir);
  const base = { ANSIBLE_COLLECTIONS_PATH: COLLECTIONS, ANSIBLE_NOCOLOR: "1" };
  const withCallback = {
    ...base,
    ANSIBLE_CALLBACKS_ENABLED: "rstyczynski.ansible.job_ledger",
    ANSIBLE_JOBS_STORE: path.join(dir, "state"),
    ANSIBLE_JOB_LEDGER_DIR: path.join(dir, "journal"),
    ANSIBLE_JOB_LEDGER_NODE: shim,
  };
  const hosts = await podmanHosts("lrt-cbbench", hostCount);
  const t: { without: number[]; with: number[] } = { without: [], with: [] };
  const nodePerRun: number[] = [];
  const run = async (env: Record<string, string>) => {
    const r = await timeCmd("ansible-playbook", ["-i", hosts.inventory, play], { env });
    if (r.code !== 0) throw new Error(`play failed:\n${r.out.slice(-3000)}`);
    return r.ms;
  };
  try {
    for (let i = 0; i < rounds; i++) {
      t.without.push(await run(base));
      const before = calls();
      t.with.push(await run(withCallback));
      nodePerRun.push(calls() - before);
    }
  } finally {
    await hosts.down();
  }
  console.log(`job_ledger callback vs none (podman hosts, forks 5, one async task), ${rounds} alternating rounds; median (min-max)`);
  console.log(`  ${hostCount} host(s)  without ${fmt(t.without, "s")}  with ${fmt(t.with, "s")}  ratio ${ratio(t.with, t.without)} (target <= 1.05x)`);
  console.log(`            node processes per run with the callback: ${median(nodePerRun)} (one flush for the task, whatever the host count)`);
}
