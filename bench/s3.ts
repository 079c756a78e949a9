/**
 * The S3 store against a real moto_server on 127.0.0.1:
 * - save: 1000 job records written by the Ledger (recordNew: head + jid index), 16 at a time
 *   like the bridge serves hosts, and 1000 bare store.create calls;
 * - list: the 1000 records (ListObjectsV2 pages + one GET each, 16 at a time);
 * - engine cold start: `node dist/job_store_engine.cjs` answering a `load` request on the S3
 *   store vs the same request on a filesystem store vs bare `node -e 0` (median of --runs,
 *   interleaved; also the children's CPU time, which other load disturbs less).
 *
 *   node scripts/build.mjs && node --import tsx bench/s3.ts [--records N] [--runs N] [--engine PATH]... [--cold-only]
 *
 * Several --engine options compare engine builds (for example two signers) in the same
 * interleaved runs.
 *
 * moto is a Python server: the save/list figures measure it as much as the store. Compare
 * runs of the same machine only; the cold-start ratios are the portable figures.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { Ledger } from "../src/engine/ledger.js";
import { FilesystemStore } from "../src/stores/filesystem.js";
import { openS3Store } from "../src/stores/s3.js";
import type { Store } from "../src/stores/types.js";
import { startMoto, useTestAwsEnv } from "../test/helpers/moto.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def;
}
const RECORDS = Number(arg("--records", "1000"));
const RUNS = Number(arg("--runs", "15"));
const ENGINES = (() => {
  const given = process.argv.flatMap((a, i) => (a === "--engine" && process.argv[i + 1] !== undefined ? [path.resolve(process.argv[i + 1]!)] : []));
  return given.length ? given : [path.join(REPO, "dist", "job_store_engine.cjs")];
})();
const ENGINE = ENGINES[0]!;
const CONCURRENCY = 16;
const COLD_ONLY = process.argv.includes("--cold-only");

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function mapLimit<T>(items: readonly T[], limit: number, fn: (t: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

async function ms(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const ORIGIN = { playbook: "/srv/ops/deploy.yml", play: "Deploy", task: "Long build", controller: "bench" };

async function saveRecords(store: Store, ns: string, n: number): Promise<void> {
  const ledger = new Ledger(store);
  const ids = Array.from({ length: n }, (_, i) => i);
  await mapLimit(ids, CONCURRENCY, async (i) => {
    const jid = `j${100000000 + i}.${2000 + (i % 97)}`;
    await ledger.recordNew(
      { namespace: ns, host: `host-${String(i % 100).padStart(3, "0")}.example.com`, name: `job-${Math.floor(i / 100)}` },
      ORIGIN,
      { async_timeout: 3600 },
      { ansible_job_id: jid, results_file: `/root/.ansible_async/${jid}`, started: 1, finished: i % 4 ? 1 : 0, rc: 0 },
    );
  });
}

/** CPU time (user + sys, ms) of waited-for children (Linux /proc), less noisy than wall time. */
function childrenCpuMs(): number | undefined {
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(f[13]) + Number(f[14])) * 1000) / 100;
  } catch {
    return undefined;
  }
}

interface Cmd {
  label: string;
  argv: string[];
  input?: string;
  check?: (stdout: string) => void;
}

function coldStarts(cmds: Cmd[], runs: number): Map<string, { wall: number[]; cpu: number[] }> {
  const out = new Map(cmds.map((c) => [c.label, { wall: [] as number[], cpu: [] as number[] }]));
  for (let i = 0; i < runs + 1; i++) {
    for (const c of cmds) {
      const c0 = childrenCpuMs();
      const t0 = process.hrtime.bigint();
      const r = spawnSync(process.execPath, c.argv, { input: c.input ?? "", env: process.env, maxBuffer: 1 << 26 });
      const wall = Number(process.hrtime.bigint() - t0) / 1e6;
      const c1 = childrenCpuMs();
      if (r.status !== 0) throw new Error(`${c.label}: exit ${r.status}: ${r.stderr}`);
      if (i === 0) {
        c.check?.(r.stdout.toString());
        continue; // warms the page cache
      }
      out.get(c.label)!.wall.push(wall);
      if (c0 !== undefined && c1 !== undefined) out.get(c.label)!.cpu.push(c1 - c0);
    }
  }
  return out;
}

function loadRequest(store: string): string {
  return JSON.stringify({ args: { op: "load", store, name: "job-0", namespace: "cold" }, hosts: { "host-000.example.com": {} } });
}

