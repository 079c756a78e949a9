/**
 * Starts a REAL Ara API server (ara[server] from PyPI, pinned in scripts/python/servers.txt,
 * Django runserver) for tests: a temp ARA_BASE_DIR, `ara-manage migrate`, optionally a
 * superuser, then `ara-manage runserver --noreload 127.0.0.1:PORT` on a free port, and waits
 * until /api/v1/ answers. When Ara is not installed this throws: tests fail loudly, they never skip.
 *
 * The migrated database is made once per test process and copied for each server.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { freePort } from "./net.js";
import { ANSIBLE_PYTHON, REPO_VENVS } from "./tools.js";

const run = promisify(execFile);

/** The server's console script (its shebang names the servers venv's Python); `make` exports it. */
export const ARA_MANAGE = process.env.ARA_MANAGE ?? path.join(REPO_VENVS, "servers", "bin", "ara-manage");
/** Ara's own client CLI (`ara playbook prune ...`), from the same pinned venv as the server. */
export const ARA_CLI = path.join(path.dirname(ARA_MANAGE), "ara");
/** The Python that runs ansible-playbook: Ara's callback plugin must be importable there. */
export const PYTHON = ANSIBLE_PYTHON;

export interface AraAuth {
  username: string;
  password: string;
}

export interface AraServer {
  /** http://127.0.0.1:PORT */
  http: string;
  /** ara+http://127.0.0.1:PORT */
  storeUrl: string;
  port: number;
  baseDir: string;
  auth: AraAuth | undefined;
  /** How long migrate + start took (ms). */
  startMs: number;
  /** Environment for Ara tools (ara CLI, ansible-playbook with the callback) against this server. */
  env: NodeJS.ProcessEnv;
  /** Stops the server (and, with `keepData`, leaves the data dir for a restart). */
  stop(opts?: { keepData?: boolean }): Promise<void>;
  /** Restarts a stopped server on the same port and data. */
  restart(): Promise<void>;
  log(): string;
}

export function assertAraInstalled(): void {
  if (!existsSync(ARA_MANAGE)) {
    throw new Error(`Ara is not installed (${ARA_MANAGE} missing): these tests need a real Ara server. Install it with: scripts/venv.sh servers`);
  }
}

function araEnv(baseDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ARA_BASE_DIR: baseDir, PYTHONUNBUFFERED: "1", ...extra };
  for (const k of ["PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "ARA_SETTINGS"]) delete env[k];
  return env;
}

export { freePort };

let template: Promise<string> | undefined;

/** One migrated database per test process (migrate takes about 2 s). */
function migratedTemplate(): Promise<string> {
  template ??= (async () => {
    assertAraInstalled();
    const dir = mkdtempSync(path.join(tmpdir(), "lrt-ara-template-"));
    try {
      await run(ARA_MANAGE, ["migrate"], { env: araEnv(dir), timeout: 120_000 });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`ara-manage migrate failed: ${e.stderr?.slice(-2000) ?? e.message}`);
    }
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    return path.join(dir, "ansible.sqlite");
  })();
  return template;
}

async function waitUp(url: string, child: ChildProcess, logOf: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`ara-manage runserver exited (${child.exitCode ?? child.signalCode}):\n${logOf().slice(-3000)}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      return; // any HTTP answer (200, or 401 with auth on) means it is up
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`Ara did not answer on ${url} within ${timeoutMs / 1000}s:\n${logOf().slice(-3000)}`);
}

export async function startAra(opts: { auth?: AraAuth; settings?: Record<string, string> } = {}): Promise<AraServer> {
  const t0 = Date.now();
  const db = await migratedTemplate();
  const baseDir = mkdtempSync(path.join(tmpdir(), "lrt-ara-"));
  copyFileSync(db, path.join(baseDir, "ansible.sqlite"));
  const settings: Record<string, string> = { ...(opts.settings ?? {}) };
  if (opts.auth) {
    settings.ARA_READ_LOGIN_REQUIRED = "true";
    settings.ARA_WRITE_LOGIN_REQUIRED = "true";
    try {
      await run(ARA_MANAGE, ["createsuperuser", "--noinput", "--username", opts.auth.username, "--email", "ci@example.invalid"], {
        env: araEnv(baseDir, { DJANGO_SUPERUSER_PASSWORD: opts.auth.password }),
        timeout: 60_000,
      });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`ara-manage createsuperuser failed: ${e.stderr?.slice(-2000) ?? e.message}`);
    }
  }
  const env = araEnv(baseDir, settings);
  const logFile = path.join(baseDir, "server.log");
  let port = await freePort();
  let child: ChildProcess | undefined;
  const readLog = () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : "");
  const start = async () => {
    // The server writes its log to a file, never to a pipe: a pipe that the test process does
    // not drain (while it waits in execFileSync, say) fills up and freezes the server.
    const fd = openSync(logFile, "a", 0o600);
    try {
      child = spawn(ARA_MANAGE, ["runserver", "--noreload", `127.0.0.1:${port}`], {
        env,
        detached: true, // its own process group: stop() ends the server and nothing else
        stdio: ["ignore", fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    await waitUp(`http://127.0.0.1:${port}/api/v1/`, child, readLog, 30_000);
  };
  for (let attempt = 0; ; attempt++) {
    try {
      await start();
      break;
    } catch (err) {
      if (attempt < 2 && /already in use|Address in use/i.test(readLog())) {
        port = await freePort();
        continue;
      }
      throw err;
    }
  }
  const startMs = Date.now() - t0;
  const stopChild = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once("exit", () => r()));
    try {
      process.kill(-c.pid!, "SIGTERM");
    } catch {
      c.kill("SIGTERM");
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-c.pid!, "SIGKILL");
      } catch {
        // gone
      }
    }, 3000);
    await exited;
    clearTimeout(timer);
  };
  const server: AraServer = {
    http: `http://127.0.0.1:${port}`,
    storeUrl: `ara+http://127.0.0.1:${port}`,
    port,
    baseDir,
    auth: opts.auth,
    startMs,
    env: {
      ...env,
      ARA_API_CLIENT: "http",
      ARA_API_SERVER: `http://127.0.0.1:${port}`,
      ...(opts.auth ? { ARA_API_USERNAME: opts.auth.username, ARA_API_PASSWORD: opts.auth.password } : {}),
    },
    async stop(o = {}) {
      await stopChild();
      if (!o.keepData) rmSync(baseDir, { recursive: true, force: true });
    },
    async restart() {
      await stopChild();
      await start();
    },
    log: readLog,
  };
  return server;
}

/** A JSON request straight to Ara's API (test setup and inspection), with the server's credentials. */
export async function araApi(server: AraServer, method: string, apiPath: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (server.auth) headers.Authorization = `Basic ${Buffer.from(`${server.auth.username}:${server.auth.password}`).toString("base64")}`;
  const res = await fetch(`${server.http}/api/v1/${apiPath}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // keep the text
  }
  return { status: res.status, body: parsed };
}
