/**
 * What every command shares: the global options, the store, the output settings and the
 * selection of records (namespace, host, name, status, age filters).
 */
import { Ledger } from "../engine/ledger.js";
import { parseDuration } from "../engine/options.js";
import type { RecordFilter } from "../engine/query.js";
import type { JobRecord } from "../engine/record.js";
import { STATUSES, type Status, TERMINAL } from "../engine/status.js";
import { openStore, resolveStoreUrl } from "../stores/open.js";
import type { Store } from "../stores/types.js";
import { CliError, EXIT, usageError } from "./errors.js";
import { Painter, safeText, useColor } from "./output.js";

/** Options every command accepts, before or after the command name. */
export const globalArgs = {
  store: {
    type: "string",
    valueHint: "url",
    description: "Store: PATH, file://PATH, s3://BUCKET[/PREFIX], oci://NAMESPACE[@REGION]/BUCKET[/PREFIX], ara+http(s)://HOST:PORT (default: $ANSIBLE_JOBS_STORE, else ./.ansible_async_state)",
  },
  json: { type: "boolean", description: "Print JSON (records as in `ansible-jobs schema`)" },
  ndjson: { type: "boolean", description: "Print one JSON record per line" },
  color: {
    type: "boolean",
    description: "Colour the output even when it is not a terminal",
    negativeDescription: "Never colour the output (also NO_COLOR=1; no colour when stdout is not a terminal)",
  },
} as const;

/** Which records: shared by list, watch and prune. */
export const selectionArgs = {
  namespace: { type: "string", alias: "n", valueHint: "ns", description: 'Namespace (default: "default")' },
  "all-namespaces": { type: "boolean", alias: "A", description: "All namespaces (adds a NAMESPACE column)" },
  host: { type: "string", valueHint: "host[,host...]", description: "Only these inventory hosts" },
  name: { type: "string", valueHint: "name", description: "Only the job with this exact name" },
  status: {
    type: "string",
    valueHint: "status[,status...]",
    description: `Only these statuses: ${STATUSES.join(", ")}; or the groups active (non-terminal), terminal`,
  },
  playbook: { type: "string", valueHint: "path", description: "Only jobs started by this playbook (full path or a trailing part, e.g. site.yml)" },
  "older-than": { type: "string", valueHint: "duration", description: "Only jobs last updated more than DURATION ago (90s, 15m, 12h, 7d, 2w)" },
  "newer-than": { type: "string", valueHint: "duration", description: "Only jobs updated within DURATION" },
  history: { type: "boolean", description: "Include earlier attempts (kept until pruned)" },
} as const;

export const failOnArg = {
  "fail-on": {
    type: "string",
    valueHint: "status[,status...]",
    description: "Exit 3 when a listed job has one of these statuses (for CI gates), e.g. failed,lost,timed_out",
  },
} as const;

export interface GlobalOptions {
  store?: string | undefined;
  json?: boolean | undefined;
  ndjson?: boolean | undefined;
  color?: boolean | undefined;
}

export type OutputMode = "table" | "json" | "ndjson";

export function outputMode(g: GlobalOptions, command: string): OutputMode {
  if (g.json && g.ndjson) throw usageError("--json and --ndjson cannot be used together", command);
  return g.json ? "json" : g.ndjson ? "ndjson" : "table";
}

export function painter(g: GlobalOptions): Painter {
  return new Painter(useColor({ color: g.color }));
}

/** One line on stderr per problem; never a stack trace. */
export function warn(message: string): void {
  process.stderr.write(`ansible-jobs: warning: ${safeText(message, true)}\n`);
}

export function note(message: string): void {
  process.stderr.write(`${safeText(message, true)}\n`);
}

export function print(text: string): void {
  process.stdout.write(text);
}

export interface OpenedStore {
  store: Store;
  ledger: Ledger;
  /** The store as shown to the user (a path or URL). */
  url: string;
  /** A filesystem store whose directory does not exist yet: every list is empty. */
  missing: boolean;
}

/** Opens the store (--store, else $ANSIBLE_JOBS_STORE, else ./.ansible_async_state) without creating it. */
export async function open(g: GlobalOptions): Promise<OpenedStore> {
  const { url } = resolveStoreUrl(g.store, process.cwd());
  const store = await openStore(url);
  const missing = isMissing(store);
  return { store, ledger: new Ledger(store), url: store.url, missing };
}

/**
 * True when the store does not exist yet (a filesystem store's directory: then every list is
 * empty, and nothing is created just by looking). The store decides (Store.absent).
 */
export function isMissing(store: Store): boolean {
  return store.absent?.() ?? false;
}

export async function close(s: OpenedStore): Promise<void> {
  await s.store.close?.();
  for (const n of s.store.warnings ?? []) process.stderr.write(`ansible-jobs: warning: ${n}\n`);
}

