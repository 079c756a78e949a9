/**
 * The dashboard page: a jobs table with filters, counts and sorting, the per-host timeline, a
 * page per job, and live updates from /api/events. Plain DOM; every value from a record goes
 * in as text (dom.ts). The list view's state lives in the address (#/?status=failed&sort=...).
 */
import { byId, clear, h } from "./dom.js";
import { ago, when } from "./format.js";
import { ACTIVE, type Attempt, type TimelineData, legend, renderTimeline } from "./timeline.js";
import { STATUSES } from "../../engine/status.js";
import { isStale, ranFor, since } from "../../engine/times.js";

interface Rec {
  namespace: string;
  name: string;
  host: string;
  attempt: number;
  status: string;
  jid: string | null;
  playbook: string | null;
  play: string | null;
  play_id: string | null;
  task: string | null;
  controller: string | null;
  started_at: string;
  updated_at: string;
  finished_at: string | null;
  last_error: string | null;
  result: { rc?: number | null; msg?: string; stdout_tail?: string; stderr_tail?: string; truncated?: boolean; failed?: boolean; changed?: boolean } | null;
  [k: string]: unknown;
}

interface JobsPage {
  store: string;
  now: string;
  total: number;
  offset: number;
  limit: number;
  counts: Record<string, number>;
  jobs: Rec[];
  errors: string[];
}

const FILTERS = ["namespace", "host", "name", "playbook"] as const;
const COLUMNS: [key: string, label: string][] = [
  ["namespace", "Namespace"],
  ["host", "Host"],
  ["name", "Job"],
  ["status", "Status"],
  ["attempt", "Try"],
  ["started_at", "Started"],
  ["updated_at", "Last write"],
  ["duration", "Duration"],
  ["playbook", "Playbook"],
];
const PAGE = 100;

const main = byId("main");
const problems = byId("problems");
const live = byId("live");

function listParams(): URLSearchParams {
  const hash = location.hash.replace(/^#\/?/, "");
  return new URLSearchParams(hash.startsWith("?") ? hash.slice(1) : "");
}

function setListParams(p: URLSearchParams): void {
  for (const [k, v] of [...p]) if (v === "") p.delete(k);
  location.hash = `#/?${p.toString()}`;
}

/** The API's filters: the page's, plus every namespace unless one is chosen. */
function apiParams(p: URLSearchParams): URLSearchParams {
  const q = new URLSearchParams(p);
  if (!q.get("namespace")) {
    q.delete("namespace");
    q.set("all-namespaces", "true");
  }
  return q;
}

export function jobHref(namespace: string, host: string, name: string): string {
  return `#/job/${[namespace, host, name].map(encodeURIComponent).join("/")}`;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { headers: { accept: "application/json" }, credentials: "same-origin" });
  const body = (await res.json().catch(() => ({ error: `${res.status} ${res.statusText}` }))) as T & { error?: string };
  if (!res.ok) throw new Error(body.error ?? `${res.status} ${res.statusText}`);
  return body;
}

function showProblems(list: string[], kind: string): void {
  if (list.length === 0) {
    problems.hidden = true;
    clear(problems);
    return;
  }
  problems.hidden = false;
  clear(
    problems,
    h("strong", {}, kind),
    h("ul", {}, ...list.slice(0, 20).map((e) => h("li", {}, e))),
    list.length > 20 ? h("p", {}, `... and ${list.length - 20} more`) : null,
  );
}

function badge(status: string, stale = false): HTMLElement {
  return h("span", { class: `badge st-${status}${stale ? " stale" : ""}`, "data-status": status }, status, stale ? " (stale)" : null);
}

// ---------------------------------------------------------------- list view

let listBuilt = false;
const ui = {
  counts: h("div", { class: "counts", id: "counts" }),
  filters: h("form", { class: "filters", id: "filters" }),
  timeline: h("div", { class: "timeline-box", id: "timeline" }),
  moreHosts: h("p", { class: "note" }),
  table: h("table", { class: "jobs", id: "jobs" }),
  pager: h("div", { class: "pager", id: "pager" }),
};

function input(name: string, placeholder: string): HTMLInputElement {
  const el = h("input", { name, id: `f-${name}`, placeholder, type: "search", autocomplete: "off", spellcheck: "false" });
  let timer: number | undefined;
  el.addEventListener("input", () => {
    clearTimeout(timer);
    timer = window.setTimeout(() => applyFilter(name, el.value.trim()), 350);
  });
  return el;
}

function applyFilter(name: string, value: string): void {
  const p = listParams();
  if (value) p.set(name, value);
  else p.delete(name);
  p.delete("offset");
  setListParams(p);
}

