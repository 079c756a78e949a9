/**
 * job_store operations. One call serves every host of a play step: per-host work runs
 * concurrently and each host gets its own result or error; one host's problem never
 * fails the others.
 */
import { type AnyResult, type Evidence, aboutThisAttempt, probedJid } from "../engine/classify.js";
import { now, nowIso } from "../engine/clock.js";
import { JobsError, describe, invalid } from "../engine/errors.js";
import { type Identity, type Ledger, type Mutated, type Origin, launchPending } from "../engine/ledger.js";
import { parseDuration } from "../engine/options.js";
import type { RecordFilter } from "../engine/query.js";
import { type JobRecord, checkMetadata } from "../engine/record.js";
import { readEarlierJob } from "../stores/earlier.js";
import { isTerminal } from "../engine/status.js";
import type { JobStoreArgs } from "./spec.js";

export { mapLimit } from "../engine/limit.js";

export interface Context extends Origin {
  /** Playbook paths from the command line; the one in playbook_dir becomes `playbook`. */
  playbooks?: string[];
  check_mode?: boolean;
  no_log?: boolean;
  playbook_dir?: string | null;
  awx_job_id?: string | number | null;
}

export interface HostInput {
  /** The task's options templated with this host's vars (the plugin does it for run_once calls). */
  args?: Record<string, unknown>;
  result?: unknown;
  probe?: Record<string, unknown>;
  /**
   * The registered answer of the job_store call (load, or the first claim) that the probe
   * followed (loaded_var). Its `claim_stale` says whether a claim without a recorded launch was stale then:
   * a probe that began later and found no process proves the claim was never launched in time.
   */
  loaded?: Record<string, unknown>;
  /** The plugin could not build this host's input (a template failed): the host fails with this message. */
  error?: string;
}

export interface HostOutput {
  changed: boolean;
  failed?: boolean;
  msg?: string;
  found?: boolean;
  claimed?: boolean;
  /** Nothing was done for this host (claim again without evidence for it). */
  skipped?: boolean;
  job: JobRecord | null;
  jobs?: JobRecord[];
  status: string | null;
  /** With a job: whether its status is final (succeeded, failed, timed_out, lost, cancelled), so the roles need no list of their own. */
  terminal?: boolean;
  /** A claim whose launch is not recorded (launchPending): whether it was stale, by the store's clock, when read. */
  claim_stale?: boolean;
  /** save, on a filesystem store: the file that holds the saved record (the earlier roles' async_job_save_state_file). */
  location?: string;
  warnings?: string[];
}

/**
 * Whether the claim was stale when the answer the probe followed was given (loaded_var): its
 * own host's answer in a run_once (batch) answer, else the answer itself. Undefined when no
 * such answer was given (the claim is then judged as it is now, when the evidence is applied).
 */
function staleWhenLoaded(input: HostInput, host: string, recordId: string): boolean | undefined {
  const l = input.loaded;
  if (!l || typeof l !== "object") return undefined;
  const hosts = (l as { hosts?: Record<string, unknown> }).hosts;
  const mine = (hosts && typeof hosts === "object" ? hosts[host] : l) as Partial<HostOutput> | undefined;
  if (!mine || typeof mine !== "object" || mine.job?.id !== recordId) return undefined;
  return mine.claim_stale === true;
}

export const CONCURRENCY = 16;

function out(job: JobRecord | null, changed: boolean, extra: Partial<HostOutput> = {}): HostOutput {
  return { changed, job, status: job?.status ?? null, ...(job ? { terminal: isTerminal(job.status) } : {}), ...extra };
}

/** Loop results (`register` on a task with `loop`) give one record per item: NAME[0], NAME[1]... */
function launches(result: unknown, field: string): { suffix: string; launch: AnyResult }[] {
  if (!result || typeof result !== "object" || Array.isArray(result)) {
    throw invalid(field, "must be the registered result of an async task (a dictionary)");
  }
  const r = result as AnyResult;
  if (Array.isArray(r.results)) {
    return r.results.map((item, i) => ({ suffix: `[${i}]`, launch: (item ?? {}) as AnyResult }));
  }
  return [{ suffix: "", launch: r }];
}

