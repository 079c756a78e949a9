/**
 * A small HTTP client for Ara's REST API (global fetch, node18+), authenticated the way
 * Ara's own client is: ARA_API_USERNAME / ARA_API_PASSWORD become HTTP Basic credentials.
 *
 * - Every request has a bounded timeout (ARA_API_TIMEOUT seconds, default 15).
 * - Credentials are refused (401/403), redirects, and servers that are not an Ara API
 *   become JobsError("store_unavailable") naming the store URL and the cause; never a stack trace.
 * - Idempotent GETs are retried on connection errors and 502/503/504; other requests are
 *   returned to the caller, which knows whether a retry is safe.
 */
import { AGAIN, type Again, retry } from "../../engine/retry.js";
import { JobsError } from "../../engine/errors.js";

export interface Credentials {
  username: string;
  password: string;
}

export interface AraResponse {
  status: number;
  /** Parsed JSON body (undefined for empty bodies, the raw text when not JSON). */
  body: unknown;
  /** The server's clock: the HTTP Date header. */
  date: Date | undefined;
}

export interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  body?: unknown;
}

const GET_RETRIES = 2;

/** Errors where the request may or may not have reached the server (no answer, cut-off answer). */
const transientErrors = new WeakSet<object>();

export function isTransient(err: unknown): boolean {
  return typeof err === "object" && err !== null && transientErrors.has(err);
}


function isTimeout(err: unknown): boolean {
  const e = err as { name?: string; cause?: { name?: string } };
  return e?.name === "TimeoutError" || e?.cause?.name === "TimeoutError";
}

/** A short, single-line reason from a fetch failure (connection refused, DNS, TLS, timeout). */
export function networkReason(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string; name?: string } };
  if (isTimeout(err)) return `no answer within ${timeoutMs / 1000}s`;
  const c = e?.cause;
  if (c?.code === "ECONNREFUSED") return "connection refused (is the Ara server running?)";
  if (c?.code === "ENOTFOUND" || c?.code === "EAI_AGAIN") return `host not found (${c.code})`;
  if (c?.code === "ECONNRESET") return "connection reset by the server";
  if (/bad port/i.test(c?.message ?? e?.message ?? "")) return "Node's fetch refuses this port as unsafe (bad port); serve Ara on another port";
  if (c?.code && /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO/.test(c.code)) {
    return `TLS: ${c.message ?? c.code} (${c.code}); to trust a private CA, start with NODE_EXTRA_CA_CERTS=/path/to/ca.pem`;
  }
  if (c?.code && c.message) return `${c.message}`;
  if (c?.message) return c.message;
  return e?.message ?? String(err);
}

/** A short, single-line summary of an error body (JSON detail, or text without HTML). */
export function bodySummary(body: unknown): string {
  if (body === undefined || body === null || body === "") return "";
  if (typeof body === "string") {
    const text = body
      .replace(/<[^>]*>/g, " ")
      .replace(/\s+/g, " ")
      .trim();
    return text.length > 200 ? `${text.slice(0, 200)}...` : text;
  }
  const d = (body as { detail?: unknown }).detail;
  if (typeof d === "string") return d;
  const s = JSON.stringify(body);
  return s.length > 300 ? `${s.slice(0, 300)}...` : s;
}

export class AraClient {
  /** `base` is the server URL without a trailing slash, e.g. http://127.0.0.1:8000 or https://host/ara. */
  constructor(
    readonly base: string,
    /** The store URL as shown to users (credentials removed), used in every error message. */
    readonly display: string,
    private readonly credentials: Credentials | undefined,
    readonly timeoutMs: number,
  ) {}

  /** The API URL of a path like "records" or "records/12". */
  api(path: string): string {
    return `${this.base}/api/v1/${path}`;
  }

  /** The Ara web UI page of a record or playbook. */
  ui(kind: "records" | "playbooks", id: number): string {
    return `${this.base}/${kind}/${id}.html`;
  }

  unavailable(cause: string, err?: unknown): JobsError {
    return new JobsError("store_unavailable", `ara store ${this.display}: ${cause}`, err === undefined ? {} : { cause: err });
  }

  private headers(hasBody: boolean): Record<string, string> {
    const h: Record<string, string> = { Accept: "application/json", "User-Agent": "ansible-jobs (rstyczynski.ansible)" };
    if (hasBody) h["Content-Type"] = "application/json";
    if (this.credentials) {
      const token = Buffer.from(`${this.credentials.username}:${this.credentials.password}`, "utf8").toString("base64");
      h.Authorization = `Basic ${token}`;
    }
    return h;
  }

  private url(path: string, query?: RequestOptions["query"]): string {
    const u = new URL(this.api(path));
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }

