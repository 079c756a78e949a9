/**
 * The per-host timeline: one row per host, one bar per attempt from started_at to finished_at
 * (to updated_at while active). Status is shown by colour AND by a pattern and a text label;
 * every bar marks updated_at (the record's last write), and an active bar continues as a dashed
 * line from there to now, so a "running" that nobody has checked for a while looks stale.
 */
import { h, s } from "./dom.js";
import { clock, day, when } from "./format.js";
import { STATUSES, TERMINAL } from "../../engine/status.js";
import { type Times, isStale, ranFor, since } from "../../engine/times.js";

/** An attempt as /api/timeline gives it: its identity and its times. */
export interface Attempt extends Times {
  namespace: string;
  name: string;
  attempt: number;
}

export interface TimelineData {
  now: string;
  hosts: { host: string; attempts: Attempt[] }[];
  more_hosts: number;
}

/** The statuses that are not terminal (the engine's list, shared with the page bundle). */
export const ACTIVE: ReadonlySet<string> = new Set(STATUSES.filter((st) => !TERMINAL.has(st)));
/** A short label drawn in the bar, and the pattern that tells statuses apart without colour. */
export const LOOK: Record<string, { label: string; pattern: string }> = {
  starting: { label: "start", pattern: "dots" },
  running: { label: "run", pattern: "solid" },
  unreachable: { label: "unrch", pattern: "dots" },
  succeeded: { label: "ok", pattern: "solid" },
  failed: { label: "FAIL", pattern: "hatch" },
  timed_out: { label: "timeout", pattern: "hatch" },
  lost: { label: "LOST", pattern: "cross" },
  cancelled: { label: "cancel", pattern: "cross" },
};

const ROW = 26;
const LABEL_W = 170;
const AXIS_H = 22;

function defs(): SVGElement {
  const pat = (id: string, ...children: SVGElement[]) =>
    s("pattern", { id, width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: id === "p-hatch" ? "rotate(45)" : undefined }, ...children);
  return s(
    "defs",
    {},
    pat("p-hatch", s("rect", { width: 6, height: 6, class: "pat-bg" }), s("line", { x1: 0, y1: 0, x2: 0, y2: 6, class: "pat-fg" })),
    pat("p-cross", s("rect", { width: 6, height: 6, class: "pat-bg" }), s("path", { d: "M0 3H6M3 0V6", class: "pat-fg" })),
    pat("p-dots", s("rect", { width: 6, height: 6, class: "pat-bg" }), s("circle", { cx: 3, cy: 3, r: 1.2, class: "pat-dot" })),
  );
}

function ticks(t0: number, t1: number, n: number): { step: number; at: number[] } {
  const span = Math.max(1, t1 - t0);
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400, 172800, 604800].map((x) => x * 1000);
  const step = steps.find((st) => span / st <= n) ?? steps[steps.length - 1]!;
  const out: number[] = [];
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) out.push(t);
  return { step, at: out };
}

