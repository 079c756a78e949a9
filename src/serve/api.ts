/**
 * The dashboard's JSON API. Reads only: every answer comes from the Ledger's queries, and the
 * filters of /api/jobs and /api/timeline are `ansible-jobs list`'s own options, parsed by the
 * CLI's parser (argv.ts) and turned into a selection by the same code (context.ts).
 *
 *   GET /api/jobs?status=failed&host=web1&sort=updated_at&order=desc&limit=100&offset=0
 *   GET /api/jobs/NAMESPACE/HOST/NAME          (each part URL-encoded)
 *   GET /api/timeline?<the filters of /api/jobs>&hosts=50
 */
import type { OpenedStore, Selection } from "../cli/context.js";
import { CliError } from "../cli/errors.js";
import type { JobRecord } from "../engine/record.js";
import { STATUSES, type Status } from "../engine/status.js";
import type { CliParts } from "./cli-parts.js";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Parameters of the API itself; every other parameter is a `list` option. */
const PAGING = new Set(["sort", "order", "limit", "offset", "hosts"]);
export const SORT_KEYS = ["namespace", "host", "name", "attempt", "status", "started_at", "updated_at", "finished_at", "duration", "playbook"] as const;
type SortKey = (typeof SORT_KEYS)[number];
const MAX_LIMIT = 1000;

/** `?status=failed&all-namespaces=1` -> the selection `ansible-jobs list --status=failed --all-namespaces` makes. */
export function selectionOf(cli: CliParts, params: URLSearchParams): Selection {
  const tokens: string[] = [];
  for (const [k, v] of params) {
    if (PAGING.has(k)) continue;
    // `?history` alone is `--history`; booleans otherwise take the parser's true/false, yes/no, 1/0.
    tokens.push(v === "" && (cli.selectionArgs as Record<string, { type: string }>)[k]?.type === "boolean" ? `--${k}` : `--${k}=${v}`);
  }
  try {
    return cli.selection(cli.parseArgv("list", cli.selectionArgs, tokens), "list");
  } catch (err) {
    if (err instanceof CliError) throw new ApiError(400, err.message);
    throw err;
  }
}

function intParam(params: URLSearchParams, name: string, def: number, max: number): number {
  const raw = params.get(name);
  if (raw === null || raw === "") return def;
  if (!/^\d+$/.test(raw) || Number(raw) > max) throw new ApiError(400, `${name}: "${raw}" is not a whole number from 0 to ${max}`);
  return Number(raw);
}

function durationOf(r: JobRecord, now: number): number {
  return (r.finished_at ? Date.parse(r.finished_at) : now) - Date.parse(r.started_at);
}

function comparator(key: SortKey, now: number): (a: JobRecord, b: JobRecord) => number {
  switch (key) {
    case "attempt":
      return (a, b) => a.attempt - b.attempt;
    case "status":
      return (a, b) => STATUSES.indexOf(a.status) - STATUSES.indexOf(b.status);
    case "duration":
      return (a, b) => durationOf(a, now) - durationOf(b, now);
    default:
      return (a, b) => {
        const x = a[key] ?? "";
        const y = b[key] ?? "";
        return x < y ? -1 : x > y ? 1 : 0;
      };
  }
}

function countsOf(records: readonly JobRecord[]): Record<Status, number> {
  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<Status, number>;
  for (const r of records) counts[r.status]++;
  return counts;
}

export interface JobsPage {
  store: string;
  now: string;
  /** Records that match every filter. */
  total: number;
  offset: number;
  limit: number;
  sort: string;
  order: "asc" | "desc";
  /** Per status, over the records that match every filter but --status (what a click on a count would show). */
  counts: Record<Status, number>;
  jobs: JobRecord[];
  /** Unreadable documents, one message each (their file or key named); the readable ones are still listed. */
  errors: string[];
}

