/**
 * OCI Object Storage through its Amazon S3 Compatibility API: `oci://NAMESPACE[@REGION]/BUCKET[/PREFIX]`
 * resolves to the S3 store (s3.ts, the one S3 client) on
 * https://NAMESPACE.compat.objectstorage.REGION.oraclecloud.com, path style, signed with a
 * Customer Secret Key. Nothing here touches the network.
 *
 * Where each setting comes from, highest first:
 * - region: the URL's @REGION, option `region`, the profile's `region`.
 * - keys:   options `access_key_id` + `secret_access_key`; $OCI_CUSTOMER_ACCESS_KEY_ID +
 *           $OCI_CUSTOMER_SECRET_KEY; the profile's `customer_access_key_id` +
 *           `customer_secret_key`; $AWS_ACCESS_KEY_ID + $AWS_SECRET_ACCESS_KEY (what Oracle's
 *           S3-compatibility guide sets).
 * - profile: option `profile`, $OCI_CLI_PROFILE, else DEFAULT, in option `config_file`,
 *           $OCI_CONFIG_FILE, else ~/.oci/config. As in the OCI SDKs, a profile inherits the
 *           keys of the DEFAULT section.
 * - endpoint: option `endpoint`, else $ANSIBLE_JOBS_OCI_ENDPOINT, replaces the Oracle endpoint.
 *           It exists for tests (moto stands in for Oracle) and private gateways.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { JobsError, invalid } from "../engine/errors.js";
import type { S3Config } from "./s3/config.js";
import type { Credentials } from "./s3/sigv4.js";

type Env = Record<string, string | undefined>;

export const OCI_OPTIONS = ["profile", "config_file", "region", "access_key_id", "secret_access_key", "endpoint"] as const;
/** S3 store options that keep their meaning on OCI (timeouts and retries). */
const PASSED_TO_S3 = ["connect_timeout", "timeout", "retries"] as const;

export interface OciLocation {
  namespace: string;
  region: string | undefined;
  bucket: string;
  prefix: string;
}

/** Parses oci://NAMESPACE[@REGION]/BUCKET[/PREFIX]. */
export function parseOciUrl(url: string): OciLocation {
  const m = /^oci:\/\/([^/@]*)(?:@([^/]*))?\/([^/]*)(?:\/(.*))?$/.exec(url);
  if (!m) throw invalid("store", `"${url}" is not an oci://NAMESPACE[@REGION]/BUCKET[/PREFIX] URL`);
  const [, namespace = "", region, bucket = "", prefix = ""] = m;
  if (!/^[a-z0-9][a-z0-9-]{0,63}$/i.test(namespace)) {
    throw invalid("store", `"${url}": "${namespace}" is not an Object Storage namespace (see: oci os ns get)`);
  }
  if (region !== undefined && !/^[a-z0-9-]+$/.test(region)) throw invalid("store", `"${url}": "${region}" is not a region name`);
  if (bucket === "") throw invalid("store", `"${url}" has no bucket name (use oci://NAMESPACE[@REGION]/BUCKET[/PREFIX])`);
  return { namespace, region: region === "" ? undefined : region, bucket, prefix: prefix.replace(/^\/+|\/+$/g, "") };
}

/** The sections of an OCI config file (INI: [PROFILE], key=value, # and ; comments). */
export function parseOciConfig(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let section: Record<string, string> | undefined;
  for (const line of text.split(/\r?\n/)) {
    const t = line.trim();
    if (t === "" || t.startsWith("#") || t.startsWith(";")) continue;
    const head = /^\[([^\]]+)\]$/.exec(t);
    if (head) {
      section = out[head[1]!.trim()] ??= {};
      continue;
    }
    const eq = t.indexOf("=");
    if (eq > 0 && section) section[t.slice(0, eq).trim()] = t.slice(eq + 1).trim();
  }
  return out;
}

export interface OciResolved {
  /** The S3 store's settings: endpoint, region, path style, explicit credentials. */
  s3Url: string;
  s3Options: Record<string, unknown>;
  credentials: Credentials;
  /** oci://NAMESPACE@REGION/BUCKET[/PREFIX], as shown to users. */
  url: string;
}

function nonEmpty(v: unknown): string | undefined {
  return v === undefined || v === null || String(v).trim() === "" ? undefined : String(v).trim();
}

