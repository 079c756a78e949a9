/** Times as the page shows them (durations and staleness are src/engine/times.ts's). */
import { since } from "../../engine/times.js";

/** "5m3s ago" ("-" for none). */
export function ago(iso: string | null, now: number): string {
  if (!iso) return "-";
  return `${since(iso, now)} ago`;
}

/** "2026-12-07 02:31:05Z" */
export function when(iso: string | null): string {
  if (!iso) return "-";
  return iso.replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/** "14:05" (UTC), or "14:05:30" with seconds. */
export function clock(ms: number, seconds = false): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}${seconds ? `:${p(d.getUTCSeconds())}` : ""}`;
}

export function day(ms: number): string {
  return new Date(ms).toISOString().slice(5, 10);
}