function buildList(): void {
  const status = h(
    "select",
    { name: "status", id: "f-status" },
    h("option", { value: "" }, "any status"),
    h("option", { value: "active" }, "active (starting, running, unreachable)"),
    h("option", { value: "terminal" }, "terminal (finished)"),
    ...STATUSES.map((st) => h("option", { value: st }, st)),
  );
  status.addEventListener("change", () => applyFilter("status", status.value));
  const history = h("input", { type: "checkbox", name: "history", id: "f-history" });
  history.addEventListener("change", () => applyFilter("history", history.checked ? "true" : ""));
  clear(
    ui.filters,
    h("label", {}, "Status ", status),
    ...FILTERS.map((f) => h("label", {}, `${f[0]!.toUpperCase()}${f.slice(1)} `, input(f, f === "namespace" ? "all" : f === "host" ? "web1,web2" : f === "playbook" ? "site.yml" : "exact name"))),
    h("label", { class: "check" }, history, " earlier attempts"),
    h("button", { type: "button", id: "f-clear", onclick: () => setListParams(new URLSearchParams()) }, "Clear"),
  );
  ui.filters.addEventListener("submit", (e) => e.preventDefault());
  clear(
    main,
    ui.counts,
    ui.filters,
    h("section", { class: "panel" }, h("h2", {}, "Timeline ", h("span", { class: "sub" }, "one row per host, one bar per attempt")), ui.timeline, ui.moreHosts, legend()),
    h("section", { class: "panel" }, h("h2", {}, "Jobs"), h("div", { class: "table-wrap" }, ui.table), ui.pager),
  );
  listBuilt = true;
}

function syncFilterInputs(p: URLSearchParams): void {
  for (const f of [...FILTERS, "status"]) {
    const el = byId<HTMLInputElement>(`f-${f}`);
    if (el && document.activeElement !== el) el.value = p.get(f) ?? "";
  }
  byId<HTMLInputElement>("f-history").checked = p.get("history") === "true";
}

function renderCounts(page: JobsPage, p: URLSearchParams): void {
  const chosen = p.get("status") ?? "";
  const all = Object.values(page.counts).reduce((a, b) => a + b, 0);
  const button = (value: string, label: string, n: number, cls = "") =>
    h(
      "button",
      { type: "button", class: `count ${cls}${chosen === value ? " chosen" : ""}`, "data-status": value || "all", onclick: () => applyFilter("status", value) },
      h("span", { class: "n" }, n),
      ` ${label}`,
    );
  const active = STATUSES.filter((st) => ACTIVE.has(st)).reduce((a, st) => a + (page.counts[st] ?? 0), 0);
  clear(
    ui.counts,
    button("", "all", all),
    button("active", "active", active, "group"),
    button("terminal", "terminal", all - active, "group"),
    ...STATUSES.map((st) => button(st, st.replace("_", " "), page.counts[st] ?? 0, `st-${st}${page.counts[st] ? "" : " zero"}`)),
  );
}

function renderTable(page: JobsPage, p: URLSearchParams): void {
  const now = Date.parse(page.now);
  const sort = p.get("sort") ?? "host";
  const order = p.get("order") ?? "asc";
  const head = h(
    "tr",
    {},
    ...COLUMNS.map(([key, label]) => {
      const on = sort === key;
      return h(
        "th",
        { "aria-sort": on ? (order === "asc" ? "ascending" : "descending") : undefined },
        h(
          "button",
          {
            type: "button",
            class: `sort${on ? " on" : ""}`,
            "data-sort": key,
            onclick: () => {
              const q = listParams();
              q.set("sort", key);
              q.set("order", on && order === "asc" ? "desc" : "asc");
              q.delete("offset");
              setListParams(q);
            },
          },
          label,
          on ? (order === "asc" ? " ▲" : " ▼") : "",
        ),
      );
    }),
  );
  const rows = page.jobs.map((r) => {
    const stale = isStale(r, now);
    return h(
      "tr",
      { class: `row st-${r.status}`, "data-host": r.host, "data-name": r.name, "data-status": r.status },
      h("td", { class: "ns" }, r.namespace),
      h("td", {}, r.host),
      h("td", { class: "name" }, h("a", { href: jobHref(r.namespace, r.host, r.name) }, r.name)),
      h("td", {}, badge(r.status, stale)),
      h("td", { class: "num" }, r.attempt),
      h("td", { title: when(r.started_at) }, ago(r.started_at, now)),
      h("td", { title: when(r.updated_at), class: stale ? "stale-text" : "" }, ago(r.updated_at, now)),
      h("td", { class: "num" }, ranFor(r, now)),
      h("td", { class: "path", title: r.playbook ?? "" }, r.playbook ? r.playbook.split("/").slice(-2).join("/") : "-"),
    );
  });
  clear(ui.table, h("thead", {}, head), h("tbody", {}, ...rows));
  if (rows.length === 0) ui.table.append(h("tbody", {}, h("tr", {}, h("td", { colspan: COLUMNS.length, class: "empty" }, "No jobs match."))));
  const from = page.total === 0 ? 0 : page.offset + 1;
  const to = page.offset + page.jobs.length;
  const go = (offset: number) => () => {
    const q = listParams();
    q.set("offset", String(Math.max(0, offset)));
    setListParams(q);
  };
  clear(
    ui.pager,
    h("button", { type: "button", disabled: page.offset === 0, onclick: go(page.offset - PAGE) }, "‹ previous"),
    h("span", { id: "range" }, ` ${from}-${to} of ${page.total} `),
    h("button", { type: "button", disabled: to >= page.total, onclick: go(page.offset + PAGE) }, "next ›"),
  );
}

