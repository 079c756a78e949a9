/**
 * The store's SigV4 signer against the AWS SDK's own (@smithy/signature-v4, a dev
 * dependency kept as the reference): the same request must give the same Authorization.
 */
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { describe, test } from "node:test";
import { SignatureV4 } from "@smithy/signature-v4";
import { amzDate, canonicalQuery, escapeUri, signRequest } from "../../../src/stores/s3/sigv4.js";

class Sha256 {
  private readonly h;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    const key = secret === undefined ? undefined : typeof secret === "string" ? Buffer.from(secret) : Buffer.from(secret as Uint8Array);
    this.h = key ? createHmac("sha256", key) : createHash("sha256");
  }
  update(d: string | ArrayBuffer | ArrayBufferView): void {
    this.h.update(typeof d === "string" ? Buffer.from(d) : Buffer.from(d as Uint8Array));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest());
  }
  reset(): void {}
}

const creds = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" };
const date = new Date("2026-01-27T09:30:00.000Z");

async function reference(req: { method: string; path: string; query: Record<string, string>; headers: Record<string, string>; body?: Buffer }, c: typeof creds & { sessionToken?: string }, region: string) {
  const signer = new SignatureV4({ credentials: c, region, service: "s3", sha256: Sha256, uriEscapePath: false, applyChecksum: true });
  const signed = await signer.sign(
    { method: req.method, protocol: "https:", hostname: req.headers.host!, path: req.path, query: req.query, headers: { ...req.headers }, body: req.body },
    { signingDate: date },
  );
  return signed.headers;
}

interface Case {
  name: string;
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string> & { host: string };
  body?: Buffer;
}

const CASES: Case[] = [
  { name: "GET object", method: "GET", path: "/bucket/p/heads/default/web1/backup.json", query: {}, headers: { host: "127.0.0.1:9000" } },
  {
    name: "PUT with body and conditions, encoded key",
    method: "PUT",
    path: `/bucket/p/${escapeUri("%57eb1")}/${escapeUri("back%20up")}.json`,
    query: {},
    headers: { host: "s3.eu-west-1.amazonaws.com", "content-type": "application/json", "content-length": "13", "if-none-match": "*", "x-amz-server-side-encryption": "aws:kms" },
    body: Buffer.from('{"a":  "b"}\n\n'),
  },
  {
    name: "ListObjectsV2 with prefix and continuation token",
    method: "GET",
    path: "/",
    query: { "list-type": "2", prefix: "p/heads/a b+c/", "continuation-token": "1/ab+cd==" },
    headers: { host: "bucket.s3.us-east-1.amazonaws.com" },
  },
  { name: "DELETE If-Match", method: "DELETE", path: "/bucket/k.json", query: {}, headers: { host: "h", "if-match": '"0123abcd"' } },
  { name: "HEAD bucket", method: "HEAD", path: "/bucket", query: {}, headers: { host: "h:1" } },
];

describe("SigV4 signer", () => {
  for (const c of CASES) {
    for (const session of [undefined, "FwoGZXIvYXdzEXAMPLETOKEN//+="]) {
      test(`${c.name}${session ? " (session token)" : ""} matches @smithy/signature-v4`, async () => {
        const cr = session ? { ...creds, sessionToken: session } : creds;
        const region = c.headers.host.includes("eu-west-1") ? "eu-west-1" : "us-east-1";
        const ref = await reference(c, cr, region);
        const mine = signRequest({ ...c, region, date, credentials: cr });
        assert.equal(mine.authorization, ref.authorization);
        assert.equal(mine["x-amz-date"], ref["x-amz-date"]);
        assert.equal(mine["x-amz-content-sha256"], ref["x-amz-content-sha256"]);
        if (session) assert.equal(mine["x-amz-security-token"], session);
      });
    }
  }

  test("helpers", () => {
    assert.equal(amzDate(date), "20260127T093000Z");
    assert.equal(escapeUri("a b!'()*~%/"), "a%20b%21%27%28%29%2A~%25%2F");
    assert.equal(canonicalQuery({ b: "2", a: "x y", "list-type": "2" }), "a=x%20y&b=2&list-type=2");
  });
});
