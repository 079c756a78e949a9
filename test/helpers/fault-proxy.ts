/**
 * A loopback fault proxy for the store servers of the tests (moto for S3, the Ara server):
 * an HTTP reverse proxy on 127.0.0.1 (node:http only) that forwards every request to one
 * upstream, except the ones that a rule picks, which it breaks:
 *
 *   drop         close the client's connection without an answer (the request never reaches the server)
 *   reset        the same with a TCP reset (RST)
 *   status       answer with this HTTP status (500 by default) without forwarding
 *   delay        wait, then forward
 *   hang         never answer (until heal() or close())
 *   lose-answer  forward the request, let the server answer it in full, then drop (or reset)
 *                the client's connection: "the store did the write, but the answer was lost"
 *
 * A rule matches by method, path (a RegExp on the path with its query), request body (a RegExp
 * on the body text: Ara's record key is in the POST body, not the path) and headers, or by a
 * predicate; `nth` picks which matching occurrences it breaks (1-based, counted per rule), and
 * `afterFault` runs after it fired (for example `() => proxy.cut()`: the write lands, then the store
 * becomes unreachable). `cut()` / `heal()` make the whole store unreachable and back at runtime:
 * while cut, every request is answered by a reset (or hangs, with cut("hang")), and the open
 * keep-alive connections are closed.
 *
 * Every request is logged (method, path, body, the fault, the upstream's status), so a test can
 * say which requests a fault hit.
 */
import * as http from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type FaultKind = "drop" | "reset" | "status" | "delay" | "hang" | "lose-answer";

export interface SeenRequest {
  /** 1-based, over all requests the proxy got. */
  seq: number;
  method: string;
  /** Path with query, as the client sent it. */
  path: string;
  headers: http.IncomingHttpHeaders;
  /** The request body as text (the stores send small JSON or XML bodies). */
  body: string;
  /** The fault applied ("cut" while the proxy is cut), if any. */
  fault?: FaultKind | "cut";
  /** The rule's label when a rule fired. */
  rule?: string;
  /** The upstream's status, when the request was forwarded and answered. */
  upstreamStatus?: number;
}

export interface FaultRule {
  /** Shown in the log and in messages. */
  label?: string;
  method?: string;
  path?: RegExp;
  body?: RegExp;
  /** Header name (lower case) -> a RegExp its value must match; `null`: the header must be absent. */
  headers?: Record<string, RegExp | null>;
  /** Any further condition. */
  when?: (req: SeenRequest) => boolean;
  /** Which matching occurrences to break (1-based): a number, a list, or a predicate. Default: every one. */
  nth?: number | number[] | ((n: number) => boolean);
  fault: FaultKind;
  /** For "status": the status (default 500) and body. */
  status?: number;
  statusBody?: string;
  /** For "delay": milliseconds before forwarding. */
  delayMs?: number;
  /** For "lose-answer": how the client's connection ends (default "reset"). */
  lose?: "drop" | "reset";
  /** Runs after the fault was applied (for "lose-answer": after the server answered). */
  afterFault?: (req: SeenRequest) => void;
}

export interface RuleHandle {
  readonly rule: FaultRule;
  /** Requests that matched the rule (broken or not). */
  readonly matched: number;
  /** Requests that the rule broke. */
  readonly fired: SeenRequest[];
  remove(): void;
}

export interface FaultProxy {
  port: number;
  /** http://127.0.0.1:PORT */
  url: string;
  upstream: string;
  /** Every request so far. */
  log: SeenRequest[];
  add(rule: FaultRule): RuleHandle;
  /** Removes every rule (the log stays). */
  clearRules(): void;
  /** The store becomes unreachable: every request is reset (or hangs) until heal(). */
  cut(how?: "reset" | "hang"): void;
  heal(): void;
  readonly isCut: boolean;
  close(): Promise<void>;
}

interface Rule extends RuleHandle {
  rule: FaultRule;
  matched: number;
  fired: SeenRequest[];
}

function matches(rule: FaultRule, req: SeenRequest): boolean {
  if (rule.method && rule.method.toUpperCase() !== req.method) return false;
  if (rule.path && !rule.path.test(req.path)) return false;
  if (rule.body && !rule.body.test(req.body)) return false;
  for (const [name, re] of Object.entries(rule.headers ?? {})) {
    const v = req.headers[name];
    const text = Array.isArray(v) ? v.join(",") : v;
    if (re === null ? text !== undefined : text === undefined || !re.test(text)) return false;
  }
  return !rule.when || rule.when(req);
}

function picked(nth: FaultRule["nth"], n: number): boolean {
  if (nth === undefined) return true;
  if (typeof nth === "number") return n === nth;
  if (Array.isArray(nth)) return nth.includes(n);
  return nth(n);
}

function reset(socket: Socket): void {
  const s = socket as Socket & { resetAndDestroy?: () => Socket };
  if (typeof s.resetAndDestroy === "function") s.resetAndDestroy();
  else s.destroy();
}

