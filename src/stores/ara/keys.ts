/**
 * How store keys become Ara record keys (Ara keys are at most 255 characters).
 *
 *   docKey      segments encoded by encode.ts and joined with "/" ("heads/default/web1/backup");
 *               longer than DOC_KEY_MAX: a readable prefix, "!", and 40 hex of SHA-256 of the key.
 *   docKey@N    version N of the document (immutable, N = 1, 2, 3...).
 *   docKey      (no "@") the head hint: which version is the latest, kept in the record type.
 * Encoded segments never contain "/", "@" or "!", so the three forms cannot collide, and they
 * never differ only by letter case (safe on case-insensitive database collations).
 */
import { createHash } from "node:crypto";
import { decodeSegment, encodeKey } from "../encode.js";
import type { DocumentSummary, Key } from "../types.js";

export const DOC_KEY_MAX = 200;
const READABLE_KEEP = 150;

/** Record types (Ara's free-form `type` field, returned by the list endpoint). */
export const TYPE_DOC = "ansible-jobs:doc";
export const TYPE_DELETED = "ansible-jobs:deleted";
export const TYPE_HINT_PREFIX = "ansible-jobs:head";
export const TYPE_LINK = "dict";

/** Format marker inside every document record's value. */
export const ENVELOPE_FORMAT = 1;

export function docKeyOf(key: Key): string {
  const joined = encodeKey(key).join("/");
  if (joined.length <= DOC_KEY_MAX) return joined;
  let cut = READABLE_KEEP;
  const pct = joined.lastIndexOf("%", cut);
  if (pct > cut - 3) cut = pct; // never cut inside a %XX escape
  const hash = createHash("sha256").update(JSON.stringify(key), "utf8").digest("hex").slice(0, 40);
  return `${joined.slice(0, cut)}!${hash}`;
}

export function versionKey(docKey: string, n: number): string {
  return `${docKey}@${n}`;
}

/** Splits "docKey@N"; undefined for hints and foreign records. */
export function parseVersionKey(araKey: string): { docKey: string; n: number } | undefined {
  const m = /^(.+)@([1-9][0-9]{0,15})$/.exec(araKey);
  if (!m) return undefined;
  return { docKey: m[1]!, n: Number(m[2]) };
}

/** The store key behind a docKey when it is readable (not hashed), else undefined. */
export function decodeDocKey(docKey: string): Key | undefined {
  if (docKey.includes("!")) return undefined;
  const out: string[] = [];
  for (const seg of docKey.split("/")) {
    const d = decodeSegment(seg);
    if (d === undefined) return undefined;
    out.push(d);
  }
  return out;
}

/** A key for messages: the store key when known, else the Ara key. */
export function showKey(key: Key | undefined, docKey: string): string {
  return key ? key.join("/") : docKey;
}

/** Whether a docKey lies under a prefix: "yes", "no", or "maybe" (hashed: check the stored key). */
export function prefixMatch(docKey: string, prefix: Key): "yes" | "no" | "maybe" {
  if (prefix.length === 0) return "yes";
  const p = `${encodeKey(prefix).join("/")}/`;
  const bang = docKey.indexOf("!");
  if (bang < 0) return docKey.startsWith(p) ? "yes" : "no";
  const readable = docKey.slice(0, bang);
  if (readable.length >= p.length) return readable.startsWith(p) ? "yes" : "no";
  return p.startsWith(readable) ? "maybe" : "no";
}

export function keyHasPrefix(key: readonly string[], prefix: Key): boolean {
  return key.length > prefix.length && prefix.every((s, i) => key[i] === s);
}

/**
 * A live version's type: "ansible-jobs:doc", plus the document's summary (DocumentHooks), which
 * list() can filter on without fetching the value: ";status=running;updated_at=2026-01-01T00:00:00.000Z".
 * Versions are immutable, so the summary always matches the value next to it. Pairs that could
 * not be parsed back (or would not fit Ara's type field) are left out.
 */
export function docType(summary: DocumentSummary | undefined): string {
  let t = TYPE_DOC;
  for (const [k, v] of Object.entries(summary ?? {})) {
    const pair = `;${k}=${v}`;
    if (!SUMMARY_KEY.test(k) || !SUMMARY_VALUE.test(v) || t.length + pair.length > TYPE_MAX) continue;
    t += pair;
  }
  return t;
}

const SUMMARY_KEY = /^[a-z_]{1,32}$/;
const SUMMARY_VALUE = /^[^;=\s]{1,64}$/;
const TYPE_MAX = 255;

export function parseDocType(type: string): DocumentSummary {
  const out: Record<string, string> = {};
  if (!type.startsWith(`${TYPE_DOC};`)) return out;
  for (const part of type.slice(TYPE_DOC.length + 1).split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const k = part.slice(0, eq);
    if (SUMMARY_KEY.test(k)) out[k] = part.slice(eq + 1);
  }
  return out;
}

/** Hint type: "ansible-jobs:head:N:RECORD_ID:live|deleted". */
export function hintType(n: number, id: number, live: boolean): string {
  return `${TYPE_HINT_PREFIX}:${n}:${id}:${live ? "live" : "deleted"}`;
}

export function parseHintType(type: unknown): { n: number; id: number; live: boolean } | undefined {
  if (typeof type !== "string") return undefined;
  const m = /^ansible-jobs:head:([1-9][0-9]*):([1-9][0-9]*):(live|deleted)$/.exec(type);
  if (!m) return undefined;
  return { n: Number(m[1]), id: Number(m[2]), live: m[3] === "live" };
}

/** An Ara record key for free text (link records): at most 255 characters. */
export function boundedKey(text: string, max = 255): string {
  const chars = Array.from(text); // code points: never split a surrogate pair
  if (chars.length <= max) return text;
  const hash = createHash("sha256").update(text, "utf8").digest("hex").slice(0, 16);
  return `${chars.slice(0, max - 18).join("")}!${hash}`;
}
