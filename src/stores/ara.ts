/**
 * Ara store entry: `ara+http://HOST:PORT[/PATH][?ledger=NAME]` and `ara+https://...`.
 * The layout and its guarantees are in ./ara/store.ts and docs/stores-ara.md.
 *
 * Settings, the way Ara's own client reads them:
 *   ARA_API_USERNAME / ARA_API_PASSWORD   HTTP Basic credentials (or user:password@ in the URL)
 *   ARA_API_TIMEOUT                       seconds per request (default 15)
 * Options (`opts`, from module options or the bridge): ledger, timeout, play_id, playbook.
 */
import { JobsError } from "../engine/errors.js";
import { parseBool } from "../engine/options.js";
import { AraClient, type Credentials } from "./ara/http.js";
import { type AraContext, AraStore } from "./ara/store.js";

export { AraStore } from "./ara/store.js";
export type { AraContext } from "./ara/store.js";

export const DEFAULT_LEDGER = "default";
export const DEFAULT_TIMEOUT_SEC = 15;
const LEDGER_NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

export interface ParsedAraUrl {
  /** http(s)://host:port[/path], no trailing slash, no credentials. */
  base: string;
  /** The store URL as shown to users: credentials removed. */
  display: string;
  credentials: Credentials | undefined;
  ledger: string;
}

function bad(url: string, why: string): JobsError {
  return new JobsError(
    "invalid_argument",
    `store: "${url.replace(/\/\/[^@/]*@/, "//***@")}" is not a usable Ara store URL: ${why} (expected ara+http://HOST:PORT or ara+https://HOST[:PORT][/PATH], optionally ?ledger=NAME)`,
    { field: "store" },
  );
}

export function parseAraUrl(url: string, opts: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = process.env): ParsedAraUrl {
  const m = /^ara\+(https?):\/\/(.*)$/i.exec(url.trim());
  if (!m) throw bad(url, "the scheme must be ara+http:// or ara+https://");
  let u: URL;
  try {
    u = new URL(`${m[1]!.toLowerCase()}://${m[2]}`);
  } catch {
    throw bad(url, "it does not parse as a URL");
  }
  if (!u.hostname) throw bad(url, "no host");
  for (const k of u.searchParams.keys()) if (k !== "ledger") throw bad(url, `unknown parameter "${k}"`);
  if (u.hash) throw bad(url, "a #fragment means nothing here");
  const ledger = String(opts.ledger ?? u.searchParams.get("ledger") ?? DEFAULT_LEDGER);
  if (!LEDGER_NAME.test(ledger)) throw bad(url, `ledger name "${ledger}" must match ${LEDGER_NAME.source}`);

  let credentials: Credentials | undefined;
  if (u.username) {
    credentials = { username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
  } else if (env.ARA_API_USERNAME) {
    credentials = { username: env.ARA_API_USERNAME, password: env.ARA_API_PASSWORD ?? "" };
  }
  let path = u.pathname.replace(/\/+$/, "");
  path = path.replace(/\/api\/v1$/, ""); // people paste the API address
  const hostPort = u.port ? `${u.hostname}:${u.port}` : u.hostname;
  const base = `${u.protocol}//${hostPort}${path}`;
  const display = `ara+${base}${ledger !== DEFAULT_LEDGER ? `?ledger=${ledger}` : ""}`;
  return { base, display, credentials, ledger };
}

function timeoutOf(opts: Record<string, unknown>, env: NodeJS.ProcessEnv): number {
  const raw = opts.timeout ?? env.ARA_API_TIMEOUT;
  if (raw === undefined || raw === null || raw === "") return DEFAULT_TIMEOUT_SEC * 1000;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    throw new JobsError("invalid_argument", `store: Ara timeout must be a positive number of seconds, got ${JSON.stringify(raw)}`, {
      field: "store",
    });
  }
  return Math.round(n * 1000);
}

export function makeAraStore(url: string, opts: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = process.env): AraStore {
  const p = parseAraUrl(url, opts, env);
  const client = new AraClient(p.base, p.display, p.credentials, timeoutOf(opts, env));
  const context: AraContext = {};
  if (typeof opts.play_id === "string" && opts.play_id) context.play_id = opts.play_id;
  if (typeof opts.playbook === "string" && opts.playbook) context.playbook = opts.playbook;
  const store = new AraStore({ client, ledger: p.ledger, context });
  if (parseBool(env.ARA_API_INSECURE) === true) {
    store.warnings.push(
      "ARA_API_INSECURE is not applied by the ansible-jobs Ara store: certificates are always checked. " +
        "Trust a private CA with NODE_EXTRA_CA_CERTS=/path/to/ca.pem instead.",
    );
  }
  return store;
}

/** Opens the store without touching the network: the first operation reaches the server. */
export async function openAraStore(url: string, opts: Record<string, unknown>): Promise<AraStore> {
  return makeAraStore(url, opts);
}
