/**
 * long_running_flow.yml scenarios 2 and 3 on the S3 store (a real moto_server on loopback),
 * resumed from a second working directory that shares nothing with the first but the bucket,
 * and two controllers starting the same job at once.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { REPO, playbook, recordsIn, tempDir } from "../../helpers/ansible.js";
import { type Hosts, countProcs, podmanHosts } from "../../helpers/hosts.js";
import { type Moto, startMoto, useTestAwsEnv } from "../../helpers/moto.js";

const FLOW = path.join(REPO, "ansible_collection", "long_running_flow.yml");
const LRT = path.join(REPO, "test", "integration", "roles", "lrt.yml");
const STORE = "s3://lrt-flow/team-a";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("the flow on the S3 store (moto_server)", () => {
  let moto: Moto;
  let hosts: Hosts;
  const records = (name: string) => recordsIn(STORE, name);

  before(async () => {
    useTestAwsEnv();
    moto = await startMoto();
    process.env.AWS_ENDPOINT_URL = moto.endpoint;
    await moto.createBucket("lrt-flow");
    hosts = await podmanHosts("lrt-s3", 2);
  });
  after(async () => {
    await hosts?.down();
    await moto?.stop();
  });

  test("scenario 2 launches from one directory, scenario 3 resumes from another", async () => {
    const first = tempDir("s3-ctl-a");
    const second = tempDir("s3-ctl-b");
    const start = await playbook(FLOW, { inventory: hosts.inventory, extraVars: { flow_store: STORE, flow_job_seconds: 20 }, args: ["--tags", "start"], cwd: first });
    const launchedAt = Date.now();
    assert.equal(start.code, 0, start.out);
    const launched = await records("flow-job");
    assert.deepEqual(launched.map((r) => r.status), ["running", "running"]);

    const resume = (expect: string) =>
      playbook(FLOW, { inventory: hosts.inventory, extraVars: { flow_store: STORE, flow_expect: expect }, args: ["--tags", "resume"], cwd: second });
    const running = await resume("running");
    assert.equal(running.code, 0, running.out);
    await sleep(Math.max(0, launchedAt + 21_000 - Date.now()));
    const done = await resume("succeeded");
    assert.equal(done.code, 0, done.out);
    const finished = await records("flow-job");
    assert.deepEqual(finished.map((r) => r.status), ["succeeded", "succeeded"]);
    assert.deepEqual(finished.map((r) => r.jid), launched.map((r) => r.jid));
    assert.ok(finished.every((r) => /finished on/.test(r.result?.stdout_tail ?? "")));
    const again = await resume("succeeded");
    for (const h of hosts.names) assert.match(again.out, new RegExp(`${h}\\s+: ok=\\d+\\s+changed=0 `));
  });

  test("two controllers starting the same job at once launch it exactly once per host", async () => {
    const vars = { long_running_task_store: STORE, long_running_task_name: "s3-race", long_running_task_command: "sleep 68" };
    const [a, b] = await Promise.all([
      playbook(LRT, { inventory: hosts.inventory, extraVars: vars, cwd: tempDir("s3-race-a") }),
      playbook(LRT, { inventory: hosts.inventory, extraVars: vars, cwd: tempDir("s3-race-b") }),
    ]);
    assert.equal(a.code, 0, a.out);
    assert.equal(b.code, 0, b.out);
    for (const h of hosts.names) assert.equal(await countProcs(h, "sleep 68"), 1, h);
    assert.deepEqual((await records("s3-race")).map((r) => r.attempt), [1, 1]);
  });

  test("a missing bucket fails each host with a message naming endpoint, bucket and cause; nothing is launched", async () => {
    const r = await playbook(LRT, {
      inventory: hosts.inventory,
      extraVars: { long_running_task_store: "s3://no-such-bucket/x", long_running_task_name: "nob", long_running_task_command: "sleep 69" },
    });
    assert.equal(r.code, 2);
    assert.match(r.out, /s3 store s3:\/\/no-such-bucket\/x \(endpoint http:\/\/127\.0\.0\.1:\d+\): bucket \\?"no-such-bucket\\?" does not exist/);
    assert.doesNotMatch(r.out, /Traceback|\.cjs:\d+/);
    for (const h of hosts.names) assert.equal(await countProcs(h, "sleep 69"), 0);
  });
});
