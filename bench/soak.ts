/**
 * make soak: real ansible-playbook controllers racing on real podman hosts, on each store,
 * while hosts crash and the store is cut off.
 *
 *   node --import tsx bench/soak.ts
 *   SOAK_ROUNDS=3 SOAK_CONTROLLERS=4 SOAK_HOSTS=3 SOAK_STORES=filesystem,s3,ara SOAK_SEED=1234
 *
 * Per store, SOAK_CONTROLLERS separate ansible-playbook processes (each in its own working
 * directory) run SOAK_ROUNDS rounds of long_running_task `start` then `check` of the round's job
 * name on every host, with a little seeded jitter so that they race without marching in step.
 * Meanwhile a seeded chaos loop kills a host (podman kill) and starts it again, and, for S3
 * (moto) and Ara, cuts the store off through the fault proxy (test/helpers/fault-proxy.ts):
 * plain cuts, a burst of 500s on writes, and a write whose answer is lost just before the cut.
 * moto and Ara are never restarted (moto keeps its state in memory). The filesystem store has
 * no proxy: only host crashes there.
 *
 * The launched command appends a marker line on the host (its claim token, the host's
 * incarnation, the job name) before it sleeps: that counts what really ran. Afterwards, with
 * every host up and the store healed, one check per name settles the ledger, and the soak prints
 * per store:
 *   - launches per (host, name): the most in one round, and how many pairs were launched again
 *     (legitimately only after their host restarted: the earlier attempt must be `lost`);
 *   - live launches at once per (host, name), i.e. per host incarnation: must be at most 1;
 *   - lost updates: a state that a controller reported (its summary line: status, jid,
 *     attempt) that the final ledger contradicts (attempt gone, other jid, a terminal status
 *     changed, back to `starting`), plus attempts missing from history;
 *   - orphaned jobs: a marker whose claim token is in no record; unadopted: in a record that
 *     still has no jid after the settling check;
 *   - records that fail validation (validateRecord, and documents the store cannot read);
 * and exits 1 unless all of those are 0 (and live launches at most 1).
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { type JobRecord, validateRecord } from "../src/engine/record.js";
import { isTerminal } from "../src/engine/status.js";
import { openStore } from "../src/stores/open.js";
import type { Store } from "../src/stores/types.js";
import { COLLECTIONS, REPO, tempDir } from "../test/helpers/ansible.js";
import { startAra } from "../test/helpers/ara.js";
import { type FaultProxy, startFaultProxy } from "../test/helpers/fault-proxy.js";
import { hostCtl, inHost, podmanHosts } from "../test/helpers/hosts.js";
import { startMoto, useTestAwsEnv } from "../test/helpers/moto.js";
import { unexpectedWarnings } from "../test/helpers/warnings.js";
import { rng } from "../test/helpers/rng.js";

const ROUNDS = Number(process.env.SOAK_ROUNDS ?? 3);
const CONTROLLERS = Number(process.env.SOAK_CONTROLLERS ?? 4);
const HOSTS = Number(process.env.SOAK_HOSTS ?? 3);
const STORES = (process.env.SOAK_STORES ?? "filesystem,s3,ara").split(",").map((s) => s.trim()).filter(Boolean);
const SEED = Number(process.env.SOAK_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUN_TIMEOUT_MS = 300_000;
const LRT = path.join(REPO, "test", "integration", "roles", "lrt.yml");
const MARKERS = "/root/lrt-soak";
/**
 * Warnings that the chaos provokes on purpose: Ansible's own about a host killed under a task,
 * and the Ara store's about a link to the run's playbook that it could not write while cut off.
 */
const CHAOS_WARNINGS = /container state improper|can only create exec sessions|Error deleting remote temporary files|could not link job .* cannot reach/;

if (![ROUNDS, CONTROLLERS, HOSTS].every((n) => Number.isInteger(n) && n > 0) || CONTROLLERS < 2) {
  console.error("soak: SOAK_ROUNDS and SOAK_HOSTS must be positive integers, SOAK_CONTROLLERS at least 2");
  process.exit(2);
}
for (const s of STORES) {
  if (!["filesystem", "s3", "ara"].includes(s)) {
    console.error(`soak: unknown store "${s}" in SOAK_STORES (filesystem, s3, ara)`);
    process.exit(2);
  }
}

