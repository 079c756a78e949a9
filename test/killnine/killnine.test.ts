/**
 * kill -9 trials (issue 11 item 6): the engine (the real Ledger, in worker.ts) saves, updates,
 * prunes and deletes job records in a loop against a real store, and is SIGKILLed at a seeded
 * random moment inside the operation the trial aims at. After each kill:
 *   - 0 corrupt or partial records: every document lists and validates (validateRecord);
 *   - every record acknowledged before the kill is still listed, and every head is the last
 *     acknowledged update (unless the killed operation was about to change it);
 *   - no litter once the next writer came by: no temp files, no remover markers, no `.clock.*`
 *     files, no version beyond the pruning policy (one slot per document), no deleted document
 *     left half removed (filesystem); no probe object left (S3). Litter right after the kill is
 *     counted too on the filesystem, and printed.
 * The next writer is a prune (Ledger.prune) and a listing of the whole store (Store.list), which
 * is what `ansible-jobs prune` and `ansible-jobs list` do.
 *
 *   KILL_TRIALS=N    trials in all, spread over the stores and the four operations (default 100)
 *   KILL_STORES=...  filesystem,s3 (default both)
 *   KILL_SEED=S      the seed (printed); replays the same trials
 * make test runs 100; make soak runs KILL_TRIALS=2000 (1,000 per store).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, openSync, readSync, closeSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { buildSync } from "esbuild";
import { Ledger } from "../../src/engine/ledger.js";
import { isTerminal } from "../../src/engine/status.js";
import { FilesystemStore, parseSlot } from "../../src/stores/filesystem.js";
import { openStore } from "../../src/stores/open.js";
import type { Store } from "../../src/stores/types.js";
import { tempDir } from "../helpers/ansible.js";
import { type Moto, raw, startMoto, useTestAwsEnv } from "../helpers/moto.js";
import { rng } from "../helpers/rng.js";
import { HOST, NAMES, NAMESPACE, OPS, type Op } from "./worker.js";

useTestAwsEnv();

const TRIALS = Number(process.env.KILL_TRIALS ?? 100);
const SEED = Number(process.env.KILL_SEED ?? Math.floor(Math.random() * 2 ** 31));
const STORES = (process.env.KILL_STORES ?? "filesystem,s3").split(",").filter(Boolean);
/** How long after the start of the aimed-at operation the kill may land, per store (ms). */
const WINDOW: Record<string, number> = { filesystem: 6, s3: 40 };

interface Brief {
  id: string;
  name: string;
  attempt: number;
  status: string;
}

interface Model {
  records: Map<string, Brief>;
  heads: Map<string, string>;
  /** Every record id acknowledged for a name#attempt, over all trials (attempt numbers can be reused). */
  ids: Map<string, Set<string>>;
}

interface Figures {
  trials: number;
  killedIn: Record<string, number>;
  corrupt: number;
  missing: number;
  lostUpdates: number;
  staleHistory: number;
  /** Acknowledged records lost where two records had the same attempt number (a Ledger bug, see below; printed, not failed). */
  attemptReuse: number;
  /** Operations that failed with an error (the worker went on). */
  failed: number;
  litterAfterKill: number;
  litterAfterNextWriter: number;
  /** S3 only: conditional-write probe objects left by killed workers (distinct keys), see s3Litter. */
  probesLeft: number;
  acked: number;
  ms: number;
}

let bundle = "";
before(() => {
  const dir = tempDir("killnine");
  bundle = path.join(dir, "killnine-worker.cjs");
  buildSync({
    entryPoints: [path.join(import.meta.dirname, "worker.ts")],
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node18",
    outfile: bundle,
    logLevel: "error",
  });
});

let motoP: Promise<Moto> | undefined;
after(async () => {
  if (motoP) await (await motoP).stop();
});