  /**
   * One request. Returns every status the caller may want to interpret (2xx, 400, 404, 5xx);
   * throws store_unavailable for network failures, timeouts, redirects and refused credentials.
   */
  async request(method: "GET" | "POST" | "PATCH" | "DELETE", path: string, opts: RequestOptions = {}): Promise<AraResponse> {
    const url = this.url(path, opts.query);
    const attempts = method === "GET" ? GET_RETRIES + 1 : 1;
    let lastErr: unknown;
    // GETs are tried again on network errors and 502-504, 200 ms, 400 ms... apart (plus up to 100 ms).
    return retry({ attempts, wait: (i) => 100 * 2 ** (i + 1) + Math.random() * 100 }, async (i): Promise<AraResponse | Again> => {
      let res: Response;
      // A timer of our own, not AbortSignal.timeout(): that one does not keep Node running, and a
      // request whose connection went quiet (a store cut off mid-answer) let the engine exit 0
      // with no answer at all instead of failing after timeoutMs (found by make soak).
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(new DOMException(`no answer within ${this.timeoutMs}ms`, "TimeoutError")), this.timeoutMs);
      try {
        res = await fetch(url, {
          method,
          headers: this.headers(opts.body !== undefined),
          body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
          redirect: "manual",
          signal: ac.signal,
        });
      } catch (err) {
        clearTimeout(timer);
        lastErr = this.unavailable(`cannot reach ${url.split("?")[0]}: ${networkReason(err, this.timeoutMs)}`, err);
        transientErrors.add(lastErr as object);
        // A server that does not answer in time gets no second chance: bounded, not multiplied.
        if (isTimeout(err)) throw lastErr;
        return AGAIN;
      }
      let text: string;
      try {
        text = await res.text();
      } catch (err) {
        clearTimeout(timer);
        lastErr = this.unavailable(`${method} ${url.split("?")[0]}: the answer was cut off: ${networkReason(err, this.timeoutMs)}`, err);
        transientErrors.add(lastErr as object);
        return AGAIN;
      }
      clearTimeout(timer);
      let body: unknown = text === "" ? undefined : text;
      if (text !== "" && (res.headers.get("content-type") ?? "").includes("json")) {
        try {
          body = JSON.parse(text);
        } catch {
          body = text;
        }
      }
      const dateHeader = res.headers.get("date");
      const date = dateHeader ? new Date(dateHeader) : undefined;
      const out: AraResponse = { status: res.status, body, date: date && !Number.isNaN(date.getTime()) ? date : undefined };
      if (res.status === 401 || res.status === 403) throw this.authError(res.status, body);
      if (res.status >= 300 && res.status < 400) {
        const loc = res.headers.get("location");
        throw this.unavailable(
          `${url.split("?")[0]} redirects (HTTP ${res.status}${loc ? ` to ${loc}` : ""}); point the store at the final address` +
            (loc?.startsWith("https:") ? " (ara+https://...)" : ""),
        );
      }
      if (method === "GET" && (res.status === 502 || res.status === 503 || res.status === 504) && i < attempts - 1) {
        lastErr = this.unavailable(`${method} ${url.split("?")[0]}: HTTP ${res.status} ${bodySummary(body)}`.trim());
        return AGAIN;
      }
      return out;
    }, () => lastErr as Error);
  }

  private authError(status: number, body: unknown): JobsError {
    const detail = bodySummary(body);
    if (!this.credentials) {
      return this.unavailable(
        `the Ara server requires a login (HTTP ${status}${detail ? `: ${detail}` : ""}); set ARA_API_USERNAME and ARA_API_PASSWORD`,
      );
    }
    return this.unavailable(
      `the Ara server refused the credentials of user "${this.credentials.username}" (HTTP ${status}${detail ? `: ${detail}` : ""}); ` +
        "check ARA_API_USERNAME / ARA_API_PASSWORD" +
        (status === 403 ? " and that this user may write" : ""),
    );
  }

  /** A request that must succeed with one of `ok`; anything else is store_unavailable. */
  async expect(method: "GET" | "POST" | "PATCH" | "DELETE", path: string, ok: number[], opts: RequestOptions = {}): Promise<AraResponse> {
    const res = await this.request(method, path, opts);
    if (ok.includes(res.status)) {
      if (res.status !== 204 && res.body !== undefined && typeof res.body !== "object") {
        throw this.unavailable(`${this.api(path)} did not answer with JSON: is this an Ara server (API v1)? (${bodySummary(res.body)})`);
      }
      return res;
    }
    throw this.statusError(method, path, res);
  }

  statusError(method: string, path: string, res: AraResponse): JobsError {
    const what = `${method} ${this.api(path)}`;
    if (res.status === 404 && /^(records|playbooks|plays|labels)$/.test(path)) {
      return this.unavailable(`${what}: HTTP 404: this is not an Ara API server (API v1), check the store URL`);
    }
    return this.unavailable(`${what}: HTTP ${res.status}${res.body !== undefined ? `: ${bodySummary(res.body)}` : ""}`);
  }
}