/** A mark for bench/serve.ts: the first frame after `what` was drawn. */
function markPainted(what: string): void {
  if (performance.getEntriesByName(what).length) return;
  requestAnimationFrame(() => setTimeout(() => performance.mark(what), 0));
}

async function refreshList(): Promise<void> {
  if (!listBuilt) buildList();
  const p = listParams();
  syncFilterInputs(p);
  const q = apiParams(p);
  q.set("limit", String(PAGE));
  try {
    const page = await getJson<JobsPage>(`/api/jobs?${q}`);
    byId("store").textContent = page.store;
    renderCounts(page, p);
    renderTable(page, p);
    markPainted("ansible-jobs:table-painted");
    showProblems(page.errors, `${page.errors.length} unreadable record(s) in the store (the others are shown):`);
    stamp();
  } catch (err) {
    showProblems([(err as Error).message], "The store could not be read:");
    return;
  }
  // The timeline after the table: each query reads the whole store, and the table matters first.
  const t = apiParams(p);
  for (const k of ["sort", "order", "offset"]) t.delete(k);
  try {
    drawTimeline(await getJson<TimelineData>(`/api/timeline?${t}`));
    markPainted("ansible-jobs:data-painted");
  } catch (err) {
    drawn = undefined;
    clear(ui.timeline, h("p", { class: "empty" }, (err as Error).message));
  }
}

/** The timeline on show: a resize draws it again at the new width, without asking the server. */
let drawn: TimelineData | undefined;
function drawTimeline(tl: TimelineData): void {
  drawn = tl;
  const width = Math.max(600, ui.timeline.clientWidth || main.clientWidth - 32);
  clear(ui.timeline, renderTimeline(tl, width, (a: Attempt, host: string) => jobHref(a.namespace, host, a.name)));
  ui.moreHosts.textContent = tl.more_hosts ? `${tl.more_hosts} more host(s) not drawn: filter by host to see them.` : "";
}

// ---------------------------------------------------------------- job view

interface JobDetail {
  store: string;
  now: string;
  record: Rec;
  history: Rec[];
  ara: { play_url: string } | null;
  errors: string[];
}

function dl(rows: [string, unknown][]): HTMLElement {
  return h(
    "dl",
    {},
    ...rows.flatMap(([k, v]) => [
      h("dt", {}, k),
      h("dd", {}, v === null || v === undefined || v === "" ? "-" : typeof v === "object" ? JSON.stringify(v) : String(v)),
    ]),
  );
}