/** One worker life: started, killed while (or just after) it runs the `focus` operation. */
async function trial(url: string, seed: number, focus: Op, windowMs: number): Promise<string[]> {
  const r = rng(seed ^ 0x5eed);
  const aimAt = 1 + Math.floor(r() * 3); // the 1st, 2nd or 3rd start of the focused operation
  const delay = Math.floor(r() * (windowMs + 1));
  const child = spawn(process.execPath, [bundle, url, String(seed), focus], { stdio: ["ignore", "pipe", "pipe"], env: process.env });
  let out = "";
  let err = "";
  let seen = 0;
  let killed = false;
  const kill = () => {
    if (!killed) child.kill("SIGKILL");
    killed = true;
  };
  const closed = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  child.stderr.on("data", (d) => {
    err += d;
  });
  child.stdout.on("data", (d: Buffer) => {
    const before = out.length;
    out += d;
    if (killed) return;
    for (const line of out.slice(out.lastIndexOf("\n", before - 1) + 1).split("\n")) {
      if (line.startsWith(`B `) && line.split(" ")[2] === focus && ++seen === aimAt) {
        if (delay === 0) kill();
        else setTimeout(kill, delay);
      }
    }
  });
  // A worker that never reaches its aim (an error loop) is killed anyway.
  const guard = setTimeout(kill, 20_000);
  const code = await closed;
  clearTimeout(guard);
  assert.ok(killed, `the worker exited by itself (code ${code}): ${err}\n${out.slice(-2000)}`);
  // Only whole lines are facts (each is one write(2), so a line is whole or absent).
  return out.split("\n").slice(0, -1);
}

function apply(model: Model, line: string): void {
  const [, , op, ...rest] = line.split(" ");
  const body = JSON.parse(rest.join(" ")) as { head?: Brief | null; pruned?: Brief[]; removed?: Brief[]; name?: string };
  if (op === "save" || op === "update") {
    if (body.head) {
      const slot = `${body.head.name}#${body.head.attempt}`;
      model.ids.set(slot, (model.ids.get(slot) ?? new Set()).add(body.head.id));
      model.records.set(body.head.id, body.head);
      model.heads.set(body.head.name, body.head.id);
    }
  } else if (op === "prune") {
    for (const p of body.pruned ?? []) {
      model.records.delete(p.id);
      if (model.heads.get(p.name) === p.id) model.heads.delete(p.name);
    }
  } else if (op === "delete") {
    for (const [id, r] of model.records) if (r.name === body.name) model.records.delete(id);
    model.heads.delete(body.name!);
  }
}

