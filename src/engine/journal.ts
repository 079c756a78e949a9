/**
 * The job_ledger callback's journal: this file owns its format, its lock and its replay.
 * The Python writer (plugins/callback/job_ledger.py) is documented against it.
 *
 * Directory: the callback's `journal_dir` option, $ANSIBLE_JOB_LEDGER_DIR, else
 * ~/.ansible/job_ledger (journalDir()). Inside it:
 *   journal-CONTROLLER-PID-STARTED.jsonl       one file per ansible-playbook run, launches not yet in a store
 *   journal-CONTROLLER-PID-STARTED.jsonl.lock  held (created with O_EXCL) while that run lives, or while a replay works on it
 *
 * Each line is one JSON object, `v` the format version; the only kind so far:
 *   {"v":1,"kind":"launch","at":ISO,"store":URL|null,"playbook_dir":DIR|null,"namespace":NS,
 *    "name":NAME,"host":HOST,"jid":JID,"results_file":PATH|null,"async_timeout":INT|null,
 *    "no_log":BOOL,"playbook":PATH|null,"play":NAME|null,"play_id":UUID|null,"task":NAME|null,
 *    "controller":HOST|null}
 * A line is appended and fsynced before the play moves on. A journal whose launches are all in
 * their stores is deleted. A replay is idempotent by (namespace, host, jid): a launch whose jid
 * is already recorded is left as it is (Ledger.recordLaunched), so a journal replayed twice, or by
 * two replays at once, records each launch once.
 *
 * Lock: {"pid":N,"controller":HOST,"at":ISO}. A lock whose controller is this machine and whose
 * pid is no longer alive was left by a killed run: a replay breaks it and takes the journal.
 * A live lock (the run is still going, or another replay) is left alone.
 */
import { closeSync, fsyncSync, linkSync, openSync, readFileSync, readdirSync, unlinkSync, writeSync } from "node:fs";
import { homedir, hostname } from "node:os";
import * as path from "node:path";
import { DEFAULT_DIR } from "../stores/open.js";
import { JobsError, describe } from "./errors.js";
import type { Ledger } from "./ledger.js";
import { mapLimit } from "./limit.js";
import type { JobRecord } from "./record.js";
import { processAlive } from "./process.js";

export const JOURNAL_VERSION = 1;
export const JOURNAL_DIR_ENV = "ANSIBLE_JOB_LEDGER_DIR";
export const JOURNAL_RE = /^journal-.+\.jsonl$/;
const REPLAY_CONCURRENCY = 16;

export interface JournalLaunch {
  v: 1;
  kind: "launch";
  at: string;
  store: string | null;
  playbook_dir: string | null;
  namespace: string;
  name: string;
  host: string;
  jid: string;
  results_file: string | null;
  async_timeout: number | null;
  no_log: boolean;
  playbook: string | null;
  play: string | null;
  play_id: string | null;
  task: string | null;
  controller: string | null;
}

export function journalDir(explicit?: string | null): string {
  if (explicit?.trim()) return path.resolve(explicit.trim());
  const env = process.env[JOURNAL_DIR_ENV];
  if (env?.trim()) return path.resolve(env.trim());
  return path.join(homedir(), ".ansible", "job_ledger");
}

const str = (v: unknown): v is string => typeof v === "string" && v.length > 0;
const strOrNull = (v: unknown) => (typeof v === "string" ? v : null);

/**
 * The launches of one journal, and the lines that are not (named by file and line). A last line
 * without its newline was cut by a kill during the write: it is dropped, since its launch was
 * never acknowledged to Ansible either.
 */
export function parseJournal(text: string, where: string): { launches: JournalLaunch[]; errors: string[] } {
  const launches: JournalLaunch[] = [];
  const errors: string[] = [];
  // The piece after the last newline is empty, or a line cut by a kill: dropped either way.
  const complete = text.split("\n").slice(0, -1);
  complete.forEach((line, i) => {
    if (line.trim() === "") return;
    const at = `${where}:${i + 1}`;
    let v: Record<string, unknown>;
    try {
      v = JSON.parse(line);
    } catch {
      errors.push(`${at}: not JSON`);
      return;
    }
    if (!v || typeof v !== "object" || v.v !== JOURNAL_VERSION) {
      errors.push(`${at}: journal format ${JSON.stringify(v?.v)} is not supported (this version reads ${JOURNAL_VERSION})`);
      return;
    }
    if (v.kind !== "launch") return; // later kinds are for later readers
    if (!str(v.namespace) || !str(v.name) || !str(v.host) || !str(v.jid)) {
      errors.push(`${at}: a launch needs namespace, name, host and jid`);
      return;
    }
    launches.push({
      v: 1,
      kind: "launch",
      at: str(v.at) ? v.at : new Date().toISOString(),
      store: strOrNull(v.store),
      playbook_dir: strOrNull(v.playbook_dir),
      namespace: v.namespace,
      name: v.name,
      host: v.host,
      jid: v.jid,
      results_file: strOrNull(v.results_file),
      async_timeout: typeof v.async_timeout === "number" && Number.isInteger(v.async_timeout) && v.async_timeout >= 0 ? v.async_timeout : null,
      no_log: v.no_log === true,
      playbook: strOrNull(v.playbook),
      play: strOrNull(v.play),
      play_id: strOrNull(v.play_id),
      task: strOrNull(v.task),
      controller: strOrNull(v.controller),
    });
  });
  return { launches, errors };
}