export function resolveOci(url: string, opts: Record<string, unknown>, env: Env = process.env): OciResolved {
  const known = [...OCI_OPTIONS, ...PASSED_TO_S3] as readonly string[];
  const unknown = Object.keys(opts).filter((k) => !known.includes(k) && opts[k] !== undefined);
  if (unknown.length) throw invalid(`oci.${unknown[0]}`, `unknown OCI store option (known: ${known.join(", ")})`);
  const loc = parseOciUrl(url);
  const profileName = nonEmpty(opts.profile) ?? nonEmpty(env.OCI_CLI_PROFILE) ?? "DEFAULT";
  const configFile = nonEmpty(opts.config_file) ?? nonEmpty(env.OCI_CONFIG_FILE) ?? path.join(os.homedir(), ".oci", "config");

  let sections: Record<string, Record<string, string>> | undefined;
  let configProblem: string | undefined;
  try {
    sections = parseOciConfig(fs.readFileSync(configFile, "utf8"));
  } catch (err) {
    configProblem = `cannot read ${configFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
  let profile: Record<string, string> | undefined;
  if (sections) {
    if (sections[profileName]) profile = { ...(sections.DEFAULT ?? {}), ...sections[profileName] };
    else configProblem = `${configFile} has no profile [${profileName}] (profiles: ${Object.keys(sections).join(", ") || "none"})`;
  }

  const region = loc.region ?? nonEmpty(opts.region) ?? nonEmpty(profile?.region);
  if (!region) {
    throw invalid(
      "oci.region",
      `no region for ${url}: put it in the URL (oci://${loc.namespace}@REGION/${loc.bucket}), set the region option, or add region=... to profile [${profileName}]${configProblem ? ` (${configProblem})` : ` in ${configFile}`}`,
    );
  }
  if (!/^[a-z0-9-]+$/.test(region)) throw invalid("oci.region", `"${region}" is not a region name`);

  const pairs: [string | undefined, string | undefined, string][] = [
    [nonEmpty(opts.access_key_id), nonEmpty(opts.secret_access_key), "the options access_key_id and secret_access_key"],
    [nonEmpty(env.OCI_CUSTOMER_ACCESS_KEY_ID), nonEmpty(env.OCI_CUSTOMER_SECRET_KEY), "$OCI_CUSTOMER_ACCESS_KEY_ID and $OCI_CUSTOMER_SECRET_KEY"],
    [nonEmpty(profile?.customer_access_key_id), nonEmpty(profile?.customer_secret_key), `customer_access_key_id and customer_secret_key in profile [${profileName}] of ${configFile}`],
    [nonEmpty(env.AWS_ACCESS_KEY_ID), nonEmpty(env.AWS_SECRET_ACCESS_KEY), "$AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY"],
  ];
  for (const [id, secret, where] of pairs) {
    if ((id === undefined) !== (secret === undefined)) throw invalid("oci.credentials", `${where}: one is set without the other`);
  }
  const found = pairs.find(([id, secret]) => id !== undefined && secret !== undefined);
  if (!found) {
    const apiKeysOnly = profile && (profile.key_file || profile.fingerprint);
    const create =
      "Create a Customer Secret Key (OCI Console: Profile menu > My profile > Customer secret keys > Generate secret key; " +
      "the secret is shown once), then put its Access Key and the secret in profile " +
      `[${profileName}] of ${configFile} as customer_access_key_id=... and customer_secret_key=..., ` +
      "or set $OCI_CUSTOMER_ACCESS_KEY_ID and $OCI_CUSTOMER_SECRET_KEY";
    throw new JobsError(
      "invalid_argument",
      apiKeysOnly
        ? `oci store ${url}: profile [${profileName}] in ${configFile} has only API signing keys (key_file, fingerprint), which the S3 compatibility API does not accept. ${create}`
        : `oci store ${url}: no Customer Secret Key found${configProblem ? ` (${configProblem})` : ` in profile [${profileName}] of ${configFile}`}. ${create}`,
      { field: "oci.credentials" },
    );
  }
  const endpoint = nonEmpty(opts.endpoint) ?? nonEmpty(env.ANSIBLE_JOBS_OCI_ENDPOINT) ?? `https://${loc.namespace}.compat.objectstorage.${region}.oraclecloud.com`;
  const s3Options: Record<string, unknown> = { endpoint, region, path_style: true };
  for (const k of PASSED_TO_S3) if (opts[k] !== undefined) s3Options[k] = opts[k];
  const tail = loc.prefix ? `/${loc.prefix}` : "";
  return {
    s3Url: `s3://${loc.bucket}${tail}`,
    s3Options,
    credentials: { accessKeyId: found[0]!, secretAccessKey: found[1]! },
    url: `oci://${loc.namespace}@${region}/${loc.bucket}${tail}`,
  };
}

/** The S3 store's settings for an oci:// URL (used by openStore through s3.ts). */
export async function resolveOciS3Config(url: string, opts: Record<string, unknown>, env: Env = process.env): Promise<S3Config> {
  const oci = resolveOci(url, opts, env);
  const { resolveS3Config } = await import("./s3/config.js");
  const config = await resolveS3Config(oci.s3Url, oci.s3Options, env);
  return { ...config, url: oci.url, credentials: oci.credentials };
}