export class Operations {
  constructor(
    readonly ledger: Ledger,
    readonly args: JobStoreArgs,
    readonly ctx: Context,
  ) {}

  private get check(): boolean {
    return this.ctx.check_mode === true;
  }

  private identity(host: string, nameOverride?: string): Identity {
    const name = nameOverride ?? this.args.name;
    if (!name) throw invalid("name", "is required for this operation (or give job_id)");
    return { namespace: this.args.namespace, host, name };
  }

  private origin(): Origin {
    const { playbook, play, play_id, task, controller } = this.ctx;
    return { playbook, play, play_id, task, controller };
  }

  private noLog(): boolean {
    return this.args.sensitive || this.ctx.no_log === true;
  }

  async forHost(host: string, input: HostInput): Promise<HostOutput> {
    switch (this.args.op) {
      case "save":
        return this.args.claim ? this.claim(host, input) : this.save(host, input);
      case "load":
        return this.load(host);
      case "update":
        return this.update(host, input);
      case "delete":
        return this.remove(host);
      default:
        throw new JobsError("internal", `op ${this.args.op} is not per host`);
    }
  }

  private async findHead(host: string) {
    if (this.args.job_id && !this.args.name) {
      return this.ledger.byJid(this.args.namespace, host, this.args.job_id);
    }
    const head = await this.ledger.head(this.identity(host));
    if (head && this.args.job_id && head.record.jid !== this.args.job_id) {
      return this.ledger.byJid(this.args.namespace, host, this.args.job_id);
    }
    return head;
  }

  async load(host: string): Promise<HostOutput> {
    let head = await this.findHead(host);
    if (!head && this.args.earlier_state && this.args.name && !this.check) head = await this.readThrough(host, this.args.earlier_state, this.args.name);
    const res = out(head?.record ?? null, false, { found: head !== undefined });
    if (head && launchPending(head.record)) res.claim_stale = await this.ledger.isStale(head, this.args.stale_after);
    if (head && this.args.history) res.jobs = (await this.ledger.history(head.record)).records;
    return res;
  }

  /**
   * A job the earlier save/load roles saved in their layout (<state>/<host>/<namespace>/<name>.json,
   * the namespace being their playbook_name) and the ledger does not hold yet: imported into the
   * ledger (the earlier file stays), then resumed like any other.
   */
  private async readThrough(host: string, state: string, name: string) {
    const job = readEarlierJob(state, host, this.args.namespace, name);
    if (!job) return undefined;
    await this.ledger.importEarlier(job, { ...this.origin(), task: `imported from ${job.path}` });
    return this.ledger.head(this.identity(host, name));
  }

  /** start: claim the name for a new attempt, probing a blocking non-terminal job first. */
  async claim(host: string, input: HostInput): Promise<HostOutput> {
    const id = this.identity(host);
    const fields: Partial<JobRecord> = {
      async_timeout: this.args.async_timeout,
      no_log: this.noLog(),
      output_files: (this.args.output_files as JobRecord["output_files"]) ?? null,
    };
    if (this.check) {
      const head = await this.ledger.head(id);
      const blocked = head && !isTerminal(head.record.status);
      return out(head?.record ?? null, !blocked, {
        claimed: !blocked,
        msg: blocked ? `would not start: job "${id.name}" on ${host} is ${head!.record.status}` : `would start job "${id.name}" on ${host}`,
      });
    }
    const probe = input.probe ?? this.args.probe ?? undefined;
    if (this.args.probe_var && (!probe || (probe as AnyResult).skipped)) {
      // "Claim again" is for the hosts whose blocking job was probed; the others keep the
      // answer of the first claim (claiming again would report this controller's own claim
      // as a job that blocks it).
      return out(null, false, { skipped: true, msg: `job "${id.name}" on ${host}: no probe evidence, not claimed again` });
    }
    if (probe && !(probe as AnyResult).skipped) {
      const head = await this.ledger.head(id);
      if (head && !isTerminal(head.record.status)) {
        await this.ledger.observe(id, head.record.id, probe as Evidence, this.args.stale_after, head, staleWhenLoaded(input, host, head.record.id));
      }
    }
    const res = await this.ledger.claim(id, this.origin(), fields, this.args.stale_after);
    if (res.claimed) return out(res.record, true, { claimed: true, msg: `claimed job "${id.name}" on ${host}` });
    const held = out(res.record, false, { claimed: false, msg: res.reason, ...(res.stale ? { warnings: [staleClaim(res.record, this.args.stale_after)] } : {}) });
    if (launchPending(res.record)) held.claim_stale = res.stale;
    return held;
  }

