/**
 * Filesystem store: one JSON file per document under a root directory.
 *
 * - Atomic writes: temp file, fsync, rename (update) or link (create), fsync the directory.
 * - Create-if-absent is link(2), which fails with EEXIST for every creator but one.
 * - Compare-and-swap takes a per-document lock file opened with O_EXCL ("wx"), so it holds
 *   across processes (Node has no flock). A lock left by a dead process is broken after
 *   LOCK_STALE_MS, by renaming it away so only one process can break it.
 * - Directories 0700, files 0600. Segments are encoded (encode.ts): nothing escapes the root.
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { now, nowDate, sleep } from "../engine/clock.js";
import { JobsError } from "../engine/errors.js";
import { decodeSegment, encodeKey } from "./encode.js";
import type { Capabilities, Entry, Key, ListResult, RecordFilter, Store } from "./types.js";
import { matchesFilter } from "./types.js";

const LOCK_STALE_MS = 30_000;
const LOCK_WAIT_MS = 15_000;

function versionOf(bytes: Buffer | string): string {
  return createHash("sha256").update(bytes).digest("hex").slice(0, 32);
}

/** Most documents are a few KiB; bigger ones are read whole. */
const LIST_BUFFER = 64 * 1024;

/**
 * Reads a file as UTF-8 through a reused buffer. The text is returned as a string when
 * it decodes losslessly (no U+FFFD), so hashing it later gives the version of the bytes;
 * otherwise the bytes themselves are returned.
 */
function readInto(file: string, buf: Buffer): string | Buffer {
  const fd = fs.openSync(file, "r");
  try {
    let n = 0;
    for (;;) {
      const r = fs.readSync(fd, buf, n, buf.length - n, null);
      if (r === 0) break;
      n += r;
      if (n === buf.length) return Buffer.concat([buf, fs.readFileSync(fd)]);
    }
    const text = buf.toString("utf8", 0, n);
    return text.includes("\uFFFD") ? Buffer.from(buf.subarray(0, n)) : text;
  } finally {
    fs.closeSync(fd);
  }
}