async function refreshJob(rest: string): Promise<void> {
  listBuilt = false;
  drawn = undefined;
  let d: JobDetail;
  try {
    d = await getJson<JobDetail>(`/api/jobs/${rest}`);
  } catch (err) {
    clear(main, h("p", {}, h("a", { href: "#/" }, "← all jobs")), h("div", { class: "panel error-box", id: "job-error" }, (err as Error).message));
    return;
  }
  byId("store").textContent = d.store;
  const r = d.record;
  const now = Date.parse(d.now);
  const stale = isStale(r, now);
  const res = r.result;
  const araUrl = d.ara && /^https?:\/\//.test(d.ara.play_url) ? d.ara.play_url : undefined;
  clear(
    main,
    h("p", {}, h("a", { href: "#/", id: "back" }, "← all jobs")),
    h("h2", { class: "job-title", id: "job-title" }, h("span", { class: "name" }, r.name), h("span", { class: "sub" }, " on "), h("span", {}, r.host), " ", badge(r.status, stale)),
    h(
      "div",
      { class: "grid" },
      h(
        "section",
        { class: "panel" },
        h("h3", {}, "Status and times"),
        dl([
          ["status", r.status + (stale ? ` (no write for ${since(r.updated_at, now)})` : "")],
          ["attempt", r.attempt],
          ["started", when(r.started_at)],
          ["last write (updated_at)", `${when(r.updated_at)} (${ago(r.updated_at, now)})`],
          ["finished", when(r.finished_at)],
          ["checked", when(r.checked_at as string | null)],
          ["duration", ranFor(r, now)],
          ["last error", r.last_error],
        ]),
      ),
      h(
        "section",
        { class: "panel" },
        h("h3", {}, "Where it came from"),
        dl([
          ["playbook", r.playbook],
          ["play", r.play],
          ["play id", r.play_id],
          ["task", r.task],
          ["controller", r.controller],
          ["namespace", r.namespace],
        ]),
        araUrl ? h("p", {}, h("a", { href: araUrl, id: "ara-link", rel: "noreferrer", target: "_blank" }, "This play in Ara")) : null,
      ),
      h(
        "section",
        { class: "panel" },
        h("h3", {}, "The job"),
        dl([
          ["jid", r.jid],
          ["results file", r.results_file],
          ["async timeout", r.async_timeout === null ? null : `${r.async_timeout}s`],
          ["session id", r.session_id],
          ["host incarnation", r.host_incarnation],
          ["output files", r.output_files],
          ["no_log", r.no_log],
          ["record id", r.id],
        ]),
      ),
      h(
        "section",
        { class: "panel" },
        h("h3", {}, "Result"),
        res
          ? dl([
              ["rc", res.rc],
              ["msg", res.msg],
              ["failed", res.failed],
              ["changed", res.changed],
              ["output truncated", res.truncated],
            ])
          : h("p", { class: "note" }, r.no_log ? "No result kept: the job is marked no_log." : ACTIVE.has(r.status) ? "No result yet." : "No result recorded."),
      ),
    ),
    h("section", { class: "panel" }, h("h3", {}, "Output (stdout tail)"), h("pre", { class: "out", id: "stdout" }, res?.stdout_tail || "(none)")),
    h("section", { class: "panel" }, h("h3", {}, "Output (stderr tail)"), h("pre", { class: "out", id: "stderr" }, res?.stderr_tail || "(none)")),
    h(
      "section",
      { class: "panel" },
      h("h3", {}, `Attempts (${d.history.length})`),
      h(
        "table",
        { class: "jobs", id: "history" },
        h("thead", {}, h("tr", {}, ...["Try", "Status", "Started", "Finished", "Duration", "jid", "rc", "Last error"].map((c) => h("th", {}, c)))),
        h(
          "tbody",
          {},
          ...d.history.map((a) =>
            h(
              "tr",
              { class: a.attempt === r.attempt ? "current" : "" },
              h("td", { class: "num" }, a.attempt),
              h("td", {}, badge(a.status)),
              h("td", {}, when(a.started_at)),
              h("td", {}, when(a.finished_at)),
              h("td", { class: "num" }, ranFor(a, now)),
              h("td", {}, a.jid ?? "-"),
              h("td", { class: "num" }, a.result?.rc ?? "-"),
              h("td", {}, a.last_error ?? ""),
            ),
          ),
        ),
      ),
    ),
    h("details", { class: "panel" }, h("summary", {}, "The whole record (JSON)"), h("pre", { class: "out", id: "raw" }, JSON.stringify(r, null, 2))),
  );
  showProblems(d.errors, "Unreadable attempts of this job:");
  stamp();
}

// ---------------------------------------------------------------- routing and live updates

function stamp(): void {
  byId("updated").textContent = `updated ${new Date().toISOString().slice(11, 19)}Z`;
}

let pending: Promise<void> | undefined;
let again = false;
function refresh(): void {
  if (pending) {
    again = true;
    return;
  }
  const m = /^#\/job\/(.+)$/.exec(location.hash);
  pending = (m ? refreshJob(m[1]!) : refreshList()).finally(() => {
    pending = undefined;
    document.body.dataset.ready = "true";
    if (again) {
      again = false;
      refresh();
    }
  });
}

function connect(): void {
  const es = new EventSource("/api/events");
  es.addEventListener("ready", () => {
    live.textContent = "● live";
    live.className = "live on";
  });
  es.addEventListener("change", () => {
    live.textContent = "● live";
    live.className = "live on";
    refresh();
  });
  es.addEventListener("problem", (e) => {
    live.textContent = "● store problem";
    live.className = "live bad";
    const body = JSON.parse((e as MessageEvent<string>).data) as { error: string };
    showProblems([body.error], "The store could not be read (the dashboard keeps trying):");
  });
  es.onerror = () => {
    live.textContent = "○ reconnecting";
    live.className = "live off";
  };
}

window.addEventListener("hashchange", refresh);
let resizeTimer: number | undefined;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  // Only the timeline depends on the width; a refresh under way draws it at the new one anyway.
  resizeTimer = window.setTimeout(() => {
    if (listBuilt && drawn && !pending) drawTimeline(drawn);
  }, 200);
});
refresh();
// Live updates from the first view on (the feed's first poll of the store then does not compete with it).
void pending?.finally(connect);
