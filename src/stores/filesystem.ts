/**
 * Filesystem store: every version of a document is an immutable file; updates are fenced.
 *
 * Layout. A key's last segment B (encoded, encode.ts) names its document in the directory of
 * the other segments. Its versions are "slots": slot 0 is `B.json` (what create writes, and the
 * whole layout of stores written before fencing: such files are read as they are, as version 0),
 * slot n >= 1 is `B@00000n.json`. "@" never occurs in an encoded segment, so the names cannot
 * collide. The head is the highest slot; a head that holds TOMBSTONE (or PRUNED, see below) is a
 * deleted document. Versions given to callers are `SLOT:SHA256-PREFIX` of the bytes. At rest a
 * document is one file. No lock files, no lease, and no clock in the fence.
 *
 * Writing slot s from base slot s-1 (update; a delete writes a tombstone the same way; a create
 * writes slot 0 of a document that has no slot at all):
 *   1. write the bytes to a temp file T, fsync, named after its target: `.B@s.HOST.PID.RAND.tmp`;
 *   2. check that slot s does not exist, then that slot s-1 still holds the caller's bytes (for a
 *      create: that B has no slot);
 *   3. link(T, slot s): EEXIST means another writer got there first (conflict / exists);
 *   4. fsync the directory, unlink T, tidy: prune the slots below s, and litter (sweep).
 * Removing slots (pruning, deleting): slots are only created one above the head and removed from
 * the bottom up, and a remover first unlinks ("disarms") every temp file aimed at a slot at or
 * below the head it saw, from a listing taken after it saw that head. So a writer paused anywhere
 * never wins: if slot s was created and pruned while it was paused after step 2, its T was
 * disarmed and step 3 fails with ENOENT (it then starts again and finds its base gone); if that
 * happened before step 2, step 2 finds slot s-1 gone, or, deleted and written anew, holding other
 * bytes. Removing any temp file is always safe: it only makes its writer start again.
 * A remover never unlinks a slot by name alone either (paused long enough, it would find the key
 * deleted and created anew, and unlink the new life's file): it writes a marker
 * `.B@s.HOST.PID.RAND.gone` (holding PRUNED) per slot, checks that the slot justifying the
 * removal still stands, disarms, then renames each marker over its slot and unlinks that. A create
 * disarms every marker of its key, so a marker that is still there belongs to the life its
 * remover checked; a disarmed one makes the rename fail (ENOENT) and the remover stop.
 * Limits: content-equal ABA (a key deleted and rewritten with the very same bytes at the same
 * slot) is taken for the same version, as S3's ETag does; listings rely on POSIX readdir
 * returning every entry that exists for its whole duration.
 *
 * Litter: a kill leaves at most a temp file or marker, unpruned slots, or a half-removed deleted
 * document. The next writer in the directory and list() (so prune) remove them: temp files and
 * markers of a dead process on this host at once, of another host once TMP_STALE_MS old by the
 * store's clock (only liveness depends on that age, never safety); the litter of the layout before
 * fencing (temp, lock and `.clock.*` files) once TMP_STALE_MS old.
 *
 * Atomic create is the same link(2) on slot 0. Directories 0700, files 0600. Nothing escapes the
 * root (encode.ts). The store's clock is the mtime of one fixed file, `.clock`, in the root.
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { hostname } from "node:os";
import * as path from "node:path";
import { nowDate } from "../engine/clock.js";
import { JobsError } from "../engine/errors.js";
import { AGAIN, type Again, retrySync } from "../engine/retry.js";
import { decodeSegment, encodeKey } from "./encode.js";
import type { Capabilities, DocumentFilter, Entry, Key, ListOptions, ListResult, Store } from "./types.js";
import { matchesFilter } from "./types.js";
import { processAlive } from "../engine/process.js";

/** A temp file of another host is removed as litter once this old by the store's clock (removing it early is safe). */
const TMP_STALE_MS = 10 * 60_000;
/** What a deleted document's head slot holds: not JSON, so it is never taken for a document. */
const TOMBSTONE = "\u0000deleted\n";
/** What a remover renames over a slot before unlinking it (a reader that meets it lists again). */
const PRUNED = "\u0000pruned\n";
/** Attempts of one write whose temp file was disarmed under it. */
const WRITE_ATTEMPTS = 5;
/** Most documents are a few KiB; bigger ones are read whole. */
const LIST_BUFFER = 64 * 1024;