/** Litter in a filesystem store: temp files, markers, clock probes, extra slots, half-removed documents. */
function fsLitter(root: string): string[] {
  const slotName = (base: string, slot: number) => (slot === 0 ? `${base}.json` : `${base}@${String(slot).padStart(6, "0")}.json`);
  const out: string[] = [];
  const walk = (d: string) => {
    let items: import("node:fs").Dirent[];
    try {
      items = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    const slots = new Map<string, number[]>();
    for (const it of items) {
      const p = path.join(d, it.name);
      if (it.isDirectory()) walk(p);
      else if (/\.(tmp|gone)$/.test(it.name) || /^\.clock\./.test(it.name)) out.push(p);
      else {
        const s = parseSlot(it.name);
        if (s) slots.set(s.base, [...(slots.get(s.base) ?? []), s.slot]);
      }
    }
    for (const [base, ss] of slots) {
      ss.sort((a, b) => a - b);
      for (const s of ss.slice(0, -1)) out.push(path.join(d, `${base} slot ${s} (below the head)`));
      const head = path.join(d, slotName(base, ss[ss.length - 1]!));
      const buf = Buffer.alloc(1);
      try {
        const fd = openSync(head, "r");
        readSync(fd, buf, 0, 1, 0);
        closeSync(fd);
        if (buf[0] === 0) out.push(`${head} (deleted, not removed)`);
      } catch {
        // gone meanwhile
      }
    }
  };
  walk(root);
  return out;
}

/**
 * Litter in an S3 store: objects its listing does not account for. The store's conditional-write
 * probe (src/stores/s3.ts, once per process before its first write) writes
 * PREFIX/.ansible-jobs-probe/RANDOM.json and deletes it; a kill in between leaves it behind,
 * hidden from listings, and nothing removes it later. Those are returned apart (`probes`), counted
 * and printed, not failed on: the fix belongs in s3.ts.
 */
async function s3Litter(m: Moto, bucket: string, prefix: string, store: Store, probes: Set<string>): Promise<string[]> {
  const r = await raw(m.port, "GET", `/${bucket}?list-type=2&prefix=${encodeURIComponent(`${prefix}/`)}`);
  const objects = [...r.body.matchAll(/<Key>([^<]+)<\/Key>/g)].map((x) => x[1]!);
  const listed = await store.list([]);
  const known = [...listed.entries.map((e) => e.where), ...listed.errors.map((e) => e.where)];
  const unknown = objects.filter((k) => !known.some((w) => w.endsWith(`/${k}`) || w === k));
  for (const k of unknown) if (k.includes("/.ansible-jobs-probe/")) probes.add(k);
  return unknown.filter((k) => !k.includes("/.ansible-jobs-probe/"));
}

async function runStore(kind: string, trials: number, seed: number): Promise<Figures> {
  let url: string;
  let litter: (store: Store) => Promise<string[]>;
  const probes = new Set<string>();
  if (kind === "filesystem") {
    const root = path.join(tempDir("killnine-fs"), "state");
    mkdirSync(root, { recursive: true, mode: 0o700 });
    url = root;
    litter = async () => fsLitter(root);
  } else {
    motoP ??= startMoto();
    const m = await motoP;
    const bucket = `killnine-${seed.toString(16)}`;
    await m.createBucket(bucket);
    process.env.AWS_ENDPOINT_URL = m.endpoint;
    url = `s3://${bucket}/k9`;
    litter = (store) => s3Litter(m, bucket, "k9", store, probes);
  }
  const store: Store = kind === "filesystem" ? new FilesystemStore(url) : await openStore(url);
  const ledger = new Ledger(store);
  const model: Model = { records: new Map(), heads: new Map(), ids: new Map() };
  const f: Figures = { trials, killedIn: {}, corrupt: 0, missing: 0, lostUpdates: 0, staleHistory: 0, attemptReuse: 0, failed: 0, litterAfterKill: 0, litterAfterNextWriter: 0, probesLeft: 0, acked: 0, ms: 0 };
  const problems: string[] = [];
  const t0 = performance.now();
  for (let i = 0; i < trials; i++) {
    const focus = OPS[i % OPS.length]!;
    const tseed = (seed + i * 7919) >>> 0;
    const lines = await trial(url, tseed, focus, WINDOW[kind]!);
    let inflight: { op: string; name: string } | undefined;
    // An operation that failed (E) may have done part of its work, as a killed one may.
    const partial: { op: string; name: string }[] = [];
    const failed: string[] = [];
    for (const line of lines) {
      if (line.startsWith("B ")) {
        const [, , op, name] = line.split(" ");
        inflight = { op: op!, name: name! };
      } else if (line.startsWith("A ") || line.startsWith("E ")) {
        if (line.startsWith("A ")) {
          apply(model, line);
          f.acked++;
        } else {
          f.failed++;
          failed.push(line);
          if (inflight) partial.push(inflight);
        }
        inflight = undefined;
      }
    }
    if (inflight) partial.push(inflight);
    const where = inflight?.op ?? "between operations";
    f.killedIn[where] = (f.killedIn[where] ?? 0) + 1;
    const say = (what: string) => problems.push(`trial ${i} (seed ${tseed}, aimed at ${focus}, killed in ${where}): ${what}`);
    for (const line of failed) say(`an operation failed (not a finding by itself): ${line}`);

    // 1. Nothing corrupt or partial.
    const { records, errors } = await ledger.list({ namespace: NAMESPACE }, true);
    f.corrupt += errors.length;
    for (const e of errors) say(`corrupt: ${e}`);
    const heads = new Map<string, Brief>();
    for (const name of NAMES) {
      try {
        const h = await ledger.head({ namespace: NAMESPACE, host: HOST, name });
        if (h) heads.set(name, h.record);
      } catch (err) {
        f.corrupt++;
        say(`head ${name}: ${(err as Error).message}`);
      }
    }
    // 2. Everything acknowledged is listed; heads hold the last acknowledged update.
    const listed = new Map(records.map((r) => [r.id, r]));
    for (const [id, m] of model.records) {
      const mayBeGone = partial.some((p) => (p.op === "prune" && isTerminal(m.status as never)) || (p.op === "delete" && p.name === m.name));
      const got = listed.get(id);
      if (!got) {
        if (mayBeGone) continue;
        // A ledger bug found here (fixed by Ledger.nextAttempt): once a prune removed a terminal
        // head but kept a non-terminal history copy of an earlier attempt, the next claim
        // numbered its attempts from 1 again, and two records shared a history slot.
        if ((model.ids.get(`${m.name}#${m.attempt}`)?.size ?? 0) > 1) {
          f.attemptReuse++;
          say(`acknowledged record ${m.name}#${m.attempt} (${id}, ${m.status}) is not listed: attempt ${m.attempt} of ${m.name} was used by ${model.ids.get(`${m.name}#${m.attempt}`)!.size} records (ledger attempt reuse)`);
        } else {
          f.missing++;
          say(`acknowledged record ${m.name}#${m.attempt} (${id}, ${m.status}) is not listed`);
        }
      } else if (model.heads.get(m.name) !== id && got.status !== m.status && heads.get(m.name)?.id !== id) {
        f.staleHistory++;
        say(`history copy of ${m.name}#${m.attempt} says ${got.status}, last acknowledged ${m.status}`);
      }
    }
    for (const name of NAMES) {
      if (partial.some((p) => p.name === name || p.op === "prune")) continue;
      const want = model.heads.get(name);
      const got = heads.get(name);
      if (want === undefined ? got !== undefined : got?.id !== want || got.status !== model.records.get(want)?.status) {
        f.lostUpdates++;
        say(`head ${name} is ${got ? `${got.id} ${got.status}` : "absent"}, last acknowledged ${want ? `${want} ${model.records.get(want)?.status}` : "absent"}`);
      }
    }
    // 3. Litter: right after the kill (counted), and after the next writer (must be none).
    // (On S3 a look costs a listing plus a GET per document: only the look that matters.)
    if (kind === "filesystem") f.litterAfterKill += (await litter(store)).length;
    await ledger.prune({ namespace: NAMESPACE }, false);
    // The listing of the whole store: s3Litter lists it anyway.
    if (kind === "filesystem") await store.list([]);
    const left = await litter(store);
    f.litterAfterNextWriter += left.length;
    for (const l of left) say(`litter after the next writer: ${l}`);
    // The store is the truth from here on.
    const now = await ledger.list({ namespace: NAMESPACE }, true);
    model.records = new Map(now.records.map((r) => [r.id, { id: r.id, name: r.name, attempt: r.attempt, status: r.status }]));
    model.heads = new Map();
    for (const name of NAMES) {
      const h = await ledger.head({ namespace: NAMESPACE, host: HOST, name });
      if (h) {
        model.heads.set(name, h.record.id);
        model.records.set(h.record.id, { id: h.record.id, name, attempt: h.record.attempt, status: h.record.status });
      }
    }
  }
  f.ms = performance.now() - t0;
  f.probesLeft = probes.size;
  await store.close?.();
  if (problems.length) console.log(problems.slice(0, 40).join("\n"));
  return f;
}

describe(`kill -9 trials (KILL_TRIALS=${TRIALS} KILL_SEED=${SEED} KILL_STORES=${STORES.join(",")})`, () => {
  STORES.forEach((kind, k) => {
    const n = Math.floor(TRIALS / STORES.length) + (k < TRIALS % STORES.length ? 1 : 0);
    test(`${kind}: ${n} trials, 0 corrupt, 0 missing, 0 lost updates, no litter after the next writer`, async (t) => {
      const f = await runStore(kind, n, (SEED + k * 104729) >>> 0);
      const line = `${kind}: ${JSON.stringify({ ...f, ms: Math.round(f.ms) })}`;
      console.log(`kill -9 ${line} (KILL_SEED=${SEED})`);
      t.diagnostic(line);
      assert.equal(f.corrupt, 0, "corrupt or partial records");
      assert.equal(f.missing, 0, "acknowledged records missing");
      assert.equal(f.lostUpdates, 0, "heads that lost an acknowledged update");
      assert.equal(f.attemptReuse, 0, "records lost to a reused attempt number (Ledger.nextAttempt)");
      assert.equal(f.litterAfterNextWriter, 0, "litter left after the next writer");
    });
  });
});
