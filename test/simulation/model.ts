/**
 * The world of the deterministic simulation: simulated hosts (job tables, processes, sessions,
 * incarnations), a virtual clock, a fault-injecting store wrapper, and simulated controllers
 * that run the roles' step sequences through the real Ledger and bridge Operations.
 *
 * How the model stays in step with the YAML (checked by yaml.test.ts, which fails when these
 * files change in a way the model does not follow):
 *   start  = roles/long_running_task/tasks/start.yml (launch.yml):
 *            "Claim the job name" (job_store op=save claim=true, every host)
 *            -> "Probe the job that still holds the name" (async_job_probe on hosts whose claim
 *               answer says claimed=false and carries a job; jid, results_file, claim_token,
 *               session_id, host_incarnation of the holder)
 *            -> "Claim again where the old job turned out to be over" (op=save claim=true
 *               probe_var, runs when any host has a probe result that is not skipped)
 *            -> "Launch the job" (when _long_running_task_my_claim.claimed, with
 *               ANSIBLE_JOBS_CLAIM = its claim token)
 *            -> "Record the launch" (op=update result_var, claim_token of my_claim).
 *            _long_running_task_my_claim (vars/main.yml): the "claim again" answer for a host
 *            when it served that host (not skipped), else the first claim's answer. The model
 *            reads which rule vars/main.yml uses (myClaimRule()).
 *   check/cancel/async_job_load = roles/_common/tasks/resume.yml: load -> probe (hosts whose
 *            record is not terminal; action probe or cancel) -> update probe_var.
 *   async_job_save = roles/async_job_save/tasks/main.yml: op=save result_var (of a launch made
 *            by the user's own async task, without a claim token).
 * With long_running_task_batch (default true) every job_store step is one run_once call for
 * all hosts: a host's error is in its answer, and the play goes on for every host.
 */
import type { AsyncLocalStorage } from "node:async_hooks";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import type fc from "fast-check";
import { type Clock, realClock } from "../../src/engine/clock.js";
import { JobsError } from "../../src/engine/errors.js";
import { Ledger } from "../../src/engine/ledger.js";
import { coerceTo } from "../../src/engine/options.js";
import { type HostInput, type HostOutput, Operations, hostError } from "../../src/bridge/ops.js";
import { JOB_STORE_OPTIONS, type JobStoreArgs } from "../../src/bridge/spec.js";
import type { DocumentFilter, Entry, Key, ListResult, Store } from "../../src/stores/types.js";
import type { Fault, StoreCall } from "../helpers/memory-store.js";

export const ROLES = path.resolve(
  import.meta.dirname,
  "../../ansible_collection/collections/ansible_collections/rstyczynski/ansible/roles",
);

/** Which claim answer the role keeps for a host, as vars/main.yml says. */
export function myClaimRule(): "per-host" | "latest-call" {
  const vars = readFileSync(path.join(ROLES, "long_running_task/vars/main.yml"), "utf8");
  const m = /_long_running_task_my_claim: >-\n((?: {2}.*\n)+)/.exec(vars);
  if (!m) throw new Error("vars/main.yml: _long_running_task_my_claim not found");
  const expr = m[1]!;
  if (/again\.skipped/.test(expr)) return "per-host";
  if (/__long_running_task_reclaim is not skipped/.test(expr)) return "latest-call";
  throw new Error(`vars/main.yml: _long_running_task_my_claim has a form the simulation does not know:\n${expr}`);
}

export class Death extends Error {
  constructor(who: string) {
    super(`${who} died`);
  }
}

export const NAME = "job";
export const STALE_AFTER = 300;
const T0 = Date.parse("2030-01-01T00:00:00Z");

export interface CtlCtx {
  ctl: Controller;
}

/** Virtual time: one true clock (the store's), and each controller's clock with its offset. */
export class SimClock implements Clock {
  t = T0;
  constructor(
    readonly als: AsyncLocalStorage<CtlCtx>,
    readonly point: (label: string) => Promise<void>,
    /** True while a store call does real I/O: the store's own waits (HTTP retries) are real. */
    readonly inIo: () => boolean = () => false,
  ) {}
  now(): number {
    return this.t + (this.als.getStore()?.ctl.offset ?? 0);
  }
  sleep(ms: number): Promise<void> {
    if (this.inIo()) return realClock.sleep(ms);
    return this.point(`sleep ${Math.round(ms)}ms`);
  }
}