function expectFound(label: string) {
  return (stdout: string) => {
    const res = JSON.parse(stdout) as { failed: boolean; msg?: string; hosts?: Record<string, { found?: boolean; msg?: string }> };
    const h = res.hosts?.["host-000.example.com"];
    if (res.failed || !h?.found) throw new Error(`${label}: the load request did not find the job: ${stdout.slice(0, 500)}`);
  };
}

async function main(): Promise<void> {
  for (const e of ENGINES) if (!existsSync(e)) throw new Error(`${e} is missing: run node scripts/build.mjs first`);
  useTestAwsEnv();
  const moto = await startMoto();
  const work = mkdtempSync(path.join(tmpdir(), "ajbench-s3-"));
  try {
    const bucket = "bench-jobs";
    await moto.createBucket(bucket);
    const store = await openS3Store(`s3://${bucket}/bench`, { endpoint: moto.endpoint });
    await store.create(["warm", "up"], { warm: true }); // the conditional-write probe, once per process
    if (!COLD_ONLY) await bulk(store, moto.endpoint);

    // Cold start: the same record on S3 and on the filesystem.
    await saveRecords(store, "cold", 1);
    await store.close?.();
    const fsDir = path.join(work, "fs-store");
    await saveRecords(new FilesystemStore(fsDir), "cold", 1);
    process.env.ANSIBLE_JOBS_S3_ENDPOINT = moto.endpoint;
    const cmds: Cmd[] = [
      { label: "node -e 0", argv: ["-e", "0"] },
      { label: "engine load (filesystem)", argv: [ENGINE], input: loadRequest(fsDir), check: expectFound("filesystem") },
      ...ENGINES.map((e, i) => ({
        label: ENGINES.length > 1 ? `engine ${i + 1} load (s3)` : "engine load (s3)",
        argv: [e],
        input: loadRequest(`s3://${bucket}/bench`),
        check: expectFound("s3"),
      })),
    ];
    const res = coldStarts(cmds, RUNS);
    const base = median(res.get("node -e 0")!.wall);
    console.log(`\nengine cold start, ${ENGINES.map((e, i) => `${ENGINES.length > 1 ? `engine ${i + 1}: ` : ""}${path.relative(REPO, e)}`).join(", ")}, median of ${RUNS} interleaved runs:`);
    for (const c of cmds) {
      const r = res.get(c.label)!;
      const w = median(r.wall);
      const cpu = r.cpu.length ? `, cpu ${median(r.cpu).toFixed(0)} ms` : "";
      console.log(`  ${c.label.padEnd(26)} ${w.toFixed(1).padStart(7)} ms  (x${(w / base).toFixed(2)} of bare node${cpu})`);
    }
  } finally {
    await moto.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

async function bulk(store: Store, endpoint: string): Promise<void> {
  console.log(`S3 store on moto_server ${endpoint}, ${RECORDS} records, ${CONCURRENCY} at a time`);
  const tCreate = await ms(() => mapLimit([...Array(RECORDS).keys()], CONCURRENCY, (i) => store.create(["raw", `doc-${i}`], { i, pad: "x".repeat(600) })));
  console.log(`  store.create x${RECORDS}:        ${tCreate.toFixed(0)} ms (${(tCreate / RECORDS).toFixed(2)} ms/record)`);
  const tSave = await ms(() => saveRecords(store, "bench", RECORDS));
  console.log(`  Ledger save x${RECORDS}:         ${tSave.toFixed(0)} ms (${(tSave / RECORDS).toFixed(2)} ms/record; head + jid index)`);
  const lists: number[] = [];
  let listed = 0;
  for (let i = 0; i < 5; i++) {
    lists.push(
      await ms(async () => {
        listed = (await new Ledger(store).list({ namespace: "bench" })).records.length;
      }),
    );
  }
  if (listed !== RECORDS) throw new Error(`listed ${listed} records, expected ${RECORDS}`);
  console.log(`  Ledger list of ${listed}:       ${median(lists).toFixed(0)} ms (median of 5: ListObjectsV2 pages + ${listed} GETs)`);
  const rawLists: number[] = [];
  for (let i = 0; i < 5; i++) rawLists.push(await ms(() => store.list(["raw"])));
  console.log(`  store.list of ${RECORDS} docs:    ${median(rawLists).toFixed(0)} ms (median of 5)`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
