/** How records look in a terminal: the list table, the history table and `show`. */
import * as path from "node:path";
import type { JobRecord } from "../engine/record.js";
import { isTerminal } from "../engine/status.js";
import { ranFor, since } from "../engine/times.js";
import { type Column, type Painter, ellipsize, renderTable, safeText } from "./output.js";

export interface RenderOptions {
  now: number;
  /** Cut long names and paths (only on a terminal; pipes get full values). */
  cut: boolean;
  namespaces: boolean;
}

const CUT = { host: 40, name: 48, playbook: 48, message: 72 } as const;

function cut(s: string, max: number, enabled: boolean): string {
  return enabled ? ellipsize(s, max) : s;
}

const shortPaths = new Map<string, Map<string, string>>();

/** A playbook path relative to the working directory when it lies below it (cached: 10k rows share a few playbooks). */
export function shortPath(p: string | null, cwd = process.cwd()): string {
  if (!p) return "-";
  let byPath = shortPaths.get(cwd);
  if (byPath === undefined) {
    byPath = new Map();
    shortPaths.set(cwd, byPath);
  }
  let short = byPath.get(p);
  if (short === undefined) {
    short = relativeBelow(p, cwd);
    byPath.set(p, short);
  }
  return short;
}

function relativeBelow(p: string, cwd: string): string {
  if (path.isAbsolute(p)) {
    const rel = path.relative(cwd, p);
    if (rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel)) return rel;
  }
  return p;
}

/** Seconds-precision ISO time, for tables. */
export function isoSeconds(iso: string | null): string {
  if (!iso) return "-";
  return iso.replace(/\.\d+Z$/, "Z");
}

/** Colours the status word of a padded cell, not the padding. */
function colourStart(padded: string, status: JobRecord["status"], p: Painter): string {
  return p.status(status) + padded.slice(status.length);
}

export function listTable(records: readonly JobRecord[], p: Painter, o: RenderOptions): string {
  const columns: Column[] = [
    ...(o.namespaces ? [{ header: "NAMESPACE" }] : []),
    { header: "HOST" },
    { header: "NAME" },
    { header: "STATUS" },
    { header: "ATTEMPT", right: true },
    { header: "JID" },
    { header: "AGE/UPDATED" },
    { header: "PLAYBOOK" },
  ];
  const statusCol = o.namespaces ? 3 : 2;
  const cwd = process.cwd();
  const rows: string[][] = new Array(records.length);
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const host = cut(safeText(r.host, true), CUT.host, o.cut);
    const name = cut(safeText(r.name, true), CUT.name, o.cut);
    const jid = r.jid ? safeText(r.jid, true) : "-";
    const started = since(r.started_at, o.now);
    const age = `${started}/${r.updated_at === r.started_at ? started : since(r.updated_at, o.now)}`;
    const playbook = cut(safeText(shortPath(r.playbook, cwd), true), CUT.playbook, o.cut);
    rows[i] = o.namespaces
      ? [safeText(r.namespace, true), host, name, r.status, String(r.attempt), jid, age, playbook]
      : [host, name, r.status, String(r.attempt), jid, age, playbook];
  }
  // Without colour, painting is the identity: skip the per-cell call.
  if (!p.enabled) return renderTable(columns, rows);
  return renderTable(
    columns,
    rows,
    (row, col, padded) => (col === statusCol ? colourStart(padded, records[row]!.status, p) : padded),
    (h) => p.paint("bold", h),
  );
}

/** The one-line outcome of an attempt: its last error, else the result message. */
export function outcome(r: JobRecord): string {
  if (r.last_error) return r.last_error;
  if (r.no_log && isTerminal(r.status)) return "(no_log)";
  return r.result?.msg ?? "";
}

export function historyTable(records: readonly JobRecord[], p: Painter, o: RenderOptions): string {
  const columns: Column[] = [
    { header: "ATTEMPT", right: true },
    { header: "STATUS" },
    { header: "JID" },
    { header: "STARTED" },
    { header: "RAN", right: true },
    { header: "RC", right: true },
    { header: "OUTCOME" },
  ];
  const rows = records.map((r) => [
    String(r.attempt),
    r.status,
    r.jid ? safeText(r.jid, true) : "-",
    isoSeconds(r.started_at),
    ranFor(r, o.now),
    r.result?.rc === undefined || r.result.rc === null ? "-" : String(r.result.rc),
    cut(safeText(outcome(r), true), CUT.message, o.cut),
  ]);
  return renderTable(
    columns,
    rows,
    (row, col, padded) => (col === 1 ? colourStart(padded, records[row]!.status, p) : padded),
    (h) => p.paint("bold", h),
  );
}

type Field = [label: string, value: string];

