/** Runs the real ansible-playbook against this source tree's collection. */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Ledger } from "../../src/engine/ledger.js";
import type { RecordQuery } from "../../src/engine/query.js";
import type { JobRecord } from "../../src/engine/record.js";
import { openStore } from "../../src/stores/open.js";
import { unexpectedWarnings } from "./warnings.js";

export const REPO = path.resolve(import.meta.dirname, "..", "..");
export const COLLECTIONS = path.join(REPO, "ansible_collection", "collections");
export const COLL = path.join(COLLECTIONS, "ansible_collections", "rstyczynski", "ansible");

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout + stderr, for assertions on messages. */
  out: string;
}

export interface PlaybookOptions {
  inventory?: string;
  extraVars?: Record<string, unknown>;
  env?: Record<string, string | undefined>;
  cwd?: string;
  args?: string[];
  collectionsPath?: string;
}

export function run(cmd: string, args: string[], opts: { env?: Record<string, string | undefined>; cwd?: string; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd ?? REPO,
      env: { ...process.env, ...opts.env },
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d) => {
      stdout += d;
    });
    child.stderr!.on("data", (d) => {
      stderr += d;
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr, out: stdout + stderr }));
  });
}

/**
 * Runs ansible-playbook and checks its output for warnings: a [DEPRECATION WARNING], or a
 * [WARNING] that helpers/warnings.ts does not list, throws (on every ansible-core line).
 */
export async function playbook(file: string, opts: PlaybookOptions = {}): Promise<RunResult> {
  const args = [file];
  if (opts.inventory) args.push("-i", opts.inventory);
  if (opts.extraVars) args.push("-e", JSON.stringify(opts.extraVars));
  args.push(...(opts.args ?? []));
  const r = await run("ansible-playbook", args, {
    cwd: opts.cwd,
    env: {
      ANSIBLE_COLLECTIONS_PATH: opts.collectionsPath ?? COLLECTIONS,
      ANSIBLE_NOCOLOR: "1",
      ANSIBLE_FORCE_COLOR: "0",
      ANSIBLE_HOST_KEY_CHECKING: "False",
      ANSIBLE_RETRY_FILES_ENABLED: "False",
      ...opts.env,
    },
  });
  const unexpected = unexpectedWarnings(r.out);
  if (unexpected.length) {
    throw new Error(`ansible-playbook ${file} warned (not in test/helpers/warnings.ts):\n${unexpected.join("\n")}\n--- output ---\n${r.out.slice(-6000)}`);
  }
  return r;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), `lrt-${prefix}-`));
}

/** Every JSON document in a filesystem store, by path relative to its root. */
export function storeFiles(root: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const walk = (d: string) => {
    let items: string[];
    try {
      items = readdirSync(d);
    } catch {
      return;
    }
    for (const n of items) {
      const p = path.join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n.endsWith(".json")) out.set(path.relative(root, p), JSON.parse(readFileSync(p, "utf8")));
    }
  };
  walk(root);
  return out;
}

export function heads(root: string): Record<string, unknown>[] {
  return [...storeFiles(root).entries()].filter(([k]) => k.startsWith("heads/")).map(([, v]) => v as Record<string, unknown>);
}

/**
 * Job records in any store (by URL): the current ones with this name, sorted by host; or what
 * a query selects, as `ansible-jobs list` orders it (with `history`, every attempt kept).
 */
export async function recordsIn(url: string, which: string | RecordQuery): Promise<JobRecord[]> {
  const store = await openStore(url);
  try {
    const ledger = new Ledger(store);
    if (typeof which !== "string") return (await ledger.select(which)).records;
    return (await ledger.list({ name: which })).records.sort((a, b) => a.host.localeCompare(b.host));
  } finally {
    await store.close?.();
  }
}