const HOST_TAG = createHash("sha256").update(hostname()).digest("hex").slice(0, 8);
const TMP_RE = /^\.([^@]+)@(\d+)\.([0-9a-f]{8})\.(\d+)\.[0-9a-f]{12}\.(tmp|gone)$/;
/** Litter of the store before fencing: temp files, lock files, broken locks, clock probes. */
const LEGACY_LITTER_RE = /^(\.[^@]+\.json\.[0-9a-f]{12}\.tmp|[^@]+\.json\.lock(\.stale\.[0-9a-f]{8})?)$/;
const LEGACY_CLOCK_RE = /^\.clock\..+$/;

/** A tombstone, or a slot a remover is unlinking: no document. */
function isGone(bytes: Buffer | string): boolean {
  if (bytes.length !== TOMBSTONE.length && bytes.length !== PRUNED.length) return false;
  const text = typeof bytes === "string" ? bytes : bytes.toString("latin1");
  return text === TOMBSTONE || text === PRUNED;
}

function hashOf(bytes: Buffer | string): string {
  return createHash("sha256").update(bytes).digest("hex").slice(0, 32);
}

export function slotFile(base: string, slot: number): string {
  return slot === 0 ? `${base}.json` : `${base}@${String(slot).padStart(6, "0")}.json`;
}

/** The document and slot a file name holds, or undefined for anything else. */
export function parseSlot(name: string): { base: string; slot: number } | undefined {
  if (!name.endsWith(".json") || name.startsWith(".")) return undefined;
  const stem = name.slice(0, -".json".length);
  const at = stem.lastIndexOf("@");
  if (at > 0 && /^\d+$/.test(stem.slice(at + 1)) && !stem.slice(0, at).includes("@")) {
    const slot = Number(stem.slice(at + 1));
    if (slot >= 1) return { base: stem.slice(0, at), slot };
  }
  return stem ? { base: stem, slot: 0 } : undefined;
}

interface TmpFile {
  name: string;
  base: string;
  slot: number;
  host: string;
  pid: number;
  /** A remover's marker (.gone), not a writer's temp file (.tmp). */
  marker: boolean;
}

function parseTmp(name: string): TmpFile | undefined {
  const m = TMP_RE.exec(name);
  if (!m) return undefined;
  return { name, base: m[1]!, slot: Number(m[2]), host: m[3]!, pid: Number(m[4]), marker: m[5] === "gone" };
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

function linkedTwice(file: string): boolean {
  try {
    return fs.statSync(file).nlink >= 2;
  } catch {
    return false;
  }
}

function pidAlive(pid: number): boolean {
  // A write of this process is never in flight while it tidies.
  return pid !== process.pid && processAlive(pid);
}

/** The slots and temp files of one directory listing, grouped by document. */
interface Listing {
  docs: Map<string, number[]>;
  tmps: TmpFile[];
  legacy: string[];
  dirs: string[];
}

/** Groups the names of one directory; `isDir(i)` says whether names[i] is a directory. */
function group(names: readonly string[], isDir?: (i: number) => boolean): Listing {
  const out: Listing = { docs: new Map(), tmps: [], legacy: [], dirs: [] };
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    if (isDir?.(i)) {
      if (name.charCodeAt(0) !== 46 /* . */) out.dirs.push(name);
      continue;
    }
    if (name.charCodeAt(0) === 46 /* . */) {
      const t = parseTmp(name);
      if (t) out.tmps.push(t);
      else if (LEGACY_LITTER_RE.test(name) || LEGACY_CLOCK_RE.test(name)) out.legacy.push(name);
      continue;
    }
    // Outside temp files (dot names) legacy litter always holds ".json.lock": skip the regex otherwise.
    if (name.includes(".json.lock") && LEGACY_LITTER_RE.test(name)) {
      out.legacy.push(name);
      continue;
    }
    let base: string;
    let slot: number;
    if (name.endsWith(".json") && name.indexOf("@") < 0) {
      // The common case, slot 0 (what parseSlot gives for a name without "@").
      if (name.length === ".json".length) continue;
      base = name.slice(0, -".json".length);
      slot = 0;
    } else {
      const s = parseSlot(name);
      if (!s) continue;
      base = s.base;
      slot = s.slot;
    }
    const slots = out.docs.get(base);
    if (slots) slots.push(slot);
    else out.docs.set(base, [slot]);
  }
  for (const slots of out.docs.values()) if (slots.length > 1) slots.sort((a, b) => a - b);
  return out;
}

