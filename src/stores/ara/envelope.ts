/**
 * What a version record holds: an envelope around the document (format marker, the store key,
 * the version number, a nonce that tells its writer it won, and the value or a deletion mark),
 * and the opaque version strings ("ara:LEDGER:N") that compare-and-swap hands back.
 */
import type { Key } from "../types.js";
import { ENVELOPE_FORMAT } from "./keys.js";
import { isObj } from "./records.js";

export type Payload = { value: unknown } | { deleted: true };

export function formatVersion(book: number, n: number): string {
  return `ara:${book}:${n}`;
}

export function parseVersion(v: string): { book: number; n: number } | undefined {
  const m = /^ara:([1-9][0-9]*):([1-9][0-9]*)$/.exec(v);
  return m ? { book: Number(m[1]), n: Number(m[2]) } : undefined;
}

/** The value of version record N of `key`. */
export function envelope(key: Key, n: number, nonce: string, payload: Payload): Record<string, unknown> {
  return { ansible_jobs_store: ENVELOPE_FORMAT, key: [...key], n, nonce, ...payload };
}

/**
 * Unwraps a version record's value; `corrupt(key, why)` builds the error that names the record
 * (`key` is the stored key once it is known).
 */
export function unwrap(
  v: unknown,
  key: Key | undefined,
  corrupt: (key: Key | undefined, why: string) => Error,
): { key: Key; value: unknown; deleted: boolean } {
  if (!isObj(v)) {
    throw corrupt(key, `expected an ansible-jobs envelope object, found ${v === null ? "null" : typeof v}`);
  }
  if (v.ansible_jobs_store !== ENVELOPE_FORMAT) {
    throw corrupt(key, `unknown envelope format ${JSON.stringify(v.ansible_jobs_store)}`);
  }
  if (!Array.isArray(v.key) || !v.key.every((s) => typeof s === "string")) {
    throw corrupt(key, "the envelope has no key");
  }
  const stored = v.key as string[];
  if (key && JSON.stringify(stored) !== JSON.stringify(key)) {
    throw corrupt(key, `it holds the document of another key (${stored.join("/")})`);
  }
  const deleted = v.deleted === true;
  if (!deleted && !("value" in v)) throw corrupt(key ?? stored, "the envelope has no value");
  return { key: stored, value: v.value, deleted };
}
