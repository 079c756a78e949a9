/**
 * The job ledger: the record layout in a Store, claims, attempts and transitions.
 *
 * Layout (keys are encoded by each store):
 *   heads/NS/HOST/NAME             the current attempt of an identity (full record)
 *   history/NS/HOST/NAME/000001    earlier attempts, kept until pruned
 *   jids/NS/HOST/JID               jid -> name index, so a job can be resumed by jid
 * Create-if-absent and compare-and-swap act on the head, so "exactly one launch" holds
 * across processes and controllers for stores that declare both capabilities.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { Entry, Key, ListOptions, Store } from "../stores/types.js";
import { nowIso } from "./clock.js";
import { type AnyResult, type Evidence, type ObserveOptions, type Patch, classifyLaunch, classifyProbe } from "./classify.js";
import { JobsError, invalid, isCode } from "./errors.js";
import { type QueryResult, type RecordFilter, type RecordQuery, documentFilter, matchesRecord, recordHooks } from "./query.js";
import type { EarlierJob } from "../stores/earlier.js";
import { type JobRecord, SCHEMA_VERSION, checkMetadata, validateRecord } from "./record.js";
import { AGAIN, type RetryPolicy, contention, retry } from "./retry.js";
import { type Status, canTransition, isTerminal } from "./status.js";

export interface Identity {
  namespace: string;
  host: string;
  name: string;
}

export interface Origin {
  playbook?: string | null;
  play?: string | null;
  play_id?: string | null;
  task?: string | null;
  controller?: string | null;
}

export interface Head {
  record: JobRecord;
  entry: Entry;
}

const MAX_NAME = 1024;
const CAS_RETRIES = 12;
/** A head's compare-and-swap: 12 tries, 5-25 ms apart (and after the last, before giving up). */
const CAS: RetryPolicy = { attempts: CAS_RETRIES, wait: contention, waitAfterLast: true };
/** The Ledger's lists read records, never versions (each write reads its own with get()). */
const VALUES_ONLY: ListOptions = { versions: false };

/** Names, hosts and namespaces: any text without control characters, 1..1024 characters. */
export function checkIdentity(id: Identity): Identity {
  for (const field of ["namespace", "host", "name"] as const) {
    const v = id[field];
    if (typeof v !== "string" || v.length === 0) throw invalid(field, "must be a non-empty string");
    if (v.length > MAX_NAME) throw invalid(field, `is ${v.length} characters long (max ${MAX_NAME})`);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
    if (/[\u0000-\u001f\u007f]/.test(v)) throw invalid(field, `${JSON.stringify(v)} contains control characters`);
  }
  return id;
}

export const keys = {
  head: (id: Identity): Key => ["heads", id.namespace, id.host, id.name],
  history: (id: Identity, attempt: number): Key => ["history", id.namespace, id.host, id.name, String(attempt).padStart(6, "0")],
  jid: (namespace: string, host: string, jid: string): Key => ["jids", namespace, host, jid],
};

/** The key prefixes that hold the records a filter can select (heads, and with `history` earlier attempts). */
function prefixesFor(f: RecordFilter, history: boolean): Key[] {
  return (history ? ["heads", "history"] : ["heads"]).map((top) => {
    const p = [top];
    if (f.namespace !== undefined) {
      p.push(f.namespace);
      if (f.host !== undefined) {
        p.push(f.host);
        if (f.name !== undefined && top === "history") p.push(f.name);
      }
    }
    return p;
  });
}