export function renderTimeline(data: TimelineData, width: number, jobHref: (a: Attempt, host: string) => string): Element {
  const now = Date.parse(data.now);
  if (data.hosts.length === 0) return h("p", { class: "empty" }, "No attempts to draw for this selection.");
  let t0 = now;
  for (const row of data.hosts) for (const a of row.attempts) t0 = Math.min(t0, Date.parse(a.started_at));
  const t1 = now + Math.max(1000, (now - t0) * 0.02);
  const plotW = Math.max(200, width - LABEL_W - 12);
  const x = (t: number) => LABEL_W + ((t - t0) / Math.max(1, t1 - t0)) * plotW;
  const height = AXIS_H + data.hosts.length * ROW + 4;
  const svg = s("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "timeline", role: "img", "aria-label": "Attempts per host over time" });
  const spanDays = (t1 - t0) / 86400000 > 1;
  const axis = ticks(t0, t1, Math.max(2, Math.floor(plotW / 110)));
  for (const t of axis.at) {
    svg.append(s("line", { x1: x(t), x2: x(t), y1: AXIS_H - 4, y2: height, class: "grid" }));
    const label = clock(t, axis.step < 60000);
    if (Math.abs(x(t) - x(now)) < 45) continue; // "now" is labelled there
    svg.append(s("text", { x: x(t), y: 12, class: "tick", "text-anchor": "middle" }, spanDays ? `${day(t)} ${label}` : label));
  }
  svg.append(s("line", { x1: x(now), x2: x(now), y1: AXIS_H - 6, y2: height, class: "now" }));
  svg.append(s("text", { x: x(now), y: AXIS_H - 8, class: "tick now-label", "text-anchor": "end" }, "now"));
  data.hosts.forEach((row, i) => {
    const y = AXIS_H + i * ROW;
    const g = s("g", { class: "host-row", "data-host": row.host });
    if (i % 2 === 0) g.append(s("rect", { x: 0, y, width, height: ROW, class: "stripe" }));
    const label = row.host.length > 24 ? `${row.host.slice(0, 23)}…` : row.host;
    g.append(s("text", { x: 6, y: y + ROW / 2 + 4, class: "host-label" }, s("title", {}, row.host), label));
    for (const a of row.attempts) {
      const active = ACTIVE.has(a.status);
      const start = Date.parse(a.started_at);
      const updated = Date.parse(a.updated_at);
      const end = a.finished_at ? Date.parse(a.finished_at) : updated;
      const x0 = x(start);
      const w = Math.max(3, x(end) - x0);
      const look = LOOK[a.status] ?? { label: a.status, pattern: "solid" };
      const stale = isStale(a, now);
      const tip = `${a.name} on ${row.host}, attempt ${a.attempt}: ${a.status}${stale ? " (stale)" : ""}\nstarted ${when(a.started_at)}\n${
        a.finished_at ? `finished ${when(a.finished_at)} (${ranFor(a, now)})` : `last written ${when(a.updated_at)}, ${since(a.updated_at, now)} ago`
      }${a.namespace !== "default" ? `\nnamespace ${a.namespace}` : ""}`;
      const bar = s(
        "a",
        { href: jobHref(a, row.host), class: `bar st-${a.status}${stale ? " stale" : ""}`, "data-status": a.status, "data-name": a.name },
        s("title", {}, tip),
        s("rect", { x: x0, y: y + 4, width: w, height: ROW - 8, rx: 2, class: `fill-${a.status}` }),
      );
      if (look.pattern !== "solid") bar.append(s("rect", { x: x0, y: y + 4, width: w, height: ROW - 8, rx: 2, fill: `url(#p-${look.pattern})`, class: "pattern" }));
      const text = `${look.label} ${a.name}`;
      if (w > 34) bar.append(s("text", { x: x0 + 4, y: y + ROW / 2 + 4, class: "bar-label" }, w > text.length * 6.5 + 8 ? text : look.label));
      // The record's last write.
      bar.append(s("line", { x1: x(updated), x2: x(updated), y1: y + 2, y2: y + ROW - 2, class: "updated-mark" }));
      if (active) {
        bar.append(s("line", { x1: x(updated), x2: x(now), y1: y + ROW / 2, y2: y + ROW / 2, class: `since-update${stale ? " stale" : ""}` }));
        if (stale && x(now) - x(updated) > 70) {
          bar.append(s("text", { x: x(now) - 4, y: y + ROW / 2 - 3, class: "stale-label", "text-anchor": "end" }, `no update for ${since(a.updated_at, now)}`));
        }
      }
      g.append(bar);
    }
    svg.append(g);
  });
  return svg;
}

export function legend(): Element {
  const items = Object.entries(LOOK).map(([st, look]) => {
    const sw = s("svg", { width: 26, height: 12, class: "swatch" }, s("rect", { width: 26, height: 12, rx: 2, class: `fill-${st}` }));
    if (look.pattern !== "solid") sw.append(s("rect", { width: 26, height: 12, rx: 2, fill: `url(#p-${look.pattern})` }));
    return h("span", { class: "legend-item" }, sw, ` ${st}`);
  });
  return h(
    "div",
    { class: "legend" },
    // The patterns, once for the page (the timeline's bars use them too).
    s("svg", { width: 0, height: 0, class: "defs", "aria-hidden": "true" }, defs()),
    ...items,
    h("span", { class: "legend-item" }, h("span", { class: "mark-sample" }, "|"), " last write (updated_at)"),
    h("span", { class: "legend-item" }, h("span", { class: "dash-sample" }, "- - -"), " active, no write since"),
  );
}
