/** Benchmark helpers: alternating runs, medians and spreads. Benchmarks print; they never assert. */
import { spawn } from "node:child_process";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";

/** The native baseline's launch: one `command` with async/poll 0 on every host of group targets. */
export const NATIVE_LAUNCH_PLAY = `- hosts: targets
  gather_facts: false
  tasks:
    - name: Launch
      ansible.builtin.command: sleep 5
      async: 600
      poll: 0
      register: job
`;

/** A node binary that logs each start into DIR, and the count of starts so far. */
export function countingNode(dir: string): { shim: string; calls: () => number } {
  const log = path.join(dir, "node-calls.log");
  const shim = path.join(dir, "node-shim");
  writeFileSync(shim, `#!/bin/sh\necho "$$" >> ${log}\nexec ${process.execPath} "$@"\n`);
  chmodSync(shim, 0o755);
  const calls = () => {
    try {
      return readFileSync(log, "utf8").trim().split("\n").filter(Boolean).length;
    } catch {
      return 0;
    }
  };
  return { shim, calls };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** "median (min-max)" in ms or s. */
export function fmt(xs: number[], unit: "ms" | "s" = "ms"): string {
  const k = unit === "s" ? 1000 : 1;
  const d = unit === "s" ? 2 : 0;
  const s = [...xs].sort((a, b) => a - b);
  return `${(median(xs) / k).toFixed(d)} ${unit} (${(s[0]! / k).toFixed(d)}-${(s[s.length - 1]! / k).toFixed(d)})`;
}

export interface Timed {
  ms: number;
  code: number;
  out: string;
}

export function timeCmd(cmd: string, args: string[], opts: { input?: string; env?: Record<string, string>; cwd?: string } = {}): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env: { ...process.env, ...opts.env }, cwd: opts.cwd, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      out += d;
    });
    child.stdin.end(opts.input ?? "");
    child.on("error", reject);
    child.on("close", (code) => resolve({ ms: performance.now() - t0, code: code ?? -1, out }));
  });
}

/** Runs each variant `rounds` times, alternating A B A B..., and returns the timings per variant. */
export async function alternate(rounds: number, variants: Record<string, () => Promise<number>>): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (let i = 0; i < rounds; i++) {
    for (const [k, fn] of Object.entries(variants)) out[k]!.push(await fn());
  }
  return out;
}

export function ratio(a: number[], b: number[]): string {
  return `${(median(a) / median(b)).toFixed(2)}x`;
}
