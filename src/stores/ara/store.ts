/**
 * Ara store: `ara+http://HOST:PORT[/PATH][?ledger=NAME]` and `ara+https://...`.
 *
 * Ara's records API gives: records that belong to a playbook, (key, playbook) unique, a list
 * endpoint that leaves out `value`, filters by exact key and by playbook, no ETags and no
 * conditional update. The layout builds create-if-absent and compare-and-swap from the one
 * atomic thing there is, the uniqueness of (key, playbook):
 *
 *   ledger playbook   one per ledger name (book.ts), holds every record below
 *   KEY@1, KEY@2...   immutable versions of a document; writing version N+1 is a POST that
 *                     only one writer can win, so update-if-version(N) is atomic. A delete
 *                     writes a tombstone version. Versions are never removed, so they are
 *                     contiguous from 1 and the latest is found by probing (gallop + bisect).
 *   KEY               a hint per document (its `type` names the latest version and record id),
 *                     patched after each write. Only a hint: a stale one costs extra probes.
 *
 * Reads: hint (1 request) + the next version and the hinted record (2 requests in parallel).
 * Writes: 1 POST + 1 hint PATCH (+ a link record on the run's playbook for job heads).
 * list() reads the keys of the whole ledger (1000 per request) and the values of the
 * documents under the prefix. now() is the HTTP Date header; `modified` is Ara's `updated`.
 *
 * This file is the Store interface; the parts live beside it, one job each:
 *   book.ts      finding, creating and keeping the ledger playbook (races between creators)
 *   session.ts   the ledger playbook as this process knows it (alive? vanished?) and the clock
 *   records.ts   reading Ara records (by key, by id, every row of the ledger)
 *   versions.ts  which version is the latest (probing, hints)
 *   post.ts      writing version N (the POST only one writer wins)
 *   envelope.ts  what a version record holds, and the version strings
 *   links.ts     links to the run's playbook, and its page in Ara's UI
 *   keys.ts      store keys as Ara keys, record types
 */
import { sleep } from "../../engine/clock.js";
import { JobsError, isCode } from "../../engine/errors.js";
import { mapLimit } from "../../engine/limit.js";
import { AGAIN, type Again, contention, retry } from "../../engine/retry.js";
import type { Capabilities, DocumentFilter, DocumentHooks, Entry, Key, ListResult, Store } from "../types.js";
import { matchesFilter } from "../types.js";
import type { LedgerBook } from "./book.js";
import { type Payload, formatVersion, parseVersion, unwrap } from "./envelope.js";
import type { AraClient } from "./http.js";
import { TYPE_DELETED, decodeDocKey, docKeyOf, docType, keyHasPrefix, parseDocType, parseVersionKey, prefixMatch, showKey, versionKey } from "./keys.js";
import { RunLinks } from "./links.js";
import { type PostOutcome, postVersion } from "./post.js";
import { type Detail, type Row, allRows, fetchDetail } from "./records.js";
import { LedgerSession } from "./session.js";
import { Versions } from "./versions.js";

const WRITE_RETRIES = 20;
const LIST_CONCURRENCY = 8;

export interface AraContext {
  /** The uuid of the play that runs this step (Ara's callback records plays by this uuid). */
  play_id?: string | null;
  playbook?: string | null;
}

export interface AraStoreConfig {
  client: AraClient;
  ledger: string;
  context?: AraContext;
}

export class AraStore implements Store {
  readonly kind = "ara" as const;
  /** Justified in docs/stores-ara.md and checked by the conformance suite against a real server. */
  readonly capabilities: Capabilities = { atomicCreate: true, compareAndSwap: true, clock: true };
  readonly url: string;
  readonly ledgerName: string;
  /** Things the user should hear about (a ledger that vanished, links that could not be written). */
  readonly warnings: string[] = [];
  readonly client: AraClient;

