/**
 * Deterministic simulation of the ledger protocol (issue 11): simulated controllers run the
 * roles' steps (model.ts) through the real Ledger and bridge Operations, against a store, while
 * fast-check's scheduler interleaves every store call, probe phase and launch, and injects
 * faults: controller death at any step, store calls that fail, time out or lose their answer,
 * host crashes, jobs that finish at any moment (also during a probe), clock offsets per
 * controller, and pauses longer than stale_after. Invariants are checked after every step.
 *
 * A program of its own (ledger.test.ts runs it in child processes: node:test's async hooks
 * track every promise, which made a schedule several times slower in-process):
 *
 *   node --import tsx test/simulation/simulate.ts STORE RUNS [MODES] [--pause]
 *     STORE  memory | tmpfs (filesystem store on /dev/shm) | disk (filesystem store on disk)
 *            | s3 (a real moto_server) | ara (a real Ara server)
 *     MODES  comma-separated controller modes: start, check, cancel, load, save
 *   SEED=S SIM_PATH=P   replays one failure (printed with its command on failure)
 *
 * Prints one JSON line {store, runs, modes, ms} on success; on failure the seed, the shortest
 * schedule found, the broken invariant with what happened, and the command that replays it.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { setClock } from "../../src/engine/clock.js";
import { finishedStatus } from "../../src/engine/classify.js";
import type { JobRecord } from "../../src/engine/record.js";
import { canTransition, isTerminal } from "../../src/engine/status.js";
import { FilesystemStore } from "../../src/stores/filesystem.js";
import { openStore } from "../../src/stores/open.js";
import type { Store } from "../../src/stores/types.js";
import { startAra } from "../helpers/ara.js";
import { type Fault, MemoryStore } from "../helpers/memory-store.js";
import { startMoto, useTestAwsEnv } from "../helpers/moto.js";
import { Controller, type CtlCtx, FaultyStore, type Mode, NAME, STALE_AFTER, SimClock, SimHost, type World, myClaimRule } from "./model.js";


type Event = { kind: "finish"; host: number; rc: number } | { kind: "crash"; host: number } | { kind: "pause" } | { kind: "tick"; ms: number };

const faultArb: fc.Arbitrary<Fault> = fc.oneof(
  { weight: 12, arbitrary: fc.constant<Fault>("ok") },
  { weight: 1, arbitrary: fc.constantFrom<Fault>("fail", "timeout", "lost") },
);
const scenario = (modes: Mode[], pause: boolean) => fc.record({
  hosts: fc.integer({ min: 1, max: 2 }),
  controllers: fc.array(
    fc.record({
      offset: fc.integer({ min: -600_000, max: 600_000 }),
      dieAt: fc.option(fc.integer({ min: 1, max: 40 }), { freq: 4 }),
      modes: fc.array(fc.constantFrom(...modes), { minLength: 1, maxLength: 3 }),
    }),
    { minLength: 2, maxLength: 3 },
  ),
  faults: fc.array(faultArb, { maxLength: 60 }),
  events: fc.array(
    fc.oneof(
      fc.record({ kind: fc.constant("finish" as const), host: fc.nat(1), rc: fc.constantFrom(0, 0, 2) }),
      fc.record({ kind: fc.constant("crash" as const), host: fc.nat(1) }),
      ...(pause ? [fc.record({ kind: fc.constant("pause" as const) })] : []),
      fc.record({ kind: fc.constant("tick" as const), ms: fc.integer({ min: 1, max: 5000 }) }),
    ),
    { maxLength: 5 },
  ),
});
type Scenario = ReturnType<typeof scenario> extends fc.Arbitrary<infer T> ? T : never;

const flush = () => new Promise<void>((r) => setImmediate(r));

/** Every record in the store, heads first. */
async function records(w: World, raw: Store): Promise<JobRecord[]> {
  // Reads change nothing: the records are read again only after a write was attempted.
  if (snapshot && snapshot.ns === w.ns && snapshot.writes === writes) return snapshot.recs;
  const at = async (top: string) =>
    (raw instanceof MemoryStore ? raw.peekAll([top, w.ns]) : (await raw.list([top, w.ns])).entries).map((e) => e.value as JobRecord);
  // the checker's reads are real I/O too: a store's own waits in them must not become steps
  io.begin();
  let heads: JobRecord[];
  let recs: JobRecord[];
  try {
    heads = await at("heads");
    recs = [...heads, ...(await at("history"))];
  } finally {
    io.end();
  }
  snapshot = { ns: w.ns, writes, recs, heads };
  return recs;
}
let writes = 0;
let snapshot: { ns: string; writes: number; recs: JobRecord[]; heads: JobRecord[] } | undefined;

