/** Starts the BUILT `ansible-jobs serve` and talks HTTP to it (node:http, so any Host header can be sent). */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { type CliOptions, type CliResult, Running } from "../cli/helpers.js";

export interface Dashboard {
  /** http://127.0.0.1:PORT/ */
  url: string;
  port: number;
  proc: Running;
  /** SIGTERM, then the exit (the server stops cleanly with 0). */
  stop: () => Promise<CliResult>;
}

/** `ansible-jobs serve --listen 127.0.0.1:0 ARGS`, once it prints its address. */
export async function startDashboard(args: string[], opts: CliOptions = {}): Promise<Dashboard> {
  const listen = args.includes("--listen") ? [] : ["--listen", "127.0.0.1:0"];
  const proc = new Running(["serve", ...listen, ...args], { timeoutMs: 600_000, ...opts });
  await proc.waitFor(/ at https?:\/\/\S+\/ /);
  const m = / at (https?):\/\/(\S+):(\d+)\/ /.exec(proc.stdout)!;
  const port = Number(m[3]);
  return {
    url: `${m[1]}://127.0.0.1:${port}/`,
    port,
    proc,
    stop: async () => {
      proc.child.kill("SIGTERM");
      return proc.done;
    },
  };
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: () => unknown;
}

/** One request; `url` is absolute. */
export function get(url: string, opts: { method?: string; headers?: Record<string, string>; ca?: Buffer } = {}): Promise<Answer> {
  const u = new URL(url);
  const request = u.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(u, { method: opts.method ?? "GET", headers: opts.headers, ...(opts.ca ? { ca: opts.ca } : {}) }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) }));
    });
    req.on("error", reject);
    req.end();
  });
}
