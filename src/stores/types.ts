/**
 * The Store interface: a versioned JSON document store with hierarchical keys.
 * The engine decides the layout (heads, history, jid index); stores only keep documents.
 */

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

/**
 * What list() keeps, built by the engine (src/engine/query.ts): stores never read the fields
 * of the documents they keep, they only ask the filter.
 */
export interface DocumentFilter {
  /** Whether a document passes. */
  matches(value: unknown): boolean;
  /**
   * Whether a document with this summary (see DocumentHooks.summarize) may pass: false lets a
   * store skip reading its value (Ara keeps summaries beside the documents, server-side).
   */
  mayMatch?(summary: DocumentSummary): boolean;
}


/** Short name=value pairs about a document, kept beside it by stores that can filter on them. */
export type DocumentSummary = Readonly<Record<string, string>>;

/** A document that deserves a link from the run that wrote it (Ara: a record on that run's playbook). */
export interface DocumentLink {
  /** The link's name, e.g. `ansible_job:backup@web1`. */
  name: string;
  /** The document for messages, e.g. `job "backup" on web1`. */
  title: string;
  /** The play (uuid) the document names, used when the store was not told which play it serves. */
  playId?: string | undefined;
  /** What the link shows about the document. */
  fields: Record<string, unknown>;
}

/**
 * What documents mean, for the stores that describe them beside the document (Ara). The
 * engine's Ledger fills them in (Store.describeWith); a store without them keeps plain documents.
 */
export interface DocumentHooks {
  /** A summary that list() can filter on without reading the value (undefined: none). */
  summarize(key: Key, value: unknown): DocumentSummary | undefined;
  /** The link to write for a document just written (undefined: no link). */
  link(key: Key, value: unknown): DocumentLink | undefined;
}

/** How list() is called. */
export interface ListOptions {
  /**
   * false: the caller reads values only, never an entry's version (the Ledger's queries), so a
   * store may skip what versions cost it; reading `version` of such an entry then throws. The
   * filesystem store otherwise keeps every listed document's bytes to hash them on demand.
   */
  versions?: boolean;
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
  /** Lists documents under a key prefix; with a filter, only those that it lets pass. */
  list(prefix: Key, filter?: DocumentFilter, options?: ListOptions): Promise<ListResult>;
  /** Deletes the key; with a version, only if it still matches (else "conflict"). Missing keys are fine. */
  delete(key: Key, version?: string): Promise<void>;
  /** The store's idea of "now" (file mtime, HTTP Date): never compare two controllers' clocks. */
  now(): Promise<Date>;
  close?(): Promise<void>;
  /** Things the user should hear about (a recreated Ara ledger...), shown as Ansible and CLI warnings. */
  readonly warnings?: readonly string[];
  /** Whether the store does not exist yet (a filesystem store's directory): every list is then empty. */
  absent?(): boolean;
  /** Takes the engine's descriptions of documents (stores that keep summaries or links). */
  describeWith?(hooks: DocumentHooks): void;
  /**
   * The store's own page of the run that holds play `playId` (Ara: the playbook's page in
   * Ara's UI). Best effort: undefined when the store does not know the play or cannot be asked.
   */
  runPage?(playId: string): Promise<string | undefined>;
}

/** Whether a document passes an optional filter (every store filters through this). */
export function matchesFilter(value: unknown, f: DocumentFilter | undefined): boolean {
  return !f || f.matches(value);
}
