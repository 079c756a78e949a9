/**
 * The dashboard's HTTP server: routes, the checks every request passes (security.ts), the
 * page's assets (assets.ts), the JSON API (api.ts) and the live feed (/api/events, server-sent
 * events sent when a poll of the store sees a change). Read-only: GET and HEAD only.
 */
import { createHash } from "node:crypto";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { OpenedStore, Selection } from "../cli/context.js";
import { CliError, EXIT } from "../cli/errors.js";
import { JobsError } from "../engine/errors.js";
import { ApiError, job, jobs, timeline } from "./api.js";
import { ASSETS } from "./assets.js";
import type { CliParts } from "./cli-parts.js";
import type { ServeOptions } from "./options.js";
import { hostAllowed, requestToken, sameToken, securityHeaders, tokenCookie } from "./security.js";

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): void {
  res.writeHead(status, { "Content-Type": type, "Cache-Control": "no-store", ...extra });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown, t0?: bigint): void {
  const extra: Record<string, string> = {};
  // How long the server took (the store's queries included): bench/serve.ts reads it.
  if (t0 !== undefined) extra["Server-Timing"] = `app;dur=${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1)}`;
  send(res, status, "application/json; charset=utf-8", JSON.stringify(value), extra);
}

/** An error as the API answers it: the store's problems named (503), the caller's (4xx), else 500. */
function errorAnswer(err: unknown): { status: number; body: { error: string; code?: string } } {
  if (err instanceof ApiError) return { status: err.status, body: { error: err.message } };
  if (err instanceof CliError) return { status: err.exitCode === EXIT.notFound ? 404 : 400, body: { error: err.message } };
  if (err instanceof JobsError && err.isUserError) {
    const status = err.code === "invalid_argument" ? 400 : err.code === "not_found" ? 404 : 503;
    return { status, body: { error: err.message, code: err.code } };
  }
  process.stderr.write(`ansible-jobs serve: internal error (please report it): ${err instanceof Error ? err.stack : String(err)}\n`);
  return { status: 500, body: { error: `internal error: ${err instanceof Error ? err.message : String(err)}`, code: "internal" } };
}

