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
import { launchThenResumeElsewhere } from "../../helpers/flow.js";

const LRT = path.join(REPO, "test", "integration", "roles", "lrt.yml");
const STORE = "s3://lrt-flow/team-a";

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
    await launchThenResumeElsewhere(STORE, hosts);
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
