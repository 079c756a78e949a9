/**
 * Engine and filesystem-store benchmarks (make bench):
 *  - job_store engine cold start against bare `node -e 0` (budget: +50 ms);
 *  - a whole job_store task for 1 and 30 hosts against a debug task (cost stays flat);
 *  - filesystem store save and list at 10k and 100k records (budget: list of 100k <= 2 s; issue 14's
 *    target: 1 s), in wall and CPU time (CPU time is the steadier figure on a loaded machine).
 */
import { cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import * as path from "node:path";
import { Ledger } from "../src/engine/ledger.js";
import { FilesystemStore } from "../src/stores/filesystem.js";
import { COLLECTIONS, REPO, tempDir } from "../test/helpers/ansible.js";
import { alternate, fmt, median, ratio, timeCmd } from "./lib.js";

const ENGINE = path.join(REPO, "dist", "job_store_engine.cjs");

export async function benchColdStart(rounds = 21): Promise<void> {
  const store = path.join(tempDir("bench-cs"), "state");
  const request = JSON.stringify({ args: { op: "load", name: "x", store }, hosts: { h1: {} }, context: {} });
  await new Ledger(new FilesystemStore(store)).claim({ namespace: "default", host: "h1", name: "x" }, {}, {}, 300);
  const t = await alternate(rounds, {
    bare: async () => (await timeCmd(process.execPath, ["-e", "0"])).ms,
    engine: async () => (await timeCmd(process.execPath, [ENGINE], { input: request })).ms,
  });
  const delta = median(t.engine!) - median(t.bare!);
  console.log("job_store engine cold start (filesystem load of one record), %d alternating runs", rounds);
  console.log(`  node -e 0              ${fmt(t.bare!)}`);
  console.log(`  engine                 ${fmt(t.engine!)}`);
  console.log(`  engine - bare          ${delta.toFixed(0)} ms (budget 50 ms)`);
}

function inventory(n: number): string {
  const dir = tempDir("bench-inv");
  const file = path.join(dir, "hosts.ini");
  const hosts = Array.from({ length: n }, (_, i) => `b${String(i + 1).padStart(2, "0")}`);
  writeFileSync(file, `[local]\n${hosts.join("\n")}\n\n[local:vars]\nansible_connection=local\nansible_python_interpreter=/usr/bin/python3\n`);
  return file;
}

export async function benchTask(rounds = 5): Promise<void> {
  const dir = tempDir("bench-task");
  const pb = path.join(dir, "task.yml");
  writeFileSync(
    pb,
    `- hosts: local
  gather_facts: false
  tasks:
    - name: job_store for every host
      rstyczynski.ansible.job_store: {op: save, claim: true, name: "bench-{{ 1000000 | random }}", store: "${dir}/state"}
      run_once: true
      when: mode == 'job_store'
    - name: the same play without it
      ansible.builtin.debug: {msg: baseline}
      run_once: true
      when: mode == 'debug'
`,
  );
  const env = { ANSIBLE_COLLECTIONS_PATH: COLLECTIONS };
  console.log("whole job_store task (run_once, one node process) vs the same play with a debug task, %d alternating runs", rounds);
  for (const n of [1, 30]) {
    const inv = inventory(n);
    const t = await alternate(rounds, {
      debug: async () => (await timeCmd("ansible-playbook", ["-i", inv, pb, "-e", "mode=debug"], { env })).ms,
      job_store: async () => (await timeCmd("ansible-playbook", ["-i", inv, pb, "-e", "mode=job_store"], { env })).ms,
    });
    const extra = median(t.job_store!) - median(t.debug!);
    console.log(`  ${String(n).padStart(2)} host(s): debug ${fmt(t.debug!)}  job_store ${fmt(t.job_store!)}  extra ${extra.toFixed(0)} ms`);
  }
}

export async function benchFilesystem(): Promise<void> {
  console.log("filesystem store (fsync on every write)");
  const root = path.join(tempDir("bench-fs"), "state");
  const ledger = new Ledger(new FilesystemStore(root));
  const n = 10_000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    await ledger.claim({ namespace: "default", host: `h${i % 100}`, name: `job-${i}` }, { playbook: "/p/bench.yml" }, {}, 300);
  }
  const save = performance.now() - t0;
  console.log(`  save 10k records         ${(save / 1000).toFixed(2)} s (${((n / save) * 1000).toFixed(0)} records/s)`);
  const list10 = await timeList(ledger, 3);
  console.log(`  list 10k records        ${fmt(list10.ms)}  cpu ${fmt(list10.cpu)}`);
  // 100k: copy the 10k tree nine more times under other namespaces' hosts (same files a save writes).
  const hostDirs = readdirSync(path.join(root, "heads", "default"));
  for (let k = 1; k < 10; k++) {
    for (const h of hostDirs) {
      cpSync(path.join(root, "heads", "default", h), path.join(root, "heads", "default", `${h}-copy${k}`), { recursive: true });
    }
  }
  const ledger100 = new Ledger(new FilesystemStore(root));
  const count = (await ledger100.list({})).records.length;
  const list100 = await timeList(ledger100, 3);
  console.log(
    `  list ${Math.round(count / 1000)}k records       ${fmt(list100.ms)}  cpu ${fmt(list100.cpu)} (budget 2 s, target 1 s; no index: every record file is read and validated)`,
  );
  console.log(`  (wall time, median (min-max) of 3; cpu: user+sys of the whole process, GC threads included; load average ${loadavg().map((l) => l.toFixed(2)).join(" ")})`);
  rmSync(path.dirname(root), { recursive: true, force: true });
  mkdirSync(path.dirname(root), { recursive: true });
}

async function timeList(ledger: Ledger, rounds: number): Promise<{ ms: number[]; cpu: number[] }> {
  const out = { ms: [] as number[], cpu: [] as number[] };
  for (let i = 0; i < rounds; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await ledger.list({});
    out.ms.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    out.cpu.push((c.user + c.system) / 1000);
  }
  return out;
}

export { ratio };