/** A listed entry whose version (a hash of the document) is computed only if asked for. */
function lazyEntry(key: Key, where: string, value: unknown, source: string | Buffer): Entry {
  let version: string | undefined;
  return {
    key,
    where,
    value,
    get version() {
      version ??= versionOf(source);
      return version;
    },
  };
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

export class FilesystemStore implements Store {
  readonly kind = "filesystem" as const;
  readonly capabilities: Capabilities = { atomicCreate: true, compareAndSwap: true, clock: true };
  readonly url: string;
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.url = this.root;
  }

  private fileOf(key: Key): string {
    if (key.length === 0) throw new JobsError("invalid_argument", "empty store key");
    const segs = encodeKey(key);
    const file = `${path.join(this.root, ...segs)}.json`;
    // Encoding already prevents it; this guards against future mistakes.
    if (!file.startsWith(this.root + path.sep)) throw new JobsError("internal", `key escapes the store root: ${file}`);
    return file;
  }

  private parse(file: string, bytes: Buffer | string): unknown {
    if (bytes.length === 0) throw new JobsError("corrupt", `${file}: empty file (truncated write?)`);
    try {
      return JSON.parse(typeof bytes === "string" ? bytes : bytes.toString("utf8"));
    } catch (err) {
      throw new JobsError("corrupt", `${file}: not valid JSON (${(err as Error).message})`);
    }
  }

  private ioError(file: string, err: unknown, doing: string): JobsError {
    const code = errno(err);
    const reason = code === "EACCES" || code === "EPERM" ? "permission denied" : (err as Error).message;
    return new JobsError("store_unavailable", `filesystem store: cannot ${doing} ${file}: ${reason}`, { cause: err });
  }

  /**
   * The error for a path under the root that a directory was expected at (ENOTDIR): the first
   * component that exists and is not a directory, the root itself included. A store whose root
   * is a regular file is broken, never empty.
   */
  private notADirectory(target: string): JobsError {
    const parts = path.relative(this.root, target).split(path.sep).filter((p) => p && p !== ".");
    for (let i = 0, p = this.root; i <= parts.length; p = path.join(p, parts[i] ?? ""), i++) {
      let st: fs.Stats | undefined;
      try {
        st = fs.statSync(p);
      } catch {
        break;
      }
      if (!st.isDirectory()) {
        const what = p === this.root ? `filesystem store ${this.root} is not a directory` : `filesystem store ${this.root}: ${p} is not a directory`;
        return new JobsError("store_unavailable", what);
      }
    }
    return new JobsError("store_unavailable", `filesystem store ${this.root}: ${target} is not a directory`);
  }

  private mkdirs(dir: string): void {
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw this.ioError(dir, err, "create directory");
    }
  }

  private fsyncDir(dir: string): void {
    let fd: number | undefined;
    try {
      fd = fs.openSync(dir, "r");
      fs.fsyncSync(fd);
    } catch {
      // Some filesystems refuse fsync on directories; the rename is still atomic.
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }

  /** Writes bytes to a fresh temp file in `dir`, fsynced, mode 0600. */
  private writeTemp(dir: string, base: string, bytes: Buffer): string {
    const tmp = path.join(dir, `.${base}.${randomBytes(6).toString("hex")}.tmp`);
    let fd: number | undefined;
    try {
      fd = fs.openSync(tmp, "wx", 0o600);
      fs.writeSync(fd, bytes);
      fs.fsyncSync(fd);
    } catch (err) {
      throw this.ioError(tmp, err, "write");
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
    return tmp;
  }

  private read(file: string, key: Key): Entry | undefined {
    let bytes: Buffer;
    let mtime: Date;
    let fd: number | undefined;
    try {
      fd = fs.openSync(file, "r");
      mtime = fs.fstatSync(fd).mtime;
      bytes = fs.readFileSync(fd);
    } catch (err) {
      if (errno(err) === "ENOENT") return undefined;
      if (errno(err) === "ENOTDIR") throw this.notADirectory(path.dirname(file));
      throw this.ioError(file, err, "read");
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
    return { key, where: file, value: this.parse(file, bytes), version: versionOf(bytes), modified: mtime };
  }

  async get(key: Key): Promise<Entry | undefined> {
    return this.read(this.fileOf(key), key);
  }

  async create(key: Key, value: unknown): Promise<Entry> {
    const file = this.fileOf(key);
    const dir = path.dirname(file);
    this.mkdirs(dir);
    const bytes = Buffer.from(`${JSON.stringify(value, null, 1)}\n`);
    const tmp = this.writeTemp(dir, path.basename(file), bytes);
    try {
      fs.linkSync(tmp, file);
    } catch (err) {
      if (errno(err) === "EEXIST") throw new JobsError("exists", `${file} already exists`);
      throw this.ioError(file, err, "create");
    } finally {
      fs.rmSync(tmp, { force: true });
    }
    this.fsyncDir(dir);
    return { key, where: file, value, version: versionOf(bytes), modified: nowDate() };
  }

  /** Runs `fn` holding the document's lock file. */
  private async withLock<R>(file: string, fn: () => R): Promise<R> {
    const lock = `${file}.lock`;
    const deadline = now() + LOCK_WAIT_MS;
    let delay = 2;
    for (;;) {
      try {
        const fd = fs.openSync(lock, "wx", 0o600);
        fs.writeSync(fd, `${process.pid}\n`);
        fs.closeSync(fd);
        break;
      } catch (err) {
        if (errno(err) === "ENOENT") this.mkdirs(path.dirname(lock));
        else if (errno(err) !== "EEXIST") throw this.ioError(lock, err, "lock");
        else this.breakStaleLock(lock);
      }
      if (now() > deadline) {
        throw new JobsError("store_unavailable", `filesystem store: ${lock} is held by another writer for over ${LOCK_WAIT_MS / 1000}s`);
      }
      await sleep(delay + Math.random() * delay);
      delay = Math.min(delay * 2, 50);
    }
    try {
      return fn();
    } finally {
      fs.rmSync(lock, { force: true });
    }
  }

  private breakStaleLock(lock: string): void {
    try {
      const age = now() - fs.statSync(lock).mtimeMs;
      if (age < LOCK_STALE_MS) return;
      const aside = `${lock}.stale.${randomBytes(4).toString("hex")}`;
      fs.renameSync(lock, aside); // only one breaker wins the rename
      fs.rmSync(aside, { force: true });
    } catch {
      // Gone already, or another process broke it first.
    }
  }

  async update(key: Key, value: unknown, version: string): Promise<Entry> {
    const file = this.fileOf(key);
    const dir = path.dirname(file);
    const bytes = Buffer.from(`${JSON.stringify(value, null, 1)}\n`);
    return this.withLock(file, () => {
      const current = this.readRaw(file);
      if (current === undefined) throw new JobsError("not_found", `${file} does not exist`);
      if (versionOf(current) !== version) throw new JobsError("conflict", `${file} was changed by another writer`);
      const tmp = this.writeTemp(dir, path.basename(file), bytes);
      try {
        fs.renameSync(tmp, file);
      } catch (err) {
        fs.rmSync(tmp, { force: true });
        throw this.ioError(file, err, "replace");
      }
      this.fsyncDir(dir);
      return { key, where: file, value, version: versionOf(bytes), modified: nowDate() };
    });
  }

  private readRaw(file: string): Buffer | undefined {
    try {
      return fs.readFileSync(file);
    } catch (err) {
      if (errno(err) === "ENOENT") return undefined;
      throw this.ioError(file, err, "read");
    }
  }

  async delete(key: Key, version?: string): Promise<void> {
    const file = this.fileOf(key);
    if (version === undefined) {
      fs.rmSync(file, { force: true });
      return;
    }
    await this.withLock(file, () => {
      const current = this.readRaw(file);
      if (current === undefined) return;
      if (versionOf(current) !== version) throw new JobsError("conflict", `${file} was changed by another writer`);
      fs.rmSync(file, { force: true });
    });
  }

  /**
   * Lists documents under `prefix`. Tuned for `ansible-jobs list` over 10k records: one
   * reused read buffer (no fstat, no allocation per file), keys built from the walked
   * directories instead of path.relative, and versions hashed only when read.
   */
  async list(prefix: Key, filter?: RecordFilter): Promise<ListResult> {
    const encoded = encodeKey(prefix);
    const dir = prefix.length ? path.join(this.root, ...encoded) : this.root;
    const result: ListResult = { entries: [], errors: [] };
    const buf = Buffer.allocUnsafe(LIST_BUFFER);
    const walk = (d: string, key: string[]): void => {
      let items: fs.Dirent[];
      try {
        items = fs.readdirSync(d, { withFileTypes: true });
      } catch (err) {
        if (errno(err) === "ENOENT") return;
        if (errno(err) === "ENOTDIR") throw this.notADirectory(d);
        throw this.ioError(d, err, "list");
      }
      for (const it of items) {
        if (it.name.startsWith(".")) continue; // temp files, hidden files
        const p = `${d}${path.sep}${it.name}`;
        if (it.isDirectory()) walk(p, [...key, decodeSegment(it.name) ?? it.name]);
        else if (it.name.endsWith(".json")) {
          const base = it.name.slice(0, -".json".length);
          const k = [...key, decodeSegment(base) ?? base];
          try {
            const text = readInto(p, buf);
            const value = this.parse(p, text);
            if (matchesFilter(value, filter)) result.entries.push(lazyEntry(k, p, value, text));
          } catch (err) {
            result.errors.push({ key: k, where: p, message: err instanceof JobsError ? err.message : `${p}: ${(err as Error).message}` });
          }
        }
      }
    };
    walk(dir, encoded.map((seg) => decodeSegment(seg) ?? seg));
    return result;
  }

  /**
   * The store's clock: the mtime of a write to one fixed file, `.clock` in the root. One file for
   * every caller, rewritten each time, so a writer killed here leaves nothing behind (a file per
   * call did: `.clock.<random>` litter after kill -9). Writing data always moves the mtime.
   */
  async now(): Promise<Date> {
    this.mkdirs(this.root);
    const probe = path.join(this.root, ".clock");
    try {
      fs.writeFileSync(probe, "store clock\n", { mode: 0o600 });
      return fs.statSync(probe).mtime;
    } catch (err) {
      throw this.ioError(this.root, err, "write to");
    }
  }
}
