/**
 * An in-memory Store with the filesystem store's capabilities (atomic create, compare-and-swap,
 * its own clock), for the conformance suite and the deterministic simulation.
 *
 * Every call first goes through `hook` (when set): the simulation uses it as a scheduling point
 * and to inject a fault per call:
 *   - "fail":    nothing is written, the caller gets store_unavailable;
 *   - "timeout": nothing is written, the caller gets store_unavailable (a timed-out request);
 *   - "lost":    the call takes effect, then the caller gets store_unavailable (answer lost).
 * Documents are copied in and out (JSON), as a real store serializes them.
 */
import { now as clockNow } from "../../src/engine/clock.js";
import { JobsError } from "../../src/engine/errors.js";
import type { Capabilities, DocumentFilter, Entry, Key, ListResult, Store } from "../../src/stores/types.js";
import { matchesFilter } from "../../src/stores/types.js";

export type Fault = "ok" | "fail" | "timeout" | "lost";
export type StoreOp = "get" | "create" | "update" | "list" | "delete" | "now";
export interface StoreCall {
  op: StoreOp;
  key: Key;
}

interface Doc {
  text: string;
  version: string;
  modified: number;
}

const id = (key: Key) => JSON.stringify(key);

export class MemoryStore implements Store {
  readonly kind = "filesystem" as const;
  readonly capabilities: Capabilities = { atomicCreate: true, compareAndSwap: true, clock: true };
  readonly url = "memory://";
  readonly docs = new Map<string, Doc>();
  private seq = 0;
  /** Called before every operation; its answer decides the call's fault. */
  hook?: (call: StoreCall) => Promise<Fault | undefined> | Fault | undefined;

  /** `clock` is the store's own clock (ms); by default the engine's clock. */
  constructor(readonly clock: () => number = clockNow) {}

  private where(key: Key): string {
    return `memory://${key.map(encodeURIComponent).join("/")}`;
  }

  private entry(key: Key, d: Doc): Entry {
    let value: unknown;
    try {
      value = JSON.parse(d.text);
    } catch (err) {
      throw new JobsError("corrupt", `${this.where(key)}: not valid JSON (${(err as Error).message})`);
    }
    return { key: [...key], where: this.where(key), value, version: d.version, modified: new Date(d.modified) };
  }

  private put(key: Key, value: unknown): Doc {
    const d = { text: JSON.stringify(value), version: `v${++this.seq}`, modified: this.clock() };
    this.docs.set(id(key), d);
    return d;
  }

  /** Writes raw text as the document at `key` (conformance: corrupt documents). */
  corrupt(key: Key, text: string): void {
    this.docs.set(id(key), { text, version: `v${++this.seq}`, modified: this.clock() });
  }

  /** Runs `fn` under the hook's fault for this call. */
  private async call<R>(op: StoreOp, key: Key, fn: () => R): Promise<R> {
    const fault = (await this.hook?.({ op, key })) ?? "ok";
    if (fault === "fail" || fault === "timeout") {
      throw new JobsError("store_unavailable", `memory store: ${op} ${this.where(key)}: ${fault === "fail" ? "injected failure" : "timed out (injected)"}`);
    }
    const r = fn();
    if (fault === "lost") throw new JobsError("store_unavailable", `memory store: ${op} ${this.where(key)}: connection reset, answer lost (injected)`);
    return r;
  }

  /** The document at `key` without hooks or faults (for invariants). */
  peek(key: Key): Entry | undefined {
    const d = this.docs.get(id(key));
    return d ? this.entry(key, d) : undefined;
  }

  /** Every document under `prefix`, without hooks or faults. */
  peekAll(prefix: Key = []): Entry[] {
    const out: Entry[] = [];
    for (const [k, d] of this.docs) {
      const key = JSON.parse(k) as string[];
      if (prefix.every((seg, i) => key[i] === seg)) {
        try {
          out.push(this.entry(key, d));
        } catch {
          // corrupt documents are not entries
        }
      }
    }
    return out;
  }

  get(key: Key): Promise<Entry | undefined> {
    return this.call("get", key, () => this.peek(key));
  }

  create(key: Key, value: unknown): Promise<Entry> {
    return this.call("create", key, () => {
      if (key.length === 0) throw new JobsError("invalid_argument", "empty store key");
      if (this.docs.has(id(key))) throw new JobsError("exists", `${this.where(key)} already exists`);
      return this.entry(key, this.put(key, value));
    });
  }

  update(key: Key, value: unknown, version: string): Promise<Entry> {
    return this.call("update", key, () => {
      const cur = this.docs.get(id(key));
      if (!cur) throw new JobsError("not_found", `${this.where(key)} does not exist`);
      if (cur.version !== version) throw new JobsError("conflict", `${this.where(key)} was changed by another writer`);
      return this.entry(key, this.put(key, value));
    });
  }

  delete(key: Key, version?: string): Promise<void> {
    return this.call("delete", key, () => {
      const cur = this.docs.get(id(key));
      if (!cur) return;
      if (version !== undefined && cur.version !== version) throw new JobsError("conflict", `${this.where(key)} was changed by another writer`);
      this.docs.delete(id(key));
    });
  }

  list(prefix: Key, filter?: DocumentFilter): Promise<ListResult> {
    return this.call("list", prefix, () => {
      const res: ListResult = { entries: [], errors: [] };
      for (const [k, d] of this.docs) {
        const key = JSON.parse(k) as string[];
        if (key.length <= prefix.length || !prefix.every((seg, i) => key[i] === seg)) continue;
        try {
          const e = this.entry(key, d);
          if (matchesFilter(e.value, filter)) res.entries.push(e);
        } catch (err) {
          res.errors.push({ key, where: this.where(key), message: (err as Error).message });
        }
      }
      return res;
    });
  }

  now(): Promise<Date> {
    return this.call("now", [], () => new Date(this.clock()));
  }
}
