/**
 * Key segment encoding shared by the filesystem and S3 stores.
 *
 * - Only [a-z0-9_-] and non-leading "." pass through; everything else, including
 *   upper-case letters, becomes %XX of its UTF-8 bytes. So "../../x" and "a/b" stay one
 *   segment, and "Web" and "web" stay apart even on case-insensitive filesystems.
 * - Long segments keep a readable prefix plus a SHA-256 suffix, so every segment fits
 *   in a file name (255 bytes) whatever the input length.
 */
import { createHash } from "node:crypto";
import { JobsError } from "../engine/errors.js";

const MAX_SEGMENT = 200;
const SAFE = /[a-z0-9_-]/;

export function encodeSegment(raw: string): string {
  if (raw.length === 0) throw new JobsError("invalid_argument", "empty key segment");
  let out = "";
  let i = 0;
  for (const ch of raw) {
    if (SAFE.test(ch) || (ch === "." && i > 0)) out += ch;
    else for (const b of Buffer.from(ch, "utf8")) out += `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
    i++;
  }
  if (out.length <= MAX_SEGMENT) return out;
  const hash = createHash("sha256").update(raw, "utf8").digest("hex").slice(0, 32);
  // Cut on a whole escape so the prefix stays decodable.
  let cut = MAX_SEGMENT - 34;
  const pct = out.lastIndexOf("%", cut);
  if (pct > cut - 3) cut = pct;
  return `${out.slice(0, cut)}~${hash}`;
}

/** Decodes a segment made by encodeSegment; hashed (long) segments return undefined. */
export function decodeSegment(enc: string): string | undefined {
  if (enc.includes("~")) return undefined;
  try {
    return decodeURIComponent(enc);
  } catch {
    return undefined;
  }
}

export function encodeKey(key: readonly string[]): string[] {
  return key.map(encodeSegment);
}