export interface HostJob {
  jid: string;
  host: string;
  token: string | null;
  alive: boolean;
  /** The job file: null = not finished. */
  result: Record<string, unknown> | null;
  cancelled: boolean;
  session: number;
  incarnation: number;
  via: "start" | "save";
  ctl: string;
  /** The claim record this launch belongs to (start), and whether it launched after the claim went stale. */
  claimId: string | null;
  late: boolean;
}

export class SimHost {
  incarnation = 1;
  jobs: HostJob[] = [];
  constructor(readonly name: string) {}
  byJid(jid: string | undefined | null) {
    return jid ? this.jobs.find((j) => j.jid === jid) : undefined;
  }
  incarnationFacts() {
    return { boot_id: `boot-${this.name}-${this.incarnation}`, boot_time: 1000 * this.incarnation, pid1_start: 1 };
  }
}

/** A Store wrapper that runs every call through the scheduler and the fault plan. */
export class FaultyStore implements Store {
  readonly kind: Store["kind"];
  readonly capabilities: Store["capabilities"];
  readonly url: string;
  constructor(
    readonly inner: Store,
    readonly hook: (call: StoreCall) => Promise<Fault | undefined>,
    /** Told when a call starts and ends its real I/O (the scheduler waits for it). */
    readonly io: { begin(): void; end(): void } = { begin() {}, end() {} },
  ) {
    this.kind = inner.kind;
    this.capabilities = inner.capabilities;
    this.url = inner.url;
  }
  private async call<R>(op: StoreCall["op"], key: Key, fn: () => Promise<R>): Promise<R> {
    const fault = (await this.hook({ op, key })) ?? "ok";
    if (fault === "fail" || fault === "timeout") throw new JobsError("store_unavailable", `${op} ${key.join("/")}: injected ${fault}`);
    this.io.begin();
    let r: R;
    try {
      r = await fn();
    } finally {
      this.io.end();
    }
    if (fault === "lost") throw new JobsError("store_unavailable", `${op} ${key.join("/")}: answer lost (injected)`);
    return r;
  }
  get(key: Key): Promise<Entry | undefined> {
    return this.call("get", key, () => this.inner.get(key));
  }
  create(key: Key, value: unknown): Promise<Entry> {
    return this.call("create", key, () => this.inner.create(key, value));
  }
  update(key: Key, value: unknown, version: string): Promise<Entry> {
    return this.call("update", key, () => this.inner.update(key, value, version));
  }
  list(prefix: Key, filter?: DocumentFilter): Promise<ListResult> {
    return this.call("list", prefix, () => this.inner.list(prefix, filter));
  }
  delete(key: Key, version?: string): Promise<void> {
    return this.call("delete", key, () => this.inner.delete(key, version));
  }
  now(): Promise<Date> {
    return this.call("now", [], () => this.inner.now());
  }
}

export type Mode = "start" | "check" | "cancel" | "save" | "load";

/** What happened to one host in one start run (for "a won claim is launched or reported"). */
export interface StartOutcome {
  ctl: string;
  host: string;
  wonFirst: boolean;
  launched: boolean;
  reportedError: boolean;
  claimRecordId: string | null;
}

export interface World {
  /** The namespace of this schedule's records (a fresh one each, so a shared store starts empty). */
  ns: string;
  s: fc.Scheduler;
  clock: SimClock;
  als: AsyncLocalStorage<CtlCtx>;
  store: Store;
  hosts: SimHost[];
  jidSeq: number;
  sessionSeq: number;
  /** Successful answers: record id -> status answered (for "no update is lost"). */
  answered: { id: string; status: string; jid: string | null; what: string }[];
  /** Saved launches (async_job_save answered without error). */
  saved: { host: string; jid: string }[];
  starts: StartOutcome[];
  /** Launched jids whose failure to be recorded was reported to the user, naming the jid. */
  reported: Set<string>;
  /** First time (true clock) a claim record id was seen in the store. */
  claimSeenAt: Map<string, number>;
  rule: "per-host" | "latest-call";
  log: string[];
}

export class Controller {
  dead = false;
  steps = 0;
  constructor(
    readonly w: World,
    readonly name: string,
    readonly offset: number,
    readonly dieAt: number | null,
    readonly modes: Mode[],
  ) {}

