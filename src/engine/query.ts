/**
 * Which job records a query selects, and what the stores are told about records: the one place
 * (with ledger.ts, which owns the key layout) that reads record fields for the stores.
 *
 *   - documentFilter(): the filter a store's list() applies (server-side on Ara, from summaries);
 *   - recordHooks: the summaries and links a store may keep beside a record (Ara).
 */
import type { DocumentFilter, DocumentHooks, DocumentLink, DocumentSummary, Key } from "../stores/types.js";
import { type JobRecord, isRecord } from "./record.js";

/** Filters on job records. Every field is optional; absent means "any". */
export interface RecordFilter {
  namespace?: string;
  host?: string;
  name?: string;
  status?: readonly string[];
  /** A full path, or a trailing part of it ("site.yml"). */
  playbook?: string;
  /** Only records whose updated_at is older than this date. */
  updatedBefore?: Date;
  /** Only records whose updated_at is this date or later. */
  updatedSince?: Date;
}

/** What Ledger.query() and Ledger.select() take: a filter, several hosts, and whether earlier attempts count. */
export interface RecordQuery extends Omit<RecordFilter, "host"> {
  /** One host, or (with `hosts`) any of several. */
  host?: string;
  hosts?: readonly string[];
  /** Earlier attempts (history) too. */
  history?: boolean;
}

export interface QueryResult {
  records: JobRecord[];
  /** The documents that could not be read, one message each; they never hide the others. */
  errors: string[];
}

function statusesOf(f: RecordFilter): readonly string[] | undefined {
  return f.status?.length ? f.status : undefined;
}

function updatedOk(updatedAt: string, f: RecordFilter): boolean {
  if (f.updatedBefore === undefined && f.updatedSince === undefined) return true;
  const t = Date.parse(updatedAt);
  if (f.updatedBefore !== undefined && !(t < f.updatedBefore.getTime())) return false;
  if (f.updatedSince !== undefined && !(t >= f.updatedSince.getTime())) return false;
  return true;
}

/** Whether a (valid) job record passes the filter. */
export function matchesRecord(r: JobRecord, f: RecordFilter): boolean {
  if (f.namespace !== undefined && r.namespace !== f.namespace) return false;
  if (f.host !== undefined && r.host !== f.host) return false;
  if (f.name !== undefined && r.name !== f.name) return false;
  const statuses = statusesOf(f);
  if (statuses && !statuses.includes(r.status)) return false;
  if (f.playbook !== undefined && r.playbook !== f.playbook && !String(r.playbook ?? "").endsWith(`/${f.playbook}`)) return false;
  return updatedOk(r.updated_at, f);
}

/**
 * The filter a store applies in list(). A document that is not a valid job record passes, so
 * that the ledger reports it (unreadable) instead of the filter hiding it.
 */
export function documentFilter(f: RecordFilter): DocumentFilter {
  const statuses = statusesOf(f);
  return {
    // The cheap test first; only a document it rejects is validated (to let an invalid one through).
    matches: (value) => (isObj(value) && matchesRecord(value as JobRecord, f)) || !isRecord(value),
    mayMatch: (s) => {
      if (statuses && s.status !== undefined && !statuses.includes(s.status)) return false;
      if (s.updated_at !== undefined && !updatedOk(s.updated_at, f)) return false;
      return true;
    },
  };
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * The records' descriptions for stores that keep them beside documents (Ledger fills them in).
 * Summaries: status and updated_at (what list() filters on without the value); versions
 * are immutable in Ara, so a summary always matches the value next to it.
 * Links: a job's current record (its head), named `ansible_job:[NAMESPACE/]NAME@HOST`.
 */
export const recordHooks: DocumentHooks = {
  summarize(_key: Key, value: unknown): DocumentSummary | undefined {
    if (!isObj(value)) return undefined;
    const out: Record<string, string> = {};
    if (typeof value.status === "string" && /^[a-z_]{1,32}$/.test(value.status)) out.status = value.status;
    if (typeof value.updated_at === "string" && /^[0-9TZ:.+-]{10,40}$/.test(value.updated_at)) out.updated_at = value.updated_at;
    return out;
  },
  link(key: Key, value: unknown): DocumentLink | undefined {
    if (key[0] !== "heads" || !isObj(value)) return undefined;
    const { namespace, name, host } = value;
    if (typeof name !== "string" || typeof host !== "string") return undefined;
    const ns = typeof namespace === "string" && namespace !== "default" ? `${namespace}/` : "";
    return {
      name: `ansible_job:${ns}${name}@${host}`,
      title: `job "${name}" on ${host}`,
      playId: typeof value.play_id === "string" ? value.play_id : undefined,
      fields: {
        ansible_jobs: "job record of the rstyczynski.ansible collection, kept in the ledger playbook",
        namespace: namespace ?? null,
        name,
        host,
        attempt: value.attempt ?? null,
        status: value.status ?? null,
        jid: value.jid ?? null,
        updated_at: value.updated_at ?? null,
      },
    };
  },
};