/** "failed,lost", "active", "terminal" -> statuses; a usage error names a bad value. */
export function parseStatuses(raw: string | undefined, flag: string, command: string): Status[] | undefined {
  if (raw === undefined) return undefined;
  const out = new Set<Status>();
  for (const part of raw.split(",").map((s) => s.trim().toLowerCase())) {
    if (part === "") continue;
    if (part === "active") {
      for (const s of STATUSES) if (!TERMINAL.has(s)) out.add(s);
    } else if (part === "terminal") for (const s of TERMINAL) out.add(s);
    else if ((STATUSES as readonly string[]).includes(part)) out.add(part as Status);
    else {
      throw usageError(`${flag}: unknown status "${part}" (use ${STATUSES.join(", ")}, active or terminal)`, command);
    }
  }
  if (out.size === 0) throw usageError(`${flag} needs at least one status`, command);
  return [...out];
}

export function parseDurationArg(raw: string | undefined, flag: string, command: string): number | undefined {
  if (raw === undefined) return undefined;
  try {
    return parseDuration(raw, flag);
  } catch {
    throw usageError(`${flag}: "${raw}" is not a duration (examples: 90s, 15m, 12h, 7d, 2w)`, command);
  }
}

export function splitList(raw: string | undefined): string[] | undefined {
  if (raw === undefined) return undefined;
  const parts = raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  return parts.length ? [...new Set(parts)] : undefined;
}

export interface SelectionOptions {
  namespace?: string | undefined;
  "all-namespaces"?: boolean | undefined;
  host?: string | undefined;
  name?: string | undefined;
  status?: string | undefined;
  playbook?: string | undefined;
  "older-than"?: string | undefined;
  "newer-than"?: string | undefined;
  history?: boolean | undefined;
}

export interface Selection {
  namespace: string | undefined;
  hosts: string[] | undefined;
  name: string | undefined;
  statuses: Status[] | undefined;
  playbook: string | undefined;
  olderThanSec: number | undefined;
  newerThanSec: number | undefined;
  history: boolean;
}

export function selection(a: SelectionOptions, command: string): Selection {
  if (a["all-namespaces"] && a.namespace !== undefined) {
    throw usageError("--namespace and --all-namespaces cannot be used together", command);
  }
  return {
    namespace: a["all-namespaces"] ? undefined : (a.namespace ?? "default"),
    hosts: splitList(a.host),
    name: a.name,
    statuses: parseStatuses(a.status, "--status", command),
    playbook: a.playbook,
    olderThanSec: parseDurationArg(a["older-than"], "--older-than", command),
    newerThanSec: parseDurationArg(a["newer-than"], "--newer-than", command),
    history: a.history === true,
  };
}

/** The store filter for one host (or all), as the engine's list and prune take it. */
export function filterFor(sel: Selection, host: string | undefined, now: number): RecordFilter {
  const f: RecordFilter = {};
  if (sel.namespace !== undefined) f.namespace = sel.namespace;
  if (host !== undefined) f.host = host;
  if (sel.name !== undefined) f.name = sel.name;
  if (sel.statuses) f.status = sel.statuses;
  if (sel.playbook !== undefined) f.playbook = sel.playbook;
  if (sel.olderThanSec !== undefined) f.updatedBefore = new Date(now - sel.olderThanSec * 1000);
  return f;
}

export { compareRecords } from "../engine/ledger.js";

/** The selected records, sorted by namespace, host, name and attempt, plus the unreadable documents. */
export async function select(s: OpenedStore, sel: Selection, now = Date.now()): Promise<{ records: JobRecord[]; errors: string[] }> {
  if (s.missing) return { records: [], errors: [] };
  const filter = filterFor(sel, undefined, now);
  if (sel.newerThanSec !== undefined) filter.updatedSince = new Date(now - sel.newerThanSec * 1000);
  return s.ledger.select({ ...filter, ...(sel.hosts ? { hosts: sel.hosts } : {}), history: sel.history });
}

/** `--fail-on`: the exit code for a set of records (3 when one matches). */
export function failOnCode(records: readonly JobRecord[], failOn: readonly Status[] | undefined): number {
  if (!failOn) return EXIT.ok;
  const hits = records.filter((r) => failOn.includes(r.status));
  if (hits.length === 0) return EXIT.ok;
  const counts = STATUSES.map((st) => [st, hits.filter((r) => r.status === st).length] as const).filter(([, n]) => n > 0);
  note(`ansible-jobs: --fail-on: ${hits.length} job(s) with a failing status: ${counts.map(([st, n]) => `${n} ${st}`).join(", ")}`);
  return EXIT.failOn;
}

export function reportUnreadable(errors: readonly string[]): void {
  for (const e of errors) warn(`unreadable record: ${e}`);
}

/** Not found, for show/history/delete. */
export function notFound(message: string): CliError {
  return new CliError(EXIT.notFound, message);
}