  /** async_job_save: record an already launched async task (one record per loop item). */
  async save(host: string, input: HostInput): Promise<HostOutput> {
    const result = input.result ?? this.args.result;
    if (result === undefined || result === null) throw invalid("result", "is required to save a job (or use claim=true)");
    const items = launches(result, this.args.result_var ?? "result");
    const fields: Partial<JobRecord> = {
      async_timeout: this.args.async_timeout,
      no_log: this.noLog(),
      output_files: (this.args.output_files as JobRecord["output_files"]) ?? null,
    };
    if (this.args.metadata) fields.metadata = checkMetadata(this.args.metadata, "metadata");
    const saved: JobRecord[] = [];
    const warnings: string[] = [];
    let location: string | undefined;
    for (const { suffix, launch } of items) {
      const id = this.identity(host, `${this.args.name ?? ""}${suffix}`);
      if (launch.skipped) continue;
      if (this.check) continue;
      // The same jid recorded under another name (the job_ledger callback named it after the
      // task): this save takes that record over, so the job keeps one record.
      const { record, superseded, where } = await this.ledger.recordLaunched(id, this.origin(), fields, launch, true);
      if (superseded) {
        warnings.push(
          `job "${id.name}" on ${host}: attempt ${superseded.attempt} (${superseded.status}) was replaced by attempt ${record.attempt} and kept in history`,
        );
      }
      saved.push(record);
      location = where;
    }
    const res = out(saved[0] ?? null, !this.check && saved.length > 0, warnings.length ? { warnings } : {});
    // The file the write made (no second read): the earlier roles' async_job_save_state_file.
    if (saved.length === 1 && this.ledger.store.kind === "filesystem" && location) res.location = location;
    if (items.length > 1 || items[0]?.suffix) res.jobs = saved;
    if (this.check) res.msg = `would save ${items.length} job record(s) on ${host}`;
    return res;
  }

  async update(host: string, input: HostInput): Promise<HostOutput> {
    const head = await this.findHead(host);
    const result = input.result ?? this.args.result;
    const probe = input.probe ?? this.args.probe;
    const skipped = (v: unknown) => !!v && typeof v === "object" && (v as AnyResult).skipped === true;
    if (!head) {
      const msg = `no job "${this.args.name ?? this.args.job_id}" on ${host} in namespace ${this.args.namespace}`;
      // Nothing was done on this host (skipped step): report "not found" without failing it.
      if (skipped(result) || skipped(probe)) return out(null, false, { found: false, msg });
      return out(null, false, { found: false, failed: true, msg });
    }
    const id: Identity = head.record;
    if (this.check) return out(head.record, false, { found: true, msg: `would update job "${id.name}" on ${host}` });
    let r: Mutated;
    if (result !== undefined && result !== null) {
      const items = launches(result, this.args.result_var ?? "result");
      r = await this.ledger.recordLaunch(id, this.args.claim_token ?? undefined, items[0]!.launch, head);
    } else if (probe) {
      if (!aboutThisAttempt(head.record, probe as Evidence)) {
        const jid = probedJid(probe as Evidence);
        const about = jid ? `jid ${jid}` : "a claim-token probe";
        const now = head.record.jid ? `jid ${head.record.jid}` : "not launched yet";
        return out(head.record, false, { found: true, msg: `evidence for ${about} ignored: the current attempt is ${now}` });
      }
      r = await this.ledger.observe(id, head.record.id, probe as Evidence, this.args.stale_after, head, staleWhenLoaded(input, host, head.record.id));
    } else if (this.args.status) {
      r = await this.ledger.setStatus(id, this.args.status, this.args.message, head);
    } else if (this.args.cleaned) {
      r = await this.ledger.mutate(id, head.record.id, () => ({ cleaned_at: nowIso() }), head);
    } else {
      throw invalid("result", "update needs one of result, result_var, probe, probe_var, status or cleaned");
    }
    if (r.movedOn) {
      // Another controller started the job again after this one loaded it: what was learnt is
      // about an attempt that is history now, and the job's truth is the new attempt.
      const msg = `job "${id.name}" on ${host}: attempt ${head.record.attempt} was followed by attempt ${r.record.attempt} while it was checked; the new attempt is reported`;
      return out(r.record, false, { found: true, msg });
    }
    return out(r.record, r.changed, { found: true, ...(r.record.last_error ? { msg: r.record.last_error } : {}) });
  }