  /** A scheduling point in this controller's run (every store call, probe phase, launch). */
  async point(label: string): Promise<void> {
    if (this.dead) throw new Death(this.name);
    await this.w.s.schedule(Promise.resolve(), `${this.name}: ${label}`);
    if (this.dead) throw new Death(this.name);
    this.steps++;
    if (this.dieAt !== null && this.steps >= this.dieAt) {
      this.dead = true;
      this.w.log.push(`${this.name} dies at step ${this.steps} (${label})`);
      throw new Death(this.name);
    }
  }

  run(): Promise<void> {
    return this.w.als.run({ ctl: this }, async () => {
      try {
        for (const m of this.modes) await this.runMode(m);
      } catch (err) {
        if (!(err instanceof Death)) throw err;
      }
    });
  }

  private async runMode(m: Mode): Promise<void> {
    if (m === "start") return this.start();
    if (m === "save") return this.save();
    return this.resume(m === "cancel" ? "cancel" : "probe");
  }

  /** One job_store call serving every listed host, as src/bridge/main.ts does it. */
  async jobStore(args: Record<string, unknown>, inputs: Record<string, HostInput>): Promise<Record<string, HostOutput>> {
    const base = coerceTo(JOB_STORE_OPTIONS, args);
    const ledger = new Ledger(this.w.store);
    const ctx = { playbook: "/sim/play.yml", controller: this.name };
    const entries = await Promise.all(
      Object.entries(inputs).map(async ([h, input]) => {
        try {
          const hostArgs = input.args
            ? ({ ...coerceTo(JOB_STORE_OPTIONS, { ...args, ...input.args }), op: base.op } as JobStoreArgs)
            : base;
          return [h, await new Operations(ledger, hostArgs, ctx).forHost(h, input)] as const;
        } catch (err) {
          if (err instanceof JobsError && err.isUserError) return [h, hostError(err, input)] as const;
          throw err;
        }
      }),
    );
    const res = Object.fromEntries(entries);
    for (const [h, r] of entries) {
      if (!r.failed && r.job && !r.skipped) this.w.answered.push({ id: r.job.id, status: r.job.status, jid: r.job.jid, what: `${this.name} ${base.op} ${h}` });
    }
    this.w.log.push(`${this.name} job_store ${base.op}${base.claim ? " claim" : ""}${base.probe_var ? " probe_var" : ""}: ${entries.map(([h, r]) => `${h}=${r.failed ? `FAILED(${r.msg})` : r.skipped ? "skipped" : `${r.claimed === undefined ? "" : r.claimed ? "claimed " : "not-claimed "}${r.status}${r.job?.jid ? `/${r.job.jid}` : ""}`}`).join(" ")}`);
    return res;
  }

  private claimArgs(): Record<string, unknown> {
    return { op: "save", claim: true, namespace: this.w.ns, name: NAME, async_timeout: "3600", sensitive: false, stale_after: String(STALE_AFTER) };
  }

  private all<T>(fn: (h: SimHost) => T): Record<string, T> {
    return Object.fromEntries(this.w.hosts.map((h) => [h.name, fn(h)]));
  }

