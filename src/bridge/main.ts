/**
 * The engine entry that the job_store action plugin runs: one JSON request on stdin,
 * one JSON response on stdout, exit code 0 (errors travel in the JSON).
 */
import { readFileSync } from "node:fs";
import { JobsError, describe } from "../engine/errors.js";
import { Ledger } from "../engine/ledger.js";
import { coerceTo } from "../engine/options.js";
import { openStore, resolveStoreUrl } from "../stores/open.js";
import { CONCURRENCY, type Context, type HostInput, type HostOutput, Operations, hostError, mapLimit } from "./ops.js";
import { type ReplayRequest, type ReplayResponse, replay } from "./replay.js";
import { JOB_STORE_OPTIONS } from "./spec.js";

export interface Request {
  args: Record<string, unknown>;
  /** The job_ledger callback's request: replay its journal (and those left by killed runs). */
  replay?: ReplayRequest;
  hosts?: Record<string, HostInput>;
  context?: Context;
}

export interface Response {
  changed: boolean;
  failed: boolean;
  msg?: string;
  store?: string;
  hosts?: Record<string, HostOutput>;
  /** One readable line per served host, for the roles' report. */
  summary?: string[];
  jobs?: unknown[];
  errors?: string[];
  warnings?: string[];
  exception?: string;
}

/** "web1: backup running (jid 123.45, attempt 2)", plus the reason when there is one. */
export function summaryLine(host: string, r: HostOutput): string {
  const j = r.job;
  if (!j) return `${host}: ${r.failed ? "error: " : ""}${r.msg ?? "no job"}`;
  const facts = [j.jid ? `jid ${j.jid}` : "no jid yet", `attempt ${j.attempt}`];
  if (j.result?.rc !== undefined && j.result.rc !== null) facts.push(`rc ${j.result.rc}`);
  const why = r.failed ? r.msg : j.last_error;
  return `${host}: ${j.name} ${j.status} (${facts.join(", ")})${why ? ` - ${why}` : ""}`;
}

export async function handle(req: Request): Promise<Response | ReplayResponse> {
  const major = Number(process.versions.node.split(".")[0]);
  if (major < 18) {
    return { changed: false, failed: true, msg: `job_store needs Node.js >= 18 on the controller, found ${process.version}` };
  }
  if (req && typeof req === "object" && req.replay && typeof req.replay === "object") return replay(req.replay);
  if (!req || typeof req !== "object" || typeof req.args !== "object") {
    return { changed: false, failed: true, msg: "job_store: malformed request from the action plugin (no args)" };
  }
  const args = coerceTo(JOB_STORE_OPTIONS, req.args);
  const ctx: Context = { ...(req.context ?? {}) };
  if (!ctx.playbook && ctx.playbooks?.length) {
    const dir = ctx.playbook_dir;
    ctx.playbook = ctx.playbooks.find((p) => dir && p.startsWith(`${dir}/`)) ?? ctx.playbooks[0] ?? null;
  }
  const { url, isDefault } = resolveStoreUrl(args.store, ctx.playbook_dir ?? process.cwd());
  const warnings: string[] = [];
  if (isDefault && ctx.awx_job_id) {
    warnings.push(
      `job_store: the default filesystem store ${url} lives inside this AWX/AAP job and disappears with it; ` +
        "set ANSIBLE_JOBS_STORE (or the store option) to a shared store: s3://BUCKET/PREFIX or ara+https://ARA_SERVER",
    );
  }
  // The Ara store links each record to the play that started or resumed it.
  const extra = args.store_options ?? {};
  const store = await openStore(url, {
    s3: extra,
    ara: { ...extra, play_id: ctx.play_id ?? null, playbook: ctx.playbook ?? null },
  });
  try {
    const ops = new Operations(new Ledger(store), args, ctx);
    if (args.op === "list" || args.op === "prune") {
      const r = args.op === "list" ? await ops.list() : await ops.prune();
      return {
        changed: args.op === "prune" && r.jobs.length > 0 && !ctx.check_mode,
        failed: false,
        store: store.url,
        jobs: r.jobs,
        errors: r.errors,
        warnings,
        msg: `${args.op === "list" ? "found" : ctx.check_mode ? "would prune" : "pruned"} ${r.jobs.length} job record(s)${r.errors.length ? `; ${r.errors.length} unreadable` : ""}`,
      };
    }
    const hostInputs = req.hosts ?? {};
    const names = args.hosts ?? Object.keys(hostInputs);
    if (names.length === 0) throw new JobsError("invalid_argument", "hosts: no host to serve");
    const ledger = new Ledger(store);
    const results = await mapLimit(names, CONCURRENCY, async (h) => {
      try {
        const input = hostInputs[h] ?? {};
        if (input.error) throw new JobsError("invalid_argument", input.error);
        // Each host's own options (templated with its vars); store and op stay the call's.
        const hostOps = input.args
          ? new Operations(ledger, { ...coerceTo(JOB_STORE_OPTIONS, { ...req.args, ...input.args }), op: args.op, store: args.store }, ctx)
          : ops;
        return [h, await hostOps.forHost(h, input)] as const;
      } catch (err) {
        if (err instanceof JobsError && err.isUserError) return [h, hostError(err, hostInputs[h])] as const;
        throw err;
      }
    });
    const hosts = Object.fromEntries(results);
    const failedHosts = results.filter(([, r]) => r.failed).map(([h]) => h);
    for (const [h, r] of results) for (const w of r.warnings ?? []) warnings.push(`${h}: ${w}`);
    return {
      changed: results.some(([, r]) => r.changed),
      failed: false,
      store: store.url,
      hosts,
      summary: results.map(([h, r]) => summaryLine(h, r)),
      warnings,
      msg: failedHosts.length ? `job_store ${args.op} failed for ${failedHosts.join(", ")}` : `job_store ${args.op}: ${names.length} host(s)`,
    };
  } finally {
    await store.close?.();
    for (const n of store.warnings ?? []) warnings.push(n);
  }
}

export async function main(): Promise<void> {
  let res: Response | ReplayResponse;
  try {
    const raw = readFileSync(0, "utf8");
    let req: Request;
    try {
      req = JSON.parse(raw);
    } catch (err) {
      throw new JobsError("invalid_argument", `job_store: the request is not JSON: ${(err as Error).message}`);
    }
    res = await handle(req);
  } catch (err) {
    const failure: Response = { changed: false, failed: true, msg: describe(err) };
    if (!(err instanceof JobsError) || !err.isUserError) failure.exception = (err as Error)?.stack ?? String(err);
    res = failure;
  }
  process.stdout.write(`${JSON.stringify(res)}\n`);
}