import { sleep } from "../src/engine/clock.js";

interface Run {
  controller: number;
  mode: string;
  name: string;
  code: number;
  out: string;
}

/** One ansible-playbook controller run (its own process and working directory), bounded in time. */
function controllerRun(controller: number, cwd: string, inventory: string, vars: Record<string, unknown>, env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn("ansible-playbook", [LRT, "-i", inventory, "-e", JSON.stringify(vars)], {
      cwd,
      env: { ...process.env, ANSIBLE_COLLECTIONS_PATH: COLLECTIONS, ANSIBLE_NOCOLOR: "1", ANSIBLE_FORCE_COLOR: "0", ANSIBLE_RETRY_FILES_ENABLED: "False", ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let out = "";
    child.stdout!.on("data", (d) => {
      out += d;
    });
    child.stderr!.on("data", (d) => {
      out += d;
    });
    const timer = setTimeout(() => {
      out += `\nsoak: killed after ${RUN_TIMEOUT_MS / 1000}s\n`;
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // gone
      }
    }, RUN_TIMEOUT_MS);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ controller, mode: String(vars.long_running_task_mode), name: String(vars.long_running_task_name), code: code ?? -1, out });
    });
  });
}

/** "HOST: NAME STATUS (jid J, attempt N...)": what a controller was told, per host. */
interface Ack {
  host: string;
  name: string;
  status: string;
  jid: string | null;
  attempt: number;
  run: string;
}
const SUMMARY = /^\s*"([^":\s]+): (\S+) ([a-z_]+) \((?:jid (j\d+\.\d+)|no jid yet), attempt (\d+)[^"]*\)/gm;

function acksOf(run: Run): Ack[] {
  const acks: Ack[] = [];
  for (const m of run.out.matchAll(SUMMARY)) {
    acks.push({ host: m[1]!, name: m[2]!, status: m[3]!, jid: m[4] ?? null, attempt: Number(m[5]), run: `controller ${run.controller} ${run.mode} ${run.name}` });
  }
  return acks;
}

interface Marker {
  host: string;
  token: string;
  incarnation: string;
  name: string;
}

async function markers(hosts: string[], prefix: string): Promise<Marker[]> {
  const out: Marker[] = [];
  for (const h of hosts) {
    const text = await inHost(
      h,
      `import os\nd=${JSON.stringify(MARKERS)}\nfor n in sorted(os.listdir(d) if os.path.isdir(d) else []):\n    if n.startswith(${JSON.stringify(prefix)}):\n        print(open(os.path.join(d, n)).read(), end='')`,
    );
    for (const line of text.split("\n")) {
      const [token, incarnation, name] = line.trim().split(/\s+/);
      if (token && incarnation && name) out.push({ host: h, token, incarnation, name });
    }
  }
  return out;
}

/** Every document under heads/ and history/, validated; the ones that fail are counted. */
async function readLedger(store: Store): Promise<{ records: JobRecord[]; invalid: string[] }> {
  const records: JobRecord[] = [];
  const invalid: string[] = [];
  for (const top of ["heads", "history"]) {
    const res = await store.list([top]);
    for (const e of res.errors) invalid.push(e.message);
    for (const entry of res.entries) {
      try {
        records.push(validateRecord(entry.value, entry.where));
      } catch (err) {
        invalid.push((err as Error).message);
      }
    }
  }
  return { records, invalid };
}

interface Figures {
  store: string;
  runs: number;
  exitCodes: Record<string, number>;
  chaos: Record<string, number>;
  launches: number;
  maxPerRound: number;
  relaunched: number;
  relaunchedUnjustified: string[];
  maxLive: number;
  lostUpdates: string[];
  orphaned: string[];
  unadopted: string[];
  invalid: string[];
  statuses: Record<string, number>;
  warnings: string[];
  seconds: number;
}

async function soakStore(kind: string, hosts: { names: string[]; inventory: string }, seed: number): Promise<Figures> {
  const t0 = Date.now();
  const random = rng(seed);
  const prefix = `soak-${kind}-${seed.toString(36)}-`;
  const chaos: Record<string, number> = {};
  const bump = (o: Record<string, number>, k: string) => {
    o[k] = (o[k] ?? 0) + 1;
  };
  let url: string;
  let direct: () => Promise<Store>;
  let proxy: FaultProxy | undefined;
  let env: Record<string, string> = {};
  let stop: () => Promise<void> = async () => {};
  if (kind === "filesystem") {
    url = path.join(tempDir("soak-fs"), "state");
    direct = () => openStore(url);
  } else if (kind === "s3") {
    useTestAwsEnv();
    const moto = await startMoto();
    await moto.createBucket("lrt-soak");
    proxy = await startFaultProxy(moto.endpoint);
    url = "s3://lrt-soak/soak";
    env = { AWS_ENDPOINT_URL: proxy.url };
    direct = () => openStore(url, { s3: { endpoint: moto.endpoint } });
    const p = proxy;
    stop = async () => {
      await p.close();
      await moto.stop();
    };
  } else {
    const ara = await startAra();
    proxy = await startFaultProxy(ara.http);
    url = `ara+${proxy.url}`;
    direct = () => openStore(ara.storeUrl);
    const p = proxy;
    stop = async () => {
      await p.close();
      await ara.stop();
    };
  }
  const writes = kind === "s3" ? { method: "PUT", path: /\/heads\// } : { method: "POST", path: /^\/api\/v1\/records\/?$/, body: /"key":"heads\// };

  const runs: Run[] = [];
  const cwd = Array.from({ length: CONTROLLERS }, (_, i) => tempDir(`soak-${kind}-ctl${i + 1}`));
  const varsFor = (name: string, mode: string, extra: Record<string, unknown> = {}) => ({
    long_running_task_store: url,
    long_running_task_name: name,
    long_running_task_mode: mode,
    // The marker: what really ran, with the host's incarnation (PID 1's start time).
    long_running_task_command: `mkdir -p ${MARKERS} && echo "$ANSIBLE_JOBS_CLAIM $(cut -d' ' -f22 /proc/1/stat) ${name}" >> ${MARKERS}/${name}.log && sleep 900`,
    long_running_task_stale_after: 20,
    ...extra,
  });

  // The chaos loop, until the controllers are done.
  let done = false;
  const down = new Set<string>();
  const chaosLoop = (async () => {
    await sleep(2000 + random() * 3000);
    while (!done) {
      const pick = random();
      if (!proxy || pick < 0.45) {
        const h = hosts.names[Math.floor(random() * hosts.names.length)]!;
        bump(chaos, "host kill+start");
        down.add(h);
        await hostCtl("kill", h).catch(() => {});
        await sleep(1000 + random() * 4000);
        await hostCtl("start", h).catch(() => {});
        down.delete(h);
      } else if (pick < 0.7) {
        bump(chaos, "store cut");
        proxy.cut();
        await sleep(2000 + random() * 4000);
        proxy.heal();
      } else if (pick < 0.85) {
        bump(chaos, "write answered, answer lost, store cut");
        const p = proxy;
        const rule = p.add({ ...writes, nth: 1, fault: "lose-answer", afterFault: () => p.cut() });
        for (let i = 0; i < 40 && rule.fired.length === 0 && !done; i++) await sleep(250);
        rule.remove();
        await sleep(1000 + random() * 3000);
        p.heal();
      } else {
        bump(chaos, "500 on writes");
        const rule = proxy.add({ ...writes, fault: "status", status: 500 });
        await sleep(1500 + random() * 3000);
        rule.remove();
      }
      await sleep(3000 + random() * 5000);
    }
  })();

  const controllers = Array.from({ length: CONTROLLERS }, async (_, c) => {
    for (let r = 1; r <= ROUNDS; r++) {
      const name = `${prefix}${r}`;
      for (const mode of ["start", "check"]) {
        await sleep(random() * 1500);
        runs.push(await controllerRun(c + 1, cwd[c]!, hosts.inventory, varsFor(name, mode), env));
      }
    }
  });
  await Promise.all(controllers);
  done = true;
  await chaosLoop;
  proxy?.heal();
  proxy?.clearRules();
  for (const h of hosts.names) await hostCtl("start", h).catch(() => {});

  // Settle: one check per name with everything up (twice: the first may find claims to adopt).
  // Lost jobs are expected after host crashes: they do not fail these runs.
  const settle: Run[] = [];
  for (let r = 1; r <= ROUNDS; r++) {
    for (let i = 0; i < 2; i++) {
      settle.push(await controllerRun(1, cwd[0]!, hosts.inventory, varsFor(`${prefix}${r}`, "check", { long_running_task_fail_on: [] }), env));
    }
  }

  // The figures.
  const marks = await markers(hosts.names, prefix);
  const store = await direct();
  let ledger: { records: JobRecord[]; invalid: string[] };
  try {
    ledger = await readLedger(store);
  } finally {
    await store.close?.();
  }
  const mine = ledger.records.filter((r) => r.name.startsWith(prefix));
  const byToken = new Map<string, JobRecord>();
  for (const r of mine) if (r.claim_token) byToken.set(r.claim_token, r);
  const pairs = new Map<string, Marker[]>();
  for (const m of marks) {
    const k = `${m.host} ${m.name}`;
    pairs.set(k, [...(pairs.get(k) ?? []), m]);
  }
  let maxPerRound = 0;
  let maxLive = 0;
  let relaunched = 0;
  const relaunchedUnjustified: string[] = [];
  for (const [k, ms] of pairs) {
    maxPerRound = Math.max(maxPerRound, ms.length);
    const perInc = new Map<string, number>();
    for (const m of ms) perInc.set(m.incarnation, (perInc.get(m.incarnation) ?? 0) + 1);
    maxLive = Math.max(maxLive, ...perInc.values());
    if (ms.length > 1) {
      relaunched++;
      // Every launch but the last must be recorded lost (its host restarted under it).
      for (const m of ms.slice(0, -1)) {
        const rec = byToken.get(m.token);
        if (rec?.status !== "lost") relaunchedUnjustified.push(`${k}: launch ${m.token.slice(0, 8)} is ${rec?.status ?? "in no record"}, yet launched again`);
      }
    }
  }
  const orphaned = marks.filter((m) => !byToken.has(m.token)).map((m) => `${m.host} ${m.name} token ${m.token.slice(0, 8)}`);
  const unadopted = marks
    .filter((m) => byToken.get(m.token) && !byToken.get(m.token)!.jid)
    .map((m) => `${m.host} ${m.name} token ${m.token.slice(0, 8)} still ${byToken.get(m.token)!.status} without a jid`);

  const lostUpdates: string[] = [];
  const byAttempt = new Map<string, JobRecord>();
  for (const r of mine) {
    const k = `${r.host} ${r.name} ${r.attempt}`;
    const prev = byAttempt.get(k);
    // A head and its history copy: the head is the newer one.
    if (!prev || prev.updated_at < r.updated_at) byAttempt.set(k, r);
  }
  for (const run of runs.concat(settle)) {
    for (const a of acksOf(run)) {
      if (!a.name.startsWith(prefix)) continue;
      const rec = byAttempt.get(`${a.host} ${a.name} ${a.attempt}`);
      const what = `${a.run}: ${a.host} ${a.name} attempt ${a.attempt} ${a.status} ${a.jid ?? "no jid"}`;
      if (!rec) lostUpdates.push(`${what}: attempt gone from the ledger`);
      else if (a.jid && rec.jid !== a.jid) lostUpdates.push(`${what}: the ledger has jid ${rec.jid}`);
      else if (isTerminal(a.status as JobRecord["status"]) && rec.status !== a.status) lostUpdates.push(`${what}: the ledger has ${rec.status}`);
      else if (a.status !== "starting" && rec.status === "starting") lostUpdates.push(`${what}: the ledger is back to starting`);
    }
  }
  // Contiguous attempts per identity; every earlier attempt terminal.
  const heads = new Map<string, number>();
  for (const r of mine) {
    const k = `${r.host} ${r.name}`;
    heads.set(k, Math.max(heads.get(k) ?? 0, r.attempt));
  }
  for (const [k, top] of heads) {
    for (let n = 1; n <= top; n++) {
      const rec = byAttempt.get(`${k} ${n}`);
      if (!rec) lostUpdates.push(`${k}: attempt ${n} of ${top} is missing`);
      else if (n < top && !isTerminal(rec.status)) lostUpdates.push(`${k}: attempt ${n} was replaced while ${rec.status}`);
    }
  }
  const statuses: Record<string, number> = {};
  for (const [k, top] of heads) bump(statuses, byAttempt.get(`${k} ${top}`)?.status ?? "?");
  const exitCodes: Record<string, number> = {};
  for (const r of runs) bump(exitCodes, String(r.code));
  const warnings = [...new Set(runs.concat(settle).flatMap((r) => unexpectedWarnings(r.out)).filter((w) => !CHAOS_WARNINGS.test(w)).map((w) => w.replace(/lrt-soak-\d+/g, "HOST").replace(new RegExp(`${prefix}\\d+`, "g"), "NAME").trim()))];
  for (const r of settle) if (r.code !== 0) lostUpdates.push(`settling check of ${r.name} exited ${r.code}: ${r.out.slice(-800)}`);
  await stop();
  // The full outputs, for a failure's post-mortem.
  const logFile = path.join(tempDir(`soak-${kind}-log`), "runs.json");
  writeFileSync(logFile, JSON.stringify({ runs, settle, marks, records: mine }, null, 1));
  console.log(`soak ${kind}: controller outputs, markers and records in ${logFile}`);
  return {
    store: kind,
    runs: runs.length,
    exitCodes,
    chaos,
    launches: marks.length,
    maxPerRound,
    relaunched,
    relaunchedUnjustified,
    maxLive,
    lostUpdates,
    orphaned,
    unadopted,
    invalid: ledger.invalid,
    statuses,
    warnings,
    seconds: Math.round((Date.now() - t0) / 1000),
  };
}

async function main(): Promise<void> {
  const t0 = Date.now();
  console.log(`soak: ${CONTROLLERS} controllers x ${ROUNDS} rounds (start + check) on ${HOSTS} podman hosts, stores ${STORES.join(", ")}; SOAK_SEED=${SEED}`);
  const hosts = await podmanHosts("lrt-soak", HOSTS);
  const all: Figures[] = [];
  try {
    for (const [i, kind] of STORES.entries()) {
      const f = await soakStore(kind, hosts, SEED + i);
      all.push(f);
      const bad = (xs: string[]) => (xs.length ? `${xs.length}\n      ${xs.slice(0, 10).join("\n      ")}` : "0");
      console.log(`
soak ${f.store} (${f.seconds} s): ${f.runs} controller runs, exit codes ${JSON.stringify(f.exitCodes)}; chaos ${JSON.stringify(f.chaos)}
  launches (markers on the hosts)            ${f.launches} for ${ROUNDS} names x ${HOSTS} hosts
  launches per (host, name) in a round       max ${f.maxPerRound}; ${f.relaunched} pair(s) launched again after a host restart
  live launches at once per (host, name)     max ${f.maxLive}
  relaunches whose earlier attempt is not lost ${bad(f.relaunchedUnjustified)}
  lost updates                               ${bad(f.lostUpdates)}
  orphaned jobs                              ${bad(f.orphaned)}
  launched jobs never adopted                ${bad(f.unadopted)}
  records failing validation                 ${bad(f.invalid)}
  final statuses                             ${JSON.stringify(f.statuses)}
  warnings not in test/helpers/warnings.ts   ${f.warnings.length ? `\n      ${f.warnings.join("\n      ")}` : "none"}`);
    }
  } finally {
    await hosts.down();
  }
  const failed = all.filter(
    (f) => f.maxLive > 1 || f.relaunchedUnjustified.length || f.lostUpdates.length || f.orphaned.length || f.unadopted.length || f.invalid.length,
  );
  console.log(`\nsoak: ${Math.round((Date.now() - t0) / 1000)} s, SOAK_SEED=${SEED}: ${failed.length ? `FAILED on ${failed.map((f) => f.store).join(", ")}` : "every figure is 0"}`);
  process.exit(failed.length ? 1 : 0);
}

await main();
