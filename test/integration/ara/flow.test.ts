/**
 * long_running_flow.yml scenarios 2 and 3 on the Ara store (a real Ara server on loopback),
 * and an Ara server that goes down while a job runs: clear errors, nothing lost.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { REPO, playbook, recordsIn, } from "../../helpers/ansible.js";
import { type AraServer, startAra } from "../../helpers/ara.js";
import { type Hosts, countProcs, podmanHosts } from "../../helpers/hosts.js";
import { launchThenResumeElsewhere } from "../../helpers/flow.js";

const LRT = path.join(REPO, "test", "integration", "roles", "lrt.yml");

describe("the flow on the Ara store", () => {
  let ara: AraServer;
  let hosts: Hosts;
  const records = (name: string) => recordsIn(ara.storeUrl, name);

  before(async () => {
    ara = await startAra();
    hosts = await podmanHosts("lrt-ara", 2);
  });
  after(async () => {
    await hosts?.down();
    await ara?.stop();
  });

  test("scenario 2 launches, scenario 3 resumes from another directory", async () => {
    await launchThenResumeElsewhere(ara.storeUrl, hosts);
  });

  test("the server down gives a clear error and loses no launched job", async () => {
    const vars = { long_running_task_store: ara.storeUrl, long_running_task_name: "ara-down", long_running_task_command: "sleep 70" };
    assert.equal((await playbook(LRT, { inventory: hosts.inventory, extraVars: vars })).code, 0);
    const before = await records("ara-down");
    await ara.stop({ keepData: true });
    const down = await playbook(LRT, { inventory: hosts.inventory, extraVars: { ...vars, long_running_task_mode: "check" } });
    assert.equal(down.code, 2);
    assert.match(down.out, new RegExp(`ara store ara\\+http://127\\.0\\.0\\.1:${ara.port}: cannot reach`));
    assert.doesNotMatch(down.out, /Traceback|\.cjs:\d+/);
    const startDown = await playbook(LRT, { inventory: hosts.inventory, extraVars: { ...vars, long_running_task_name: "never" } });
    assert.equal(startDown.code, 2);
    for (const h of hosts.names) {
      assert.equal(await countProcs(h, "sleep 70"), 1, `the job on ${h} still runs, and nothing new was launched`);
    }
    await ara.restart();
    const back = await playbook(LRT, { inventory: hosts.inventory, extraVars: { ...vars, long_running_task_mode: "check" } });
    assert.equal(back.code, 0, back.out);
    const after = await records("ara-down");
    assert.deepEqual(after.map((r) => r.status), ["running", "running"]);
    assert.deepEqual(after.map((r) => r.jid), before.map((r) => r.jid));
  });
});
