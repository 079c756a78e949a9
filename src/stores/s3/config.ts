/**
 * S3 store settings: the store URL, options (from job_store / the CLI) and environment
 * fallbacks, resolved once per store. Nothing here touches the network.
 *
 * Precedence, highest first:
 * - endpoint:  option `endpoint`, $ANSIBLE_JOBS_S3_ENDPOINT, $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL,
 *              else AWS (https://s3.REGION.amazonaws.com).
 * - region:    option `region`, $AWS_REGION, $AWS_DEFAULT_REGION, the profile's `region` in
 *              the shared config files (profile: option `profile`, else $AWS_PROFILE, else
 *              "default"), else us-east-1.
 * - path style: option `path_style` (alias `force_path_style`, `forcePathStyle`),
 *              $ANSIBLE_JOBS_S3_PATH_STYLE, else true with a custom endpoint, false on AWS.
 * - sse:       option `sse` / $ANSIBLE_JOBS_S3_SSE ("AES256" | "aws:kms"), option
 *              `sse_kms_key_id` / $ANSIBLE_JOBS_S3_SSE_KMS_KEY_ID.
 * - unsafe:    option `allow_unsafe_writes` / $ANSIBLE_JOBS_S3_UNSAFE_WRITES.
 */
import { invalid } from "../../engine/errors.js";
import { toBool, toInt } from "../../engine/options.js";
import type { Credentials } from "./sigv4.js";

export type Sse = "AES256" | "aws:kms";

export interface S3Config {
  /** s3://BUCKET[/PREFIX], as shown to users. */
  url: string;
  bucket: string;
  /** Key prefix without leading/trailing slashes; "" for the bucket root. */
  prefix: string;
  region: string;
  /** Service endpoint (without the bucket), e.g. http://127.0.0.1:9000 or https://s3.eu-west-1.amazonaws.com. */
  endpoint: URL;
  /** The endpoint's base path ("" or e.g. "/s3"), without a trailing slash. */
  basePath: string;
  /** True when the endpoint came from an option or the environment (not AWS's default). */
  customEndpoint: boolean;
  pathStyle: boolean;
  sse: Sse | undefined;
  sseKmsKeyId: string | undefined;
  allowUnsafeWrites: boolean;
  /** AWS profile for credentials and region, when one was chosen explicitly. */
  profile: string | undefined;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  /** Attempts per request for network errors and 5xx (1 = no retry). */
  maxAttempts: number;
  /** Keys given explicitly (an oci:// store's Customer Secret Key), used instead of the AWS chain. */
  credentials?: Credentials | undefined;
}

export const S3_OPTIONS = [
  "endpoint",
  "region",
  "profile",
  "path_style",
  "force_path_style",
  "forcePathStyle",
  "sse",
  "sse_kms_key_id",
  "allow_unsafe_writes",
  "connect_timeout",
  "timeout",
  "retries",
] as const;

const DEFAULT_CONNECT_TIMEOUT_S = 2;
const DEFAULT_TIMEOUT_S = 30;
const DEFAULT_RETRIES = 2;

type Env = Record<string, string | undefined>;

function nonEmpty(v: unknown): v is string | number | boolean {
  return v !== undefined && v !== null && !(typeof v === "string" && v.trim() === "");
}