  /** roles/long_running_task/tasks/start.yml, through launch.yml */
  async start(): Promise<void> {
    const w = this.w;
    const claim = await this.jobStore(this.claimArgs(), this.all(() => ({})));
    const outcomes = new Map<string, StartOutcome>();
    for (const h of w.hosts) {
      const a = claim[h.name]!;
      const o: StartOutcome = { ctl: this.name, host: h.name, wonFirst: a.claimed === true, launched: false, reportedError: !!a.failed, claimRecordId: a.claimed ? a.job!.id : null };
      outcomes.set(h.name, o);
      w.starts.push(o);
    }
    // Probe the job that still holds the name
    const probes = Object.fromEntries(
      await Promise.all(
        w.hosts.map(async (h) => {
          const a = claim[h.name]!;
          const holder = a.job ?? {};
          const run = !(a.claimed ?? true) && (holder as { status?: unknown }).status !== undefined;
          if (!run) return [h.name, { skipped: true, changed: false }] as const;
          const j = a.job!;
          return [h.name, await this.probe(h, { jid: j.jid, results_file: j.results_file, claim_token: j.claim_token, session_id: j.session_id, host_incarnation: j.host_incarnation }, "probe")] as const;
        }),
      ),
    );
    // Claim again where the old job turned out to be over
    let reclaim: Record<string, HostOutput> | undefined;
    if (Object.values(probes).some((p) => !(p as { skipped?: boolean }).skipped)) {
      reclaim = await this.jobStore(
        { ...this.claimArgs(), probe_var: "__long_running_task_holder_probe", loaded_var: "__long_running_task_claim" },
        this.all((h) => ({ probe: probes[h.name] as Record<string, unknown>, loaded: { hosts: claim } })),
      );
    }
    const myClaim = (h: string): Partial<HostOutput> => {
      if (w.rule === "latest-call") return (reclaim ?? claim)[h] ?? {};
      const again = reclaim?.[h];
      return again && !again.skipped ? again : (claim[h] ?? {});
    };
    for (const h of w.hosts) {
      const a = reclaim?.[h.name];
      const o = outcomes.get(h.name)!;
      if (a?.failed) o.reportedError = true;
      if (a?.claimed) o.claimRecordId = a.job!.id;
    }
    // Launch the job
    const launches = Object.fromEntries(
      await Promise.all(
        w.hosts.map(async (h) => {
          const mine = myClaim(h.name);
          if (!mine.claimed) return [h.name, { skipped: true, changed: false }] as const;
          const r = await this.launch(h, mine.job!.claim_token, "start", mine.job!.id);
          outcomes.get(h.name)!.launched = true;
          return [h.name, r] as const;
        }),
      ),
    );
    // Record the launch
    const rec = await this.jobStore(
      { op: "update", namespace: this.w.ns, name: NAME, result_var: "__long_running_task_launch" },
      this.all((h) => {
        const token = myClaim(h.name).job?.claim_token;
        return { args: token ? { claim_token: token } : {}, result: launches[h.name] };
      }),
    );
    for (const h of w.hosts) {
      const r = rec[h.name];
      if (!r?.failed) continue;
      outcomes.get(h.name)!.reportedError = true;
      // hostError names a launched job in the failure the user sees: not orphaned silently
      const jid = (launches[h.name] as { ansible_job_id?: string }).ansible_job_id;
      if (jid && r.msg?.includes(`The job WAS launched and keeps running: jid ${jid}`)) w.reported.add(jid);
    }
  }

  /** roles/_common/tasks/resume.yml (check, cancel, async_job_load) */
  async resume(action: "probe" | "cancel"): Promise<void> {
    const loaded = await this.jobStore({ op: "load", namespace: this.w.ns, name: NAME, stale_after: String(STALE_AFTER) }, this.all(() => ({})));
    const probes = Object.fromEntries(
      await Promise.all(
        this.w.hosts.map(async (h) => {
          const j = loaded[h.name]?.job;
          if (!j || ["succeeded", "failed", "timed_out", "lost", "cancelled"].includes(j.status)) return [h.name, { skipped: true, changed: false }] as const;
          return [h.name, await this.probe(h, { jid: j.jid, results_file: j.results_file, claim_token: j.claim_token, session_id: j.session_id, host_incarnation: j.host_incarnation }, action)] as const;
        }),
      ),
    );
    await this.jobStore(
      { op: "update", namespace: this.w.ns, name: NAME, probe_var: "__common_probe", loaded_var: "__common_loaded", stale_after: String(STALE_AFTER) },
      this.all((h) => ({ probe: probes[h.name] as Record<string, unknown>, loaded: { hosts: loaded } })),
    );
  }

  /** roles/async_job_save: the user's async task (no claim token), then op=save result_var. */
  async save(): Promise<void> {
    const launches = Object.fromEntries(await Promise.all(this.w.hosts.map(async (h) => [h.name, await this.launch(h, null, "save", null)] as const)));
    const res = await this.jobStore(
      { op: "save", namespace: this.w.ns, name: NAME, result_var: "__async_job_save_result" },
      this.all((h) => ({ result: launches[h.name] })),
    );
    for (const h of this.w.hosts) {
      const r = res[h.name]!;
      if (!r.failed) this.w.saved.push({ host: h.name, jid: String((launches[h.name] as { ansible_job_id: string }).ansible_job_id) });
    }
  }