/** Records in the order `ansible-jobs` shows them: namespace, host, name, attempt. */
export function compareRecords(a: JobRecord, b: JobRecord): number {
  return cmp(a.namespace, b.namespace) || cmp(a.host, b.host) || cmp(a.name, b.name) || a.attempt - b.attempt;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function newClaimToken(): string {
  return randomBytes(16).toString("hex");
}

export function newRecord(id: Identity, attempt: number, origin: Origin, fields: Partial<JobRecord> = {}): JobRecord {
  const now = nowIso();
  return {
    schema: SCHEMA_VERSION,
    id: randomUUID(),
    namespace: id.namespace,
    name: id.name,
    host: id.host,
    attempt,
    status: "starting",
    jid: null,
    results_file: null,
    async_timeout: null,
    host_incarnation: null,
    session_id: null,
    claim_token: null,
    output_files: null,
    playbook: origin.playbook ?? null,
    play: origin.play ?? null,
    play_id: origin.play_id ?? null,
    task: origin.task ?? null,
    controller: origin.controller ?? hostname(),
    started_at: now,
    updated_at: now,
    finished_at: null,
    checked_at: null,
    cleaned_at: null,
    last_error: null,
    no_log: false,
    result: null,
    ...fields,
  };
}

/** Applies a patch under the state machine. Returns undefined when nothing changes. */
/** True when `next` differs from `prev` in nothing but its check and write times. */
export function onlyCheckedAtMoved(prev: JobRecord, next: JobRecord): boolean {
  const { checked_at: _a, updated_at: _b, ...a } = prev;
  const { checked_at: _c, updated_at: _d, ...b } = next;
  return JSON.stringify(a) === JSON.stringify(b);
}

export function applyPatch(rec: JobRecord, patch: Patch | undefined, now = nowIso()): JobRecord | undefined {
  if (!patch) return undefined;
  const to: Status = patch.status ?? rec.status;
  if (isTerminal(rec.status)) {
    if (to !== rec.status) {
      throw new JobsError(
        "illegal_transition",
        `job "${rec.name}" on ${rec.host} is ${rec.status} (terminal); it cannot become ${to}`,
      );
    }
    // Terminal records only learn that their files were cleaned up.
    if (patch.cleaned_at && !rec.cleaned_at) return { ...rec, cleaned_at: patch.cleaned_at, updated_at: now };
    return undefined;
  }
  if (!canTransition(rec.status, to)) {
    throw new JobsError("illegal_transition", `job "${rec.name}" on ${rec.host}: ${rec.status} -> ${to} is not allowed`);
  }
  const next: JobRecord = { ...rec, ...patch, status: to };
  if (isTerminal(to)) next.finished_at = now;
  if (onlyCheckedAtMoved(rec, next) && next.checked_at === rec.checked_at) return undefined;
  next.updated_at = now;
  return next;
}

/**
 * A claim whose launch is not recorded: no jid, not terminal (`starting`, or `unreachable` when a
 * probe could not reach its host). Its controller may still be launching, so only its age by
 * the store's clock, or a probe by its claim token, can tell whether it was launched.
 */
export function launchPending(rec: JobRecord): boolean {
  return !rec.jid && !isTerminal(rec.status);
}

/** How far an attempt has come: a launch recorded, then a terminal status (for archive()). */
function progress(rec: JobRecord): number {
  return (isTerminal(rec.status) ? 4 : rec.status === "starting" ? 0 : 2) + (rec.jid ? 1 : 0);
}

export type ClaimOutcome =
  | { claimed: true; record: JobRecord }
  | { claimed: false; record: JobRecord; stale: boolean; reason: string };

/** A jid index entry: the identity and attempt that recorded a jid. */
interface JidRef extends Identity {
  attempt: number;
}

export interface RecordNewOptions {
  /** The head (or its absence) as the caller just read it, used for the first try instead of a second read. */
  known?: { head: Head | undefined } | undefined;
  /** adopt: the jid's index entry names another record, and must name this one now. */
  replaceJidIndex?: boolean;
  /** Create-if-absent: a head that exists is returned as it is (`existing`), never replaced. */
  ifAbsent?: boolean;
}

/** A head change: the record as it is now, and whether this call changed it. */
export interface Mutated {
  record: JobRecord;
  changed: boolean;
  /** The head is another attempt than the one the change was for: nothing was changed. */
  movedOn?: true;
}

export interface Recorded {
  record: JobRecord;
  /** The non-terminal attempt this one replaced (kept in history). */
  superseded?: JobRecord;
  /** Nothing was written: the record was already there. */
  existing?: boolean;
  where: string;
}

export class Ledger {
  constructor(readonly store: Store) {
    // The store keeps documents; what a job record means (summaries, links) is said here.
    store.describeWith?.(recordHooks);
  }

  private toHead(entry: Entry | undefined): Head | undefined {
    if (!entry) return undefined;
    return { entry, record: validateRecord(entry.value, entry.where) };
  }

  async head(id: Identity): Promise<Head | undefined> {
    return this.toHead(await this.store.get(keys.head(checkIdentity(id))));
  }

  /** The store's page of the run that holds the record's play (Ara's UI), when it has one. */
  runPage(rec: JobRecord): Promise<string | undefined> {
    return rec.play_id && this.store.runPage ? this.store.runPage(rec.play_id) : Promise.resolve(undefined);
  }

  /** Finds a job by jid on a host: the jid index first, then the head and history it points at. */
  async byJid(namespace: string, host: string, jid: string): Promise<Head | undefined> {
    const ref = await this.jidRef(namespace, host, jid);
    return ref && this.ofJid(ref, jid);
  }

  /** The jid index entry of a jid on a host: the name and attempt that recorded it. */
  private async jidRef(namespace: string, host: string, jid: string): Promise<JidRef | undefined> {
    if (!jid) throw invalid("job_id", "must be a non-empty string");
    const idx = await this.store.get(keys.jid(namespace, host, jid));
    if (!idx) return undefined;
    const ref = idx.value as { name?: unknown; attempt?: unknown };
    if (typeof ref.name !== "string" || typeof ref.attempt !== "number") {
      throw new JobsError("corrupt", `${idx.where}: not a jid index entry`);
    }
    return { namespace, host, name: ref.name, attempt: ref.attempt };
  }

  /**
   * The record a jid index entry points at, if it still holds the jid: the head, else its
   * history copy. `known`: the head of the entry's identity, already read.
   */
  private async ofJid(ref: JidRef, jid: string, known?: { head: Head | undefined }): Promise<Head | undefined> {
    const id = { namespace: ref.namespace, host: ref.host, name: ref.name };
    const cur = known ? known.head : await this.head(id);
    if (cur && cur.record.jid === jid) return cur;
    const old = this.toHead(await this.store.get(keys.history(id, ref.attempt)));
    if (old && old.record.jid === jid) return old;
    return undefined;
  }

  /**
   * The attempt number after `head`. Without a head (first use, or after prune or delete),
   * it follows the history that is left, so a new attempt never shares a history slot with
   * an old one (a history copy may outlive its head when a prune or delete is killed).
   */
  private async nextAttempt(id: Identity, head: Head | undefined): Promise<number> {
    if (head) return head.record.attempt + 1;
    const res = await this.store.list(keys.history(id, 0).slice(0, -1), undefined, VALUES_ONLY);
    let max = 0;
    for (const e of res.entries) {
      const a = (e.value as { attempt?: unknown } | null)?.attempt;
      if (typeof a === "number" && a > max) max = a;
    }
    for (const e of res.errors) {
      const n = Number(e.key[e.key.length - 1]);
      if (Number.isInteger(n) && n > max) max = n;
    }
    return max + 1;
  }

  /**
   * Keeps the head's attempt in history before the head moves on. Idempotent, and monotonic:
   * a copy written by an earlier try (whose compare-and-swap then lost) is replaced when this
   * head has progressed further (a jid recorded, a later status), never by a staler one, so
   * the copy that stays is at least as far along as the head that was really replaced.
   */
  private async archive(head: Head): Promise<void> {
    const key = keys.history(head.record, head.record.attempt);
    await retry(
      { attempts: CAS_RETRIES },
      async () => {
        try {
          await this.store.create(key, head.record);
          return;
        } catch (err) {
          if (!isCode(err, "exists")) throw err;
        }
        const kept = await this.store.get(key);
        if (!kept) return AGAIN;
        const old = validateRecord(kept.value, kept.where);
        if (old.id !== head.record.id || progress(old) >= progress(head.record)) return;
        try {
          await this.store.update(key, head.record, kept.version);
          return;
        } catch (err) {
          if (!isCode(err, "conflict") && !isCode(err, "not_found")) throw err;
        }
        return AGAIN;
      },
      () => new JobsError("conflict", `job "${head.record.name}" on ${head.record.host}: its history copy kept changing; try again`),
    );
  }

  /**
   * Claims the identity for a new attempt in `starting` state, carrying a claim token.
   * A terminal or absent head is claimable; a non-terminal one is reported instead.
   */
  async claim(id: Identity, origin: Origin, fields: Partial<JobRecord>, staleAfterSec: number): Promise<ClaimOutcome> {
    checkIdentity(id);
    return retry(CAS, async () => {
      const head = await this.head(id);
      const record = newRecord(id, await this.nextAttempt(id, head), origin, {
        claim_token: newClaimToken(),
        ...fields,
      });
      try {
        if (!head) {
          await this.store.create(keys.head(id), record);
          return { claimed: true, record };
        }
        if (!isTerminal(head.record.status)) {
          const stale = launchPending(head.record) && (await this.isStale(head, staleAfterSec));
          return {
            claimed: false,
            record: head.record,
            stale,
            reason: `job "${id.name}" on ${id.host} is already ${head.record.status} (attempt ${head.record.attempt}${head.record.jid ? `, jid ${head.record.jid}` : ""})`,
          };
        }
        await this.archive(head);
        await this.store.update(keys.head(id), record, head.entry.version);
        return { claimed: true, record };
      } catch (err) {
        if (!isCode(err, "exists") && !isCode(err, "conflict")) throw err;
        return AGAIN;
      }
    }, () => new JobsError("conflict", `job "${id.name}" on ${id.host}: the head kept changing; try again`));
  }

  async isStale(head: Head, staleAfterSec: number): Promise<boolean> {
    const written = head.entry.modified;
    if (!written) return false;
    const now = await this.store.now();
    return now.getTime() - written.getTime() >= staleAfterSec * 1000;
  }

  /**
   * Records a new attempt for a job that was already launched (async_job_save): the
   * previous head goes to history whatever its state, since the new jid must not be lost.
   * One exception: a claim whose launch is not recorded (launchPending) may be under way (or
   * done, by a controller that died or paused before recording it). Only a probe by its claim
   * token can tell; replacing it would leave that job in no record and beyond adoption, so
   * the save fails instead, and the caller names the jid it was given, which keeps running.
   */
  async recordNew(
    id: Identity,
    origin: Origin,
    fields: Partial<JobRecord>,
    launch: AnyResult,
    opts: RecordNewOptions = {},
  ): Promise<Recorded> {
    checkIdentity(id);
    let first = opts.known;
    return retry(CAS, async () => {
      const head = first ? first.head : await this.head(id);
      first = undefined;
      // The same launch again (a save repeated, a journal replayed twice): it is already the head.
      const jid = typeof launch.ansible_job_id === "string" ? launch.ansible_job_id : undefined;
      if (head && jid && head.record.jid === jid) return { record: head.record, existing: true, where: head.entry.where };
      if (head && opts.ifAbsent) return { record: head.record, existing: true, where: head.entry.where };
      if (head && launchPending(head.record)) {
        throw new JobsError(
          "conflict",
          `job "${id.name}" on ${id.host} is claimed by a start that has not recorded its launch yet (attempt ${head.record.attempt}, by ${head.record.controller ?? "an unknown controller"}); not replaced, so that launch is not lost. A long_running_task check of "${id.name}" settles the claim (it finds the job by its claim token)`,
        );
      }
      const base = newRecord(id, await this.nextAttempt(id, head), origin, fields);
      const record = applyPatch(base, classifyLaunch(base, launch, base.no_log)) ?? base;
      try {
        let written: Entry;
        if (!head) written = await this.store.create(keys.head(id), record);
        else {
          await this.archive(head);
          written = await this.store.update(keys.head(id), record, head.entry.version);
        }
        await this.indexJid(record, opts.replaceJidIndex);
        const where = written.where;
        return head && !isTerminal(head.record.status) ? { record, superseded: head.record, where } : { record, where };
      } catch (err) {
        if (!isCode(err, "exists") && !isCode(err, "conflict")) throw err;
        return AGAIN;
      }
    }, () => new JobsError("conflict", `job "${id.name}" on ${id.host}: the head kept changing; try again`));
  }

  /**
   * Brings a job saved by the earlier save/load roles (src/stores/earlier.ts) into the ledger:
   * identity (namespace = its playbook_name, host, name), jid, save time and metadata, as a
   * `running` attempt that the next probe judges. Create-if-absent on the head: a head that
   * already holds this jid is "already" imported; a head with another jid is newer state of the
   * same identity and is kept ("kept"). The earlier file is never changed.
   */
  async importEarlier(job: EarlierJob, origin: Origin = {}): Promise<{ record: JobRecord; outcome: "imported" | "already" | "kept" }> {
    const id = checkIdentity({ namespace: job.playbook_name, host: job.host, name: job.job_name });
    const metadata = checkMetadata(job.metadata, `${job.path}: metadata`);
    const { record, existing } = await this.recordNew(
      id,
      origin,
      { metadata, started_at: job.save_time },
      { ansible_job_id: job.ansible_job_id, started: 1, finished: 0 },
      { ifAbsent: true },
    );
    return { record, outcome: !existing ? "imported" : record.jid === job.ansible_job_id ? "already" : "kept" };
  }

  /**
   * Records a launch that already happened (async_job_save, a journal replay), deciding from
   * the jid index once what the launch is:
   * - its jid is not recorded on the host: a new attempt (recordNew);
   * - it is this identity's head already (a save repeated, a journal replayed twice): nothing;
   * - it is recorded under another name (the job_ledger callback's record of a task that
   *   async_job_save then saves): with `adopt`, this identity takes that record over (one job,
   *   one record); without (a replay: the launch is in the store already), nothing;
   * - it is an earlier attempt of this identity: with `adopt`, a new attempt; without, nothing.
   * The jid index and the head are read together; the head read serves the write.
   */
  async recordLaunched(id: Identity, origin: Origin, fields: Partial<JobRecord>, launch: AnyResult, adopt: boolean): Promise<Recorded> {
    checkIdentity(id);
    const jid = typeof launch.ansible_job_id === "string" && launch.ansible_job_id ? launch.ansible_job_id : undefined;
    if (!jid) return this.recordNew(id, origin, fields, launch);
    const [ref, head] = await Promise.all([this.jidRef(id.namespace, id.host, jid), this.head(id)]);
    const prior = ref && (await this.ofJid(ref, jid, ref.name === id.name ? { head } : undefined));
    if (prior && prior.record.name !== id.name && adopt) return this.adopt(prior, id, origin, fields, launch, { head });
    if (prior && (!adopt || prior === head)) return { record: prior.record, existing: true, where: prior.entry.where };
    return this.recordNew(id, origin, fields, launch, { known: { head } });
  }

  /**
   * Records `launch` under `id`, taking over `prior`, the record of the same jid under another
   * name (the job_ledger callback's record of a task that async_job_save then saves): one job,
   * one record. The new record keeps the prior's start time, the jid index names the new
   * record, and the prior head is deleted when it is still that attempt.
   */
  private async adopt(prior: Head, id: Identity, origin: Origin, fields: Partial<JobRecord>, launch: AnyResult, known: { head: Head | undefined }) {
    const res = await this.recordNew(
      id,
      origin,
      { ...fields, async_timeout: fields.async_timeout ?? prior.record.async_timeout, started_at: prior.record.started_at },
      launch,
      { replaceJidIndex: true, known },
    );
    const drop = async (h: Head): Promise<boolean> => {
      try {
        await this.store.delete(keys.head(prior.record), h.entry.version);
      } catch (err) {
        if (isCode(err, "conflict")) return false;
        if (!isCode(err, "not_found")) throw err;
      }
      return true;
    };
    // The prior head as byJid read it, else (it moved since, or that was a history copy) as it is now.
    if (prior.entry.key.join("/") === keys.head(prior.record).join("/") && (await drop(prior))) return res;
    const cur = await this.head(prior.record);
    if (cur && cur.record.id === prior.record.id) await drop(cur);
    return res;
  }

  /**
   * Points the jid index at `rec`: create-if-absent; an entry that exists is kept unless
   * `replace` (adopt: the jid's record now lives under another name). A replace that loses a
   * race to another writer leaves that writer's entry.
   */
  async indexJid(rec: JobRecord, replace = false): Promise<void> {
    if (!rec.jid) return;
    const key = keys.jid(rec.namespace, rec.host, rec.jid);
    const ref = { namespace: rec.namespace, host: rec.host, name: rec.name, attempt: rec.attempt, id: rec.id };
    try {
      await this.store.create(key, ref);
    } catch (err) {
      if (!isCode(err, "exists")) throw err;
      if (!replace) return;
      const idx = await this.store.get(key);
      try {
        if (idx) await this.store.update(key, ref, idx.version);
        else await this.store.create(key, ref);
      } catch (e) {
        if (!isCode(e, "conflict") && !isCode(e, "exists") && !isCode(e, "not_found")) throw e;
      }
    }
  }

  /**
   * Changes the head with compare-and-swap, re-reading and re-applying on conflict.
   * `expectId` pins the attempt: evidence about attempt 3 never lands on attempt 4. When the
   * head is another attempt by then (another controller started the job again meanwhile), the
   * change is not made and the answer is that head, `movedOn`: not an error, the job's truth
   * is the new attempt.
   * `known` is the head as the caller just read it, used for the first try instead of a
   * second read (a stale one only costs a conflict and a re-read).
   */
  async mutate(
    id: Identity,
    expectId: string | undefined,
    fn: (rec: JobRecord, head: Head) => Promise<Patch | undefined> | Patch | undefined,
    known?: Head,
  ): Promise<Mutated> {
    checkIdentity(id);
    const headKey = keys.head(id).join("/");
    let first = known && known.entry.key.join("/") === headKey ? known : undefined;
    return retry(CAS, async () => {
      const head = first ?? (await this.head(id));
      first = undefined;
      if (!head) throw new JobsError("not_found", `no job "${id.name}" on ${id.host} in namespace ${id.namespace}`);
      if (expectId && head.record.id !== expectId) return { record: head.record, changed: false, movedOn: true };
      const next = applyPatch(head.record, await fn(head.record, head));
      if (!next) return { record: head.record, changed: false };
      try {
        await this.store.update(keys.head(id), next, head.entry.version);
        if (next.jid && next.jid !== head.record.jid) await this.indexJid(next);
        // A check that only refreshes checked_at is written, but changes nothing a user sees
        // (Ansible's `changed`, and so Molecule's idempotence, stay false for it).
        return { record: next, changed: !onlyCheckedAtMoved(head.record, next) };
      } catch (err) {
        if (!isCode(err, "conflict")) throw err;
        return AGAIN;
      }
    }, () => new JobsError("conflict", `job "${id.name}" on ${id.host}: the record kept changing; try again`));
  }

  recordLaunch(id: Identity, claimToken: string | undefined, launch: AnyResult, known?: Head) {
    return this.mutate(id, undefined, (rec) => {
      const patch = classifyLaunch(rec, launch, rec.no_log);
      if (patch && claimToken && rec.claim_token !== claimToken) {
        throw new JobsError("conflict", `job "${rec.name}" on ${rec.host}: the claim was taken over by another controller`);
      }
      return patch;
    }, known);
  }

  /**
   * Applies probe evidence. `staleBefore` is whether the claim was already stale when the
   * probe's caller read it, before the probe ran (job_store loaded_var): evidence is judged
   * as of the moment it was gathered, not the moment it lands. Without it, the claim is
   * judged as it stands now.
   */
  observe(id: Identity, expectId: string | undefined, ev: Evidence, staleAfterSec: number, known?: Head, staleBefore?: boolean) {
    return this.mutate(
      id,
      expectId,
      async (rec, head) => {
        const opts: ObserveOptions = {};
        if (launchPending(rec)) opts.staleClaim = staleBefore ?? (await this.isStale(head, staleAfterSec));
        return classifyProbe(rec, ev, nowIso(), opts);
      },
      known,
    );
  }

  setStatus(id: Identity, status: Status, message: string | null, known?: Head) {
    return this.mutate(id, undefined, () => ({ status, last_error: message }), known);
  }

  /**
   * The records a query selects (heads, and with `history` earlier attempts), in the store's
   * order, plus the documents that could not be read. The store filters (Ara: server-side,
   * from the summaries beside the records); records are checked again once validated.
   */
  async query(q: RecordQuery = {}): Promise<QueryResult> {
    const { hosts, history, ...rest } = q;
    const records: JobRecord[] = [];
    const errors: string[] = [];
    for (const host of hosts ?? [rest.host]) {
      const filter: RecordFilter = { ...rest };
      if (host === undefined) delete filter.host;
      else filter.host = host;
      const docFilter = documentFilter(filter);
      for (const prefix of prefixesFor(filter, history === true)) {
        const res = await this.store.list(prefix, docFilter, VALUES_ONLY);
        for (const e of res.errors) errors.push(e.message);
        for (const entry of res.entries) {
          let rec: JobRecord;
          try {
            rec = validateRecord(entry.value, entry.where);
          } catch (err) {
            errors.push((err as Error).message);
            continue;
          }
          if (matchesRecord(rec, filter)) records.push(rec);
        }
      }
    }
    return { records, errors };
  }

  /**
   * query(), as `ansible-jobs` shows it: sorted by namespace, host, name and attempt, each
   * attempt once (an attempt archived just before a head move that lost a race is in both
   * places; the head copy, the current one, is kept).
   */
  async select(q: RecordQuery = {}): Promise<QueryResult> {
    const res = await this.query(q);
    let records = res.records;
    if (q.history) {
      // Heads come first in query() for each host.
      const seen = new Set<string>();
      records = records.filter((r) => {
        const k = `${r.namespace}\u0000${r.host}\u0000${r.name}\u0000${r.attempt}`;
        if (seen.has(k)) return false;
        seen.add(k);
        return true;
      });
    }
    return { records: records.sort(compareRecords), errors: res.errors };
  }

  /** Current records (and with `history`, earlier attempts), plus the documents that could not be read. */
  list(filter: RecordFilter = {}, history = false): Promise<QueryResult> {
    return this.query({ ...filter, history });
  }

  /** All attempts of one identity, oldest first. */
  async history(id: Identity): Promise<{ records: JobRecord[]; errors: string[] }> {
    checkIdentity(id);
    const res = await this.list({ namespace: id.namespace, host: id.host, name: id.name }, true);
    const byAttempt = new Map<number, JobRecord>();
    for (const r of res.records) byAttempt.set(r.attempt, r);
    return { records: [...byAttempt.values()].sort((a, b) => a.attempt - b.attempt), errors: res.errors };
  }

  /** Deletes terminal records last updated before `before` (heads and history), with their jid entries. */
  async prune(filter: RecordFilter, dryRun: boolean): Promise<{ pruned: JobRecord[]; errors: string[] }> {
    const status = (filter.status?.length ? filter.status : undefined) as Status[] | undefined;
    const { records, errors } = await this.list(filter, true);
    const pruned: JobRecord[] = [];
    for (const r of records) {
      if (!isTerminal(r.status)) continue;
      if (status && !status.includes(r.status)) continue;
      pruned.push(r);
      if (dryRun) continue;
      const head = await this.head(r);
      try {
        // The head goes last: a prune killed half way leaves a terminal head that the next
        // prune finds, never a history copy without its head.
        await this.store.delete(keys.history(r, r.attempt));
        if (r.jid) await this.store.delete(keys.jid(r.namespace, r.host, r.jid));
        if (head && head.record.id === r.id) await this.store.delete(keys.head(r), head.entry.version);
      } catch (err) {
        if (!isCode(err, "conflict")) throw err;
        errors.push(`job "${r.name}" on ${r.host} changed while pruning; kept`);
        pruned.pop();
      }
    }
    return { pruned, errors };
  }

  /** Deletes one identity: its head, history and jid entries. */
  async remove(id: Identity): Promise<JobRecord[]> {
    const { records } = await this.history(id);
    for (const r of records) {
      await this.store.delete(keys.history(r, r.attempt));
      if (r.jid) await this.store.delete(keys.jid(r.namespace, r.host, r.jid));
    }
    await this.store.delete(keys.head(id));
    return records;
  }
}
