/**
 * A small S3 client: SigV4 signing (sigv4.ts), the standard AWS credential chain
 * (@aws-sdk/credential-provider-node: env, shared config and credentials files, AWS_PROFILE,
 * SSO, web identity, process, ECS and EC2 metadata), and node:http(s) with bounded timeouts
 * and retries.
 *
 * Every failure that is not an answer the store interprets (404 NoSuchKey, 412, 409) becomes
 * JobsError("store_unavailable") with a message naming the store, the endpoint and the cause:
 * no SDK error or stack trace reaches the user.
 *
 * Everything heavy is imported on first use, so opening the store costs nothing.
 */
import { now, sleep } from "../../engine/clock.js";
import { AGAIN, type Again, retry } from "../../engine/retry.js";
import type * as http from "node:http";
import { JobsError } from "../../engine/errors.js";
import { endpointLabel, type S3Config } from "./config.js";
import { type Credentials, escapeUri, signRequest } from "./sigv4.js";
import { parseError } from "./xml.js";

export interface S3Request {
  method: "GET" | "PUT" | "HEAD" | "DELETE";
  /** Object key (not yet URL-encoded); absent for bucket-level requests. */
  key?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Buffer;
}

export interface S3Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** S3 error code from the body (NoSuchKey, PreconditionFailed...), when there is one. */
  code: string | undefined;
  message: string | undefined;
  /** An earlier attempt failed in transit: a write may have landed before this answer. */
  retriedAfterTransportError: boolean;
}

class TransportError extends Error {
  constructor(
    message: string,
    readonly errno: string | undefined,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}


function describeNetError(err: NodeJS.ErrnoException, c: S3Config): TransportError {
  const code = err.code;
  switch (code) {
    case "ECONNREFUSED":
      return new TransportError("connection refused (ECONNREFUSED): is the S3 server running there?", code, true);
    case "ENOTFOUND":
      return new TransportError(`host "${c.endpoint.hostname}" not found (ENOTFOUND)`, code, false);
    case "EAI_AGAIN":
      return new TransportError(`DNS lookup of "${c.endpoint.hostname}" failed for now (EAI_AGAIN)`, code, true);
    case "ECONNRESET":
    case "EPIPE":
      return new TransportError(`connection reset by the server (${code})`, code, true);
    case "ETIMEDOUT":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return new TransportError(`endpoint unreachable (${code})`, code, true);
    default:
      if (code?.startsWith("ERR_TLS") || code?.includes("CERT") || code === "DEPTH_ZERO_SELF_SIGNED_CERT") {
        return new TransportError(`TLS error: ${err.message} (${code})`, code, false);
      }
      return new TransportError(`${err.message}${code ? ` (${code})` : ""}`, code, true);
  }
}

type CredentialProvider = () => Promise<Credentials>;

/**
 * The chain's first source, read directly: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
 * (/ AWS_SESSION_TOKEN), used by the chain only when no profile is chosen. Reading them here
 * spares loading the SDK (tens of ms per engine start) in the common CI/AWX case.
 */
function envCredentials(profile: string | undefined): Credentials | undefined {
  const e = process.env;
  if (profile || e.AWS_PROFILE || !e.AWS_ACCESS_KEY_ID || !e.AWS_SECRET_ACCESS_KEY) return undefined;
  const expiry = e.AWS_CREDENTIAL_EXPIRATION ? Date.parse(e.AWS_CREDENTIAL_EXPIRATION) : Number.NaN;
  if (!Number.isNaN(expiry) && expiry <= now()) return undefined; // let the chain say why
  // AWS_SECURITY_TOKEN: boto's older name for the session token, still set by some tools.
  const sessionToken = e.AWS_SESSION_TOKEN || e.AWS_SECURITY_TOKEN || undefined;
  return { accessKeyId: e.AWS_ACCESS_KEY_ID, secretAccessKey: e.AWS_SECRET_ACCESS_KEY, sessionToken };
}

export class S3Client {
  readonly config: S3Config;
  /** "s3 store s3://b/p (endpoint http://...)": the start of every error message. */
  readonly label: string;
  /** node:http or node:https (TLS is loaded only for https endpoints) and a keep-alive agent. */
  private transport: Promise<{ request: typeof http.request; agent: http.Agent }> | undefined;
  private agent: http.Agent | undefined;
  private chain: CredentialProvider | undefined;
  /** Server clock minus ours, learnt from RequestTimeTooSkewed answers. */
  private clockOffsetMs = 0;

  constructor(config: S3Config) {
    this.config = config;
    this.label = `${config.url.startsWith("oci://") ? "oci" : "s3"} store ${config.url} (endpoint ${endpointLabel(config)})`;
  }

  fail(cause: string, err?: unknown): JobsError {
    return new JobsError("store_unavailable", `${this.label}: ${cause}`, err === undefined ? {} : { cause: err });
  }