/** Parses s3://BUCKET[/PREFIX]. */
export function parseS3Url(url: string): { bucket: string; prefix: string; url: string } {
  if (!url.startsWith("s3://")) throw invalid("store", `"${url}" is not an s3://BUCKET[/PREFIX] URL`);
  const rest = url.slice("s3://".length);
  const slash = rest.indexOf("/");
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const prefix = (slash < 0 ? "" : rest.slice(slash + 1)).replace(/^\/+|\/+$/g, "");
  if (bucket === "") throw invalid("store", `"${url}" has no bucket name (use s3://BUCKET[/PREFIX])`);
  // AWS's rules are stricter (lower case only); self-hosted servers accept a little more.
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$/.test(bucket) || bucket.length < 3) {
    throw invalid("store", `"${bucket}" is not a valid bucket name (3 to 63 characters: a-z, 0-9, "." and "-")`);
  }
  if (/[?#]/.test(prefix)) throw invalid("store", `"${url}": the prefix may not contain "?" or "#"`);
  if (prefix !== "" && prefix.split("/").some((s) => s === "" || s === "." || s === "..")) {
    throw invalid("store", `"${url}": the prefix may not contain empty, "." or ".." parts`);
  }
  return { bucket, prefix, url: prefix ? `s3://${bucket}/${prefix}` : `s3://${bucket}` };
}

function parseEndpoint(raw: string, field: string): URL {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw invalid(field, `"${raw}" is not a URL (use http://HOST:PORT or https://HOST)`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw invalid(field, `"${raw}" must start with http:// or https://`);
  }
  if (u.search || u.hash || u.username || u.password) {
    throw invalid(field, `"${raw}" may not carry a query, a fragment or credentials`);
  }
  return u;
}

function awsEndpoint(region: string): URL {
  const suffix = region.startsWith("cn-") ? "amazonaws.com.cn" : "amazonaws.com";
  return new URL(`https://s3.${region}.${suffix}`);
}

/** The region from the profile in the shared config files, if any (read only when needed). */
async function profileRegion(profile: string | undefined, env: Env): Promise<string | undefined> {
  try {
    const { parseKnownFiles } = await import("@smithy/core/config");
    const name = profile ?? env.AWS_PROFILE ?? "default";
    const files: { configFilepath?: string; filepath?: string } = {};
    if (env.AWS_CONFIG_FILE) files.configFilepath = env.AWS_CONFIG_FILE;
    if (env.AWS_SHARED_CREDENTIALS_FILE) files.filepath = env.AWS_SHARED_CREDENTIALS_FILE;
    const profiles = await parseKnownFiles({ profile: name, ...files });
    const region = profiles[name]?.region;
    return region && region.trim() !== "" ? region.trim() : undefined;
  } catch {
    return undefined; // unreadable config files: fall back like the SDK does
  }
}

function pick(opts: Record<string, unknown>, names: readonly string[]): { name: string; value: unknown } | undefined {
  for (const name of names) if (nonEmpty(opts[name])) return { name, value: opts[name] };
  return undefined;
}

function envPick(env: Env, names: readonly string[]): { name: string; value: string } | undefined {
  for (const name of names) {
    const v = env[name];
    if (v !== undefined && v.trim() !== "") return { name, value: v.trim() };
  }
  return undefined;
}

function seconds(v: unknown, field: string): number {
  const n = typeof v === "number" ? v : typeof v === "string" && /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isFinite(n) || n <= 0 || n > 3600) throw invalid(field, `${JSON.stringify(v)} is not a number of seconds between 0 and 3600`);
  return Math.round(n * 1000);
}