  private context: AraContext;
  private readonly session: LedgerSession;
  private readonly versions: Versions;
  private readonly links: RunLinks;
  /** What documents mean (summaries, links): the engine's, given by describeWith(). */
  private hooks: DocumentHooks | undefined;

  constructor(cfg: AraStoreConfig) {
    this.client = cfg.client;
    this.url = cfg.client.display;
    this.ledgerName = cfg.ledger;
    this.context = { ...(cfg.context ?? {}) };
    const warn = (msg: string) => this.warn(msg);
    this.session = new LedgerSession(cfg.client, cfg.ledger, warn);
    this.versions = new Versions(cfg.client);
    this.links = new RunLinks(cfg.client, warn);
  }

  describeWith(hooks: DocumentHooks): void {
    this.hooks = hooks;
  }

  runPage(playId: string): Promise<string | undefined> {
    return this.links.runPage(playId);
  }

  /** Tells the store which play it serves, so job records are linked to that play's playbook. */
  setContext(ctx: AraContext): void {
    this.context = { ...this.context, ...ctx };
  }

  /** The ledger playbook id, creating the ledger when asked (tests and tools). */
  async ledgerId(create = false): Promise<number | undefined> {
    return (await this.ledgerFor(create))?.id;
  }

  private warn(msg: string): void {
    if (!this.warnings.includes(msg)) this.warnings.push(msg);
  }

  private ledgerFor(create: boolean): Promise<LedgerBook | undefined> {
    return this.session.ledgerFor(create);
  }

  private checkAlive(book: LedgerBook, force = false): Promise<void> {
    return this.session.checkAlive(book, force);
  }

  private where(id: number): string {
    return this.client.api(`records/${id}`);
  }

  private detail(book: LedgerBook, id: number): Promise<Detail | undefined> {
    return fetchDetail(this.client, book.id, id);
  }

  private resolve(book: LedgerBook, docKey: string, useHint = true) {
    return this.versions.resolve(book, docKey, useHint);
  }

  private versionIsLive(book: LedgerBook, docKey: string, n: number): Promise<boolean> {
    return this.versions.isLive(book, docKey, n);
  }

  /** Unwraps a version record's envelope; throws `corrupt` naming the key. */
  private unwrap(det: Detail, key: Key | undefined, docKey: string): { key: Key; value: unknown; deleted: boolean } {
    return unwrap(
      det.value,
      key,
      (k, why) =>
        new JobsError(
          "corrupt",
          `ara store ${this.url}: record "${showKey(k, docKey)}" (${this.where(det.id)}, ledger playbook #${this.session.book?.id ?? "?"}) ` +
            `is not a valid document: ${why}`,
        ),
    );
  }

  private entry(book: LedgerBook, key: Key, n: number, id: number, value: unknown, modified: Date | undefined): Entry {
    const e: Entry = { key, where: this.where(id), value, version: formatVersion(book.id, n) };
    if (modified) e.modified = modified;
    return e;
  }

  private postVersion(book: LedgerBook, key: Key, docKey: string, n: number, payload: Payload): Promise<PostOutcome> {
    const type = "deleted" in payload ? TYPE_DELETED : docType(this.hooks?.summarize(key, payload.value));
    return postVersion(this.client, this.session, book, key, docKey, n, type, payload);
  }

  /** After a won write: move the hint, remember the version, link the document to the run when it asks for one. */
  private async afterWrite(book: LedgerBook, key: Key, docKey: string, n: number, id: number, live: boolean, value?: unknown): Promise<void> {
    const lat = this.versions.wrote(docKey, n, id, live);
    const hint = async () => {
      // Version 1 needs no hint: readers probe version 1 anyway.
      if (n === 1 && lat.hintId === undefined) return;
      try {
        await this.versions.writeHint(book, key, docKey, lat);
      } catch (err) {
        if (isCode(err, "store_unavailable") && this.session.vanished) throw err;
        // Only a hint: readers find the version by probing.
      }
    };
    const link = live ? this.hooks?.link(key, value) : undefined;
    await Promise.all([hint(), link ? this.links.write(book, key, docKey, id, link, this.context.play_id) : undefined]);
  }

