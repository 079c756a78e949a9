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
 */
import { now, sleep } from "../../engine/clock.js";
import { randomBytes } from "node:crypto";
import { mapLimit } from "../../engine/limit.js";
import { JobsError, isCode } from "../../engine/errors.js";
import type { Capabilities, DocumentFilter, DocumentHooks, DocumentLink, Entry, Key, ListResult, Store } from "../types.js";
import { matchesFilter } from "../types.js";
import { type LedgerBook, discoverLedger, ledgerPath } from "./book.js";
import { type AraClient, type AraResponse, isTransient } from "./http.js";
import {
  ENVELOPE_FORMAT,
  TYPE_DELETED,
  TYPE_LINK,
  boundedKey,
  decodeDocKey,
  docKeyOf,
  docType,
  hintType,
  keyHasPrefix,
  parseDocType,
  parseHintType,
  parseVersionKey,
  prefixMatch,
  showKey,
  versionKey,
} from "./keys.js";

const WRITE_RETRIES = 20;
const POST_ATTEMPTS = 4;
const ALIVE_CHECK_MS = 1000;
const LIST_PAGE = 1000;
const LIST_CONCURRENCY = 8;

/** A record as the list endpoint shows it (no value). */
interface Row {
  id: number;
  key: string;
  type: string;
  playbook: number | { id: number };
  updated?: string;
}

interface Detail {
  id: number;
  key: string;
  type: string;
  playbookId: number;
  updated: Date | undefined;
  value: unknown;
}

interface Latest {
  n: number;
  id: number;
  live: boolean;
  hintId?: number;
}

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


function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function playbookIdOf(p: unknown): number | undefined {
  if (typeof p === "number") return p;
  if (isObj(p) && typeof p.id === "number") return p.id;
  return undefined;
}

function formatVersion(book: number, n: number): string {
  return `ara:${book}:${n}`;
}

