/**
 * Which version of a document is the latest. Versions are contiguous from 1 and never removed,
 * so the latest is found by probing: the hint record (its type names the latest version it
 * saw), then a gallop up while versions exist, then a bisection. What this process learns is
 * kept per docKey (spares a probe before an update); hints are moved after each write.
 */
import type { Key } from "../types.js";
import type { LedgerBook } from "./book.js";
import type { AraClient } from "./http.js";
import { ENVELOPE_FORMAT, TYPE_DELETED, hintType, parseHintType, versionKey } from "./keys.js";
import { type Detail, type Row, fetchDetail, findRow, isObj } from "./records.js";

export interface Latest {
  n: number;
  id: number;
  live: boolean;
  hintId?: number | undefined;
}

export class Versions {
  /** Latest version seen by this process, per docKey. */
  private readonly known = new Map<string, Latest>();

  constructor(private readonly client: AraClient) {}

  /** What this process last saw of a document (undefined: nothing yet). */
  seen(docKey: string): Latest | undefined {
    return this.known.get(docKey);
  }

  /**
   * The latest version of a document, or undefined when it has none. Versions are contiguous
   * from 1, so: start at the hint (or 1), gallop up while versions exist, then bisect.
   */
  async resolve(book: LedgerBook, docKey: string, useHint = true): Promise<Latest | undefined> {
    return (await this.resolveAndFetch(book, docKey, useHint, false)).lat;
  }

  /**
   * resolve(), and with `prefetch` the hinted version's record fetched in parallel with the
   * probe for a newer one (`det`, only when it is the latest and live).
   */
  async resolveAndFetch(
    book: LedgerBook,
    docKey: string,
    useHint: boolean,
    prefetch: boolean,
  ): Promise<{ lat: Latest | undefined; det?: Detail | undefined }> {
    // One round trip: the hint and version 1 together. No version 1 means no versions at all.
    const [hintRow, first] = await Promise.all([
      useHint ? findRow(this.client, book.id, docKey) : undefined,
      findRow(this.client, book.id, versionKey(docKey, 1)),
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
      findRow(this.client, book.id, versionKey(docKey, base.n + 1)),
      withValue ? fetchDetail(this.client, book.id, base.id) : undefined,
      fromHint && !withValue ? findRow(this.client, book.id, versionKey(docKey, base.n)) : undefined,
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
      const r = await findRow(this.client, book.id, versionKey(docKey, lo + step));
      if (r) {
        lo += step;
        loRow = r;
      } else hi = lo + step;
    }
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      const r = await findRow(this.client, book.id, versionKey(docKey, mid));
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

  /** Whether version N of the document exists and is live (so writing N+1 keeps versions contiguous). */
  async isLive(book: LedgerBook, docKey: string, n: number): Promise<boolean> {
    const k = this.known.get(docKey);
    if (k && k.n === n) return k.live;
    const row = await findRow(this.client, book.id, versionKey(docKey, n));
    return row !== undefined && row.type !== TYPE_DELETED;
  }

  /** After a won write of version N: remember it; returns what the hint should now say. */
  wrote(docKey: string, n: number, id: number, live: boolean): Latest {
    const prev = this.known.get(docKey);
    const lat: Latest = { n, id, live, hintId: prev?.hintId };
    this.known.set(docKey, lat);
    return lat;
  }

  /** Moves the document's hint to `lat` (creating the hint record when there is none). */
  async writeHint(book: LedgerBook, key: Key, docKey: string, lat: Latest): Promise<void> {
    const body = { type: hintType(lat.n, lat.id, lat.live), value: { ansible_jobs_store: ENVELOPE_FORMAT, hint: true, key: [...key], n: lat.n } };
    if (lat.hintId !== undefined) {
      const res = await this.client.request("PATCH", `records/${lat.hintId}`, { body });
      if (res.status === 200) return;
    }
    const res = await this.client.request("POST", "records", { body: { ...body, playbook: book.id, key: docKey } });
    let hintId: number | undefined;
    if (res.status === 201 && isObj(res.body) && typeof res.body.id === "number") hintId = res.body.id;
    else {
      const row = await findRow(this.client, book.id, docKey);
      if (!row) return;
      hintId = row.id;
      // Never move a hint backwards on purpose (concurrent writers may still race; harmless).
      const cur = parseHintType(row.type);
      if (!cur || cur.n < lat.n) await this.client.request("PATCH", `records/${row.id}`, { body });
    }
    const k = this.known.get(docKey);
    if (k && k.n === lat.n) k.hintId = hintId;
  }
}