/** The head of this schedule's job on a host, from the same read as records(). */
async function head(w: World, raw: Store, host: string): Promise<JobRecord | undefined> {
  await records(w, raw);
  return snapshot!.heads.find((r) => r.host === host && r.name === NAME);
}

class Violation extends Error {}

/** The invariants, after every step. `seen` remembers each record's statuses across steps. */
async function check(w: World, raw: Store, seen: Map<string, Set<string>>, terminal: Map<string, string>, final: boolean): Promise<void> {
  const fail = (msg: string) => {
    throw new Violation(`${msg}\n--- what happened ---\n${w.log.join("\n")}`);
  };
  const recs = await records(w, raw);
  const byId = new Map<string, JobRecord>();
  for (const r of recs) {
    // A head and its archived copy: the head is the record as it stands (records() lists the
    // heads first; a history copy may lag behind while its archiver retries).
    if (!byId.has(r.id)) byId.set(r.id, r);
    if (r.status === "starting" && !w.claimSeenAt.has(r.id)) w.claimSeenAt.set(r.id, w.clock.t);
  }
  for (const h of w.hosts) {
    // 1. on the claim path, at most one live job per (namespace, host, name)
    // (async_job_save replaces a live head on purpose: a start job it superseded no longer counts)
    const attemptOf = (j: { jid: string; token: string | null }) =>
      recs.find((r) => r.host === h.name && (r.jid === j.jid || (!!j.token && r.claim_token === j.token)))?.attempt ?? Number.POSITIVE_INFINITY;
    const savedAt = recs.filter((r) => r.host === h.name && !r.claim_token && r.jid && h.byJid(r.jid)?.via === "save").map((r) => r.attempt);
    const live = h.jobs.filter((j) => j.alive && j.via === "start" && !j.late && !savedAt.some((a) => a > attemptOf(j)));
    if (live.length > 1) fail(`INVARIANT one-live-job: ${live.length} live jobs launched by start on ${h.name}: ${live.map((j) => `${j.jid} (${j.ctl})`).join(", ")}`);
    // 2. every launched job is recorded or adoptable by its claim token
    const hd = await head(w, raw, h.name);
    for (const j of h.jobs) {
      if (!j.alive || j.via !== "start" || j.late) continue;
      const recorded = recs.some((r) => r.host === h.name && r.jid === j.jid);
      const adoptable = hd?.status === "starting" && !hd.jid && hd.claim_token === j.token;
      if (!recorded && !adoptable && !w.reported.has(j.jid)) fail(`INVARIANT no-orphan: live job ${j.jid} on ${h.name} (${j.ctl}) is neither recorded, adoptable nor reported (head: ${hd ? `${hd.status} ${hd.jid ?? "no jid"} attempt ${hd.attempt}` : "none"})`);
    }
  }
  for (const r of byId.values()) {
    // 3. a terminal record never changes status
    const t = terminal.get(r.id);
    if (t && t !== r.status) fail(`INVARIANT terminal-final: record ${r.id} (attempt ${r.attempt} on ${r.host}) went from ${t} to ${r.status}`);
    if (isTerminal(r.status)) terminal.set(r.id, r.status);
    // 5. every status is justified by evidence about that attempt (checked when first seen)
    const st = seen.get(r.id) ?? new Set<string>();
    if (!st.has(r.status)) {
      st.add(r.status);
      seen.set(r.id, st);
      const h = w.hosts.find((x) => x.name === r.host)!;
      const job = h.byJid(r.jid);
      if (r.jid && !job) fail(`INVARIANT evidence: record attempt ${r.attempt} on ${r.host} has jid ${r.jid}, which was never launched there`);
      if (job && r.claim_token && job.token && job.token !== r.claim_token) fail(`INVARIANT evidence: attempt ${r.attempt} on ${r.host} (token ${r.claim_token.slice(0, 6)}) holds jid ${job.jid}, launched for another claim`);
      const about = `attempt ${r.attempt} on ${r.host} (jid ${r.jid ?? "none"})`;
      if (["succeeded", "failed", "timed_out"].includes(r.status)) {
        if (!job?.result) fail(`INVARIANT evidence: ${about} is ${r.status}, but its job has no result`);
        else if (finishedStatus(job.result) !== r.status) fail(`INVARIANT evidence: ${about} is ${r.status}, its job file says ${finishedStatus(job.result)}`);
      }
      if (r.status === "cancelled" && !job?.cancelled) fail(`INVARIANT evidence: ${about} is cancelled, but its job was not`);
      if (r.status === "lost") {
        if (job && (job.alive || job.result)) fail(`INVARIANT lost-needs-evidence: ${about} is lost, but its job is ${job.alive ? "alive" : "finished"}`);
        if (!r.jid) {
          const carrier = h.jobs.find((j) => j.alive && j.token === r.claim_token && !j.late);
          if (carrier) fail(`INVARIANT lost-needs-evidence: ${about} is lost ("never launched"), but ${carrier.jid} carries its token`);
        }
      }
      if (r.status === "unreachable") fail(`INVARIANT evidence: ${about} is unreachable; no host was`);
    }
  }
  // 4. no update is lost: every answered record is still there, at its answered status or later
  for (const a of w.answered) {
    const r = byId.get(a.id);
    if (!r) fail(`INVARIANT no-lost-update: record ${a.id} answered as ${a.status} (${a.what}) is gone`);
    else if (r.status !== a.status && (isTerminal(a.status as JobRecord["status"]) || !canTransition(a.status as JobRecord["status"], r.status)))
      fail(`INVARIANT no-lost-update: record ${a.id} answered as ${a.status} (${a.what}) is now ${r.status}`);
    else if (a.jid && r.jid !== a.jid) fail(`INVARIANT no-lost-update: record ${a.id} answered with jid ${a.jid} (${a.what}) now holds ${r.jid}`);
  }
  // async_job_save: every saved launch is kept, as the head or in history
  for (const sv of w.saved) if (!recs.some((r) => r.host === sv.host && r.jid === sv.jid)) fail(`INVARIANT save-kept: saved job ${sv.jid} on ${sv.host} is in no record`);
  if (final) {
    // a claim won by a live controller is launched, or its failure is reported for that host
    for (const o of w.starts) {
      const dead = w.log.some((l) => l.startsWith(`${o.ctl} dies at step `));
      if (o.wonFirst && !o.launched && !o.reportedError && !dead)
        fail(`INVARIANT won-claim-launched: ${o.ctl} won the claim on ${o.host} (record ${o.claimRecordId}) but neither launched nor reported an error there`);
    }
  }
}

