/**
 * AWS Signature Version 4 for S3 requests (Authorization header, signed payload), on
 * node:crypto.
 *
 * Why not @smithy/signature-v4 (the AWS SDK's signer)? Loading it initialises most of
 * @smithy/core, which costs 15-50 ms of every S3 engine start on the machines measured
 * (see docs/stores-s3.md). The algorithm is short and fixed; test/integration/s3/sigv4.test.ts
 * checks this implementation against @smithy/signature-v4 byte for byte, and moto_server (IAM
 * auth on) and s3rver verify its signatures in the failure tests.
 *
 * Why not aws4fetch (1.0.20, no dependencies)? It signs with WebCrypto (crypto.subtle; not a
 * global on Node 18 without a flag), and Node's WebCrypto costs its first use: measured in
 * December 2026 (issue 14, bench/s3.ts --cold-only with an aws4fetch build as a second
 * --engine), the S3 engine cold start grew by 22 and 51 ms (medians of 21 and 15 interleaved
 * runs), and a first signature alone took 86 ms against 9 ms here (fastest of 21 runs).
 */
import { createHash, createHmac } from "node:crypto";

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

export interface SignInput {
  method: string;
  /** The URL path, already URI-encoded once (S3 paths are not encoded again or normalised). */
  path: string;
  query: Record<string, string>;
  /** Header names in lower case; all of them are signed (so send no hop-by-hop headers). */
  headers: Record<string, string>;
  body?: Buffer | undefined;
  region: string;
  service?: string;
  date: Date;
  credentials: Credentials;
}

/** RFC 3986 escaping, as SigV4 wants it. */
export function escapeUri(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function sha256Hex(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac("sha256", key).update(data, "utf8").digest();
}

/** "20260127T093000Z" */
export function amzDate(d: Date): string {
  return d.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

export function canonicalQuery(query: Record<string, string>): string {
  return Object.entries(query)
    .map(([k, v]) => [escapeUri(k), escapeUri(v)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
}

/** Returns the headers to send: the input ones plus x-amz-date, x-amz-content-sha256, (x-amz-security-token) and authorization. */
export function signRequest(input: SignInput): Record<string, string> {
  const service = input.service ?? "s3";
  const longDate = amzDate(input.date);
  const shortDate = longDate.slice(0, 8);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.headers)) headers[k.toLowerCase()] = v;
  headers["x-amz-date"] = longDate;
  headers["x-amz-content-sha256"] = sha256Hex(input.body ?? "");
  if (input.credentials.sessionToken) headers["x-amz-security-token"] = input.credentials.sessionToken;

  const names = Object.keys(headers).sort();
  const canonicalHeaders = names.map((n) => `${n}:${String(headers[n]).trim().replace(/\s+/g, " ")}\n`).join("");
  const signedHeaders = names.join(";");
  const canonicalRequest = [
    input.method.toUpperCase(),
    input.path || "/",
    canonicalQuery(input.query),
    canonicalHeaders,
    signedHeaders,
    headers["x-amz-content-sha256"],
  ].join("\n");
  const scope = `${shortDate}/${input.region}/${service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", longDate, scope, sha256Hex(canonicalRequest)].join("\n");
  const kDate = hmac(`AWS4${input.credentials.secretAccessKey}`, shortDate);
  const kSigning = hmac(hmac(hmac(kDate, input.region), service), "aws4_request");
  const signature = createHmac("sha256", kSigning).update(stringToSign, "utf8").digest("hex");
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${input.credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return headers;
}