export async function resolveS3Config(url: string, opts: Record<string, unknown>, env: Env = process.env): Promise<S3Config> {
  const unknown = Object.keys(opts).filter((k) => !(S3_OPTIONS as readonly string[]).includes(k) && opts[k] !== undefined);
  if (unknown.length) {
    throw invalid(`s3.${unknown[0]}`, `unknown S3 store option (known: ${S3_OPTIONS.join(", ")})`);
  }
  const { bucket, prefix, url: shown } = parseS3Url(url);

  const profileOpt = pick(opts, ["profile"]);
  const profile = profileOpt ? String(profileOpt.value) : undefined;

  const regionOpt = pick(opts, ["region"]);
  const regionEnv = envPick(env, ["AWS_REGION", "AWS_DEFAULT_REGION"]);
  const region = regionOpt ? String(regionOpt.value).trim() : (regionEnv?.value ?? (await profileRegion(profile, env)) ?? "us-east-1");
  if (!/^[a-z0-9-]+$/.test(region)) throw invalid(regionOpt ? "s3.region" : "AWS_REGION", `"${region}" is not a region name`);

  const endpointOpt = pick(opts, ["endpoint"]);
  const ignoreConfigured = env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS?.toLowerCase() === "true";
  const endpointEnv = envPick(env, ignoreConfigured ? ["ANSIBLE_JOBS_S3_ENDPOINT"] : ["ANSIBLE_JOBS_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]);
  const endpoint = endpointOpt
    ? parseEndpoint(String(endpointOpt.value), "s3.endpoint")
    : endpointEnv
      ? parseEndpoint(endpointEnv.value, endpointEnv.name)
      : awsEndpoint(region);
  const customEndpoint = endpointOpt !== undefined || endpointEnv !== undefined;

  const psOpt = pick(opts, ["path_style", "force_path_style", "forcePathStyle"]);
  const psEnv = envPick(env, ["ANSIBLE_JOBS_S3_PATH_STYLE"]);
  let pathStyle = psOpt
    ? toBool(psOpt.value, `s3.${psOpt.name}`)
    : psEnv
      ? toBool(psEnv.value, psEnv.name)
      : customEndpoint;
  // Like the AWS SDKs: a bucket name that is not a DNS label (dots over TLS, upper case) needs path style.
  if (!pathStyle && !/^[a-z0-9.-]+$/.test(bucket)) pathStyle = true;
  if (!pathStyle && bucket.includes(".") && endpoint.protocol === "https:") pathStyle = true;

  const sseOpt = pick(opts, ["sse"]);
  const sseEnv = envPick(env, ["ANSIBLE_JOBS_S3_SSE"]);
  const sseRaw = sseOpt ? String(sseOpt.value).trim() : sseEnv?.value;
  let sse: Sse | undefined;
  if (sseRaw !== undefined) {
    const norm = sseRaw.toLowerCase();
    if (norm === "aes256") sse = "AES256";
    else if (norm === "aws:kms" || norm === "kms") sse = "aws:kms";
    else if (!["none", "false", "no", "off"].includes(norm)) {
      throw invalid(sseOpt ? "s3.sse" : "ANSIBLE_JOBS_S3_SSE", `"${sseRaw}" is not AES256 or aws:kms`);
    }
  }
  const kmsOpt = pick(opts, ["sse_kms_key_id"]);
  const kmsEnv = envPick(env, ["ANSIBLE_JOBS_S3_SSE_KMS_KEY_ID"]);
  const sseKmsKeyId = kmsOpt ? String(kmsOpt.value).trim() : kmsEnv?.value;
  if (sseKmsKeyId !== undefined && sse !== "aws:kms") {
    throw invalid(kmsOpt ? "s3.sse_kms_key_id" : "ANSIBLE_JOBS_S3_SSE_KMS_KEY_ID", 'a KMS key id needs sse "aws:kms"');
  }

  const unsafeOpt = pick(opts, ["allow_unsafe_writes"]);
  const unsafeEnv = envPick(env, ["ANSIBLE_JOBS_S3_UNSAFE_WRITES"]);
  const allowUnsafeWrites = unsafeOpt
    ? toBool(unsafeOpt.value, "s3.allow_unsafe_writes")
    : unsafeEnv
      ? toBool(unsafeEnv.value, unsafeEnv.name)
      : false;

  const ct = pick(opts, ["connect_timeout"]);
  const to = pick(opts, ["timeout"]);
  const rt = pick(opts, ["retries"]);
  const retries = rt ? toInt(rt.value, "s3.retries") : DEFAULT_RETRIES;
  if (retries < 0 || retries > 10) throw invalid("s3.retries", `${retries} is not between 0 and 10`);

  return {
    url: shown,
    bucket,
    prefix,
    region,
    endpoint,
    // Keep an optional base path (some gateways serve S3 under /s3), without the trailing slash.
    basePath: endpoint.pathname.replace(/\/+$/, ""),
    customEndpoint,
    pathStyle,
    sse,
    sseKmsKeyId,
    allowUnsafeWrites,
    profile,
    connectTimeoutMs: ct ? seconds(ct.value, "s3.connect_timeout") : DEFAULT_CONNECT_TIMEOUT_S * 1000,
    requestTimeoutMs: to ? seconds(to.value, "s3.timeout") : DEFAULT_TIMEOUT_S * 1000,
    maxAttempts: retries + 1,
  };
}

/** "http://127.0.0.1:9000" or "https://s3.eu-west-1.amazonaws.com", for messages. */
export function endpointLabel(c: S3Config): string {
  return `${c.endpoint.origin}${c.basePath}`;
}
