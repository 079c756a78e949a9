/**
 * The dashboard's settings, checked before anything listens: where to listen, and the rules
 * that keep it safe by default (loopback unless a token guards it, TLS files in pairs).
 */
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { usageError } from "../cli/errors.js";

export const DEFAULT_LISTEN = "127.0.0.1:8765";

export interface ServeOptions {
  host: string;
  port: number;
  /** The address is a loopback one: only this machine can connect. */
  loopback: boolean;
  token: string | undefined;
  tls: { cert: Buffer; key: Buffer } | undefined;
  /** Host names (lower case) accepted in the Host header besides loopback names and IP literals. */
  allowHosts: string[];
  intervalSec: number;
  store: string | undefined;
}

export interface RawServeOptions {
  listen: string | undefined;
  token: string | undefined;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  allowHosts: string | undefined;
  intervalSec: number;
  store: string | undefined;
}

/** 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  if (h === "localhost" || h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (h.startsWith("::ffff:")) return isIP(h.slice(7)) === 4 && h.slice(7).startsWith("127.");
  return false;
}

/** "HOST:PORT", "[V6]:PORT", ":PORT" or "PORT" (loopback) -> host and port. */
export function parseListen(raw: string): { host: string; port: number } {
  const bad = (why: string) => usageError(`--listen: "${raw}" ${why} (examples: 127.0.0.1:8765, [::1]:8765, 0.0.0.0:8765)`, "serve");
  let host: string;
  let portText: string;
  const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(raw);
  if (v6) {
    host = v6[1]!;
    portText = v6[2] ?? "";
    if (isIP(host) !== 6) throw bad("is not an IPv6 address in brackets");
  } else if (/^\d+$/.test(raw)) {
    host = "127.0.0.1";
    portText = raw;
  } else {
    const i = raw.lastIndexOf(":");
    if (i < 0) throw bad("has no port");
    host = raw.slice(0, i) || "127.0.0.1";
    portText = raw.slice(i + 1);
    if (host.includes(":")) throw bad("has an IPv6 address without brackets");
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) throw bad("has no valid port (0-65535)");
  return { host, port: Number(portText) };
}

function readPem(file: string, flag: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw usageError(`${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, "serve");
  }
}

export function serveOptions(raw: RawServeOptions): ServeOptions {
  const { host, port } = parseListen(raw.listen ?? DEFAULT_LISTEN);
  const loopback = isLoopback(host);
  if (!loopback && raw.token === undefined) {
    throw usageError(
      `--listen ${raw.listen}: a non-loopback address needs --token (or $ANSIBLE_JOBS_TOKEN): without one anybody who reaches ${host}:${port} reads the store`,
      "serve",
    );
  }
  if (raw.token !== undefined && raw.token.length < 16) throw usageError("--token must be at least 16 characters (e.g. openssl rand -hex 16)", "serve");
  if ((raw.tlsCert === undefined) !== (raw.tlsKey === undefined)) throw usageError("--tls-cert and --tls-key go together", "serve");
  const tls = raw.tlsCert !== undefined ? { cert: readPem(raw.tlsCert, "--tls-cert"), key: readPem(raw.tlsKey!, "--tls-key") } : undefined;
  const allowHosts = (raw.allowHosts ?? "")
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== "");
  return { host, port, loopback, token: raw.token, tls, allowHosts, intervalSec: raw.intervalSec, store: raw.store };
}
