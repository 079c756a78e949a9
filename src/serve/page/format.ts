/** Times and durations as the page shows them. */
export function ago(iso: string | null, now: number): string {
  if (!iso) return "-";
  return `${duration(now - Date.parse(iso))} ago`;
}

export function duration(ms: number): string {
  if (!(ms >= 0)) return "-";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60 ? ` ${s % 60}s` : ""}`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${m % 60 ? ` ${m % 60}m` : ""}`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
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