// One for the whole run: every AsyncLocalStorage that has run() stays on Node's list of
// storages copied into each new async resource, so one per schedule made runs ever slower.
const als = new AsyncLocalStorage<CtlCtx>();

export type StoreKind = "memory" | "tmpfs" | "disk" | "s3" | "ara";

/** Makes a fresh, empty store for each schedule (and cleans it up). */
interface StoreFactory {
  make(clock: SimClock): Promise<{ store: Store; cleanup(): Promise<void> }>;
  close(): Promise<void>;
}

let seq = 0;
async function storeFactory(kind: StoreKind): Promise<StoreFactory> {
  const fsIn = (base: string): StoreFactory => ({
    async make() {
      const dir = mkdtempSync(path.join(base, "lrt-sim-"));
      return { store: new FilesystemStore(dir), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
    },
    async close() {},
  });
  switch (kind) {
    case "memory":
      return { make: async (clock) => ({ store: new MemoryStore(() => clock.t), cleanup: async () => {} }), close: async () => {} };
    case "tmpfs":
      return fsIn(existsSync("/dev/shm") ? "/dev/shm" : tmpdir());
    case "disk":
      return fsIn(path.resolve(import.meta.dirname, "../../.cache"));
    case "s3": {
      useTestAwsEnv();
      const moto = await startMoto();
      await moto.createBucket("sim");
      return {
        make: async () => ({ store: await openStore(`s3://sim/run-${++seq}`, { s3: { endpoint: moto.endpoint } }), cleanup: async () => {} }),
        close: () => moto.stop(),
      };
    }
    case "ara": {
      // One ledger for the whole run (creating one settles for a second); each schedule has its own namespace.
      const ara = await startAra();
      const store = await openStore(`${ara.storeUrl}?ledger=sim-${process.pid}`);
      return {
        make: async () => ({ store, cleanup: async () => {} }),
        close: async () => {
          await store.close?.();
          await ara.stop();
        },
      };
    }
  }
}

/** Store calls that do real I/O: the scheduler releases the next step only when none is in flight. */
let inflight = 0;
let idle: (() => void)[] = [];
const io = {
  begin: () => void inflight++,
  end: () => {
    if (--inflight > 0) return;
    const w = idle;
    idle = [];
    for (const f of w) f();
  },
};
async function settle(): Promise<void> {
  do {
    await flush();
    await flush();
    if (inflight > 0) await new Promise<void>((r) => idle.push(r));
  } while (inflight > 0);
}

async function runScenario(sc: Scenario, s: fc.Scheduler, factory: StoreFactory): Promise<void> {
  // Every new scheduling point wakes the loop below (Controller.point schedules through s too).
  const wakers: (() => void)[] = [];
  const schedule = s.schedule.bind(s);
  s.schedule = ((task: Promise<unknown>, label?: string, metadata?: unknown) => {
    const p = schedule(task, label, metadata);
    for (const f of wakers.splice(0)) f();
    return p;
  }) as typeof s.schedule;
  const point = (label: string) => s.schedule(Promise.resolve(), label);
  const clock = new SimClock(als, point, () => inflight > 0);
  const prevClock = setClock(clock);
  const { store: raw, cleanup } = await factory.make(clock);
  let callNo = 0;
  const w: World = {
    ns: `sim-${++seq}`, s, clock, als, store: undefined as unknown as Store,
    hosts: Array.from({ length: sc.hosts }, (_, i) => new SimHost(`h${i + 1}`)),
    jidSeq: 0, sessionSeq: 0, answered: [], saved: [], starts: [], reported: new Set(), claimSeenAt: new Map(), rule: RULE, log: [],
  };
  w.store = new FaultyStore(raw, async ({ op, key }) => {
    const ctl = als.getStore()?.ctl;
    if (ctl) await ctl.point(`${op} ${key.join("/")}`);
    if (op === "create" || op === "update" || op === "delete") writes++;
    const f = sc.faults[callNo++] ?? "ok";
    if (f !== "ok") w.log.push(`${ctl?.name ?? "?"}: store ${op} ${key.join("/")} -> injected ${f}`);
    return f;
  }, io);
  const seen = new Map<string, Set<string>>();
  const terminal = new Map<string, string>();
  try {
    const ctls = sc.controllers.map((c, i) => new Controller(w, `c${i + 1}`, c.offset, c.dieAt, c.modes));
    const done = ctls.map((c) => c.run());
    for (const ev of sc.events as Event[]) {
      void s.schedule(Promise.resolve(), `event ${JSON.stringify(ev)}`).then(() => {
        const h = "host" in ev ? w.hosts[ev.host % w.hosts.length]! : undefined;
        if (ev.kind === "finish") {
          const j = h!.jobs.find((x) => x.alive);
          if (j) {
            j.alive = false;
            j.result = { rc: ev.rc, changed: true, finished: 1, ansible_job_id: j.jid, stdout: "done", stderr: "", ...(ev.rc ? { failed: true, msg: "non-zero return code" } : {}) };
            w.log.push(`event: ${j.jid} on ${h!.name} finishes rc ${ev.rc}`);
          }
        } else if (ev.kind === "crash") {
          for (const j of h!.jobs) j.alive = false;
          h!.incarnation++;
          w.log.push(`event: ${h!.name} crashes and restarts (incarnation ${h!.incarnation})`);
        } else {
          const ms = ev.kind === "pause" ? STALE_AFTER * 1000 + 1000 : ev.ms;
          clock.t += ms;
          w.log.push(`event: time +${ms}ms${ev.kind === "pause" ? " (longer than stale_after)" : ""}`);
        }
      });
    }
    let settled = false;
    const all = Promise.all(done).then(() => {
      settled = true;
    });
    await settle();
    await check(w, raw, seen, terminal, false);
    for (;;) {
      if (s.count() === 0) {
        // A released step may still be on its way to its next scheduling point (an S3 client
        // awaits more than I/O): wait for that point, or for every controller to end.
        if (settled) break;
        await Promise.race([all, new Promise<void>((r) => wakers.push(r))]);
        continue;
      }
      await s.waitNext(1);
      await settle();
      await check(w, raw, seen, terminal, false);
    }
    await check(w, raw, seen, terminal, true);
  } finally {
    setClock(prevClock);
    await cleanup();
  }
}

const RULE = myClaimRule();


export interface SimOptions {
  store: StoreKind;
  runs: number;
  modes: Mode[];
  pause: boolean;
  seed?: number;
  path?: string;
}

/** Runs the property; resolves with the fast-check report (undefined when every schedule held). */
export async function simulate(o: SimOptions): Promise<string | undefined> {
  const factory = await storeFactory(o.store);
  try {
    const p: fc.Parameters<[Scenario, fc.Scheduler]> = { numRuns: o.runs, endOnFailure: false, includeErrorInReport: true };
    if (o.seed !== undefined) p.seed = o.seed;
    if (o.path !== undefined) {
      p.path = o.path;
      p.numRuns = 1;
    }
    const res = await fc.check(
      fc.asyncProperty(scenario(o.modes, o.pause), fc.scheduler(), async (sc, s) => runScenario(sc, s, factory)),
      p,
    );
    if (!res.failed) return undefined;
    const replay = `SEED=${res.seed} SIM_PATH=${res.counterexamplePath} make simulate SIM="${o.store} 1 ${o.modes.join(",")}${o.pause ? " --pause" : ""}"`;
    return `${fc.defaultReportMessage(res)}\n\nreplay it with:\n  ${replay}\n`;
  } finally {
    await factory.close();
  }
}

const STORES: readonly StoreKind[] = ["memory", "tmpfs", "disk", "s3", "ara"];
const MODES: readonly Mode[] = ["start", "check", "cancel", "load", "save"];

async function main(argv: string[]): Promise<number> {
  const pause = argv.includes("--pause");
  const [store, runs, modes] = argv.filter((a) => a !== "--pause");
  if (!store || !STORES.includes(store as StoreKind) || !runs || !/^\d+$/.test(runs)) {
    console.error(`usage: simulate.ts ${STORES.join("|")} RUNS [MODES] [--pause]   (MODES: comma-separated ${MODES.join(", ")})`);
    return 2;
  }
  const ms = (modes ?? "start,start,start,check,cancel,load,save").split(",") as Mode[];
  const bad = ms.filter((m) => !MODES.includes(m));
  if (bad.length) {
    console.error(`simulate.ts: unknown mode(s) ${bad.join(", ")} (known: ${MODES.join(", ")})`);
    return 2;
  }
  const seed = process.env.SEED !== undefined && process.env.SEED !== "" ? Number(process.env.SEED) : undefined;
  const t0 = Date.now();
  const report = await simulate({ store: store as StoreKind, runs: Number(runs), modes: ms, pause, seed, path: process.env.SIM_PATH || undefined });
  if (report) {
    console.log(report);
    return 1;
  }
  console.log(JSON.stringify({ store, runs: Number(runs), modes: ms.join(","), pause, ms: Date.now() - t0 }));
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      console.error(err);
      process.exit(3);
    },
  );
}
