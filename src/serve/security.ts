/**
 * What every response goes through: the Host check (DNS rebinding), the token, the read-only
 * rule and the security headers. Pure functions of the request, so they are tested one by one.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { isIP } from "node:net";
import { isLoopback, type ServeOptions } from "./options.js";

export const TOKEN_COOKIE = "ansible_jobs_token";

/** No inline script or style, nothing from elsewhere, no framing, no forms. */
export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

export function securityHeaders(res: ServerResponse): void {
  res.setHeader("Content-Security-Policy", CSP);
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("Referrer-Policy", "no-referrer");
  res.setHeader("X-Frame-Options", "DENY");
  res.setHeader("Cross-Origin-Opener-Policy", "same-origin");
  res.setHeader("Cross-Origin-Resource-Policy", "same-origin");
}

/** The host name of a Host header ("[::1]:8765" -> "::1"), lower case; undefined when malformed. */
export function hostName(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::\d{1,5})?$/.exec(header.trim());
  return m ? m[1]!.replace(/^\[|\]$/g, "").toLowerCase() : undefined;
}

/**
 * Whether the Host header may reach this server. A DNS-rebinding page talks to us under its own
 * host name, so only loopback names, IP literals and --allow-host names pass.
 */
export function hostAllowed(header: string | undefined, opts: Pick<ServeOptions, "allowHosts">): boolean {
  const name = hostName(header);
  if (name === undefined) return false;
  return isLoopback(name) || isIP(name) !== 0 || opts.allowHosts.includes(name);
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}

export function sameToken(given: string | undefined, token: string): boolean {
  return given !== undefined && timingSafeEqual(digest(given), digest(token));
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) {
      try {
        return decodeURIComponent(part.slice(i + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** The token a request carries: `Authorization: Bearer T`, or the cookie that `/?token=T` set. */
export function requestToken(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (auth?.toLowerCase().startsWith("bearer ")) return auth.slice(7).trim();
  return cookie(req, TOKEN_COOKIE);
}

export function tokenCookie(token: string, secure: boolean): string {
  return `${TOKEN_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict${secure ? "; Secure" : ""}`;
}
