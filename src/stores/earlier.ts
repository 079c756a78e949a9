/**
 * The state left by the earlier `rstyczynski.ansible` save/load roles, read (never written):
 *
 *   <state_dir>/<host>/<playbook_name>/<job_name>.json
 *   {"job_name": ..., "host": ..., "ansible_job_id": ..., "save_time": ..., "metadata": {...}}
 *
 * This file is the one place that knows that layout. The ledger turns what it reads into
 * records (Ledger.importEarlier): the read-through of async_job_load and `ansible-jobs import`
 * both come through here. The files are left in place.
 *
 * The new filesystem store may share the directory (both default to .ansible_async_state): its
 * documents live under heads/, history/ and jids/, at other depths, so neither layout reads the
 * other's files. Only a host literally named heads, history or jids would be ambiguous; those
 * three directories are never read as earlier state.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { JobsError } from "../engine/errors.js";

export interface EarlierJob {
  job_name: string;
  host: string;
  playbook_name: string;
  ansible_job_id: string;
  /** ISO 8601 time of the earlier save. */
  save_time: string;
  metadata: Record<string, unknown>;
  /** The file it was read from. */
  path: string;
}

/** The new store's top directories: never earlier state. */
const LEDGER_DIRS = new Set(["heads", "history", "jids"]);

/** A path segment the earlier roles could have written: one plain directory or file name. */
function plainSegment(s: string): boolean {
  return s !== "" && s !== "." && s !== ".." && !s.includes("/") && !s.includes("\u0000");
}

/** The earlier file of one job, or undefined when there is none. Throws `corrupt` for an unusable file. */
export function readEarlierJob(stateDir: string, host: string, playbookName: string, jobName: string): EarlierJob | undefined {
  if (![host, playbookName, jobName].every(plainSegment) || LEDGER_DIRS.has(host)) return undefined;
  const file = path.join(stateDir, host, playbookName, `${jobName}.json`);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw new JobsError("store_unavailable", `cannot read the earlier roles' state file ${file}: ${(err as Error).message}`);
  }
  return parseEarlierJob(text, file, { host, playbook_name: playbookName, job_name: jobName });
}

/**
 * Checks one earlier file against where it lies. Its own `job_name` and `host` must agree with
 * the path (the earlier roles wrote both): a file that says otherwise is reported, not guessed.
 */
export function parseEarlierJob(text: string, file: string, at: { host: string; playbook_name: string; job_name: string }): EarlierJob {
  const bad = (why: string) => new JobsError("corrupt", `${file}: not a state file of the earlier save/load roles (${why})`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw bad(`invalid JSON: ${(err as Error).message}`);
  }
  if (!data || typeof data !== "object" || Array.isArray(data)) throw bad("not a JSON object");
  const d = data as Record<string, unknown>;
  const jid = d.ansible_job_id;
  if (typeof jid !== "string" && typeof jid !== "number") throw bad("no ansible_job_id");
  if (String(jid).trim() === "") throw bad("empty ansible_job_id");
  if (d.job_name !== undefined && String(d.job_name) !== at.job_name) {
    throw bad(`job_name ${JSON.stringify(d.job_name)} does not match the file name ${JSON.stringify(at.job_name)}`);
  }
  if (d.host !== undefined && String(d.host) !== at.host) {
    throw bad(`host ${JSON.stringify(d.host)} does not match the directory ${JSON.stringify(at.host)}`);
  }
  const when = typeof d.save_time === "string" || typeof d.save_time === "number" ? new Date(typeof d.save_time === "number" ? d.save_time * 1000 : d.save_time) : null;
  if (!when || Number.isNaN(when.getTime())) throw bad(`save_time ${JSON.stringify(d.save_time)} is not a time`);
  const meta = d.metadata ?? {};
  if (typeof meta !== "object" || meta === null || Array.isArray(meta)) throw bad("metadata is not a dictionary");
  return {
    job_name: at.job_name,
    host: at.host,
    playbook_name: at.playbook_name,
    ansible_job_id: String(jid),
    save_time: when.toISOString(),
    metadata: meta as Record<string, unknown>,
    path: file,
  };
}

/** Every earlier job under `stateDir`, plus a message for each file that could not be used. */
export function listEarlierJobs(stateDir: string): { jobs: EarlierJob[]; errors: string[] } {
  const jobs: EarlierJob[] = [];
  const errors: string[] = [];
  const dirs = (d: string): string[] => {
    try {
      return fs
        .readdirSync(d, { withFileTypes: true })
        .filter((e) => e.isDirectory() && !e.name.startsWith("."))
        .map((e) => e.name)
        .sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw new JobsError("store_unavailable", `cannot read ${d}: ${(err as Error).message}`);
    }
  };
  if (!fs.existsSync(stateDir)) throw new JobsError("not_found", `${stateDir}: no such directory`);
  for (const host of dirs(stateDir)) {
    if (LEDGER_DIRS.has(host)) continue;
    for (const playbook of dirs(path.join(stateDir, host))) {
      const dir = path.join(stateDir, host, playbook);
      const files = fs
        .readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isFile() && e.name.endsWith(".json") && !e.name.startsWith("."))
        .map((e) => e.name)
        .sort();
      for (const f of files) {
        try {
          const job = readEarlierJob(stateDir, host, playbook, f.slice(0, -".json".length));
          if (job) jobs.push(job);
        } catch (err) {
          errors.push((err as Error).message);
        }
      }
    }
  }
  return { jobs, errors };
}