/** Who holds a journal's lock, or undefined when nobody (or a dead run on this machine) does. */
export function lockHolder(file: string): { pid: number; controller: string } | undefined {
  let raw: string;
  try {
    raw = readFileSync(`${file}.lock`, "utf8");
  } catch {
    return undefined;
  }
  try {
    const l = JSON.parse(raw) as { pid?: unknown; controller?: unknown };
    if (typeof l.pid !== "number" || typeof l.controller !== "string") return { pid: -1, controller: "?" };
    if (l.controller === hostname() && !processAlive(l.pid)) return undefined;
    return { pid: l.pid, controller: l.controller };
  } catch {
    // Being written right now (created, not yet filled): held.
    return { pid: -1, controller: "?" };
  }
}

/** Takes a journal's lock (breaking a dead run's); undefined when a live process holds it. */
export function takeLock(file: string): (() => void) | undefined {
  const lock = `${file}.lock`;
  const body = `${JSON.stringify({ pid: process.pid, controller: hostname(), at: new Date().toISOString() })}\n`;
  for (let i = 0; i < 2; i++) {
    const tmp = `${lock}.${process.pid}.${Math.random().toString(36).slice(2)}`;
    const fd = openSync(tmp, "wx", 0o600);
    writeSync(fd, body);
    fsyncSync(fd);
    closeSync(fd);
    try {
      // link() fails when the lock exists: an atomic create of a lock that is never seen empty.
      linkSync(tmp, lock);
      return () => {
        try {
          unlinkSync(lock);
        } catch {
          /* already gone */
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    } finally {
      unlinkSync(tmp);
    }
    if (lockHolder(file)) return undefined;
    // A dead run's lock: break it and try once more (two replays breaking it at once is harmless:
    // the replay is idempotent; the lock saves the work, it does not guard correctness).
    try {
      unlinkSync(lock);
    } catch {
      /* another replay broke it first */
    }
  }
  return undefined;
}

export interface ReplayOutcome {
  file: string;
  recorded: JobRecord[];
  present: number;
  /** Launches not in their store yet (the journal is kept for them). */
  pending: number;
  errors: string[];
  /** Stores that did not take a launch: their first error and how many launches they left. */
  failedStores: Record<string, { error: string; pending: number }>;
  /** The journal's lines that are not launches this version reads (also in `errors`). */
  parseErrors: string[];
  /** Held by a live process: not replayed now. */
  busy?: string;
  removed: boolean;
}

/** The store URL of a launch: its own, else the default store beside its playbook. */
export function launchStoreUrl(l: JournalLaunch): string {
  return l.store || path.join(l.playbook_dir ?? process.cwd(), DEFAULT_DIR);
}

/** The ledger of a store URL (the bridge and the CLI open it with openStore, and close it). */
export type LedgerFor = (url: string, launch: JournalLaunch) => Promise<Ledger>;

/** Puts one launch in its store, unless its jid is already recorded on that host. */
export async function applyLaunch(ledger: Ledger, l: JournalLaunch): Promise<JobRecord | undefined> {
  const { record, existing } = await ledger.recordLaunched(
    { namespace: l.namespace, host: l.host, name: l.name },
    { playbook: l.playbook, play: l.play, play_id: l.play_id, task: l.task, controller: l.controller },
    { async_timeout: l.async_timeout, no_log: l.no_log, started_at: l.at },
    { ansible_job_id: l.jid, results_file: l.results_file, started: 1, finished: 0 },
    false,
  );
  return existing ? undefined : record;
}

/**
 * Replays one journal: every launch into its store, then the journal is deleted when all are
 * there. `owned`: the caller (the live callback) holds the lock itself.
 */
export async function replayJournal(file: string, ledgerFor: LedgerFor, owned = false): Promise<ReplayOutcome> {
  const out: ReplayOutcome = { file, recorded: [], present: 0, pending: 0, errors: [], failedStores: {}, parseErrors: [], removed: false };
  const release = owned ? () => {} : takeLock(file);
  if (!release) {
    const h = lockHolder(file);
    out.busy = h ? `in use by pid ${h.pid} on ${h.controller}` : "in use";
    return out;
  }
  try {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return out;
      throw err;
    }
    const { launches, errors } = parseJournal(text, file);
    out.errors.push(...errors);
    out.parseErrors.push(...errors);
    // Identities in parallel (one store write after another costs 10 ms a launch); the launches
    // of one identity in journal order, so a re-launch stays the later attempt.
    const byIdentity = new Map<string, JournalLaunch[]>();
    for (const l of launches) {
      const k = JSON.stringify([launchStoreUrl(l), l.namespace, l.host, l.name]);
      byIdentity.set(k, [...(byIdentity.get(k) ?? []), l]);
    }
    await mapLimit([...byIdentity.values()], REPLAY_CONCURRENCY, async (group) => {
      for (const l of group) {
        const url = launchStoreUrl(l);
        try {
          const rec = await applyLaunch(await ledgerFor(url, l), l);
          if (rec) out.recorded.push(rec);
          else out.present++;
        } catch (err) {
          out.pending++;
          out.failedStores[url] ??= { error: describe(err), pending: 0 };
          out.failedStores[url].pending++;
          out.errors.push(`job "${l.name}" (jid ${l.jid}) on ${l.host}, store ${url}: ${describe(err)}`);
        }
      }
    });
    if (out.pending === 0 && errors.length === 0) {
      unlinkSync(file);
      out.removed = true;
    }
    return out;
  } finally {
    release();
  }
}

/** The journals in a directory (none when it does not exist), oldest name first. */
export function journals(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((n) => JOURNAL_RE.test(n))
      .sort()
      .map((n) => path.join(dir, n));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return [];
    throw new JobsError("invalid_argument", `journal directory ${dir}: cannot read it (${code ?? (err as Error).message})`, { field: "journal_dir" });
  }
}