/** decodeSegment, without its work for the usual segment that escapes nothing. */
function decodeName(seg: string): string {
  return seg.indexOf("%") < 0 ? seg : (decodeSegment(seg) ?? seg);
}

/**
 * Reads a file as UTF-8 through a reused buffer. The text is returned as a string when
 * it decodes losslessly (no U+FFFD), so hashing it later gives the version of the bytes;
 * otherwise the bytes themselves are returned. A read that returns less than it asked for, ending
 * in the newline that ends every document this store writes, is taken for the end of the file
 * (a slot file never changes once linked, and local filesystems read a regular file short only
 * at its end), which saves the read of zero bytes at the end; list() reads a file that does not
 * parse again to its end before calling it corrupt.
 */
function readInto(file: string, buf: Buffer): string | Buffer {
  const fd = fs.openSync(file, "r");
  try {
    let n = fs.readSync(fd, buf, 0, buf.length, null);
    // What this store writes ends in a newline; anything else is read on to its end, as is a file
    // that fills the buffer.
    if (n > 0 && buf[n - 1] !== 0x0a) {
      while (n < buf.length) {
        const r = fs.readSync(fd, buf, n, buf.length - n, null);
        if (r === 0) break;
        n += r;
      }
    }
    if (n === buf.length) return Buffer.concat([buf, fs.readFileSync(fd)]);
    const text = buf.toString("utf8", 0, n);
    return text.includes("\uFFFD") ? Buffer.from(buf.subarray(0, n)) : text;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A listed entry. It holds little for as long as the caller keeps the list (100k entries of
 * `ansible-jobs list`): its key and file name are built from its directory's, and its version
 * (slot and a hash of the bytes) is computed only if asked for. Without `source` (list() told
 * that versions are not wanted) it keeps nothing of the bytes at all.
 */
class ListedEntry implements Entry {
  #dir: string;
  #parent: readonly string[];
  #base: string;
  #slot: number;
  #source: string | Buffer | undefined;
  #key: Key | undefined;
  #version: string | undefined;
  constructor(
    dir: string,
    parent: readonly string[],
    base: string,
    slot: number,
    readonly value: unknown,
    source: string | Buffer | undefined,
  ) {
    this.#dir = dir;
    this.#parent = parent;
    this.#base = base;
    this.#slot = slot;
    this.#source = source;
  }
  get key(): Key {
    this.#key ??= [...this.#parent, decodeName(this.#base)];
    return this.#key;
  }
  get where(): string {
    return `${this.#dir}${path.sep}${slotFile(this.#base, this.#slot)}`;
  }
  get version(): string {
    if (this.#version === undefined) {
      if (this.#source === undefined) throw new JobsError("internal", `${this.where}: listed without versions`);
      this.#version = `${this.#slot}:${hashOf(this.#source)}`;
      this.#source = undefined;
    }
    return this.#version;
  }
}

function parseVersion(version: string): { slot: number; hash: string } | undefined {
  const m = /^(\d+):([0-9a-f]{32})$/.exec(version);
  return m ? { slot: Number(m[1]), hash: m[2]! } : undefined;
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

  private locate(key: Key): { dir: string; base: string } {
    if (key.length === 0) throw new JobsError("invalid_argument", "empty store key");
    const segs = encodeKey(key);
    const base = segs[segs.length - 1]!;
    const dir = path.join(this.root, ...segs.slice(0, -1));
    // Encoding already prevents it; this guards against future mistakes.
    if (dir !== this.root && !dir.startsWith(this.root + path.sep)) throw new JobsError("internal", `key escapes the store root: ${dir}`);
    return { dir, base };
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

  /**
   * Whether the store's directory does not exist yet (then every list is empty, and nothing is
   * created just by looking). A root that is not a directory is a store error.
   */
  absent(): boolean {
    try {
      if (fs.statSync(this.root).isDirectory()) return false;
    } catch (err) {
      if (errno(err) === "ENOENT") return true;
      throw new JobsError("store_unavailable", `filesystem store ${this.root}: ${(err as Error).message}`, { cause: err });
    }
    throw this.notADirectory(this.root);
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
      // Some filesystems refuse fsync on directories; the link is still atomic.
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }

  /** The names in `dir` (undefined when it does not exist). */
  private names(dir: string): string[] | undefined {
    try {
      return fs.readdirSync(dir);
    } catch (err) {
      if (errno(err) === "ENOENT") return undefined;
      if (errno(err) === "ENOTDIR") throw this.notADirectory(dir);
      throw this.ioError(dir, err, "list");
    }
  }

  /** The slots of document `base` in `dir`, lowest first. */
  private slots(dir: string, base: string): number[] {
    const out: number[] = [];
    const plain = `${base}.json`;
    const prefix = `${base}@`;
    for (const n of this.names(dir) ?? []) {
      if (n === plain) out.push(0);
      else if (n.startsWith(prefix) && n.endsWith(".json")) {
        const s = parseSlot(n);
        if (s && s.base === base) out.push(s.slot);
      }
    }
    return out.sort((a, b) => a - b);
  }

  /** Reads one slot file: its bytes and mtime, or undefined when it is gone. */
  private readSlot(file: string): { bytes: Buffer; mtime: Date } | undefined {
    let fd: number | undefined;
    try {
      fd = fs.openSync(file, "r");
      const mtime = fs.fstatSync(fd).mtime;
      return { bytes: fs.readFileSync(fd), mtime };
    } catch (err) {
      if (errno(err) === "ENOENT") return undefined;
      if (errno(err) === "ENOTDIR") throw this.notADirectory(path.dirname(file));
      throw this.ioError(file, err, "read");
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }

  /** The head of a document: its slot, file, bytes (undefined when absent), tombstones included. */
  private head(dir: string, base: string): { slot: number; file: string; bytes: Buffer; mtime: Date } | undefined {
    // A slot can be pruned between the listing and the read (the head moved on twice): list again.
    let pruned: number | undefined;
    for (let i = 0; i < 100; i++) {
      const slots = this.slots(dir, base);
      if (slots.length === 0) return undefined;
      const slot = slots[slots.length - 1]!;
      const file = path.join(dir, slotFile(base, slot));
      const got = this.readSlot(file);
      if (!got) continue;
      // A slot being removed: the head moved on (list again), or, still the top, a deleted document.
      if (got.bytes.toString("latin1") === PRUNED && pruned !== slot) {
        pruned = slot;
        continue;
      }
      return { slot, file, ...got };
    }
    throw new JobsError("store_unavailable", `filesystem store: ${path.join(dir, base)} kept changing while it was read`);
  }

  private toEntry(key: Key, h: { slot: number; file: string; bytes: Buffer; mtime: Date }): Entry | undefined {
    if (isGone(h.bytes)) return undefined;
    return { key, where: h.file, value: this.parse(h.file, h.bytes), version: `${h.slot}:${hashOf(h.bytes)}`, modified: h.mtime };
  }

  async get(key: Key): Promise<Entry | undefined> {
    const { dir, base } = this.locate(key);
    const h = this.head(dir, base);
    return h && this.toEntry(key, h);
  }

  /** Step 1: the announced temp file for slot `slot` of `base`, fsynced, mode 0600. */
  private writeTemp(dir: string, base: string, slot: number, bytes: Buffer): string {
    const tmp = path.join(dir, `.${base}@${slot}.${HOST_TAG}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
    let fd: number | undefined;
    try {
      fd = fs.openSync(tmp, "wx", 0o600);
      fs.writeSync(fd, bytes);
      fs.fsyncSync(fd);
    } catch (err) {
      if (fd === undefined && errno(err) === "ENOTDIR") throw this.notADirectory(dir);
      fs.rmSync(tmp, { force: true });
      throw this.ioError(tmp, err, "write");
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
    return tmp;
  }

  /**
   * Steps 1-4 for slot `slot` of `base`. `check` is step 2 after "slot absent": it throws the
   * caller's error when the base moved. `taken` is the error when the link finds the slot taken.
   */
  private commit(dir: string, base: string, slot: number, bytes: Buffer, check: () => void, taken: () => JobsError): string {
    const file = path.join(dir, slotFile(base, slot));
    return retrySync(WRITE_ATTEMPTS, () => {
      const tmp = this.writeTemp(dir, base, slot, bytes);
      try {
        if (fs.existsSync(file)) throw taken();
        check();
        try {
          fs.linkSync(tmp, file);
        } catch (err) {
          // On NFS a retried LINK can answer EEXIST for its own success: T then has two names.
          if (errno(err) === "EEXIST") {
            if (!linkedTwice(tmp)) throw taken();
          } else if (errno(err) === "ENOENT" && !fs.existsSync(tmp)) {
            return AGAIN; // disarmed: start again
          } else throw this.ioError(file, err, "write");
        }
      } finally {
        fs.rmSync(tmp, { force: true });
      }
      return this.linked(dir, base, slot, file);
    }, () => new JobsError("conflict", `${file}: other writers kept removing this write's temp file; try again`));
  }

  private linked(dir: string, base: string, slot: number, file: string): string {
    this.fsyncDir(dir);
    this.tidy(dir, base, slot);
    return file;
  }

  /** Step 2 of an update or delete: the base slot still holds exactly the caller's bytes. */
  private checkBase(dir: string, base: string, v: { slot: number; hash: string }, what: () => JobsError): void {
    const got = this.readSlot(path.join(dir, slotFile(base, v.slot)));
    if (!got || hashOf(got.bytes) !== v.hash) throw what();
  }

  async create(key: Key, value: unknown): Promise<Entry> {
    const { dir, base } = this.locate(key);
    this.mkdirs(dir);
    const bytes = Buffer.from(`${JSON.stringify(value, null, 1)}\n`);
    const file = path.join(dir, slotFile(base, 0));
    const exists = () => new JobsError("exists", `${file} already exists`);
    return retrySync(WRITE_ATTEMPTS, (): Entry | Again => {
      const h = this.head(dir, base);
      if (h && !isGone(h.bytes)) throw exists();
      // A deleted document whose remover was stopped: finish removing it, then create slot 0.
      if (h) this.removeAll(dir, base);
      try {
        this.commit(dir, base, 0, bytes, () => {
          if (this.slots(dir, base).length > 0) throw exists();
        }, exists);
      } catch (err) {
        // The slots seen were a tombstone still being removed: look again.
        if (err instanceof JobsError && err.code === "exists" && this.isDeleted(dir, base)) return AGAIN;
        throw err;
      }
      return { key, where: file, value, version: `0:${hashOf(bytes)}`, modified: nowDate() };
    }, () => new JobsError("conflict", `${file}: the document kept being deleted and created; try again`));
  }

  private isDeleted(dir: string, base: string): boolean {
    const h = this.head(dir, base);
    return h !== undefined && isGone(h.bytes);
  }

  async update(key: Key, value: unknown, version: string): Promise<Entry> {
    const { dir, base } = this.locate(key);
    const bytes = Buffer.from(`${JSON.stringify(value, null, 1)}\n`);
    // The base is checked (step 2) without listing first; only a refusal looks at the head, for its message.
    const refused = () => {
      const h = this.head(dir, base);
      if (!h || isGone(h.bytes)) return new JobsError("not_found", `${path.join(dir, slotFile(base, 0))} does not exist`);
      return new JobsError("conflict", `${h.file} was changed by another writer`);
    };
    const v = parseVersion(version);
    if (!v) throw refused();
    const file = this.commit(dir, base, v.slot + 1, bytes, () => this.checkBase(dir, base, v, refused), refused);
    return { key, where: file, value, version: `${v.slot + 1}:${hashOf(bytes)}`, modified: nowDate() };
  }

  async delete(key: Key, version?: string): Promise<void> {
    const { dir, base } = this.locate(key);
    for (let i = 0; i < 100; i++) {
      const h = this.head(dir, base);
      if (!h) return;
      const hash = hashOf(h.bytes);
      if (isGone(h.bytes)) {
        this.removeAll(dir, base);
        if (version === undefined) continue; // make sure it is gone
        return;
      }
      const conflict = () => new JobsError("conflict", `${h.file} was changed by another writer`);
      if (version !== undefined && version !== `${h.slot}:${hash}`) throw conflict();
      try {
        this.commit(dir, base, h.slot + 1, Buffer.from(TOMBSTONE, "latin1"), () => this.checkBase(dir, base, { slot: h.slot, hash }, conflict), conflict);
      } catch (err) {
        // Without a version, a delete wins whatever moved meanwhile.
        if (version === undefined && err instanceof JobsError && err.code === "conflict") continue;
        throw err;
      }
      this.removeAll(dir, base);
      return;
    }
    throw new JobsError("conflict", `${path.join(dir, slotFile(base, 0))}: the document kept changing while it was deleted; try again`);
  }

  /** Removes a deleted document (its head is a tombstone): every slot from the bottom up, the tombstone last. */
  private removeAll(dir: string, base: string): void {
    const slots = this.slots(dir, base);
    if (slots.length === 0) return;
    const top = slots[slots.length - 1]!;
    this.removeSlots(dir, base, slots, top, true);
  }

  private unlink(file: string): void {
    try {
      fs.unlinkSync(file);
    } catch (err) {
      if (errno(err) !== "ENOENT") throw this.ioError(file, err, "remove");
    }
  }

  /**
   * Removes slots of `base`, lowest first, justified by slot `top` (higher than the others, or,
   * with `deleted`, the tombstone itself, removed last). A remover never unlinks a slot by name
   * alone: a remover paused long enough could find the document deleted and written anew, and
   * unlink the new one. It announces a marker per slot, checks that `top` still stands, disarms
   * the writers aimed at slots <= top from a fresh listing, then renames each marker over its
   * slot and unlinks it. A create (a new life of the key) unlinks every marker of the key, so a
   * marker that survives is of the life its remover checked.
   */
  private removeSlots(dir: string, base: string, slots: readonly number[], top: number, deleted: boolean): void {
    const markers = new Map<number, string>();
    try {
      for (const s of slots) markers.set(s, this.writeMarker(dir, base, s));
      const got = this.readSlot(path.join(dir, slotFile(base, top)));
      if (!got) return;
      const isDeleted = isGone(got.bytes);
      if (deleted !== isDeleted) return;
      // Disarm from a listing taken after the check: one taken before could miss the writers of a
      // new life of the key that reached `top` meanwhile.
      for (const t of this.listing(dir).tmps) {
        if (t.base === base && !t.marker && (deleted || t.slot <= top)) this.unlink(path.join(dir, t.name));
      }
      for (const s of slots) {
        const file = path.join(dir, slotFile(base, s));
        try {
          fs.renameSync(markers.get(s)!, file);
        } catch (err) {
          if (errno(err) === "ENOENT") return; // disarmed: the document changed under this remover
          throw this.ioError(file, err, "remove");
        }
        markers.delete(s);
        this.unlink(file);
      }
    } finally {
      for (const m of markers.values()) this.unlink(m);
    }
  }

  private writeMarker(dir: string, base: string, slot: number): string {
    const marker = path.join(dir, `.${base}@${slot}.${HOST_TAG}.${process.pid}.${randomBytes(6).toString("hex")}.gone`);
    try {
      fs.writeFileSync(marker, PRUNED, { mode: 0o600, flag: "wx" });
    } catch (err) {
      throw this.ioError(marker, err, "write");
    }
    return marker;
  }

  private listing(dir: string): Listing {
    return group(this.names(dir) ?? []);
  }

  /**
   * Step 4, after this process wrote slot `slot` of `base` in `dir` (its listing is taken after
   * the link): disarms the writers aimed at slots <= `slot`, the markers of removers of an earlier
   * life (after a create), prunes the slots below, then tidies litter of the directory (sweep).
   */
  private tidy(dir: string, base: string, slot: number): void {
    try {
      const listing = this.listing(dir);
      for (const t of listing.tmps) {
        if (t.base === base && t.marker && slot === 0) this.unlink(path.join(dir, t.name));
      }
      const below = (listing.docs.get(base) ?? []).filter((s) => s < slot);
      for (const t of listing.tmps) if (t.base === base && !t.marker && t.slot <= slot) this.unlink(path.join(dir, t.name));
      if (below.length > 0) this.removeSlots(dir, base, below, slot, false);
      this.sweep(dir, listing, base);
    } catch {
      // Tidying is best effort: the write itself is done, and the next writer tidies again.
    }
  }

  /**
   * Removes litter of a directory listing, other than document `skip`: temp files and markers
   * of dead processes on this host, or TMP_STALE_MS old by the store's clock, or aimed at a slot
   * that exists already; slots below a head; deleted documents; litter of the store before
   * fencing (once TMP_STALE_MS old).
   */
  private sweep(dir: string, listing: Listing, skip?: string, deleted: readonly string[] = []): void {
    let clock: number | undefined;
    const stale = (name: string) => {
      try {
        clock ??= this.clockSync().getTime();
        return clock - fs.statSync(path.join(dir, name)).mtimeMs >= TMP_STALE_MS;
      } catch {
        return false;
      }
    };
    for (const t of listing.tmps) {
      if (t.base === skip) continue;
      const slots = listing.docs.get(t.base);
      const doomed = !t.marker && slots !== undefined && t.slot <= slots[slots.length - 1]!;
      const dead = t.host === HOST_TAG && !pidAlive(t.pid);
      if (doomed || dead || stale(t.name)) this.unlink(path.join(dir, t.name));
    }
    for (const name of listing.legacy) if (stale(name)) this.unlink(path.join(dir, name));
    for (const [base, slots] of listing.docs) {
      if (base === skip) continue;
      if (deleted.includes(base)) this.removeAll(dir, base);
      else if (slots.length > 1) this.removeSlots(dir, base, slots.slice(0, -1), slots[slots.length - 1]!, false);
    }
  }

  /**
   * Lists documents under `prefix`. Tuned for `ansible-jobs list` over 100k records: one
   * readdir per directory, one read per document (its head slot, through one reused buffer),
   * keys built from the walked directories instead of path.relative, versions hashed only when
   * read (and the bytes not kept at all when `options.versions` is false). A directory with
   * litter in it (a writer was killed) is tidied on the way, best effort.
   */
  async list(prefix: Key, filter?: DocumentFilter, options?: ListOptions): Promise<ListResult> {
    const keepSource = options?.versions !== false;
    const encoded = encodeKey(prefix);
    const top = prefix.length ? path.join(this.root, ...encoded) : this.root;
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
      const listing = group(
        items.map((it) => it.name),
        (i) => items[i]!.isDirectory(),
      );
      const deleted: string[] = [];
      for (const [base, slots] of listing.docs) {
        let slot = slots[slots.length - 1]!;
        let p = `${d}${path.sep}${slotFile(base, slot)}`;
        try {
          let text: string | Buffer | undefined;
          try {
            text = readInto(p, buf);
            if (text.length === PRUNED.length && text.toString() === PRUNED) text = undefined;
          } catch (err) {
            if (errno(err) !== "ENOENT") throw err;
          }
          if (text === undefined) {
            // Pruned since the listing: the head moved on.
            const h = this.head(d, base);
            if (!h) continue;
            slot = h.slot;
            p = h.file;
            text = h.bytes;
          }
          if (isGone(text)) {
            deleted.push(base);
            continue;
          }
          let value: unknown;
          try {
            value = this.parse(p, text);
          } catch (err) {
            // readInto took a short read for the end of the file (so it is on local
            // filesystems). Before a file is called corrupt, its head is read again to the end:
            // a FUSE filesystem with direct_io may return a short read anywhere.
            const h = this.head(d, base);
            if (!h) continue;
            if (h.file === p && h.bytes.length === Buffer.byteLength(text)) throw err;
            slot = h.slot;
            p = h.file;
            text = h.bytes;
            if (isGone(text)) {
              deleted.push(base);
              continue;
            }
            value = this.parse(p, text);
          }
          if (matchesFilter(value, filter)) result.entries.push(new ListedEntry(d, key, base, slot, value, keepSource ? text : undefined));
        } catch (err) {
          result.errors.push({ key: [...key, decodeName(base)], where: p, message: err instanceof JobsError ? err.message : `${p}: ${(err as Error).message}` });
        }
      }
      const litter = listing.tmps.length > 0 || listing.legacy.length > 0 || deleted.length > 0;
      if (litter || [...listing.docs.values()].some((s) => s.length > 1)) {
        try {
          this.sweep(d, listing, undefined, deleted);
        } catch {
          // A reader that may not write (or a race with a writer) leaves the tidying to writers.
        }
      }
      for (const name of listing.dirs) walk(`${d}${path.sep}${name}`, [...key, decodeName(name)]);
    };
    walk(top, encoded.map((seg) => decodeSegment(seg) ?? seg));
    return result;
  }

  /**
   * The store's clock: the mtime of a write to one fixed file, `.clock` in the root. One file for
   * every caller, rewritten each time, so a writer killed here leaves nothing behind (a file per
   * call did: `.clock.<random>` litter after kill -9). Writing data always moves the mtime.
   */
  private clockSync(): Date {
    this.mkdirs(this.root);
    const probe = path.join(this.root, ".clock");
    try {
      fs.writeFileSync(probe, "store clock\n", { mode: 0o600 });
      const now = fs.statSync(probe).mtime;
      this.dropOldClockProbes(now.getTime());
      return now;
    } catch (err) {
      throw this.ioError(this.root, err, "write to");
    }
  }

  /** `.clock.<random>` files of the store before fencing, once TMP_STALE_MS old: best effort. */
  private dropOldClockProbes(now: number): void {
    try {
      for (const name of fs.readdirSync(this.root)) {
        if (!LEGACY_CLOCK_RE.test(name)) continue;
        const p = path.join(this.root, name);
        if (now - fs.statSync(p).mtimeMs >= TMP_STALE_MS) fs.unlinkSync(p);
      }
    } catch {
      // Litter only; the next look tries again.
    }
  }

  async now(): Promise<Date> {
    return this.clockSync();
  }
}
