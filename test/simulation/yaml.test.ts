/**
 * The simulation's controllers (model.ts) against the roles they stand for: a model run's
 * job_store calls, probes and launches, in order and with the options that decide the
 * protocol (op, claim, probe_var, loaded_var, result_var, claim_token, the probe's inputs),
 * must equal the steps of roles/long_running_task/tasks/start.yml and resume.yml (check), with the
 * files they import (launch.yml, roles/_common/tasks/resume.yml) followed.
 * A change to either side that the other does not follow fails here.
 */
import assert from "node:assert/strict";
import { AsyncLocalStorage } from "node:async_hooks";
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { test } from "node:test";
import type fc from "fast-check";
import { setClock } from "../../src/engine/clock.js";
import { Ledger } from "../../src/engine/ledger.js";
import { MemoryStore } from "../helpers/memory-store.js";
import { ANSIBLE_PYTHON } from "../helpers/tools.js";
import { Controller, type CtlCtx, FaultyStore, NAME, ROLES, SimClock, SimHost, type World, myClaimRule } from "./model.js";

type Task = Record<string, unknown> & { name?: string };
type Step = string;

function tasks(file: string): Task[] {
  const py = "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))";
  return JSON.parse(execFileSync(ANSIBLE_PYTHON, ["-c", py, path.join(ROLES, file)], { encoding: "utf8" })) as Task[];
}

/** The protocol-relevant shape of a role's task list, following static imports. */
function yamlSteps(file: string): Step[] {
  const out: Step[] = [];
  for (const t of tasks(file)) {
    const imported = t["ansible.builtin.import_tasks"];
    const role = t["ansible.builtin.import_role"] as { name?: string; tasks_from?: string } | undefined;
    if (typeof imported === "string") {
      out.push(...yamlSteps(path.join(path.dirname(file), imported)));
      continue;
    }
    if (role?.name?.startsWith("rstyczynski.ansible.")) {
      out.push(...yamlSteps(path.join(role.name.slice("rstyczynski.ansible.".length), "tasks", role.tasks_from ?? "main.yml")));
      continue;
    }
    const js = t["rstyczynski.ansible.job_store"] as Record<string, unknown> | undefined;
    const probe = t["rstyczynski.ansible.async_job_probe"] as Record<string, unknown> | undefined;
    if (js) out.push(storeStep(js));
    else if (probe) out.push(`probe(${Object.keys(probe).filter(probeInput).sort().join(",")})`);
    else if (t.async !== undefined && t.poll === 0) out.push(`launch(claim env: ${String(t.environment).includes("ANSIBLE_JOBS_CLAIM")})`);
  }
  return out;
}

/** The probe options that carry what the record knows (the rest are display options). */
const probeInput = (k: string) => !["tail_lines", "output_files", "action"].includes(k);

function storeStep(a: Record<string, unknown>, perHost: Record<string, unknown>[] = []): Step {
  const parts = [`op=${a.op}`];
  if (a.claim === true || a.claim === "true") parts.push("claim");
  for (const k of ["probe_var", "loaded_var", "result_var"]) if (a[k]) parts.push(`${k}=${a[k]}`);
  // the model templates claim_token per host, as the plugin does for a run_once call
  if (a.claim_token !== undefined || perHost.some((h) => h.claim_token !== undefined)) parts.push("claim_token");
  if (a.stale_after !== undefined) parts.push("stale_after");
  return `job_store(${parts.join(" ")})`;
}

/** Runs one model controller with the given modes and returns its steps, in the same shape. */
async function modelSteps(modes: ("start" | "check")[], seed: (l: Ledger) => Promise<void>): Promise<Step[]> {
  const als = new AsyncLocalStorage<CtlCtx>();
  const s = { schedule: <T>(p: Promise<T>) => p } as unknown as fc.Scheduler;
  const clock = new SimClock(als, async () => {});
  const prev = setClock(clock);
  try {
    const raw = new MemoryStore(() => clock.t);
    const w: World = {
      ns: "sync", s, clock, als, store: raw, hosts: [new SimHost("h1")],
      jidSeq: 0, sessionSeq: 0, answered: [], saved: [], starts: [], reported: new Set(), claimSeenAt: new Map(), rule: myClaimRule(), log: [],
    };
    await seed(new Ledger(raw));
    const steps: Step[] = [];
    w.store = new FaultyStore(raw, async () => "ok");
    const c = new Controller(w, "c1", 0, null, modes);
    const jobStore = c.jobStore.bind(c);
    c.jobStore = async (args, inputs) => {
      steps.push(storeStep(args, Object.values(inputs).map((i) => i.args ?? {})));
      return jobStore(args, inputs);
    };
    const probe = c.probe.bind(c);
    c.probe = async (h, p, action) => {
      steps.push(`probe(${Object.keys(p).filter(probeInput).sort().join(",")})`);
      return probe(h, p, action);
    };
    const launch = c.launch.bind(c);
    c.launch = async (h, token, via, claimId) => {
      steps.push(`launch(claim env: ${token !== null && token !== undefined})`);
      return launch(h, token, via, claimId);
    };
    await c.run();
    return steps;
  } finally {
    setClock(prev);
  }
}

test("the model's start follows roles/long_running_task/tasks/start.yml, step by step", async () => {
  // A holder whose job is gone, so that every step of start runs: claim, probe, claim again, launch, record.
  const steps = await modelSteps(["start"], async (l) => {
    await l.recordNew({ namespace: "sync", host: "h1", name: NAME }, {}, {}, { ansible_job_id: "j0.0", results_file: "/root/.ansible_async/j0.0", started: 1, finished: 0 });
  });
  assert.deepEqual(steps, yamlSteps("long_running_task/tasks/start.yml"));
});

test("the model's check follows roles/long_running_task/tasks/resume.yml, step by step", async () => {
  const steps = await modelSteps(["check"], async (l) => {
    await l.recordNew({ namespace: "sync", host: "h1", name: NAME }, {}, {}, { ansible_job_id: "j0.0", results_file: "/root/.ansible_async/j0.0", started: 1, finished: 0 });
  });
  assert.deepEqual(steps, yamlSteps("long_running_task/tasks/resume.yml"));
});

test("the model keeps the claim answer that vars/main.yml keeps (_long_running_task_my_claim)", () => {
  assert.equal(myClaimRule(), "per-host");
});