function parseVersion(v: string): { book: number; n: number } | undefined {
  const m = /^ara:([1-9][0-9]*):([1-9][0-9]*)$/.exec(v);
  return m ? { book: Number(m[1]), n: Number(m[2]) } : undefined;
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
  private book: LedgerBook | undefined;
  private discovering: Promise<LedgerBook | undefined> | undefined;
  private discoveringForWrite: Promise<LedgerBook | undefined> | undefined;
  private vanished: JobsError | undefined;
  private lastAlive = 0;
  /** Latest version seen by this process, per docKey (spares a probe before an update). */
  private readonly known = new Map<string, Latest>();
  private readonly playbookOfPlay = new Map<string, Promise<number | undefined>>();
  private readonly linkIds = new Map<string, number>();
  /** What documents mean (summaries, links): the engine's, given by describeWith(). */
  private hooks: DocumentHooks | undefined;

  constructor(cfg: AraStoreConfig) {
    this.client = cfg.client;
    this.url = cfg.client.display;
    this.ledgerName = cfg.ledger;
    this.context = { ...(cfg.context ?? {}) };
  }

  describeWith(hooks: DocumentHooks): void {
    this.hooks = hooks;
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

  // ---- the ledger playbook -------------------------------------------------------------

  private async ledgerFor(create: boolean): Promise<LedgerBook | undefined> {
    if (this.vanished) throw this.vanished;
    if (this.book) return this.book;
    let p: Promise<LedgerBook | undefined>;
    if (create) {
      this.discoveringForWrite ??= this.discover(true).finally(() => {
        this.discoveringForWrite = undefined;
      });
      p = this.discoveringForWrite;
    } else {
      this.discovering ??= this.discover(false).finally(() => {
        this.discovering = undefined;
      });
      p = this.discovering;
    }
    const book = await p;
    if (create && !book) throw new JobsError("internal", `ara store ${this.url}: the ledger could not be created`);
    return book;
  }

  private async discover(create: boolean): Promise<LedgerBook | undefined> {
    if (this.book) return this.book;
    const d = await discoverLedger(this.client, this.ledgerName, create);
    for (const w of d.warnings) this.warn(w);
    if (d.book) {
      this.book = d.book;
      this.lastAlive = now();
    }
    return d.book;
  }

  private vanishedError(book: LedgerBook): JobsError {
    return this.client.unavailable(
      `the ledger playbook #${book.id} (${ledgerPath(this.ledgerName)}) no longer exists: it was deleted, ` +
        "perhaps by `ara playbook prune` or from the UI, and every job record it held is gone with it. " +
        "The next run creates a new, empty ledger; jobs started before may still be running on their hosts.",
    );
  }

  private markVanished(book: LedgerBook): JobsError {
    this.vanished ??= this.vanishedError(book);
    this.book = undefined;
    return this.vanished;
  }

  /** Throws when the ledger playbook is gone: an absent record then means nothing. */
  private async checkAlive(book: LedgerBook, force = false): Promise<void> {
    if (!force && now() - this.lastAlive < ALIVE_CHECK_MS) return;
    const res = await this.client.request("GET", `playbooks/${book.id}`);
    if (res.status === 404) throw this.markVanished(book);
    if (res.status !== 200) throw this.client.statusError("GET", `playbooks/${book.id}`, res);
    this.lastAlive = now();
  }

  // ---- records -------------------------------------------------------------------------

  private async findRow(book: LedgerBook, araKey: string): Promise<Row | undefined> {
    const res = await this.client.expect("GET", "records", [200], { query: { playbook: book.id, key: araKey, limit: 2 } });
    const rows = (res.body as { results?: Row[] }).results ?? [];
    return rows.find((r) => r.key === araKey);
  }

  private async detail(book: LedgerBook, id: number): Promise<Detail | undefined> {
    const res = await this.client.request("GET", `records/${id}`);
    if (res.status === 404) return undefined;
    if (res.status !== 200 || !isObj(res.body)) throw this.client.statusError("GET", `records/${id}`, res);
    const b = res.body;
    const playbookId = playbookIdOf(b.playbook);
    if (playbookId !== book.id) return undefined; // a hint pointing elsewhere: treat as missing
    const updated = typeof b.updated === "string" ? new Date(b.updated) : undefined;
    return {
      id,
      key: String(b.key),
      type: String(b.type),
      playbookId,
      updated: updated && !Number.isNaN(updated.getTime()) ? updated : undefined,
      value: b.value,
    };
  }

  private where(id: number): string {
    return this.client.api(`records/${id}`);
  }

  /**
   * The latest version of a document, or undefined when it has none. Versions are contiguous
   * from 1, so: start at the hint (or 1), gallop up while versions exist, then bisect.
   */
  private async resolve(book: LedgerBook, docKey: string, useHint = true): Promise<Latest | undefined> {
    return (await this.resolveAndFetch(book, docKey, useHint, false)).lat;
  }

  /**
   * resolve(), and with `prefetch` the hinted version's record fetched in parallel with the
   * probe for a newer one (`det`, only when it is the latest and live).
   */
  private async resolveAndFetch(
    book: LedgerBook,
    docKey: string,
    useHint: boolean,
    prefetch: boolean,
  ): Promise<{ lat: Latest | undefined; det?: Detail | undefined }> {
    // One round trip: the hint and version 1 together. No version 1 means no versions at all.
    const [hintRow, first] = await Promise.all([
      useHint ? this.findRow(book, docKey) : undefined,
      this.findRow(book, versionKey(docKey, 1)),
    ]);
    const hintId = hintRow?.id;
    if (!first) {
      this.known.set(docKey, { n: 0, id: 0, live: false, hintId });
      return { lat: undefined };
    }
    const hint = hintRow ? parseHintType(hintRow.type) : undefined;
    const fromHint = hint !== undefined && hint.n > 1;
    let base: Latest = fromHint ? { n: hint.n, id: hint.id, live: hint.live } : { n: 1, id: first.id, live: first.type !== TYPE_DELETED };
    // Second round trip: is there a newer version? Meanwhile, for get, the value (which
    // also proves the hinted version); otherwise the hinted version itself is checked.
    const withValue = prefetch && base.live;
    const [next, det, check] = await Promise.all([
      this.findRow(book, versionKey(docKey, base.n + 1)),
      withValue ? this.detail(book, base.id) : undefined,
      fromHint && !withValue ? this.findRow(book, versionKey(docKey, base.n)) : undefined,
    ]);
    if (fromHint && !withValue) {
      if (!check) return this.resolveAndFetch(book, docKey, false, prefetch); // a hint ahead of the versions
      base = { n: base.n, id: check.id, live: check.type !== TYPE_DELETED };
    }
    if (!next) return { lat: this.remember(docKey, { ...base, hintId }), det };
    return { lat: this.remember(docKey, { ...(await this.gallop(book, docKey, base.n + 1, next)), hintId }) };
  }

  private async gallop(book: LedgerBook, docKey: string, n: number, row: Row): Promise<Latest> {
    let lo = n;
    let loRow = row;
    let hi: number | undefined;
    for (let step = 1; hi === undefined; step *= 2) {
      const r = await this.findRow(book, versionKey(docKey, lo + step));
      if (r) {
        lo += step;
        loRow = r;
      } else hi = lo + step;
    }
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      const r = await this.findRow(book, versionKey(docKey, mid));
      if (r) {
        lo = mid;
        loRow = r;
      } else hi = mid;
    }
    return { n: lo, id: loRow.id, live: loRow.type !== TYPE_DELETED };
  }

  private remember(docKey: string, lat: Latest): Latest {
    const prev = this.known.get(docKey);
    this.known.set(docKey, { ...lat, hintId: lat.hintId ?? prev?.hintId });
    return lat;
  }

  private corrupt(key: Key | undefined, docKey: string, id: number, why: string): JobsError {
    return new JobsError(
      "corrupt",
      `ara store ${this.url}: record "${showKey(key, docKey)}" (${this.where(id)}, ledger playbook #${this.book?.id ?? "?"}) ` +
        `is not a valid document: ${why}`,
    );
  }

  /** Unwraps a version record's envelope; throws `corrupt` naming the key. */
  private unwrap(det: Detail, key: Key | undefined, docKey: string): { key: Key; value: unknown; deleted: boolean } {
    const v = det.value;
    if (!isObj(v)) {
      throw this.corrupt(key, docKey, det.id, `expected an ansible-jobs envelope object, found ${v === null ? "null" : typeof v}`);
    }
    if (v.ansible_jobs_store !== ENVELOPE_FORMAT) {
      throw this.corrupt(key, docKey, det.id, `unknown envelope format ${JSON.stringify(v.ansible_jobs_store)}`);
    }
    if (!Array.isArray(v.key) || !v.key.every((s) => typeof s === "string")) {
      throw this.corrupt(key, docKey, det.id, "the envelope has no key");
    }
    const stored = v.key as string[];
    if (key && JSON.stringify(stored) !== JSON.stringify(key)) {
      throw this.corrupt(key, docKey, det.id, `it holds the document of another key (${stored.join("/")})`);
    }
    const deleted = v.deleted === true;
    if (!deleted && !("value" in v)) throw this.corrupt(key ?? stored, docKey, det.id, "the envelope has no value");
    return { key: stored, value: v.value, deleted };
  }

  private entry(book: LedgerBook, key: Key, n: number, id: number, value: unknown, modified: Date | undefined): Entry {
    const e: Entry = { key, where: this.where(id), value, version: formatVersion(book.id, n) };
    if (modified) e.modified = modified;
    return e;
  }

  /**
   * POSTs version N. `won: false` means another writer holds version N (the unique
   * (key, playbook) pair refused ours: HTTP 400, or 500 when the database caught the race).
   */
  private async postVersion(
    book: LedgerBook,
    key: Key,
    docKey: string,
    n: number,
    payload: { value: unknown } | { deleted: true },
  ): Promise<{ won: true; id: number; updated: Date | undefined } | { won: false }> {
    const nonce = randomBytes(12).toString("hex");
    const araKey = versionKey(docKey, n);
    const body = {
      playbook: book.id,
      key: araKey,
      type: "deleted" in payload ? TYPE_DELETED : docType(this.hooks?.summarize(key, payload.value)),
      value: { ansible_jobs_store: ENVELOPE_FORMAT, key: [...key], n, nonce, ...payload },
    };
    let last = "";
    for (let attempt = 0; attempt < POST_ATTEMPTS; attempt++) {
      let res: AraResponse | undefined;
      try {
        res = await this.client.request("POST", "records", { body });
      } catch (err) {
        if (!isTransient(err) || attempt === POST_ATTEMPTS - 1) throw err;
        last = (err as Error).message;
      }
      if (res?.status === 201 && isObj(res.body) && typeof res.body.id === "number") {
        const u = typeof res.body.updated === "string" ? new Date(res.body.updated) : undefined;
        return { won: true, id: res.body.id, updated: u && !Number.isNaN(u.getTime()) ? u : undefined };
      }
      if (res?.status === 400) {
        const text = JSON.stringify(res.body ?? "");
        if (isObj(res.body) && "playbook" in res.body && /object does not exist|invalid pk/i.test(text)) {
          throw this.markVanished(book);
        }
        // Django REST framework's UniqueTogetherValidator: refused before any insert.
        if (isObj(res.body) && "non_field_errors" in res.body && /unique/i.test(text)) return { won: false };
      } else if (res && res.status !== 500 && res.status < 502) {
        throw this.client.statusError("POST", "records", res);
      }
      if (res) last = `HTTP ${res.status}`;
      // 400 (duplicate), 500 (duplicate caught by the database, or a database error),
      // 502-504 or no answer: whoever holds version N now decides.
      const row = await this.findRow(book, araKey);
      if (row) {
        const det = await this.detail(book, row.id);
        if (det && isObj(det.value) && det.value.nonce === nonce) {
          return { won: true, id: row.id, updated: det.updated };
        }
        return { won: false };
      }
      if (res?.status === 400) throw this.client.statusError("POST", "records", res);
      await this.checkAlive(book, true);
      await sleep(100 * 2 ** attempt + Math.random() * 100);
    }
    throw this.client.unavailable(`POST ${this.client.api("records")} keeps failing (${last}); the Ara server or its database is in trouble`);
  }

  /** After a won write: move the hint, remember the version, link job heads to the run. */
  private async afterWrite(book: LedgerBook, key: Key, docKey: string, n: number, id: number, live: boolean, value?: unknown): Promise<void> {
    const prev = this.known.get(docKey);
    const lat: Latest = { n, id, live, hintId: prev?.hintId };
    this.known.set(docKey, lat);
    const hint = async () => {
      // Version 1 needs no hint: readers probe version 1 anyway.
      if (n === 1 && lat.hintId === undefined) return;
      try {
        await this.writeHint(book, key, docKey, lat);
      } catch (err) {
        if (isCode(err, "store_unavailable") && this.vanished) throw err;
        // Only a hint: readers find the version by probing.
      }
    };
    const link = live ? this.hooks?.link(key, value) : undefined;
    await Promise.all([hint(), link ? this.link(book, key, docKey, id, link) : undefined]);
  }

  private async writeHint(book: LedgerBook, key: Key, docKey: string, lat: Latest): Promise<void> {
    const body = { type: hintType(lat.n, lat.id, lat.live), value: { ansible_jobs_store: ENVELOPE_FORMAT, hint: true, key: [...key], n: lat.n } };
    if (lat.hintId !== undefined) {
      const res = await this.client.request("PATCH", `records/${lat.hintId}`, { body });
      if (res.status === 200) return;
    }
    const res = await this.client.request("POST", "records", { body: { ...body, playbook: book.id, key: docKey } });
    let hintId: number | undefined;
    if (res.status === 201 && isObj(res.body) && typeof res.body.id === "number") hintId = res.body.id;
    else {
      const row = await this.findRow(book, docKey);
      if (!row) return;
      hintId = row.id;
      // Never move a hint backwards on purpose (concurrent writers may still race; harmless).
      const cur = parseHintType(row.type);
      if (!cur || cur.n < lat.n) await this.client.request("PATCH", `records/${row.id}`, { body });
    }
    const k = this.known.get(docKey);
    if (k && k.n === lat.n) k.hintId = hintId;
  }

  // ---- links to the run's playbook -----------------------------------------------------

  private async playbookOf(uuid: string): Promise<number | undefined> {
    let p = this.playbookOfPlay.get(uuid);
    if (!p) {
      p = (async () => {
        const res = await this.client.request("GET", "plays", { query: { uuid, limit: 1 } });
        if (res.status !== 200 || !isObj(res.body)) return undefined; // 400: not a uuid
        const first = (res.body.results as unknown[] | undefined)?.[0];
        return isObj(first) ? playbookIdOf(first.playbook) : undefined;
      })();
      this.playbookOfPlay.set(uuid, p);
    }
    return p;
  }

  /**
   * Writes (or refreshes) `ansible_job:NAME@HOST` on the playbook of the play that started or
   * resumed the job, so the job shows up in Ara's UI next to the run. Best effort: a run
   * without Ara's callback has no such playbook, and a failed link never fails the write.
   */
  private async link(book: LedgerBook, key: Key, docKey: string, recordId: number, link: DocumentLink): Promise<void> {
    const uuid = this.context.play_id ?? link.playId;
    if (!uuid) return;
    try {
      const pb = await this.playbookOf(uuid);
      if (pb === undefined || pb === book.id) return;
      const linkKey = boundedKey(link.name);
      const linkValue = {
        ...link.fields,
        play_id: uuid,
        ledger_playbook: book.id,
        ledger_key: docKey,
        key: [...key],
        record: this.client.ui("records", recordId),
        record_api: this.where(recordId),
        ledger: this.client.ui("playbooks", book.id),
      };
      const cacheKey = `${pb}\n${linkKey}`;
      let id = this.linkIds.get(cacheKey);
      if (id !== undefined) {
        const res = await this.client.request("PATCH", `records/${id}`, { body: { value: linkValue, type: TYPE_LINK } });
        if (res.status === 200) return;
        id = undefined;
      }
      const res = await this.client.request("POST", "records", {
        body: { playbook: pb, key: linkKey, type: TYPE_LINK, value: linkValue },
      });
      if (res.status === 201 && isObj(res.body) && typeof res.body.id === "number") {
        this.linkIds.set(cacheKey, res.body.id);
        return;
      }
      const found = await this.client.expect("GET", "records", [200], { query: { playbook: pb, key: linkKey, limit: 2 } });
      const row = ((found.body as { results?: Row[] }).results ?? []).find((r) => r.key === linkKey);
      if (!row) throw this.client.statusError("POST", "records", res);
      const upd = await this.client.request("PATCH", `records/${row.id}`, { body: { value: linkValue, type: TYPE_LINK } });
      if (upd.status !== 200) throw this.client.statusError("PATCH", `records/${row.id}`, upd);
      this.linkIds.set(cacheKey, row.id);
    } catch (err) {
      this.warn(`ara store ${this.url}: could not link ${link.title} to the Ara playbook of play ${uuid}: ${(err as Error).message}`);
    }
  }

  // ---- the Store interface -------------------------------------------------------------

  async get(key: Key): Promise<Entry | undefined> {
    if (key.length === 0) throw new JobsError("invalid_argument", "empty store key");
    const book = await this.ledgerFor(false);
    if (!book) return undefined;
    const docKey = docKeyOf(key);
    for (let attempt = 0; attempt < 2; attempt++) {
      const r = await this.resolveAndFetch(book, docKey, attempt === 0, true);
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
    const k = this.known.get(docKey);
    let guess: number | undefined = k ? (k.live ? undefined : k.n + 1) : 1;
    for (let i = 0; i < WRITE_RETRIES; i++) {
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
        if (i > 0) await sleep(5 + Math.random() * 20);
      }
      const res = await this.postVersion(book, key, docKey, n, { value });
      if (res.won) {
        await this.afterWrite(book, key, docKey, n, res.id, true, value);
        return this.entry(book, key, n, res.id, value, res.updated);
      }
    }
    throw new JobsError("conflict", `ara store ${this.url}: "${key.join("/")}" kept changing while it was created; try again`);
  }

  /** After a lost or impossible update: not_found when the document is gone, else conflict. */
  private async lostUpdate(book: LedgerBook, key: Key, docKey: string): Promise<never> {
    const lat = await this.resolve(book, docKey);
    if (!lat?.live) throw new JobsError("not_found", `ara store ${this.url}: "${key.join("/")}" does not exist`);
    throw new JobsError("conflict", `ara store ${this.url}: "${key.join("/")}" was changed by another writer`);
  }

  /** Whether version N of the document exists and is live (so writing N+1 keeps versions contiguous). */
  private async versionIsLive(book: LedgerBook, docKey: string, n: number): Promise<boolean> {
    const k = this.known.get(docKey);
    if (k && k.n === n) return k.live;
    const row = await this.findRow(book, versionKey(docKey, n));
    return row !== undefined && row.type !== TYPE_DELETED;
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
    for (let i = 0; i < WRITE_RETRIES; i++) {
      const lat = await this.resolve(book, docKey);
      if (!lat?.live) return;
      const res = await this.postVersion(book, key, docKey, lat.n + 1, { deleted: true });
      if (res.won) {
        await this.afterWrite(book, key, docKey, lat.n + 1, res.id, false);
        return;
      }
      await sleep(5 + Math.random() * 20);
    }
    throw new JobsError("conflict", `ara store ${this.url}: "${key.join("/")}" kept changing while it was deleted; try again`);
  }

  /** Keys, ids and types of every record in the ledger (the list endpoint has no values). */
  private async allRows(book: LedgerBook): Promise<Row[]> {
    const out: Row[] = [];
    for (let offset = 0; ; ) {
      const res = await this.client.expect("GET", "records", [200], {
        query: { playbook: book.id, order: "id", limit: LIST_PAGE, offset },
      });
      const body = res.body as { results?: Row[]; next?: string | null };
      const rows = body.results ?? [];
      out.push(...rows);
      if (!body.next || rows.length === 0) return out;
      offset += rows.length;
    }
  }

  async list(prefix: Key, filter?: DocumentFilter): Promise<ListResult> {
    const result: ListResult = { entries: [], errors: [] };
    const book = await this.ledgerFor(false);
    if (!book) return result;
    await this.checkAlive(book, true);
    const latest = new Map<string, { n: number; row: Row }>();
    for (const row of await this.allRows(book)) {
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
    if (this.vanished) throw this.vanished;
    const book = this.book;
    let res: AraResponse;
    if (book) {
      res = await this.client.request("GET", `playbooks/${book.id}`);
      if (res.status === 404) throw this.markVanished(book);
      if (res.status !== 200) throw this.client.statusError("GET", `playbooks/${book.id}`, res);
    } else {
      res = await this.client.expect("GET", "", [200]);
    }
    if (!res.date) throw this.client.unavailable("the server sent no Date header, so its clock is unknown");
    return res.date;
  }

  async close(): Promise<void> {}
}
