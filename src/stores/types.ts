/**
 * The Store interface: a versioned JSON document store with hierarchical keys.
 * The engine decides the layout (heads, history, jid index); stores only keep documents.
 */
import type { JobRecord } from "../engine/record.js";

/** Key segments, e.g. ["heads", namespace, host, name]. Stores encode each segment safely. */
export type Key = readonly string[];

export interface Entry {
  key: Key;
  /** Where the document lives (file path, URL), for error messages. */
  where: string;
  value: unknown;
  /** Opaque version (a content hash, an ETag...) for compare-and-swap. */
  version: string;
  /** When the store last wrote this document, by the store's own clock (if known). */
  modified?: Date;
}

/** What a store guarantees; the conformance suite checks every capability declared true. */
export interface Capabilities {
  /** create() fails with `exists` for all but one of concurrent creators. */
  atomicCreate: boolean;
  /** update() fails with `conflict` when the version moved, across processes and controllers. */
  compareAndSwap: boolean;
  /** The store reports its own clock (for judging stale claims). */
  clock: boolean;
}

/** Filters applied to job records by list(). Every field is optional; absent means "any". */
export interface RecordFilter {
  namespace?: string;
  host?: string;
  name?: string;
  status?: readonly string[];
  playbook?: string;
  /** Only records whose updated_at is older than this date. */
  updatedBefore?: Date;
}

export interface ListResult {
  entries: Entry[];
  /** Documents that could not be read; they never hide the others. */
  errors: { key: Key; where: string; message: string }[];
}

export interface Store {
  /** The store location as the user wrote it, credentials removed. */
  readonly url: string;
  readonly kind: "filesystem" | "s3" | "ara";
  readonly capabilities: Capabilities;
  get(key: Key): Promise<Entry | undefined>;
  /** Throws JobsError("exists") when the key already holds a document. */
  create(key: Key, value: unknown): Promise<Entry>;
  /** Throws JobsError("conflict") when the version moved, "not_found" when the key is gone. */
  update(key: Key, value: unknown, version: string): Promise<Entry>;
  /** Lists documents under a key prefix; `filter` is applied to job records found there. */
  list(prefix: Key, filter?: RecordFilter): Promise<ListResult>;
  /** Deletes the key; with a version, only if it still matches (else "conflict"). Missing keys are fine. */
  delete(key: Key, version?: string): Promise<void>;
  /** The store's idea of "now" (file mtime, HTTP Date): never compare two controllers' clocks. */
  now(): Promise<Date>;
  close?(): Promise<void>;
  /** Things the user should hear about (a recreated Ara ledger...), shown as warnings. */
  readonly notices?: readonly string[];
}

/** Shared filter logic so every store filters identically. */
export function matchesFilter(value: unknown, f: RecordFilter | undefined): boolean {
  if (!f) return true;
  // Something that is not a job record passes, so that validation reports it instead of hiding it.
  if (!value || typeof value !== "object" || typeof (value as { namespace?: unknown }).namespace !== "string") return true;
  const r = value as Partial<JobRecord>;
  if (f.namespace !== undefined && r.namespace !== f.namespace) return false;
  if (f.host !== undefined && r.host !== f.host) return false;
  if (f.name !== undefined && r.name !== f.name) return false;
  if (f.status && f.status.length > 0 && !f.status.includes(String(r.status))) return false;
  if (f.playbook !== undefined && r.playbook !== f.playbook && !String(r.playbook ?? "").endsWith(`/${f.playbook}`))
    return false;
  if (f.updatedBefore !== undefined && !(Date.parse(String(r.updated_at)) < f.updatedBefore.getTime())) return false;
  return true;
}