  close(): void {
    this.agent?.destroy();
  }

  private getTransport(): Promise<{ request: typeof http.request; agent: http.Agent }> {
    this.transport ??= (async () => {
      const mod = this.config.endpoint.protocol === "https:" ? await import("node:https") : await import("node:http");
      this.agent = new mod.Agent({ keepAlive: true, maxSockets: 32 });
      return { request: mod.request as typeof http.request, agent: this.agent };
    })();
    return this.transport;
  }

  /** Credentials for the next request: the environment, else the full standard chain (loaded on first use). */
  private async credentials(): Promise<Credentials> {
    if (this.config.credentials) return this.config.credentials;
    const fromEnv = envCredentials(this.config.profile);
    if (fromEnv) return fromEnv;
    if (!this.chain) {
      let defaultProvider: typeof import("@aws-sdk/credential-provider-node").defaultProvider;
      try {
        // The SDK warns on stderr about future Node versions; that is noise inside Ansible.
        process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
        ({ defaultProvider } = await import("@aws-sdk/credential-provider-node"));
      } catch (err) {
        throw this.fail(`cannot load the AWS credential chain: ${(err as Error).message}`, err);
      }
      this.chain = defaultProvider(this.config.profile ? { profile: this.config.profile } : {}) as CredentialProvider;
    }
    try {
      return await this.chain();
    } catch (err) {
      const why = (err as Error)?.message?.split("\n")[0] ?? String(err);
      throw this.fail(
        `no usable AWS credentials (${why}); set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or another source of the standard AWS credential chain`,
      );
    }
  }

  /** Host, path (URL-encoded) and query for a request, path style or virtual-hosted. */
  private target(key: string | undefined): { hostname: string; port: string; path: string } {
    const e = this.config.endpoint;
    const basePath = this.config.basePath;
    const encKey = key === undefined ? undefined : key.split("/").map(escapeUri).join("/");
    if (this.config.pathStyle) {
      const base = `${basePath}/${escapeUri(this.config.bucket)}`;
      return { hostname: e.hostname, port: e.port, path: encKey === undefined ? base : `${base}/${encKey}` };
    }
    return { hostname: `${this.config.bucket}.${e.hostname}`, port: e.port, path: `${basePath}/${encKey ?? ""}` };
  }

  /** Sends one request with retries on network errors, 5xx and throttling; maps fatal answers. */
  async send(req: S3Request): Promise<S3Response> {
    let transportFailed = false;
    let skewFixed = false;
    let lastError = "";
    const maxAttempts = this.config.maxAttempts;
    // Waits after try i (0-based): 100 ms, 200 ms... up to 1 s, each times 0.5 to 1.5.
    const wait = (i: number) => Math.min(1000, 100 * 2 ** i) * (0.5 + Math.random());
    const giveUp = () => this.fail(`cannot reach the endpoint: ${lastError}${maxAttempts > 1 ? ` (after ${maxAttempts} attempts)` : ""}`);
    return retry({ attempts: maxAttempts, wait }, async (i): Promise<S3Response | Again> => {
      const attempt = i + 1;
      for (;;) {
        let res: S3Response;
        try {
          res = await this.once(await this.credentials(), req, transportFailed);
        } catch (err) {
          if (err instanceof JobsError) throw err;
          const te = err instanceof TransportError ? err : new TransportError((err as Error).message, undefined, true);
          lastError = te.message;
          if (!te.retryable) throw giveUp();
          transportFailed = true;
          return AGAIN;
        }
        if (res.code === "RequestTimeTooSkewed" && !skewFixed) {
          const server = Date.parse(String(res.headers.date ?? ""));
          if (!Number.isNaN(server)) {
            this.clockOffsetMs = server - now();
            skewFixed = true;
            // Sent again as the same attempt (after the same wait as this one).
            if (i > 0) await sleep(wait(i - 1));
            continue;
          }
        }
        const retryable =
          res.status >= 500 || res.status === 429 || res.code === "RequestTimeout" || res.code === "SlowDown" || res.code === "Throttling";
        if (retryable && attempt < maxAttempts && res.status !== 501) {
          lastError = `HTTP ${res.status}${res.code ? ` ${res.code}` : ""}${res.message ? `: ${res.message}` : ""}`;
          return AGAIN;
        }
        this.mapFatal(res, req);
        return res;
      }
    }, giveUp);
  }

