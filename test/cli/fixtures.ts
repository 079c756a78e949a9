/**
 * Fills a filesystem store with real records through the engine's Ledger (claim,
 * recordLaunch, observe), the way job_store does during a play: one job in each status,
 * a job with three attempts, a second namespace, and unreadable documents.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import type { Evidence } from "../../src/engine/classify.js";
import { type Identity, Ledger, keys } from "../../src/engine/ledger.js";
import type { JobRecord } from "../../src/engine/record.js";
import { FilesystemStore } from "../../src/stores/filesystem.js";

export const ORIGIN = {
  playbook: "/srv/ops/deploy.yml",
  play: "Deploy the app",
  play_id: "0242ac11-0002-81b5-5d5c-000000000008",
  task: "Build in the background",
  controller: "ci-runner-1",
};

const STALE = 300;
let jidSeq = 0;

export function openLedger(dir: string): Ledger {
  return new Ledger(new FilesystemStore(dir));
}

/** claim -> launched (running), as long_running_task start does. */
export async function launch(ledger: Ledger, id: Identity, origin = ORIGIN, asyncTimeout = 3600): Promise<JobRecord> {
  const c = await ledger.claim(id, origin, { async_timeout: asyncTimeout }, STALE);
  if (!c.claimed) throw new Error(`fixture: could not claim ${id.name} on ${id.host}: ${c.reason}`);
  // Shaped like Ansible's: a random 12-digit number and the async wrapper's pid.
  const jid = `${284019770000 + ++jidSeq * 1117}.${4100 + jidSeq * 7}`;
  const r = await ledger.recordLaunch(id, c.record.claim_token ?? undefined, {
    ansible_job_id: jid,
    results_file: `/root/.ansible_async/${jid}`,
    started: 1,
    finished: 0,
    changed: true,
  });
  return r.record;
}

export async function observe(ledger: Ledger, id: Identity, ev: Evidence): Promise<JobRecord> {
  return (await ledger.observe(id, undefined, ev, STALE)).record;
}

export const EVIDENCE = {
  running: {
    state: "running",
    session_id: 4242,
    incarnation: { boot_id: "6f1c2d0e-boot", boot_time: 1700000000, pid1_start: 1700000001 },
    stdout_tail: "step 1/3\nstep 2/3\n",
  },
  succeeded: { state: "finished", result: { rc: 0, stdout: "built app-1.2.3.tar.gz\n", changed: true } },
  failed: {
    state: "finished",
    result: { rc: 2, failed: true, msg: "non-zero return code", stdout: "compiling...\n", stderr: "error: disk full\n" },
  },
  timed_out: { state: "finished", result: { msg: "Timeout exceeded", failed: true } },
  lost: { state: "gone", restarted: true, job_file: { exists: true } },
  cancelled: { cancelled: true },
  unreachable: { unreachable: true, msg: "ssh: connect to host db3 port 22: No route to host" },
} satisfies Record<string, Evidence>;

export interface Filled {
  dir: string;
  ledger: Ledger;
  /** name -> current record, for the default namespace. */
  jobs: Record<string, JobRecord>;
  /** Files that are not readable job records. */
  corrupt: string[];
}

/**
 * default namespace:
 *   web1  build        running        web1  backup  succeeded
 *   web2  build        failed         web2  migrate timed_out
 *   db1   backup       lost           db1   reindex cancelled (3 attempts: failed, succeeded, cancelled)
 *   db3   backup       unreachable    app1  deploy  starting (claimed, not launched)
 * staging namespace:
 *   web1  build        succeeded
 * plus (unless corrupt: false) an unreadable file and a file that is JSON but not a job record.
 */
export async function fillStore(dir: string, opts: { corrupt?: boolean } = {}): Promise<Filled> {
  const ledger = openLedger(dir);
  const ns = "default";
  const jobs: Record<string, JobRecord> = {};
  const put = async (host: string, name: string, status: keyof typeof EVIDENCE | "starting", origin = ORIGIN) => {
    const id = { namespace: ns, host, name };
    if (status === "starting") {
      const c = await ledger.claim(id, origin, { async_timeout: 600 }, STALE);
      jobs[`${host}/${name}`] = c.record;
      return;
    }
    await launch(ledger, id, origin);
    jobs[`${host}/${name}`] = await observe(ledger, id, EVIDENCE[status]);
  };
  await put("web1", "build", "running");
  await put("web1", "backup", "succeeded", { ...ORIGIN, playbook: "/srv/ops/nightly.yml", task: "Back up" });
  await put("web2", "build", "failed");
  await put("web2", "migrate", "timed_out");
  await put("db1", "backup", "lost", { ...ORIGIN, playbook: "/srv/ops/nightly.yml", task: "Back up" });
  await put("db3", "backup", "unreachable", { ...ORIGIN, playbook: "/srv/ops/nightly.yml", task: "Back up" });
  await put("app1", "deploy", "starting");
  // Three attempts of one job: failed, then succeeded, then cancelled.
  await put("db1", "reindex", "failed");
  await put("db1", "reindex", "succeeded");
  await put("db1", "reindex", "cancelled");
  // Another namespace.
  const stg = { namespace: "staging", host: "web1", name: "build" };
  await launch(ledger, stg);
  await observe(ledger, stg, EVIDENCE.succeeded);

  if (opts.corrupt === false) return { dir, ledger, jobs, corrupt: [] };
  const corrupt = [
    path.join(dir, "heads", "default", "web1", "broken.json"),
    path.join(dir, "heads", "default", "web2", "not-a-record.json"),
  ];
  mkdirSync(path.dirname(corrupt[0]!), { recursive: true });
  mkdirSync(path.dirname(corrupt[1]!), { recursive: true });
  writeFileSync(corrupt[0]!, '{"schema": 1, "name": "broken", "status": "runn');
  writeFileSync(corrupt[1]!, `${JSON.stringify({ schema: 1, name: "not-a-record", host: "web2" })}\n`);
  return { dir, ledger, jobs, corrupt };
}

/**
 * Moves a record's times back by `seconds`, through the store's compare-and-swap (for age
 * filters); `ranSeconds` moves started_at back further, so the attempt ran that long.
 */
export async function backdate(ledger: Ledger, id: Identity, seconds: number, attempt?: number, ranSeconds = 0): Promise<void> {
  const key = attempt === undefined ? keys.head(id) : keys.history(id, attempt);
  const e = await ledger.store.get(key);
  if (!e) throw new Error(`fixture: nothing at ${key.join("/")}`);
  const r = e.value as JobRecord;
  const back = (iso: string | null) => (iso ? new Date(Date.parse(iso) - seconds * 1000).toISOString() : iso);
  const next: JobRecord = {
    ...r,
    started_at: new Date(Date.parse(r.started_at) - (seconds + ranSeconds) * 1000).toISOString(),
    updated_at: back(r.updated_at)!,
    finished_at: back(r.finished_at),
    checked_at: back(r.checked_at),
  };
  await ledger.store.update(key, next, e.version);
}