/** Polls the store while pages listen, and tells them when anything changed (or the store fails). */
/** One server-sent event. */
function message(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

class Feed {
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;
  private last: string | undefined;
  private busy = false;
  /** Every current record of every namespace, selected as `list -A` would. */
  private readonly all: Selection;

  constructor(
    private readonly cli: CliParts,
    private readonly store: OpenedStore,
    private readonly intervalMs: number,
  ) {
    this.all = cli.selection({ "all-namespaces": true }, "serve");
  }

  add(res: ServerResponse): void {
    res.writeHead(200, { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-store", Connection: "keep-alive" });
    res.write(`retry: 2000\n\n`);
    this.clients.add(res);
    res.on("close", () => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.stop();
    });
    this.timer ??= setInterval(() => void this.poll(), this.intervalMs);
    // A feed that has already read the store tells the new page at once, without another
    // read of the whole store; the first page (or one after an error) waits for a poll.
    if (this.last !== undefined && this.last !== "error") res.write(message("ready", { at: new Date().toISOString() }));
    else void this.poll();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.last = undefined;
  }

  private broadcast(event: string, data: unknown): void {
    const msg = message(event, data);
    for (const c of this.clients) c.write(msg);
  }

  /** A digest of every current record's id, status and updated_at, and of the unreadable documents. */
  private async poll(): Promise<void> {
    if (this.busy || this.clients.size === 0) return;
    this.busy = true;
    try {
      const { records, errors } = await this.cli.select(this.store, this.all);
      const h = createHash("sha256");
      for (const r of records) h.update(`${r.id}\u0000${r.status}\u0000${r.updated_at}\n`);
      for (const e of errors) h.update(`!${e}\n`);
      const digest = h.digest("hex");
      if (this.last !== undefined && digest !== this.last) this.broadcast("change", { at: new Date().toISOString() });
      else if (this.last === undefined) this.broadcast("ready", { at: new Date().toISOString() });
      this.last = digest;
    } catch (err) {
      this.last = "error";
      this.broadcast("problem", errorAnswer(err).body);
    } finally {
      this.busy = false;
    }
  }

  closeAll(): void {
    this.stop();
    for (const c of this.clients) c.end();
    this.clients.clear();
  }
}

function makeHandler(cli: CliParts, s: OpenedStore, opts: ServeOptions, feed: Feed) {
  const secure = opts.tls !== undefined;
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const t0 = process.hrtime.bigint();
    securityHeaders(res);
    if (!hostAllowed(req.headers.host, opts)) {
      send(res, 403, "text/plain; charset=utf-8", `Host "${req.headers.host ?? ""}" is not allowed: use a loopback name or an IP address, or start serve with --allow-host NAME (DNS-rebinding protection)\n`);
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      send(res, 405, "text/plain; charset=utf-8", "The dashboard is read-only: only GET and HEAD\n", { Allow: "GET, HEAD" });
      return;
    }
    const url = new URL(req.url ?? "/", "http://dashboard");
    const p = url.pathname;
    if (opts.token !== undefined && !sameToken(requestToken(req), opts.token)) {
      const given = url.searchParams.get("token") ?? undefined;
      if (p === "/" && sameToken(given, opts.token)) {
        // The token moves to a cookie and out of the address bar (and of the history).
        send(res, 303, "text/plain; charset=utf-8", "", { Location: "/", "Set-Cookie": tokenCookie(opts.token, secure) });
        return;
      }
      send(res, 401, "text/plain; charset=utf-8", "This dashboard needs its token: open /?token=TOKEN once (a cookie keeps it), or send Authorization: Bearer TOKEN\n", {
        "WWW-Authenticate": 'Bearer realm="ansible-jobs"',
      });
      return;
    }
    try {
      if (p === "/") return send(res, 200, "text/html; charset=utf-8", ASSETS.html);
      if (p === "/app.js") return send(res, 200, "text/javascript; charset=utf-8", ASSETS.js);
      if (p === "/app.css") return send(res, 200, "text/css; charset=utf-8", ASSETS.css);
      if (p === "/favicon.ico") return send(res, 204, "image/x-icon", "");
      if (p === "/api/events") return req.method === "HEAD" ? send(res, 200, "text/event-stream; charset=utf-8", "") : feed.add(res);
      if (p === "/api/jobs") return sendJson(res, 200, await jobs(cli, s, url.searchParams), t0);
      if (p === "/api/timeline") return sendJson(res, 200, await timeline(cli, s, url.searchParams), t0);
      if (p.startsWith("/api/jobs/")) return sendJson(res, 200, await job(s, p.slice("/api/jobs/".length)), t0);
      if (p.startsWith("/api/")) return sendJson(res, 404, { error: `no such API: ${p} (see docs/cli.md)` });
      send(res, 404, "text/plain; charset=utf-8", "Not found\n");
    } catch (err) {
      const a = errorAnswer(err);
      sendJson(res, a.status, a.body, t0);
    }
  };
}

function listen(server: Server, opts: ServeOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => {
      const why = err.code === "EADDRINUSE" ? "the address is in use" : err.code === "EACCES" ? "permission denied" : err.code === "EADDRNOTAVAIL" ? "no such address on this machine" : err.message;
      reject(new CliError(EXIT.usage, `serve: cannot listen on ${opts.host}:${opts.port}: ${why}`));
    });
    server.listen(opts.port, opts.host, () => {
      const a = server.address();
      resolve(typeof a === "object" && a ? a.port : opts.port);
    });
  });
}

/** Runs the dashboard until SIGINT or SIGTERM; the exit code. */
export async function runServer(opts: ServeOptions, cli: CliParts): Promise<number> {
  const s = await cli.open({ store: opts.store });
  const feed = new Feed(cli, s, opts.intervalSec * 1000);
  const handler = makeHandler(cli, s, opts, feed);
  const onRequest = (req: IncomingMessage, res: ServerResponse) => void handler(req, res);
  const server = opts.tls ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, onRequest) : createServer(onRequest);
  const port = await listen(server, opts);
  const scheme = opts.tls ? "https" : "http";
  const shownHost = opts.host.includes(":") ? `[${opts.host}]` : opts.host;
  if (opts.token !== undefined && !opts.tls && !opts.loopback) {
    cli.warn("the token travels in clear text over plain HTTP: anybody on the network path can read it; use --tls-cert/--tls-key, or an SSH tunnel to a loopback address");
  }
  process.stdout.write(`ansible-jobs serve: ${s.url} at ${scheme}://${shownHost}:${port}/ (read-only; Ctrl-C stops it)\n`);
  if (opts.token !== undefined) process.stdout.write(`Open ${scheme}://${shownHost}:${port}/?token=TOKEN once in the browser; API clients send Authorization: Bearer TOKEN\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  feed.closeAll();
  server.closeAllConnections?.();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await cli.close(s);
  return EXIT.ok;
}
