/**
 * A real moto_server for the S3 tests, on a free 127.0.0.1 port.
 *
 * moto enforces If-None-Match / If-Match (412) like AWS S3, and, with its IAM auth switched
 * on (POST /moto-api/reset-auth), checks access keys and SigV4 signatures. It comes from PyPI
 * (moto[server], pinned in scripts/python/servers.txt) into the servers venv; `make` exports
 * MOTO_SERVER. When it is missing the tests FAIL with a message, they never skip.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { freePort } from "./net.js";
import { REPO_VENVS } from "./tools.js";

export const MOTO_PINNED = path.join(REPO_VENVS, "servers", "bin", "moto_server");

export function findMoto(): string {
  const bin = process.env.MOTO_SERVER ?? MOTO_PINNED;
  try {
    accessSync(bin, constants.X_OK);
    return bin;
  } catch {
    throw new Error(`moto_server not found at ${bin}: the S3 store tests need a real moto_server. Install the pinned one with: scripts/venv.sh servers`);
  }
}

export { freePort };

export interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * A fake SigV4 header: moto (auth off) does not check it, but treats requests without one as
 * anonymous and refuses reads (403); its credential scope also routes the request to a service.
 */
export function fakeAuth(service: string): string {
  return `AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=0`;
}

/** An HTTP request to moto on 127.0.0.1, not really signed (moto without auth accepts it). */
export function raw(port: number, method: string, urlPath: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const all = { authorization: fakeAuth("s3"), ...headers };
    const req = http.request({ host: "127.0.0.1", port, method, path: urlPath, headers: all, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (d: Buffer) => chunks.push(d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${urlPath}: no answer in 10s`)));
    req.end(body);
  });
}

export interface Moto {
  port: number;
  endpoint: string;
  createBucket(name: string): Promise<void>;
  /** Writes raw bytes as an object, bypassing the store (for corrupt documents). */
  putRaw(bucket: string, key: string, bytes: string | Buffer): Promise<void>;
  /** Creates an IAM user allowed s3:*, returns its keys (call before enableAuth). */
  createUser(name: string): Promise<{ accessKeyId: string; secretAccessKey: string }>;
  /** From now on, moto checks access keys and signatures (IAM auth). */
  enableAuth(): Promise<void>;
  stop(): Promise<void>;
}

function encodeKeyPath(key: string): string {
  return key.split("/").map(encodeURIComponent).join("/");
}

/** An IAM query-API call (moto's IAM, on the same port). */
async function iam(port: number, params: Record<string, string>): Promise<string> {
  const body = new URLSearchParams({ ...params, Version: "2010-05-08" }).toString();
  const res = await raw(port, "POST", "/", body, {
    "content-type": "application/x-www-form-urlencoded",
    authorization: fakeAuth("iam"),
  });
  if (res.status !== 200) throw new Error(`moto IAM ${params.Action}: HTTP ${res.status} ${res.body.slice(0, 300)}`);
  return res.body;
}

export async function startMoto(env: Record<string, string> = {}): Promise<Moto> {
  const bin = findMoto();
  const port = await freePort();
  const child: ChildProcess = spawn(bin, ["-H", "127.0.0.1", "-p", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, ...env },
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once("exit", () => {
      exited = true;
      resolve();
    }),
  );
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`moto_server (${bin}) exited at start:\n${stderr}`);
    try {
      const r = await raw(port, "GET", "/moto-api/data.json");
      if (r.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`moto_server did not answer on 127.0.0.1:${port} within 30s:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    async createBucket(name) {
      const r = await raw(port, "PUT", `/${name}`);
      if (r.status !== 200) throw new Error(`moto: create bucket ${name}: HTTP ${r.status} ${r.body}`);
    },
    async putRaw(bucket, key, bytes) {
      const r = await raw(port, "PUT", `/${bucket}/${encodeKeyPath(key)}`, bytes, { "content-type": "application/octet-stream" });
      if (r.status !== 200) throw new Error(`moto: put ${bucket}/${key}: HTTP ${r.status} ${r.body}`);
    },
    async createUser(name) {
      await iam(port, { Action: "CreateUser", UserName: name });
      await iam(port, {
        Action: "PutUserPolicy",
        UserName: name,
        PolicyName: "s3-all",
        PolicyDocument: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "s3:*", Resource: "*" }] }),
      });
      const xml = await iam(port, { Action: "CreateAccessKey", UserName: name });
      const accessKeyId = /<AccessKeyId>([^<]+)<\/AccessKeyId>/.exec(xml)?.[1];
      const secretAccessKey = /<SecretAccessKey>([^<]+)<\/SecretAccessKey>/.exec(xml)?.[1];
      if (!accessKeyId || !secretAccessKey) throw new Error(`moto IAM CreateAccessKey: no keys in ${xml.slice(0, 300)}`);
      return { accessKeyId, secretAccessKey };
    },
    async enableAuth() {
      const r = await raw(port, "POST", "/moto-api/reset-auth", "0");
      if (r.status !== 200) throw new Error(`moto: reset-auth: HTTP ${r.status} ${r.body}`);
    },
    async stop() {
      if (!exited) {
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), 3000);
        await exit;
        clearTimeout(t);
      }
    },
  };
}

/**
 * Dummy AWS settings for this test process only: fixed keys, no profile or config files,
 * EC2 metadata off (so the credential chain never leaves the machine), no endpoint leaks.
 */
export function useTestAwsEnv(): void {
  for (const k of Object.keys(process.env)) {
    if (k.startsWith("AWS_") || k.startsWith("ANSIBLE_JOBS_S3_")) delete process.env[k];
  }
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_REGION: "us-east-1",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_CONFIG_FILE: "/nonexistent/aws-config",
    AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/aws-credentials",
  });
}