  /** Throws for answers that mean "this store cannot be used as configured". */
  private mapFatal(res: S3Response, req: S3Request): void {
    const { status, code } = res;
    const bucket = `"${this.config.bucket}"`;
    const detail = res.message ? `: ${res.message}` : "";
    if (code === "NoSuchBucket" || (status === 404 && req.key === undefined)) {
      throw this.fail(`bucket ${bucket} does not exist`);
    }
    const region = String(res.headers["x-amz-bucket-region"] ?? "");
    if (status === 301 || status === 307 || code === "PermanentRedirect" || code === "AuthorizationHeaderMalformed" || code === "IncorrectEndpoint") {
      const hint = region ? `bucket ${bucket} is in region ${region}; set AWS_REGION=${region} (or the s3 option region)` : `wrong region or endpoint for bucket ${bucket}`;
      throw this.fail(`${hint} (HTTP ${status}${code ? ` ${code}` : ""})`);
    }
    switch (code) {
      case "InvalidAccessKeyId":
        throw this.fail(`wrong credentials: the server does not know this access key id (InvalidAccessKeyId)`);
      case "SignatureDoesNotMatch":
        throw this.fail(`wrong credentials: the secret access key does not match (SignatureDoesNotMatch)`);
      case "ExpiredToken":
      case "TokenRefreshRequired":
      case "InvalidToken":
        throw this.fail(`the session credentials expired or are invalid (${code}); refresh them (aws sso login, new STS credentials)`);
      case "RequestTimeTooSkewed":
        throw this.fail(`this machine's clock is too far from the server's (RequestTimeTooSkewed)`);
      case "AccessDenied":
      case "AllAccessDisabled":
        throw this.fail(
          `access denied (${code}${detail}): the credentials need s3:GetObject, s3:PutObject, s3:DeleteObject and s3:ListBucket on ${this.config.url}`,
        );
      case "NotImplemented":
        if (status === 501) return; // the store decides (conditional requests not supported)
    }
    if (status === 403) {
      // HEAD answers carry no body: we cannot tell bad credentials from a missing permission.
      throw this.fail(`access denied (HTTP 403${code ? ` ${code}` : ""}${detail}): wrong credentials or missing permission on bucket ${bucket}`);
    }
    if (status === 400 && code !== undefined && !["InvalidArgument", "NotImplemented"].includes(code)) {
      throw this.fail(`the server refused the request (HTTP 400 ${code}${detail})`);
    }
    if (status >= 500 && status !== 501) {
      throw this.fail(`server error HTTP ${status}${code ? ` ${code}` : ""}${detail} (after ${this.config.maxAttempts} attempts)`);
    }
  }

  private async once(credentials: Credentials, req: S3Request, retriedAfterTransportError: boolean): Promise<S3Response> {
    const c = this.config;
    const t = this.target(req.key);
    const query = req.query ?? {};
    const host = t.port ? `${t.hostname}:${t.port}` : t.hostname;
    const headers: Record<string, string> = { host, ...(req.headers ?? {}) };
    if (req.body) headers["content-length"] = String(req.body.length);
    const signedHeaders = signRequest({
      method: req.method,
      path: t.path,
      query,
      headers,
      body: req.body,
      region: c.region,
      date: new Date(now() + this.clockOffsetMs),
      credentials,
    });
    const qs = Object.entries(query)
      .map(([k, v]) => `${escapeUri(k)}=${escapeUri(v)}`)
      .join("&");
    const { request, agent } = await this.getTransport();
    return new Promise<S3Response>((resolve, reject) => {
      let settled = false;
      const done = (err: Error | undefined, res?: S3Response) => {
        if (settled) return;
        settled = true;
        clearTimeout(connectTimer);
        clearTimeout(totalTimer);
        if (err) reject(err);
        else resolve(res!);
      };
      const r = request(
        {
          protocol: c.endpoint.protocol,
          hostname: t.hostname,
          port: t.port || undefined,
          path: qs ? `${t.path}?${qs}` : t.path,
          method: req.method,
          headers: signedHeaders,
          agent,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (d: Buffer) => chunks.push(d));
          res.on("error", (e) => done(describeNetError(e as NodeJS.ErrnoException, c)));
          res.on("end", () => {
            const body = Buffer.concat(chunks);
            const status = res.statusCode ?? 0;
            const parsed = status >= 300 ? parseError(body.toString("utf8")) : {};
            done(undefined, {
              status,
              headers: res.headers,
              body,
              code: parsed.code,
              message: parsed.message,
              retriedAfterTransportError,
            });
          });
        },
      );
      const connectTimer = setTimeout(() => {
        r.destroy(new TransportError(`no connection within ${c.connectTimeoutMs / 1000}s`, "ETIMEDOUT", true));
      }, c.connectTimeoutMs);
      const totalTimer = setTimeout(() => {
        r.destroy(new TransportError(`no complete answer within ${c.requestTimeoutMs / 1000}s`, "ETIMEDOUT", true));
      }, c.requestTimeoutMs);
      r.on("socket", (s) => {
        if (!s.connecting) clearTimeout(connectTimer);
        else s.once("connect", () => clearTimeout(connectTimer));
      });
      r.on("error", (e) => done(e instanceof TransportError ? e : describeNetError(e as NodeJS.ErrnoException, c)));
      r.end(req.body);
    });
  }
}
