/**
 * Scenarios 2 and 3 of ansible_collection/long_running_flow.yml, the same on every store:
 * launch and exit from one working directory, resume from another while the job runs and
 * after it finished, then resume once more, which must change nothing.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { REPO, playbook, recordsIn, tempDir } from "./ansible.js";
import type { Hosts } from "./hosts.js";

export const FLOW = path.join(REPO, "ansible_collection", "long_running_flow.yml");
const JOB_SECONDS = 20;
import { sleep } from "../../src/engine/clock.js";

/**
 * `store` is a path or store URL; `unchanged` reads whatever a repeated resume must leave
 * as it was (the store's files, say); by default the job records.
 */
export async function launchThenResumeElsewhere(store: string, hosts: Hosts, unchanged: () => unknown = () => recordsIn(store, "flow-job")) {
  const flow = (tags: string, extra: Record<string, unknown>, cwd?: string) =>
    playbook(FLOW, { inventory: hosts.inventory, extraVars: { flow_store: store, ...extra }, args: ["--tags", tags], cwd });

  const start = await flow("start", { flow_job_seconds: JOB_SECONDS }, tempDir("ctl-a"));
  const launchedAt = Date.now();
  assert.equal(start.code, 0, start.out);
  const launched = await recordsIn(store, "flow-job");
  assert.equal(launched.length, hosts.names.length);
  assert.ok(launched.every((r) => r.status === "running" && typeof r.jid === "string" && r.attempt === 1), JSON.stringify(launched));

  // A separate run, from another working directory, while the job still runs.
  const elsewhere = tempDir("ctl-b");
  const running = await flow("resume", { flow_expect: "running" }, elsewhere);
  assert.equal(running.code, 0, running.out);
  assert.match(running.out, /flow-job running \(jid /);

  await sleep(Math.max(0, launchedAt + (JOB_SECONDS + 1) * 1000 - Date.now()));
  const done = await flow("resume", { flow_expect: "succeeded" }, elsewhere);
  assert.equal(done.code, 0, done.out);
  const finished = await recordsIn(store, "flow-job");
  assert.deepEqual(finished.map((r) => r.status), hosts.names.map(() => "succeeded"));
  assert.deepEqual(finished.map((r) => r.jid), launched.map((r) => r.jid));
  assert.ok(finished.every((r) => /finished on/.test(r.result?.stdout_tail ?? "")));

  const before = JSON.stringify(await unchanged());
  const again = await flow("resume", { flow_expect: "succeeded" });
  assert.equal(again.code, 0, again.out);
  for (const h of hosts.names) assert.match(again.out, new RegExp(`${h}\\s+: ok=\\d+\\s+changed=0 `));
  assert.equal(JSON.stringify(await unchanged()), before, "a repeated resume changes nothing");
}
