/**
 * Runs the BUILT ansible-jobs (dist/ansible-jobs.cjs) the way a user does. The bundle is
 * rebuilt once when any source is newer than it; concurrent test files wait on a lock.
 */
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { after, before } from "node:test";
import { fileURLToPath } from "node:url";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const BUILT = path.join(REPO, "dist", "ansible-jobs.cjs");
/**
 * The CLI the tests run: a private copy of the built dist/ansible-jobs.cjs (set by
 * ensureBuilt), so another process rebuilding dist/ meanwhile cannot hand a test a
 * half-written file.
 */
export let CLI = BUILT;
const LOCK = path.join(REPO, ".cache", "cli-build.lock");

function newest(p: string): number {
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = 0;
  for (const e of readdirSync(p)) m = Math.max(m, newest(path.join(p, e)));
  return m;
}

function builtIsFresh(): boolean {
  try {
    const built = statSync(BUILT).mtimeMs;
    const sources = Math.max(newest(path.join(REPO, "src")), newest(path.join(REPO, "scripts", "build.mjs")), newest(path.join(REPO, "package.json")));
    return built >= sources;
  } catch {
    return false;
  }
}

/** Builds dist/ansible-jobs.cjs with `node scripts/build.mjs` unless it is up to date, then copies it. */
export async function ensureBuilt(): Promise<void> {
  await build();
  for (let i = 0; ; i++) {
    const dir = mkdtempSync(path.join(tmpdir(), "ajcli-bin-"));
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    const copy = path.join(dir, "ansible-jobs.cjs");
    copyFileSync(BUILT, copy);
    if (spawnSync(process.execPath, ["--check", copy]).status === 0) {
      CLI = copy;
      return;
    }
    if (i >= 20) throw new Error(`${BUILT} does not parse (node --check)`);
    await new Promise((r) => setTimeout(r, 250)); // being rewritten right now: try again
  }
}

async function build(): Promise<void> {
  mkdirSync(path.dirname(LOCK), { recursive: true });
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (builtIsFresh()) return;
    try {
      mkdirSync(LOCK);
    } catch {
      try {
        if (Date.now() - statSync(LOCK).mtimeMs > 120_000) rmSync(LOCK, { recursive: true, force: true });
      } catch {
        // released meanwhile
      }
      if (Date.now() > deadline) throw new Error("timed out waiting for another test file to build the CLI");
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    try {
      if (!builtIsFresh()) {
        const r = spawnSync(process.execPath, ["scripts/build.mjs"], { cwd: REPO, encoding: "utf8" });
        if (r.status !== 0) throw new Error(`node scripts/build.mjs failed (${r.status}):\n${r.stdout}${r.stderr}`);
      }
      return;
    } finally {
      rmSync(LOCK, { recursive: true, force: true });
    }
  }
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout then stderr, for assertion messages. */
  out: string;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  input?: string;
  timeoutMs?: number;
}

/** The environment a test runs the CLI in: nothing inherited that changes its output. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ["NO_COLOR", "FORCE_COLOR", "ANSIBLE_JOBS_STORE", "TERM", "CI"]) delete env[k];
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** Runs `node dist/ansible-jobs.cjs ARGS` to completion (stdin closed unless `input`). */
export function cli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return runChild(process.execPath, [CLI, ...args], cleanEnv(opts.env), opts);
}

/** A running CLI process, for watch: its output so far and a way to wait for text. */
export class Running {
  stdout = "";
  stderr = "";
  readonly done: Promise<CliResult>;
  readonly child;
  constructor(args: string[], opts: CliOptions = {}) {
    this.child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? REPO, env: cleanEnv(opts.env), stdio: ["ignore", "pipe", "pipe"] });
    this.child.stdout.setEncoding("utf8").on("data", (d: string) => {
      this.stdout += d;
    });
    this.child.stderr.setEncoding("utf8").on("data", (d: string) => {
      this.stderr += d;
    });
    const timer = setTimeout(() => this.child.kill("SIGKILL"), opts.timeoutMs ?? 30_000);
    this.done = new Promise((resolve, reject) => {
      this.child.on("error", reject);
      this.child.on("close", (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr, out: this.stdout + this.stderr });
      });
    });
  }
  /** Resolves when stdout matches `re` (checked every 20 ms), or rejects after `ms`. */
  async waitFor(re: RegExp, ms = 20_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!re.test(this.stdout)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${re} in:\n${this.stdout}\n--- stderr:\n${this.stderr}`);
      if (this.child.exitCode !== null) throw new Error(`exited ${this.child.exitCode} before ${re} appeared:\n${this.stdout}\n--- stderr:\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

export function tempDir(prefix = "ajcli-"): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/**
 * The calling test file's scratch directory, made now and removed after the file's tests; the
 * CLI is built before them. `path(...)` names a place inside it, `fresh()` a new one. (The
 * directory is made here, not in a hook: node 20 ran a later top-level hook before this one.)
 */
export function useScratch(): { path: (...parts: string[]) => string; fresh: () => string } {
  const dir = tempDir();
  let seq = 0;
  before(ensureBuilt);
  after(() => rmSync(dir, { recursive: true, force: true }));
  return { path: (...parts) => path.join(dir, ...parts), fresh: () => path.join(dir, `s${seq++}`) };
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for ANSI escapes is the point
export const ANSI = /\u001b\[/;

/** Lines of a table (header first), split into cells on runs of 2+ spaces. */
export function tableRows(text: string): string[][] {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => l.trim().split(/ {2,}/));
}

/** True when `script` (util-linux) can run a command on a pseudo-terminal. */
export function haveScript(): boolean {
  return spawnSync("script", ["-qec", "true", "/dev/null"], { stdio: "ignore" }).status === 0;
}

/** Runs the CLI on a pseudo-terminal through script(1): output as a terminal shows it. */
export function cliOnTty(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const quoted = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  return runChild("script", ["-qec", `stty cols 200 rows 50 2>/dev/null; ${quoted}`, "/dev/null"], cleanEnv({ TERM: "xterm-256color", ...opts.env }), opts);
}

/** Runs a child to completion, collecting its output (stdin closed unless `input`). */
function runChild(cmd: string, args: string[], env: NodeJS.ProcessEnv, opts: CliOptions): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? REPO, env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 30_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, out: stdout + stderr });
    });
    child.stdin.end(opts.input ?? "");
  });
}