  // ---- the Store interface -------------------------------------------------------------

  async get(key: Key): Promise<Entry | undefined> {
    if (key.length === 0) throw new JobsError("invalid_argument", "empty store key");
    const book = await this.ledgerFor(false);
    if (!book) return undefined;
    const docKey = docKeyOf(key);
    for (let attempt = 0; attempt < 2; attempt++) {
      const r = await this.versions.resolveAndFetch(book, docKey, attempt === 0, true);
      const lat = r.lat;
      if (!lat?.live) {
        await this.checkAlive(book);
        return undefined;
      }
      const det = r.det?.id === lat.id ? r.det : await this.detail(book, lat.id);
      if (!det || det.key !== versionKey(docKey, lat.n)) {
        // The hint named a record that is gone or another one: resolve again without it.
        await this.checkAlive(book, true);
        continue;
      }
      const u = this.unwrap(det, key, docKey);
      if (u.deleted) return undefined;
      return this.entry(book, key, lat.n, det.id, u.value, det.updated);
    }
    throw this.client.unavailable(`the version records of "${key.join("/")}" changed under us twice (were they deleted by hand?)`);
  }

  async create(key: Key, value: unknown): Promise<Entry> {
    if (key.length === 0) throw new JobsError("invalid_argument", "empty store key");
    const book = (await this.ledgerFor(true))!;
    const docKey = docKeyOf(key);
    // First try without reading: version 1 of an unknown document, or the version after the
    // one this process saw deleted or absent. Losing that POST costs one request, then we read.
    const k = this.versions.seen(docKey);
    let guess: number | undefined = k ? (k.live ? undefined : k.n + 1) : 1;
    // No wait between tries: a try that reads waits 5-25 ms between its read and its write.
    return retry(
      { attempts: WRITE_RETRIES },
      async (i): Promise<Entry | Again> => {
        let n: number;
        if (guess !== undefined) {
          n = guess;
          guess = undefined;
        } else {
          const lat = await this.resolve(book, docKey);
          if (lat?.live) {
            throw new JobsError("exists", `ara store ${this.url}: "${key.join("/")}" already exists (${this.where(lat.id)})`);
          }
          n = (lat?.n ?? 0) + 1;
          if (i > 0) await sleep(contention());
        }
        const res = await this.postVersion(book, key, docKey, n, { value });
        if (!res.won) return AGAIN;
        await this.afterWrite(book, key, docKey, n, res.id, true, value);
        return this.entry(book, key, n, res.id, value, res.updated);
      },
      () => new JobsError("conflict", `ara store ${this.url}: "${key.join("/")}" kept changing while it was created; try again`),
    );
  }

  /** After a lost or impossible update: not_found when the document is gone, else conflict. */
  private async lostUpdate(book: LedgerBook, key: Key, docKey: string): Promise<never> {
    const lat = await this.resolve(book, docKey);
    if (!lat?.live) throw new JobsError("not_found", `ara store ${this.url}: "${key.join("/")}" does not exist`);
    throw new JobsError("conflict", `ara store ${this.url}: "${key.join("/")}" was changed by another writer`);
  }

  async update(key: Key, value: unknown, version: string): Promise<Entry> {
    if (key.length === 0) throw new JobsError("invalid_argument", "empty store key");
    const book = await this.ledgerFor(false);
    if (!book) throw new JobsError("not_found", `ara store ${this.url}: "${key.join("/")}" does not exist (no ledger yet)`);
    const docKey = docKeyOf(key);
    const v = parseVersion(version);
    if (!v || v.book !== book.id || !(await this.versionIsLive(book, docKey, v.n))) return this.lostUpdate(book, key, docKey);
    const res = await this.postVersion(book, key, docKey, v.n + 1, { value });
    if (!res.won) return this.lostUpdate(book, key, docKey);
    await this.afterWrite(book, key, docKey, v.n + 1, res.id, true, value);
    return this.entry(book, key, v.n + 1, res.id, value, res.updated);
  }