/** Starts a proxy on a free 127.0.0.1 port in front of `upstream` (http://127.0.0.1:PORT). */
export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const up = new URL(upstream);
  if (up.protocol !== "http:" || !["127.0.0.1", "localhost", "[::1]"].includes(up.hostname)) {
    throw new Error(`fault proxy: the upstream must be a loopback http:// URL, not ${upstream}`);
  }
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const rules: Rule[] = [];
  const log: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const hanging = new Set<Socket>();
  let cutMode: "reset" | "hang" | undefined;
  let seq = 0;

  const forward = (req: SeenRequest, res: http.ServerResponse, raw: Buffer, lose?: "drop" | "reset", after?: () => void) => {
    const headers = { ...req.headers };
    const upReq = http.request(
      { host: up.hostname.replace(/^\[|\]$/g, ""), port: up.port, method: req.method, path: req.path, headers, agent },
      (upRes) => {
        const chunks: Buffer[] = [];
        upRes.on("data", (d: Buffer) => chunks.push(d));
        upRes.on("end", () => {
          req.upstreamStatus = upRes.statusCode;
          if (lose) {
            // The server did the work and answered; the client never hears it.
            if (lose === "reset") reset(res.socket!);
            else res.socket?.destroy();
            after?.();
            return;
          }
          const out = { ...upRes.headers };
          res.writeHead(upRes.statusCode ?? 502, out);
          res.end(Buffer.concat(chunks));
        });
        upRes.on("error", () => res.socket?.destroy());
      },
    );
    upReq.on("error", (err) => {
      if (res.headersSent) res.socket?.destroy();
      else {
        res.writeHead(502, { "content-type": "text/plain" });
        res.end(`fault proxy: upstream ${upstream} failed: ${err.message}`);
      }
    });
    upReq.end(raw);
  };

  const server = http.createServer((inReq, res) => {
    const chunks: Buffer[] = [];
    inReq.on("data", (d: Buffer) => chunks.push(d));
    inReq.on("end", () => {
      const raw = Buffer.concat(chunks);
      const req: SeenRequest = { seq: ++seq, method: inReq.method ?? "GET", path: inReq.url ?? "/", headers: inReq.headers, body: raw.toString("utf8") };
      log.push(req);
      if (cutMode) {
        req.fault = "cut";
        if (cutMode === "reset") reset(inReq.socket);
        else hanging.add(inReq.socket);
        return;
      }
      let rule: Rule | undefined;
      for (const r of rules) {
        if (!matches(r.rule, req)) continue;
        r.matched++;
        if (picked(r.rule.nth, r.matched)) {
          rule = r;
          break;
        }
      }
      if (!rule) {
        forward(req, res, raw);
        return;
      }
      const f = rule.rule;
      req.fault = f.fault;
      req.rule = f.label ?? f.fault;
      rule.fired.push(req);
      const then = () => f.afterFault?.(req);
      switch (f.fault) {
        case "drop":
          inReq.socket.destroy();
          then();
          return;
        case "reset":
          reset(inReq.socket);
          then();
          return;
        case "status": {
          const body = f.statusBody ?? "fault proxy: injected error";
          res.writeHead(f.status ?? 500, { "content-type": "text/plain", "content-length": String(Buffer.byteLength(body)) });
          res.end(body);
          then();
          return;
        }
        case "delay":
          setTimeout(() => {
            forward(req, res, raw);
            then();
          }, f.delayMs ?? 1000);
          return;
        case "hang":
          hanging.add(inReq.socket);
          then();
          return;
        case "lose-answer":
          forward(req, res, raw, f.lose ?? "reset", then);
          return;
      }
    });
  });
  server.keepAliveTimeout = 5000;
  server.on("connection", (s: Socket) => {
    if (cutMode === "reset") {
      reset(s);
      return;
    }
    sockets.add(s);
    s.on("close", () => {
      sockets.delete(s);
      hanging.delete(s);
    });
    s.on("error", () => {});
  });
  server.on("clientError", (_err, s) => s.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  const proxy: FaultProxy = {
    port,
    url: `http://127.0.0.1:${port}`,
    upstream,
    log,
    add(rule) {
      const r: Rule = {
        rule,
        matched: 0,
        fired: [],
        remove: () => {
          const i = rules.indexOf(r);
          if (i >= 0) rules.splice(i, 1);
        },
      };
      rules.push(r);
      return r;
    },
    clearRules() {
      rules.length = 0;
    },
    cut(how = "reset") {
      cutMode = how;
      // Keep-alive connections would otherwise go on working.
      for (const s of sockets) if (how === "reset") reset(s);
    },
    heal() {
      cutMode = undefined;
      for (const s of hanging) s.destroy();
      hanging.clear();
    },
    get isCut() {
      return cutMode !== undefined;
    },
    async close() {
      cutMode = undefined;
      for (const s of sockets) s.destroy();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