function timeLine(iso: string | null, now: number, extra = ""): string {
  if (!iso) return "-";
  return `${iso}  (${since(iso, now)} ago${extra})`;
}

function section(title: string, fields: Field[], p: Painter, width: number): string {
  const lines = [p.paint("bold", title)];
  for (const [k, v] of fields) {
    const [first, ...rest] = v.split("\n");
    lines.push(k === "" ? `  ${first}` : `  ${k.padEnd(width)}  ${first}`);
    for (const l of rest) lines.push(`  ${"".padEnd(width)}  ${l}`);
  }
  return lines.join("\n");
}

function block(title: string, text: string, p: Painter): string {
  const body = safeText(text.replace(/\n$/, ""))
    .split("\n")
    .map((l) => `  ${p.paint("dim", "|")} ${l}`);
  return [p.paint("bold", title), ...body].join("\n");
}

/** `show`: the whole record, grouped the way the design brief lists the fields. */
export function detail(r: JobRecord, p: Painter, now: number): string {
  const t = (s: string | null | undefined) => (s === null || s === undefined || s === "" ? "-" : safeText(s));
  const terminal = isTerminal(r.status);
  const job: Field[] = [
    ["status", `${p.status(r.status)}${terminal ? "  (terminal)" : "  (active)"}`],
    ...(r.last_error ? ([["last error", p.paint(terminal && r.status !== "succeeded" ? "red" : "yellow", t(r.last_error))]] as Field[]) : []),
    ["id", r.id],
    ["jid", t(r.jid)],
    ["results file", t(r.results_file)],
    ["async timeout", r.async_timeout === null ? "-" : `${r.async_timeout}s`],
    ["session id", r.session_id === null ? "-" : String(r.session_id)],
    [
      "host incarnation",
      r.host_incarnation
        ? Object.entries(r.host_incarnation)
            .filter(([, v]) => v !== null && v !== undefined)
            .map(([k, v]) => `${k}=${safeText(String(v))}`)
            .join(" ") || "-"
        : "-",
    ],
    ["claim token", t(r.claim_token)],
    [
      "output files",
      r.output_files
        ? Object.entries(r.output_files)
            .map(([k, v]) => `${k}=${t(v)}`)
            .join(" ") || "-"
        : "-",
    ],
    ["no_log", r.no_log ? "yes (no result kept)" : "no"],
    ...(r.metadata && Object.keys(r.metadata).length ? ([["metadata", safeText(JSON.stringify(r.metadata))]] as Field[]) : []),
  ];
  const origin: Field[] = [
    ["playbook", t(r.playbook)],
    ["play", `${t(r.play)}${r.play_id ? `  (id ${safeText(r.play_id)})` : ""}`],
    ["task", t(r.task)],
    ["controller", t(r.controller)],
  ];
  const times: Field[] = [
    ["started", timeLine(r.started_at, now)],
    ["updated", timeLine(r.updated_at, now)],
    ["checked", timeLine(r.checked_at, now)],
    ["finished", timeLine(r.finished_at, now, r.finished_at ? `; ran ${ranFor(r, now)}` : "")],
    ["cleaned", timeLine(r.cleaned_at, now)],
    ...(!r.finished_at && !terminal ? ([["running for", ranFor(r, now).replace(/\+$/, "")]] as Field[]) : []),
  ];
  const res = r.result;
  const result: Field[] = [];
  if (res) {
    if (res.rc !== undefined) result.push(["rc", res.rc === null ? "-" : String(res.rc)]);
    if (res.msg !== undefined) result.push(["msg", t(res.msg)]);
    if (res.failed !== undefined) result.push(["failed", res.failed ? "yes" : "no"]);
    if (res.changed !== undefined) result.push(["changed", res.changed ? "yes" : "no"]);
    if (res.truncated) result.push(["truncated", "yes: only the tails of stdout/stderr are kept"]);
  }
  if (result.length === 0) {
    result.push(["", r.no_log ? "hidden (no_log)" : terminal ? "none recorded" : "none yet"]);
  }
  const width = Math.max(...[...job, ...origin, ...times, ...result].map(([k]) => k.length));
  const head = `${p.paint("bold", `Job "${safeText(r.name)}"`)} on ${p.paint("bold", safeText(r.host))}  (namespace ${safeText(r.namespace)}, attempt ${r.attempt})`;
  const parts = [
    head,
    section("Job", job, p, width),
    section("Origin", origin, p, width),
    section("Times", times, p, width),
    section("Result", result, p, width),
  ];
  if (res?.stdout_tail) parts.push(block("stdout (tail)", res.stdout_tail, p));
  if (res?.stderr_tail) parts.push(block("stderr (tail)", res.stderr_tail, p));
  return `${parts.join("\n\n")}\n`;
}