  async delete(key: Key, version?: string): Promise<void> {
    if (key.length === 0) throw new JobsError("invalid_argument", "empty store key");
    const book = await this.ledgerFor(false);
    if (!book) return;
    const docKey = docKeyOf(key);
    if (version !== undefined) {
      const v = parseVersion(version);
      if (v && v.book === book.id && (await this.versionIsLive(book, docKey, v.n))) {
        const res = await this.postVersion(book, key, docKey, v.n + 1, { deleted: true });
        if (res.won) {
          await this.afterWrite(book, key, docKey, v.n + 1, res.id, false);
          return;
        }
      }
      const lat = await this.resolve(book, docKey);
      if (!lat?.live) return;
      throw new JobsError("conflict", `ara store ${this.url}: "${key.join("/")}" was changed by another writer; not deleted`);
    }
    await retry(
      { attempts: WRITE_RETRIES, wait: contention, waitAfterLast: true },
      async () => {
        const lat = await this.resolve(book, docKey);
        if (!lat?.live) return;
        const res = await this.postVersion(book, key, docKey, lat.n + 1, { deleted: true });
        if (!res.won) return AGAIN;
        await this.afterWrite(book, key, docKey, lat.n + 1, res.id, false);
      },
      () => new JobsError("conflict", `ara store ${this.url}: "${key.join("/")}" kept changing while it was deleted; try again`),
    );
  }

  async list(prefix: Key, filter?: DocumentFilter): Promise<ListResult> {
    const result: ListResult = { entries: [], errors: [] };
    const book = await this.ledgerFor(false);
    if (!book) return result;
    await this.checkAlive(book, true);
    const latest = new Map<string, { n: number; row: Row }>();
    for (const row of await allRows(this.client, book.id)) {
      const p = typeof row.key === "string" ? parseVersionKey(row.key) : undefined;
      if (!p) continue;
      const cur = latest.get(p.docKey);
      if (!cur || cur.n < p.n) latest.set(p.docKey, { n: p.n, row });
    }
    const todo: { docKey: string; n: number; row: Row; match: "yes" | "maybe" }[] = [];
    for (const [docKey, { n, row }] of latest) {
      if (row.type === TYPE_DELETED) continue;
      // Skip what the filter would reject anyway, from the summary in the type (no value fetch).
      if (filter?.mayMatch && !filter.mayMatch(parseDocType(String(row.type)))) continue;
      const match = prefixMatch(docKey, prefix);
      if (match !== "no") todo.push({ docKey, n, row, match });
    }
    const found = await mapLimit(todo, LIST_CONCURRENCY, async (t) => {
      const known = decodeDocKey(t.docKey);
      try {
        const det = await this.detail(book, t.row.id);
        if (!det) return undefined; // deleted while we listed
        const u = this.unwrap(det, known, t.docKey);
        if (!keyHasPrefix(u.key, prefix) || u.deleted) return undefined;
        if (!matchesFilter(u.value, filter)) return undefined;
        return { entry: this.entry(book, u.key, t.n, det.id, u.value, det.updated) };
      } catch (err) {
        if (!(err instanceof JobsError) || err.code !== "corrupt") throw err;
        return { error: { key: known ?? [t.docKey], where: this.where(t.row.id), message: err.message } };
      }
    });
    for (const f of found) {
      if (f?.entry) result.entries.push(f.entry);
      else if (f?.error) result.errors.push(f.error);
    }
    return result;
  }

  async now(): Promise<Date> {
    return this.session.serverNow();
  }

  async close(): Promise<void> {}
}
