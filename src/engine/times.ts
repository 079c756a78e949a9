/**
 * A record's times as people read them: how long an attempt ran, how long ago something
 * happened, and whether an active record went quiet. The CLI (src/cli/render.ts) and the
 * dashboard's page (src/serve/page/) both show them; this module imports nothing from Node,
 * so the page bundle takes it whole.
 */
import { type Status, TERMINAL } from "./status.js";

/** The times a record keeps (a JobRecord, or the dashboard's view of one). */
export interface Times {
  status: string;
  started_at: string;
  updated_at: string;
  finished_at: string | null;
}

/** An active record not written for this long is stale (the dashboard marks it). */
export const STALE_MS = 5 * 60 * 1000;

const UNITS: readonly (readonly [string, number])[] = [
  ["d", 86400],
  ["h", 3600],
  ["m", 60],
  ["s", 1],
];

/** "42s", "12m5s", "3h12m", "7d3h": the two largest units, for columns. */
export function shortDuration(ms: number): string {
  if (!Number.isFinite(ms)) return "?";
  let s = Math.floor(Math.abs(ms) / 1000);
  let out = ms < 0 ? "-" : "";
  let parts = 0;
  for (const [u, size] of UNITS) {
    if (s >= size || (size === 1 && parts === 0)) {
      const n = Math.floor(s / size);
      s -= n * size;
      out += `${n}${u}`;
      if (++parts === 2) break;
    } else if (parts > 0) break;
  }
  return out;
}

/** How long before `now` the time `iso` was ("-" for none). */
export function since(iso: string | null, now: number): string {
  if (!iso) return "-";
  return shortDuration(now - Date.parse(iso));
}

/** Wall time of an attempt: finished - started, or "so far" (with a +) for active ones. */
export function ranFor(r: Times, now: number): string {
  const start = Date.parse(r.started_at);
  if (r.finished_at) return shortDuration(Date.parse(r.finished_at) - start);
  if (TERMINAL.has(r.status as Status)) return "-";
  return `${shortDuration(now - start)}+`;
}

/** An active record that nobody wrote for STALE_MS: nothing has checked the job for a while. */
export function isStale(r: Times, now: number): boolean {
  return !TERMINAL.has(r.status as Status) && now - Date.parse(r.updated_at) > STALE_MS;
}