  async remove(host: string): Promise<HostOutput> {
    const id = this.identity(host);
    if (this.check) {
      const h = await this.ledger.head(id);
      return out(h?.record ?? null, h !== undefined, { msg: `would delete job "${id.name}" on ${host}` });
    }
    const removed = await this.ledger.remove(id);
    return out(null, removed.length > 0, { msg: `deleted ${removed.length} record(s) of job "${id.name}" on ${host}`, jobs: removed });
  }

  private filter(): RecordFilter {
    const f: RecordFilter = { namespace: this.args.namespace };
    if (this.args.host) f.host = this.args.host;
    if (this.args.name) f.name = this.args.name;
    if (this.args.statuses?.length) f.status = this.args.statuses;
    if (this.args.playbook) f.playbook = this.args.playbook;
    if (this.args.older_than) f.updatedBefore = new Date(now() - parseDuration(this.args.older_than, "older_than") * 1000);
    return f;
  }

  async list(): Promise<{ jobs: JobRecord[]; errors: string[] }> {
    const { records, errors } = await this.ledger.query({ ...this.filter(), history: this.args.history });
    return { jobs: records, errors };
  }

  async prune(): Promise<{ jobs: JobRecord[]; errors: string[] }> {
    if (!this.args.older_than) throw invalid("older_than", "is required for prune (for example 7d)");
    const { pruned, errors } = await this.ledger.prune(this.filter(), this.check);
    return { jobs: pruned, errors };
  }
}

/**
 * A host's error. When the host's input carries a launched job (a registered async result),
 * its jid and job file are named: a store failure never loses a launched job silently.
 */
export function hostError(err: unknown, input: HostInput = {}): HostOutput {
  let msg = describe(err);
  const launched = input.result as AnyResult | undefined;
  if (launched && typeof launched === "object" && typeof launched.ansible_job_id === "string") {
    msg +=
      `. The job WAS launched and keeps running: jid ${launched.ansible_job_id}` +
      (typeof launched.results_file === "string" ? `, job file ${launched.results_file}` : "") +
      ". Save it again once the store answers (async_job_save, or job_store op=save with this result); " +
      "a later long_running_task start or check also finds it by its claim token";
  }
  return { changed: false, failed: true, msg, job: null, status: null };
}

/** What a stale claim is, said as a fact: whoever claims the name next (long_running_task does) probes it by its token first. */
function staleClaim(rec: JobRecord, staleAfter: number): string {
  const by = rec.controller ? ` (claimed by ${rec.controller})` : "";
  return (
    `stale claim: job "${rec.name}" attempt ${rec.attempt}${by} has recorded no launch for stale_after (${staleAfter} s) ` +
    "or more; only a probe by its claim token can tell whether that launch ran"
  );
}
