/**
 * S3-compatible store: s3://BUCKET[/PREFIX], one JSON object per document.
 *
 * - Object key: PREFIX/<encodeKey(key) joined by "/">.json (encode.ts: nothing escapes the
 *   prefix, and names differing only in case stay apart).
 * - get = GetObject (version = ETag, modified = Last-Modified, the server's clock).
 * - create = PutObject with If-None-Match: * (412 -> "exists").
 * - update = PutObject with If-Match: ETag (412 -> "conflict", missing -> "not_found").
 *   409 ConditionalRequestConflict (a concurrent conditional write) is retried with backoff.
 * - delete with a version = DeleteObject with If-Match where the server enforces it, else
 *   read-compare-delete (declared in `conditionalDelete`).
 * - list = ListObjectsV2 pages, then GetObject per document with bounded concurrency.
 * - now() = the Date header of a HeadBucket answer.
 *
 * Before the first conditional write in a process, a probe checks that the server really
 * refuses a second If-None-Match: * create and a stale If-Match (some S3 look-alikes ignore
 * both, which would silently lose updates). A server that ignores them is refused, unless
 * allow_unsafe_writes is set: then the capabilities say so, a warning is given, and writes
 * fall back to read-check-write (a race window remains).
 */
import { sleep } from "../engine/clock.js";
import { randomBytes } from "node:crypto";
import { JobsError } from "../engine/errors.js";
import { S3Client, type S3Response } from "./s3/client.js";
import { resolveS3Config, type S3Config } from "./s3/config.js";
import { parseListPage, xmlAll, xmlFirst } from "./s3/xml.js";
import { decodeSegment, encodeKey } from "./encode.js";
import type { Capabilities, Entry, Key, ListResult, DocumentFilter, Store } from "./types.js";
import { matchesFilter } from "./types.js";
import { mapLimit } from "../engine/limit.js";

const LIST_CONCURRENCY = 16;
/** Retries of a 409 ConditionalRequestConflict before giving up with "conflict". */
const CONFLICT_RETRIES = 5;
export const PROBE_DIR = ".ansible-jobs-probe";
/** Age (by the server's clock) after which a probe object is litter of a killed process. */
export const PROBE_LITTER_MS = 10 * 60_000;

export interface ConditionalSupport {
  /** PutObject If-None-Match: * is refused on an existing object. */
  atomicCreate: boolean;
  /** PutObject If-Match with a stale ETag is refused. */
  compareAndSwap: boolean;
  /** DeleteObject If-Match with a stale ETag is refused. */
  conditionalDelete: boolean;
  /** The server rejects conditional headers outright (501/400): send none. */
  rejectsConditionalHeaders: boolean;
}

/** Probe results per endpoint, bucket and prefix: once per process. */
const probes = new Map<string, Promise<ConditionalSupport>>();


