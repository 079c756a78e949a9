/**
 * The process that test/killnine/killnine.test.ts kills with SIGKILL: the real Ledger on a real
 * store, saving, updating, pruning and deleting job records in a seeded loop, until it is killed.
 *
 *   node worker.cjs STORE_URL SEED FOCUS
 *
 * FOCUS (save, update, prune or delete) is the operation the test means to kill: the loop runs
 * it most, and the others to give it something to work on. Each operation is announced on
 * stdout before it starts ("B n op name") and acknowledged after it returned ("A n op {json}"),
 * synchronously, so a line read by the test is a fact about the store: what was acknowledged
 * must survive the kill.
 */
import { writeSync } from "node:fs";
import { type Identity, Ledger } from "../../src/engine/ledger.js";
import type { JobRecord } from "../../src/engine/record.js";
import { isTerminal } from "../../src/engine/status.js";
import { openStore } from "../../src/stores/open.js";
import { rng } from "../helpers/rng.js";

export const NAMESPACE = "k9";
export const HOST = "h1";
export const NAMES = ["alpha", "beta", "gamma"];
export const OPS = ["save", "update", "prune", "delete"] as const;
export type Op = (typeof OPS)[number];


const say = (line: string) => writeSync(1, `${line}\n`);
const brief = (r: JobRecord) => ({ id: r.id, name: r.name, attempt: r.attempt, status: r.status });

async function main(): Promise<void> {
  const [url, seedArg, focus] = process.argv.slice(2) as [string, string, Op];
  const seed = Number(seedArg);
  const random = rng(seed);
  const ledger = new Ledger(await openStore(url));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  say("ready");
  for (let n = 0; ; n++) {
    const name = pick(NAMES);
    const id: Identity = { namespace: NAMESPACE, host: HOST, name };
    // The focused operation half of the time; prune and delete need terminal records to act on.
    const op: Op = random() < 0.5 ? focus : pick(OPS);
    say(`B ${n} ${op} ${name}`);
    try {
      if (op === "save") {
        if (random() < 0.5) {
          const r = await ledger.claim(id, { playbook: "/k9/site.yml" }, {}, 300);
          say(`A ${n} ${op} ${JSON.stringify({ head: r.claimed ? brief(r.record) : null })}`);
        } else {
          const launch = { ansible_job_id: `j${seed}.${n}`, started: 1, finished: 0, results_file: `/root/.ansible_async/j${seed}.${n}` };
          const r = await ledger.recordNew(id, { playbook: "/k9/site.yml" }, {}, launch);
          say(`A ${n} ${op} ${JSON.stringify({ head: brief(r.record) })}`);
        }
      } else if (op === "update") {
        const head = await ledger.head(id);
        let r: { record: JobRecord; changed: boolean } | undefined;
        if (head?.record.status === "starting") {
          const launch = { ansible_job_id: `j${seed}.${n}`, started: 1, finished: 0 };
          r = await ledger.recordLaunch(id, head.record.claim_token ?? undefined, launch, head);
        } else if (head && !isTerminal(head.record.status)) {
          r = await ledger.setStatus(id, pick(["succeeded", "failed", "cancelled", "lost"] as const), "kill -9 trial", head);
        }
        say(`A ${n} ${op} ${JSON.stringify({ head: r ? brief(r.record) : null })}`);
      } else if (op === "prune") {
        const r = await ledger.prune({ namespace: NAMESPACE }, false);
        say(`A ${n} ${op} ${JSON.stringify({ pruned: r.pruned.map(brief) })}`);
      } else {
        const r = await ledger.remove(id);
        say(`A ${n} ${op} ${JSON.stringify({ removed: r.map(brief), name })}`);
      }
    } catch (err) {
      say(`E ${n} ${op} ${JSON.stringify((err as Error).message)}`);
    }
  }
}

if (process.argv[1]?.includes("worker")) {
  main().catch((err) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exit(3);
  });
}