  /** An async task with poll: 0 (ansible.builtin.command, async, environment ANSIBLE_JOBS_CLAIM). */
  async launch(h: SimHost, token: string | null | undefined, via: "start" | "save", claimId: string | null): Promise<Record<string, unknown>> {
    await this.point(`launch on ${h.name}`);
    const w = this.w;
    const jid = `j${100000 + ++w.jidSeq}.${w.jidSeq}`;
    const seen = claimId ? w.claimSeenAt.get(claimId) : undefined;
    const late = seen !== undefined && w.clock.t - seen >= STALE_AFTER * 1000;
    h.jobs.push({ jid, host: h.name, token: token ?? null, alive: true, result: null, cancelled: false, session: ++w.sessionSeq, incarnation: h.incarnation, via, ctl: this.name, claimId, late });
    w.log.push(`${this.name} launched ${jid} on ${h.name} (${via}${token ? `, token ${token.slice(0, 6)}` : ""}${late ? ", LATE: claim already stale" : ""})`);
    return { ansible_job_id: jid, results_file: `/root/.ansible_async/${jid}`, started: 1, finished: 0, changed: true };
  }

  /**
   * rstyczynski.ansible.async_job_probe, in its three phases (job file, process scan, job file
   * again), each a scheduling point so a job can finish or a host crash between them.
   */
  async probe(h: SimHost, p: { jid?: string | null; results_file?: string | null; claim_token?: string | null; session_id?: number | null; host_incarnation?: unknown }, action: "probe" | "cancel"): Promise<Record<string, unknown>> {
    const module_args = { jid: p.jid ?? null, results_file: p.results_file ?? null, claim_token: p.claim_token ?? null, session_id: p.session_id ?? null, host_incarnation: p.host_incarnation ?? null, action };
    let jid = p.jid ?? (p.results_file ? path.basename(p.results_file) : null);
    let resultsFile = p.results_file ?? (jid ? `/root/.ansible_async/${jid}` : null);
    const claim = p.claim_token ?? null;
    const adopting = !p.jid && !p.results_file;
    await this.point(`probe ${h.name} read job file`);
    const read1 = h.byJid(jid)?.result ?? null;
    await this.point(`probe ${h.name} scan processes`);
    let adopted: string | null = null;
    const wrappers = claim ? h.jobs.filter((j) => j.alive && j.token === claim) : [];
    if (adopting && wrappers.length === 1) {
      adopted = jid = wrappers[0]!.jid;
      resultsFile = `/root/.ansible_async/${jid}`;
    }
    const inc = h.incarnationFacts();
    const sameBoot = !!p.host_incarnation && (p.host_incarnation as { boot_id?: unknown }).boot_id === inc.boot_id;
    const matched = h.jobs.filter(
      (j) => j.alive && ((jid && j.jid === jid) || (claim && j.token === claim) || (p.session_id != null && sameBoot && j.session === p.session_id)),
    );
    const job = h.byJid(jid);
    await this.point(`probe ${h.name} read job file again`);
    const read2 = job?.result ?? null;
    const result = read2 ?? read1;
    const finished = result !== null;
    const state = finished ? "finished" : matched.length > 0 ? "running" : "gone";
    const out: Record<string, unknown> = {
      changed: false,
      action,
      state,
      visible: true,
      visibility: "ok",
      jid,
      adopted_jid: adopted,
      adopted_results_file: adopted ? resultsFile : null,
      results_file: resultsFile,
      job_file: { path: resultsFile, exists: !!job },
      finished,
      result,
      alive: matched.length > 0,
      session_id: matched[0]?.session ?? null,
      incarnation: inc,
      restarted: !finished && p.host_incarnation ? !sameBoot : finished ? false : null,
      cancelled: false,
      removed: [],
      invocation: { module_args },
    };
    if (action === "cancel" && state === "running") {
      await this.point(`cancel on ${h.name}`);
      for (const j of matched) j.alive = false;
      const marker = { failed: true, finished: 1, cancelled: true, msg: "cancelled by async_job_probe", ...(jid ? { ansible_job_id: jid } : {}) };
      const target = h.byJid(jid);
      if (target?.result) {
        // finished before the signal: the real cancel re-reads the job file and keeps its result
        Object.assign(out, { state: "finished", finished: true, result: target.result, alive: false });
      } else {
        if (target) {
          target.result = marker;
          target.cancelled = true;
        }
        Object.assign(out, { state: "finished", finished: true, result: marker, cancelled: true, alive: false });
      }
    }
    this.w.log.push(`${this.name} probe(${action}) ${h.name} ${jid ?? `token ${String(claim).slice(0, 6)}`}: ${out.state}${adopted ? ` adopted ${adopted}` : ""}`);
    return out;
  }
}