function header(res: S3Response, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function dateHeader(res: S3Response, name: string): Date | undefined {
  const v = header(res, name);
  if (!v) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : new Date(t);
}

export class S3Store implements Store {
  readonly kind = "s3" as const;
  readonly url: string;
  readonly config: S3Config;
  /** Messages for the user (e.g. unsafe writes); also printed once on stderr. */
  readonly warnings: string[] = [];
  private readonly client: S3Client;
  private readonly caps: Capabilities = { atomicCreate: true, compareAndSwap: true, clock: true };
  private support: ConditionalSupport | undefined;

  constructor(config: S3Config) {
    this.config = config;
    this.url = config.url;
    this.client = new S3Client(config);
  }

  /**
   * Declared true until the probe (run before the first write) proves otherwise; a write
   * never goes ahead unprotected without allow_unsafe_writes.
   */
  get capabilities(): Capabilities {
    return this.caps;
  }

  /** How conditional requests behave on this server, once probed (undefined before). */
  get conditional(): ConditionalSupport | undefined {
    return this.support;
  }

  private base(): string {
    return this.config.prefix ? `${this.config.prefix}/` : "";
  }

  objectKey(key: Key): string {
    if (key.length === 0) throw new JobsError("invalid_argument", "empty store key");
    return `${this.base()}${encodeKey(key).join("/")}.json`;
  }

  private where(objectKey: string): string {
    return `s3://${this.config.bucket}/${objectKey}`;
  }

  private keyOf(objectKey: string): Key {
    return objectKey
      .slice(this.base().length, -".json".length)
      .split("/")
      .map((s) => decodeSegment(s) ?? s);
  }

  private unexpected(res: S3Response, doing: string): JobsError {
    const code = res.code ? ` ${res.code}` : "";
    return this.client.fail(`unexpected answer to ${doing}: HTTP ${res.status}${code}${res.message ? `: ${res.message}` : ""}`);
  }

  private parse(where: string, body: Buffer): unknown {
    if (body.length === 0) throw new JobsError("corrupt", `${where}: empty object (truncated write?)`);
    try {
      return JSON.parse(body.toString("utf8"));
    } catch (err) {
      throw new JobsError("corrupt", `${where}: not valid JSON (${(err as Error).message})`);
    }
  }

  private async getObject(objectKey: string): Promise<S3Response | undefined> {
    const res = await this.client.send({ method: "GET", key: objectKey });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw this.unexpected(res, `GET ${this.where(objectKey)}`);
    return res;
  }

  private entryOf(key: Key, objectKey: string, res: S3Response): Entry {
    const where = this.where(objectKey);
    const etag = header(res, "etag");
    if (!etag) throw this.client.fail(`the server sent no ETag for ${where}`);
    const entry: Entry = { key, where, value: this.parse(where, res.body), version: etag };
    const modified = dateHeader(res, "last-modified");
    if (modified) entry.modified = modified;
    return entry;
  }

  async get(key: Key): Promise<Entry | undefined> {
    const objectKey = this.objectKey(key);
    const res = await this.getObject(objectKey);
    return res ? this.entryOf(key, objectKey, res) : undefined;
  }

  private putHeaders(extra: Record<string, string>): Record<string, string> {
    const h: Record<string, string> = { "content-type": "application/json", ...extra };
    if (this.config.sse) h["x-amz-server-side-encryption"] = this.config.sse;
    if (this.config.sseKmsKeyId) h["x-amz-server-side-encryption-aws-kms-key-id"] = this.config.sseKmsKeyId;
    return h;
  }

  private written(key: Key, objectKey: string, value: unknown, res: S3Response): Entry {
    const etag = header(res, "etag");
    if (!etag) throw this.client.fail(`the server sent no ETag after writing ${this.where(objectKey)}`);
    const entry: Entry = { key, where: this.where(objectKey), value, version: etag };
    const modified = dateHeader(res, "last-modified") ?? dateHeader(res, "date");
    if (modified) entry.modified = modified;
    return entry;
  }

  /**
   * After a write was retried because an earlier attempt failed in transit, a 412 may be
   * our own first attempt having landed: it is ours when the object holds exactly our bytes.
   */
  private async landedEarlier(key: Key, objectKey: string, value: unknown, body: Buffer): Promise<Entry | undefined> {
    const cur = await this.getObject(objectKey);
    if (cur?.body.equals(body)) return this.written(key, objectKey, value, cur);
    return undefined;
  }

  /** PUT with 409 ConditionalRequestConflict retried; returns the last answer. */
  private async put(objectKey: string, body: Buffer, conditions: Record<string, string>): Promise<S3Response> {
    for (let i = 0; ; i++) {
      const res = await this.client.send({ method: "PUT", key: objectKey, body, headers: this.putHeaders(conditions) });
      if (res.status !== 409 || i >= CONFLICT_RETRIES) return res;
      await sleep(Math.min(800, 25 * 2 ** i) * (0.5 + Math.random()));
    }
  }

  async create(key: Key, value: unknown): Promise<Entry> {
    const objectKey = this.objectKey(key);
    const where = this.where(objectKey);
    const support = await this.ensureConditional();
    const body = Buffer.from(`${JSON.stringify(value, null, 1)}\n`);
    if (!support.atomicCreate && (await this.getObject(objectKey))) {
      throw new JobsError("exists", `${where} already exists`);
    }
    const res = await this.put(objectKey, body, support.rejectsConditionalHeaders ? {} : { "if-none-match": "*" });
    if (res.status === 200) return this.written(key, objectKey, value, res);
    if (res.status === 412) {
      if (res.retriedAfterTransportError) {
        const mine = await this.landedEarlier(key, objectKey, value, body);
        if (mine) return mine;
      }
      throw new JobsError("exists", `${where} already exists`);
    }
    if (res.status === 409) throw new JobsError("conflict", `${where}: concurrent writes kept conflicting (409 ConditionalRequestConflict)`);
    throw this.unexpected(res, `PUT ${where}`);
  }

  async update(key: Key, value: unknown, version: string): Promise<Entry> {
    const objectKey = this.objectKey(key);
    const where = this.where(objectKey);
    const support = await this.ensureConditional();
    const body = Buffer.from(`${JSON.stringify(value, null, 1)}\n`);
    if (!support.compareAndSwap) {
      const cur = await this.getObject(objectKey);
      if (!cur) throw new JobsError("not_found", `${where} does not exist`);
      if (header(cur, "etag") !== version) throw new JobsError("conflict", `${where} was changed by another writer`);
    }
    const res = await this.put(objectKey, body, support.rejectsConditionalHeaders ? {} : { "if-match": version });
    if (res.status === 200) return this.written(key, objectKey, value, res);
    if (res.status === 404) throw new JobsError("not_found", `${where} does not exist`);
    if (res.status === 412) {
      if (res.retriedAfterTransportError) {
        const mine = await this.landedEarlier(key, objectKey, value, body);
        if (mine) return mine;
      }
      // Some servers answer 412 for a missing object too: tell the two apart.
      if (!(await this.getObject(objectKey))) throw new JobsError("not_found", `${where} does not exist`);
      throw new JobsError("conflict", `${where} was changed by another writer`);
    }
    if (res.status === 409) throw new JobsError("conflict", `${where}: concurrent writes kept conflicting (409 ConditionalRequestConflict)`);
    throw this.unexpected(res, `PUT ${where}`);
  }

  async delete(key: Key, version?: string): Promise<void> {
    const objectKey = this.objectKey(key);
    const where = this.where(objectKey);
    if (version === undefined) {
      const res = await this.client.send({ method: "DELETE", key: objectKey });
      if (res.status !== 204 && res.status !== 200 && res.status !== 404) throw this.unexpected(res, `DELETE ${where}`);
      return;
    }
    const support = await this.ensureConditional();
    if (!support.conditionalDelete) {
      // Read-compare-delete: the server does not enforce If-Match on DELETE.
      const cur = await this.getObject(objectKey);
      if (!cur) return;
      if (header(cur, "etag") !== version) throw new JobsError("conflict", `${where} was changed by another writer`);
    }
    for (let i = 0; ; i++) {
      const headers: Record<string, string> = support.conditionalDelete ? { "if-match": version } : {};
      const res = await this.client.send({ method: "DELETE", key: objectKey, headers });
      if (res.status === 204 || res.status === 200 || res.status === 404) return;
      if (res.status === 412) {
        if (res.retriedAfterTransportError && !(await this.getObject(objectKey))) return;
        throw new JobsError("conflict", `${where} was changed by another writer`);
      }
      if (res.status !== 409 || i >= CONFLICT_RETRIES) {
        if (res.status === 409) throw new JobsError("conflict", `${where}: concurrent writes kept conflicting (409 ConditionalRequestConflict)`);
        throw this.unexpected(res, `DELETE ${where}`);
      }
      await sleep(Math.min(800, 25 * 2 ** i) * (0.5 + Math.random()));
    }
  }

  async list(prefix: Key, filter?: DocumentFilter): Promise<ListResult> {
    const listPrefix = prefix.length ? `${this.base()}${encodeKey(prefix).join("/")}/` : this.base();
    const keys: string[] = [];
    let token: string | undefined;
    for (let page = 0; ; page++) {
      const query: Record<string, string> = { "list-type": "2", prefix: listPrefix };
      if (token) query["continuation-token"] = token;
      const res = await this.client.send({ method: "GET", query });
      if (res.status !== 200) throw this.unexpected(res, `ListObjectsV2 ${this.where(listPrefix)}`);
      const p = parseListPage(res.body.toString("utf8"));
      for (const k of p.keys) {
        if (!k.endsWith(".json") || !k.startsWith(listPrefix)) continue;
        // Hidden parts (the probe directory) are never documents: encoded segments never start with ".".
        if (k.slice(this.base().length).split("/").some((s) => s.startsWith("."))) continue;
        keys.push(k);
      }
      if (!p.truncated) break;
      if (!p.next || p.next === token) throw this.client.fail(`ListObjectsV2 said "truncated" without a new continuation token (page ${page + 1})`);
      token = p.next;
    }
    const result: ListResult = { entries: [], errors: [] };
    type Got = { entry: Entry } | { error: ListResult["errors"][number] } | undefined;
    const got = await mapLimit(keys, LIST_CONCURRENCY, async (objectKey): Promise<Got> => {
      const key = this.keyOf(objectKey);
      try {
        const res = await this.getObject(objectKey);
        return res ? { entry: this.entryOf(key, objectKey, res) } : undefined; // deleted meanwhile
      } catch (err) {
        if (err instanceof JobsError && err.code === "corrupt") return { error: { key, where: this.where(objectKey), message: err.message } };
        throw err;
      }
    });
    for (const g of got) {
      if (!g) continue;
      if ("error" in g) result.errors.push(g.error);
      else if (matchesFilter(g.entry.value, filter)) result.entries.push(g.entry);
    }
    return result;
  }

  async now(): Promise<Date> {
    const res = await this.client.send({ method: "HEAD" });
    if (res.status !== 200) throw this.unexpected(res, `HeadBucket ${this.config.url}`);
    const d = dateHeader(res, "date");
    if (!d) throw this.client.fail("the server sent no Date header, so the store has no clock to judge stale claims by");
    return d;
  }

  async close(): Promise<void> {
    this.client.close();
  }

  /** Probes (once per process) that the server enforces conditional writes; applies the policy. */
  private async ensureConditional(): Promise<ConditionalSupport> {
    if (this.support) return this.support;
    const c = this.config;
    const id = `${c.endpoint.href}|${c.bucket}|${c.prefix}`;
    let p = probes.get(id);
    if (!p) {
      p = this.probe();
      probes.set(id, p);
      p.catch(() => probes.delete(id));
    }
    const support = await p;
    if (!support.atomicCreate || !support.compareAndSwap) {
      const ignored = [
        !support.atomicCreate ? "If-None-Match: * (create-if-absent)" : "",
        !support.compareAndSwap ? "If-Match (compare-and-swap)" : "",
      ]
        .filter(Boolean)
        .join(" and ");
      const what = support.rejectsConditionalHeaders ? "rejects" : "ignores";
      if (!c.allowUnsafeWrites) {
        throw new JobsError(
          "unsupported",
          `${this.client.label}: the server ${what} conditional writes on bucket "${c.bucket}" (${ignored}), so two controllers ` +
            "could overwrite each other's job records. Use a server that enforces them (AWS S3, or a recent MinIO or Ceph RGW), " +
            "or accept the risk with ANSIBLE_JOBS_S3_UNSAFE_WRITES=true (s3 option allow_unsafe_writes)",
        );
      }
      if (!this.support) {
        this.caps.atomicCreate = support.atomicCreate;
        this.caps.compareAndSwap = support.compareAndSwap;
        const msg =
          `${this.client.label}: the server ${what} ${ignored}; allow_unsafe_writes is set, so writes fall back to ` +
          "read-check-write and concurrent controllers may overwrite each other";
        this.warnings.push(msg);
        process.stderr.write(`[WARNING]: ${msg}\n`);
      }
    }
    this.support = support;
    return support;
  }

  private async probe(): Promise<ConditionalSupport> {
    const probeKey = `${this.base()}${PROBE_DIR}/${randomBytes(12).toString("hex")}.json`;
    const put = (body: string, headers: Record<string, string>) =>
      this.put(probeKey, Buffer.from(body), headers).then((res) => {
        if (res.status === 200 || res.status === 412 || res.status === 501 || res.status === 400) return res;
        throw this.unexpected(res, `PUT ${this.where(probeKey)} (conditional write probe)`);
      });
    const support: ConditionalSupport = { atomicCreate: false, compareAndSwap: false, conditionalDelete: false, rejectsConditionalHeaders: false };
    const first = await put('{"probe":1}\n', { "if-none-match": "*" });
    if (first.status === 501 || first.status === 400) {
      support.rejectsConditionalHeaders = true;
      const plain = await put('{"probe":1}\n', {});
      if (plain.status !== 200) throw this.unexpected(plain, `PUT ${this.where(probeKey)} (conditional write probe)`);
    } else {
      const second = await put('{"probe":2}\n', { "if-none-match": "*" });
      support.atomicCreate = second.status === 412;
      const stale = await put('{"probe":3}\n', { "if-match": '"00000000000000000000000000000000"' });
      support.compareAndSwap = stale.status === 412;
      if (support.compareAndSwap) {
        // If-Match on a missing object must not create it (some MinIO releases did: minio#21526).
        const absentKey = probeKey.replace(/\.json$/, "-absent.json");
        const absent = await this.put(absentKey, Buffer.from('{"probe":4}\n'), { "if-match": '"00000000000000000000000000000000"' });
        if (absent.status === 200 || absent.status === 201) {
          support.compareAndSwap = false;
          await this.client.send({ method: "DELETE", key: absentKey }).catch(() => undefined);
        }
      }
      const del = await this.client.send({ method: "DELETE", key: probeKey, headers: { "if-match": '"00000000000000000000000000000000"' } });
      support.conditionalDelete = del.status === 412;
    }
    try {
      await this.client.send({ method: "DELETE", key: probeKey });
      await this.sweepProbes();
    } catch {
      // A probe left behind is harmless (hidden from list) and must not fail the write.
    }
    return support;
  }

  /**
   * Removes probe objects left by processes killed during their probe (the kill -9 trials
   * left one in about 20 killed S3 processes), once PROBE_LITTER_MS old by the server's clock
   * (its Date header against their LastModified): a younger one may be another probe running.
   */
  private async sweepProbes(): Promise<void> {
    const prefix = `${this.base()}${PROBE_DIR}/`;
    const res = await this.client.send({ method: "GET", query: { "list-type": "2", prefix, "max-keys": "100" } });
    const serverNow = Date.parse(String(res.headers.date ?? ""));
    if (res.status !== 200 || Number.isNaN(serverNow)) return;
    for (const c of xmlAll(res.body.toString("utf8"), "Contents")) {
      const key = xmlFirst(c, "Key");
      const modified = Date.parse(xmlFirst(c, "LastModified") ?? "");
      if (key?.startsWith(prefix) && !Number.isNaN(modified) && serverNow - modified > PROBE_LITTER_MS) {
        await this.client.send({ method: "DELETE", key });
      }
    }
  }
}

export async function openS3Store(url: string, opts: Record<string, unknown>): Promise<Store> {
  return new S3Store(await resolveS3Config(url, opts));
}

/** oci://NAMESPACE[@REGION]/BUCKET[/PREFIX]: the same store on OCI's S3 compatibility endpoint (oci.ts). */
export async function openOciStore(url: string, opts: Record<string, unknown>): Promise<Store> {
  const { resolveOciS3Config } = await import("./oci.js");
  return new S3Store(await resolveOciS3Config(url, opts));
}
