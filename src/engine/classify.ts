/**
 * Turns what Ansible saw into a status: a launch result (the registered async task) or
 * evidence from the async_job_probe module. Pure functions: no I/O, easy to test.
 */
import { LIMITS, type JobRecord, type JobResult, tail } from "./record.js";
import { type Status, isTerminal } from "./status.js";

/** A registered task result, as Ansible hands it over (loose JSON). */
export type AnyResult = Record<string, unknown>;

/** The fields of a record that an observation may change. */
export type Patch = Partial<
  Pick<
    JobRecord,
    | "status"
    | "jid"
    | "results_file"
    | "session_id"
    | "host_incarnation"
    | "last_error"
    | "result"
    | "output_files"
    | "checked_at"
    | "cleaned_at"
  >
>;

const truthy = (v: unknown): boolean => v === true || v === 1 || v === "1" || v === "true" || v === "True";

function intOrNull(v: unknown): number | null {
  if (typeof v === "number" && Number.isInteger(v)) return v;
  if (typeof v === "string" && /^-?\d+$/.test(v)) return Number(v);
  return null;
}

function text(v: unknown): string {
  if (v === undefined || v === null) return "";
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** The bounded result kept in the record (nothing when the job is no_log). */
export function boundResult(data: AnyResult, noLog: boolean): JobResult | null {
  if (noLog) return null;
  const out: JobResult = {};
  let cut = false;
  const rc = intOrNull(data.rc);
  if (rc !== null || "rc" in data) out.rc = rc;
  if (data.msg !== undefined && data.msg !== "") {
    const t = tail(text(data.msg), LIMITS.msg);
    out.msg = t.text;
    cut ||= t.cut;
  }
  if ("failed" in data) out.failed = truthy(data.failed);
  if ("changed" in data) out.changed = truthy(data.changed);
  for (const [from, to] of [
    ["stdout", "stdout_tail"],
    ["stderr", "stderr_tail"],
  ] as const) {
    const v = data[from] ?? data[to];
    if (v !== undefined && v !== "") {
      const t = tail(text(v), LIMITS.tail);
      out[to] = t.text;
      cut ||= t.cut || truthy(data.truncated);
    }
  }
  if (cut) out.truncated = true;
  return out;
}

/** Status of a finished job from its result (the job file, or a poll>0 task result). */
export function finishedStatus(data: AnyResult): Status {
  if (truthy(data.cancelled)) return "cancelled";
  if (data.msg === "Timeout exceeded" || truthy(data.timedout)) return "timed_out";
  const rc = intOrNull(data.rc);
  if (truthy(data.failed) || (rc !== null && rc !== 0)) return "failed";
  return "succeeded";
}

/** The first sentence of an Ansible error, bounded: unreachable messages run long. */
function firstSentence(v: unknown): string {
  const t = text(v).split("\n")[0] ?? "";
  const dot = t.indexOf(". ");
  const s = dot > 0 ? t.slice(0, dot) : t;
  return s.length > 200 ? `${s.slice(0, 200)}...` : s;
}

function ident(rec: JobRecord): string {
  return `job "${rec.name}"${rec.jid ? ` (jid ${rec.jid})` : ""} on ${rec.host}`;
}

/** What a registered launch (async task with poll: 0, or a finished poll>0 task) says. */
export function classifyLaunch(rec: JobRecord, res: AnyResult, noLog: boolean): Patch | undefined {
  if (truthy(res.skipped)) return undefined;
  if (truthy(res.unreachable)) {
    return {
      status: "unreachable",
      last_error: `host unreachable during launch of job "${rec.name}" on ${rec.host}: ${firstSentence(res.msg)}`,
    };
  }
  const jid = typeof res.ansible_job_id === "string" && res.ansible_job_id !== "" ? res.ansible_job_id : null;
  if (!jid) {
    const msg = text(res.msg) || "the async task returned no ansible_job_id";
    return {
      status: "failed",
      last_error: `launch of job "${rec.name}" on ${rec.host} failed: ${msg}`.slice(0, LIMITS.error),
      result: boundResult(res, noLog),
    };
  }
  const patch: Patch = {
    jid,
    results_file: typeof res.results_file === "string" ? res.results_file : rec.results_file,
    status: "running",
    last_error: null,
  };
  if (truthy(res.finished)) {
    patch.status = finishedStatus(res);
    patch.result = boundResult(res, noLog);
  }
  return patch;
}

/** Evidence returned by rstyczynski.ansible.async_job_probe (or an unreachable/failed task). */
export interface Evidence extends AnyResult {
  state?: "finished" | "running" | "gone" | "unknown";
}

export interface ObserveOptions {
  /** A claim without a recorded launch, older than the stale limit by the store's clock. */
  staleClaim?: boolean;
}

/**
 * The jid a probe looked at: the one it reports (given, derived from the job file, or adopted
 * by claim token), else the one it was asked about; `null` for a claim-token-only probe that
 * found no job; `undefined` when the evidence does not say (a hand-made or unreachable result).
 */
export function probedJid(ev: Evidence): string | null | undefined {
  if (typeof ev.jid === "string" && ev.jid !== "") return ev.jid;
  const asked = askedFor(ev).jid;
  if (typeof asked === "string" && asked !== "") return asked;
  return ev.jid === null && !ev.results_file ? null : undefined;
}

/** What the probe was asked about (Ansible returns the module's arguments as `invocation`). */
function askedFor(ev: Evidence): { jid?: unknown; claim_token?: unknown } {
  return (ev.invocation as { module_args?: { jid?: unknown; claim_token?: unknown } } | undefined)?.module_args ?? {};
}

/**
 * Whether probe evidence is about the record as it stands now. A claim-token probe that ran
 * while another controller was launching says nothing about the jid that controller recorded
 * since; evidence about another jid (an earlier attempt) says nothing about this one; and
 * evidence gathered by another attempt's claim token (the holder a first claim reported, which
 * ended and was claimed again meanwhile) says nothing about this attempt, even the jid it adopted.
 */
export function aboutThisAttempt(rec: JobRecord, ev: Evidence): boolean {
  const token = askedFor(ev).claim_token;
  if (typeof token === "string" && token !== "" && rec.claim_token && token !== rec.claim_token) return false;
  const jid = probedJid(ev);
  if (jid === undefined) return true;
  if (jid === null) return !rec.jid;
  return rec.jid ? jid === rec.jid : ev.adopted_jid === jid;
}

export function classifyProbe(rec: JobRecord, ev: Evidence, now: string, opts: ObserveOptions = {}): Patch | undefined {
  if (truthy(ev.skipped) || !aboutThisAttempt(rec, ev)) return undefined;
  if (isTerminal(rec.status)) {
    // A terminal record keeps its status; it only learns that cleanup removed its files.
    const removed = Array.isArray(ev.removed) && ev.removed.length > 0;
    return removed || truthy(ev.cleaned) ? { cleaned_at: now } : undefined;
  }
  if (truthy(ev.unreachable)) {
    return {
      status: "unreachable",
      checked_at: now,
      last_error: `${ident(rec)}: host unreachable: ${firstSentence(ev.msg)}`,
    };
  }
  if (truthy(ev.failed) && ev.state === undefined) {
    return { checked_at: now, last_error: `${ident(rec)}: probe failed: ${text(ev.msg)}`.slice(0, LIMITS.error) };
  }
  const patch: Patch = { checked_at: now };
  if (typeof ev.adopted_jid === "string" && ev.adopted_jid && !rec.jid) {
    patch.jid = ev.adopted_jid;
    if (typeof ev.adopted_results_file === "string") patch.results_file = ev.adopted_results_file;
  }
  // A job saved from its jid alone (the earlier roles' interface) learns its job file from the
  // probe, which found it under the async dir of the user who launched it.
  const seenFile = (ev.job_file ?? {}) as Record<string, unknown>;
  if (!rec.results_file && !patch.results_file && seenFile.exists === true && typeof ev.results_file === "string" && ev.results_file !== "") {
    patch.results_file = ev.results_file;
  }
  const sid = intOrNull(ev.session_id);
  if (sid !== null && rec.session_id === null) patch.session_id = sid;
  if (ev.incarnation && typeof ev.incarnation === "object" && rec.host_incarnation === null) {
    const inc = ev.incarnation as Record<string, unknown>;
    patch.host_incarnation = {
      boot_id: typeof inc.boot_id === "string" ? inc.boot_id : null,
      boot_time: typeof inc.boot_time === "number" ? inc.boot_time : null,
      pid1_start: typeof inc.pid1_start === "number" ? inc.pid1_start : null,
    };
  }
  const tails: JobResult = {};
  if (typeof ev.stdout_tail === "string") tails.stdout_tail = tail(ev.stdout_tail, LIMITS.tail).text;
  if (typeof ev.stderr_tail === "string") tails.stderr_tail = tail(ev.stderr_tail, LIMITS.tail).text;
  const hasTails = Object.keys(tails).length > 0 && !rec.no_log;

  if (truthy(ev.cancelled)) {
    patch.status = "cancelled";
    patch.last_error = `${ident(rec)} was cancelled`;
    return patch;
  }
  switch (ev.state) {
    case "finished": {
      const data = (ev.result && typeof ev.result === "object" ? ev.result : {}) as AnyResult;
      patch.status = finishedStatus(data);
      patch.result = boundResult({ ...tails, ...data }, rec.no_log);
      patch.last_error =
        patch.status === "timed_out"
          ? `${ident(rec)} was killed by Ansible's async time limit${rec.async_timeout ? ` (${rec.async_timeout}s)` : ""}`
          : patch.status === "failed"
            ? `${ident(rec)} failed: ${text(data.msg) || `rc ${text(data.rc)}`}`.slice(0, LIMITS.error)
            : null;
      return patch;
    }
    case "running":
      patch.status = "running";
      patch.last_error = null;
      if (hasTails) patch.result = { ...(rec.result ?? {}), ...tails };
      return patch;
    case "gone": {
      if (!rec.jid && !patch.jid && !opts.staleClaim) {
        // A claim whose launch is not recorded (starting, or marked unreachable by a probe
        // meanwhile): its controller may be launching right now; the claim is not stale yet.
        // Nothing is written either: the claim's age is its last write by the store's clock,
        // and writing checked_at would make it young again (a wait that polls more often
        // than stale_after would keep a claim that was never launched alive for ever).
        return undefined;
      }
      const jobFile = (ev.job_file ?? {}) as Record<string, unknown>;
      const reason =
        !rec.jid && !patch.jid
          ? "the claim was never launched: no process on the host carries its token"
          : truthy(ev.restarted)
            ? "host restarted after the job began"
            : jobFile.exists === false
              ? "job file missing and no process left"
              : "process gone without a result";
      patch.status = "lost";
      patch.last_error = `${ident(rec)} is lost: ${reason}`;
      if (hasTails) patch.result = { ...(rec.result ?? {}), ...tails };
      return patch;
    }
    default: {
      const why = text(ev.visibility) || text(ev.msg) || "the probe could not see the job's processes";
      patch.last_error = `${ident(rec)}: cannot tell whether it runs: ${why}`.slice(0, LIMITS.error);
      if (rec.status === "unreachable") patch.status = "running";
      return patch;
    }
  }
}
