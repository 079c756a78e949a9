/**
 * Deterministic simulation of the ledger protocol (issue 11): simulated controllers run the
 * roles' steps (model.ts) through the real Ledger and bridge Operations, against the in-memory
 * store (most runs) and the filesystem store (a sample), while fast-check's scheduler
 * interleaves every store call, probe phase and launch, and injects faults: controller death
 * at any step, store calls that fail, time out or lose their answer, host crashes, jobs that
 * finish at any moment (also during a probe), clock offsets per controller, and pauses longer
 * than stale_after. Invariants are checked after every step.
 *
 *   SIM_RUNS=N     schedules per store kind (memory; the filesystem sample is N/20)
 *   SEED=S [SIM_PATH=P] [SIM_STORE=memory|filesystem]   replays one failure
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { setClock } from "../../src/engine/clock.js";
import { finishedStatus } from "../../src/engine/classify.js";
import type { JobRecord } from "../../src/engine/record.js";
import { canTransition, isTerminal } from "../../src/engine/status.js";
import { FilesystemStore } from "../../src/stores/filesystem.js";
import type { Store } from "../../src/stores/types.js";
import { type Fault, MemoryStore } from "../helpers/memory-store.js";
import { Controller, type CtlCtx, FaultyStore, type Mode, NAME, NS, STALE_AFTER, SimClock, SimHost, type World, myClaimRule } from "./model.js";

const RUNS = Number(process.env.SIM_RUNS ?? 100);
const SEED = process.env.SEED !== undefined ? Number(process.env.SEED) : undefined;
const PATH = process.env.SIM_PATH;

type Event = { kind: "finish"; host: number; rc: number } | { kind: "crash"; host: number } | { kind: "pause" } | { kind: "tick"; ms: number };

const faultArb: fc.Arbitrary<Fault> = fc.oneof(
  { weight: 12, arbitrary: fc.constant<Fault>("ok") },
  { weight: 1, arbitrary: fc.constantFrom<Fault>("fail", "timeout", "lost") },
);
const MODES = (process.env.SIM_MODES ?? "start,start,start,check,cancel,load").split(",") as Mode[];
const scenario = (modes: Mode[]) => fc.record({
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
      ...(process.env.SIM_PAUSE === "1" ? [fc.record({ kind: fc.constant("pause" as const) })] : []),
      fc.record({ kind: fc.constant("tick" as const), ms: fc.integer({ min: 1, max: 5000 }) }),
    ),
    { maxLength: 5 },
  ),
});
type Scenario = ReturnType<typeof scenario> extends fc.Arbitrary<infer T> ? T : never;

const flush = () => new Promise<void>((r) => setImmediate(r));

async function records(_w: World, raw: Store): Promise<JobRecord[]> {
  const out: JobRecord[] = [];
  if (raw instanceof MemoryStore) {
    for (const e of [...raw.peekAll(["heads"]), ...raw.peekAll(["history"])]) out.push(e.value as JobRecord);
  } else {
    for (const top of ["heads", "history"]) for (const e of (await raw.list([top])).entries) out.push(e.value as JobRecord);
  }
  return out;
}

async function head(raw: Store, host: string): Promise<JobRecord | undefined> {
  if (raw instanceof MemoryStore) return raw.peek(["heads", NS, host, NAME])?.value as JobRecord | undefined;
  return (await raw.get(["heads", NS, host, NAME]))?.value as JobRecord | undefined;
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
    const prev = byId.get(r.id);
    // a head and its archived copy: the head is the newer one
    if (!prev || r.updated_at >= prev.updated_at) byId.set(r.id, r);
    if (r.status === "starting" && !w.claimSeenAt.has(r.id)) w.claimSeenAt.set(r.id, w.clock.t);
  }
  for (const h of w.hosts) {
    // 1. on the claim path, at most one live job per (namespace, host, name)
    const live = h.jobs.filter((j) => j.alive && j.via === "start" && !j.late);
    if (live.length > 1) fail(`INVARIANT one-live-job: ${live.length} live jobs launched by start on ${h.name}: ${live.map((j) => `${j.jid} (${j.ctl})`).join(", ")}`);
    // 2. every launched job is recorded or adoptable by its claim token
    const hd = await head(raw, h.name);
    for (const j of h.jobs) {
      if (!j.alive || j.via !== "start" || j.late) continue;
      const recorded = recs.some((r) => r.host === h.name && r.jid === j.jid);
      const adoptable = hd?.status === "starting" && !hd.jid && hd.claim_token === j.token;
      if (!recorded && !adoptable) fail(`INVARIANT no-orphan: live job ${j.jid} on ${h.name} (${j.ctl}) is neither recorded nor adoptable (head: ${hd ? `${hd.status} ${hd.jid ?? "no jid"} attempt ${hd.attempt}` : "none"})`);
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

async function runScenario(sc: Scenario, s: fc.Scheduler, kind: "memory" | "filesystem"): Promise<void> {
  const als = new AsyncLocalStorage<CtlCtx>();
  const point = (label: string) => s.schedule(Promise.resolve(), label);
  const clock = new SimClock(als, point);
  const prevClock = setClock(clock);
  let dir: string | undefined;
  let raw: Store;
  if (kind === "memory") raw = new MemoryStore(() => clock.t);
  else {
    dir = mkdtempSync(path.join(tmpdir(), "lrt-sim-"));
    raw = new FilesystemStore(dir);
  }
  let callNo = 0;
  const w: World = {
    s, clock, als, store: undefined as unknown as Store,
    hosts: Array.from({ length: sc.hosts }, (_, i) => new SimHost(`h${i + 1}`)),
    jidSeq: 0, sessionSeq: 0, answered: [], saved: [], starts: [], claimSeenAt: new Map(), rule: RULE, log: [],
  };
  w.store = new FaultyStore(raw, async ({ op, key }) => {
    const ctl = als.getStore()?.ctl;
    if (ctl) await ctl.point(`${op} ${key.join("/")}`);
    const f = sc.faults[callNo++] ?? "ok";
    if (f !== "ok") w.log.push(`${ctl?.name ?? "?"}: store ${op} ${key.join("/")} -> injected ${f}`);
    return f;
  });
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
    await flush();
    await check(w, raw, seen, terminal, false);
    while (s.count() > 0) {
      await s.waitNext(1);
      await flush();
      await flush();
      await check(w, raw, seen, terminal, false);
    }
    await all;
    if (!settled) throw new Error("controllers did not finish");
    await check(w, raw, seen, terminal, true);
  } finally {
    setClock(prevClock);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

const RULE = myClaimRule();

function params(numRuns: number): fc.Parameters<[Scenario, fc.Scheduler]> {
  const p: fc.Parameters<[Scenario, fc.Scheduler]> = { numRuns, endOnFailure: false };
  if (SEED !== undefined) p.seed = SEED;
  if (PATH !== undefined) p.path = PATH;
  return p;
}

const only = process.env.SIM_STORE;
for (const [kind, runs] of [
  ["memory", RUNS],
  ["filesystem", Math.max(1, Math.round(RUNS / 20))],
] as const) {
  if (only && only !== kind) continue;
  test(`simulation: ${runs} schedules against the ${kind} store (${[...new Set(MODES)].join(", ")})`, { timeout: 30 * 60_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(scenario(MODES), fc.scheduler(), async (sc, s) => runScenario(sc, s, kind)),
      params(SEED !== undefined && PATH !== undefined ? 1 : runs),
    );
  });
}

// async_job_save next to start: recordNew archives the head it first read (create-if-absent);
// when the head moves before its compare-and-swap, the retry keeps that stale history copy, so a
// launch recorded meanwhile ends up in no record (found by this simulation; see the report).
test("simulation: async_job_save interleaved with start (known bug: stale history copy)", { todo: "Ledger.archive keeps a stale copy", timeout: 10 * 60_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(scenario(["start", "save", "check"]), fc.scheduler(), async (sc, s) => runScenario(sc, s, "memory")),
    params(Math.max(1, Math.round(RUNS / 20))),
  );
});