/** GET /api/jobs */
export async function jobs(cli: CliParts, s: OpenedStore, params: URLSearchParams): Promise<JobsPage> {
  const sel = selectionOf(cli, params);
  const sortRaw = params.get("sort") || "host";
  if (!(SORT_KEYS as readonly string[]).includes(sortRaw)) throw new ApiError(400, `sort: "${sortRaw}" is not one of ${SORT_KEYS.join(", ")}`);
  const sort = sortRaw as SortKey;
  const orderRaw = params.get("order") || "asc";
  if (orderRaw !== "asc" && orderRaw !== "desc") throw new ApiError(400, `order: "${orderRaw}" is not asc or desc`);
  const limit = intParam(params, "limit", 100, MAX_LIMIT);
  const offset = intParam(params, "offset", 0, Number.MAX_SAFE_INTEGER);
  const now = Date.now();
  // One query without the status filter: the counts need it; the status filter is then the same test list applies.
  const { records: all, errors } = await cli.select(s, { ...sel, statuses: undefined }, now);
  const statuses = sel.statuses;
  const records = statuses ? all.filter((r) => statuses.includes(r.status)) : all;
  if (sort !== "host") {
    // select() sorts by namespace, host, name and attempt: a stable sort keeps that order among equals.
    const cmp = comparator(sort, now);
    records.sort(orderRaw === "asc" ? cmp : (a, b) => cmp(b, a));
  } else if (orderRaw === "desc") records.reverse();
  return {
    store: s.url,
    now: new Date(now).toISOString(),
    total: records.length,
    offset,
    limit,
    sort,
    order: orderRaw,
    counts: countsOf(all),
    jobs: records.slice(offset, offset + limit),
    errors,
  };
}

export interface TimelineAttempt {
  namespace: string;
  name: string;
  attempt: number;
  status: Status;
  started_at: string;
  updated_at: string;
  finished_at: string | null;
}

export interface Timeline {
  now: string;
  /** Hosts with at least one selected attempt, by name; at most `hosts` of them. */
  hosts: { host: string; attempts: TimelineAttempt[] }[];
  /** Hosts left out by the `hosts` limit. */
  more_hosts: number;
  errors: string[];
}

/** GET /api/timeline: every attempt (history included) of the selected jobs, one row per host. */
export async function timeline(cli: CliParts, s: OpenedStore, params: URLSearchParams): Promise<Timeline> {
  const sel = selectionOf(cli, params);
  const maxHosts = intParam(params, "hosts", 50, 1000);
  const now = Date.now();
  const { records, errors } = await cli.select(s, { ...sel, history: true }, now);
  const byHost = new Map<string, TimelineAttempt[]>();
  for (const r of records) {
    let row = byHost.get(r.host);
    if (!row) {
      row = [];
      byHost.set(r.host, row);
    }
    row.push({
      namespace: r.namespace,
      name: r.name,
      attempt: r.attempt,
      status: r.status,
      started_at: r.started_at,
      updated_at: r.updated_at,
      finished_at: r.finished_at,
    });
  }
  const hosts = [...byHost.keys()].sort();
  return {
    now: new Date(now).toISOString(),
    hosts: hosts.slice(0, maxHosts).map((host) => ({ host, attempts: byHost.get(host)! })),
    more_hosts: Math.max(0, hosts.length - maxHosts),
    errors,
  };
}

export interface JobDetail {
  store: string;
  now: string;
  record: JobRecord;
  /** Every attempt kept, oldest first (the current one included). */
  history: JobRecord[];
  /** For an Ara store: the Ara page of the playbook run that holds the job's play. */
  ara: { play_url: string } | null;
  errors: string[];
}

/** The parts of /api/jobs/NS/HOST/NAME, each URL-decoded (names may hold "/", spaces, brackets). */
export function identityOf(rest: string): { namespace: string; host: string; name: string } {
  const parts = rest.split("/");
  if (parts.length !== 3 || parts.some((p) => p === "")) {
    throw new ApiError(404, "a job is /api/jobs/NAMESPACE/HOST/NAME, each part URL-encoded (a / in a name is %2F)");
  }
  try {
    const [namespace, host, name] = parts.map((p) => decodeURIComponent(p)) as [string, string, string];
    return { namespace, host, name };
  } catch {
    throw new ApiError(400, `${rest}: not valid URL encoding`);
  }
}

/** GET /api/jobs/NS/HOST/NAME */
export async function job(s: OpenedStore, rest: string): Promise<JobDetail> {
  const id = identityOf(rest);
  const head = s.missing ? undefined : await s.ledger.head(id);
  if (!head) throw new ApiError(404, `no job "${id.name}" on ${id.host} in namespace ${id.namespace} of ${s.url}`);
  const { records, errors } = await s.ledger.history(id);
  const byAttempt = new Map(records.map((r) => [r.attempt, r]));
  byAttempt.set(head.record.attempt, head.record);
  const playUrl = await s.ledger.runPage(head.record);
  return {
    store: s.url,
    now: new Date().toISOString(),
    record: head.record,
    history: [...byAttempt.values()].sort((a, b) => a.attempt - b.attempt),
    ara: playUrl ? { play_url: playUrl } : null,
    errors,
  };
}
