/**
 * A product bug found by the soak (bench/soak.ts), fixed in src/engine/classify.ts (the not-stale
 * guard holds for every claim without a recorded launch, not only a `starting` one):
 * a fresh `starting` claim that a probe once found `unreachable` loses the protection of
 * stale_after, so another controller takes it over and launches while the claim's own
 * controller is still launching: two live jobs for one (namespace, host, name).
 *
 * Before the fix, classifyProbe (src/engine/classify.ts) kept a `starting` claim that is not stale yet when
 * its token is not seen on the host ("another controller may be launching right now"), but a
 * probe that cannot reach the host moves that claim to `unreachable`, and from `unreachable`
 * a probe that sees no process carrying the token gives `lost` at once, whatever the claim's age.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { REPO, heads, playbook, tempDir } from "../helpers/ansible.js";
import { type Hosts, countProcs, hostCtl, podmanHosts } from "../helpers/hosts.js";

const LRT = path.join(REPO, "test", "integration", "roles", "lrt.yml");
import { sleep } from "../../src/engine/clock.js";

describe("a fresh claim on a host that blips", () => {
  let hosts: Hosts;
  before(async () => {
    hosts = await podmanHosts("lrt-blip", 1);
  });
  after(async () => hosts?.down());

  test(
    "is never taken over, even after a probe found its host unreachable",
    {},
    async () => {
      const h = hosts.names[0]!;
      const store = path.join(tempDir("blip"), "state");
      // Controller A claims the name on h, and is about to launch (as in claims.test.ts).
      const a = spawnSync(process.execPath, [path.join(REPO, "dist", "job_store_engine.cjs")], {
        input: JSON.stringify({ args: { op: "save", claim: true, store, name: "blip" }, hosts: { [h]: {} }, context: {} }),
        encoding: "utf8",
      });
      const claim = JSON.parse(a.stdout).hosts[h];
      assert.equal(claim.claimed, true, a.stdout + a.stderr);
      const vars = { long_running_task_store: store, long_running_task_name: "blip", long_running_task_command: "sleep 501" };
      // The host is briefly down while controller B starts the same name: its probe of A's claim is unreachable.
      await hostCtl("kill", h);
      const b = await playbook(LRT, { inventory: hosts.inventory, extraVars: vars, cwd: tempDir("blip-b") });
      assert.ok([0, 4].includes(b.code), b.out);
      await hostCtl("start", h);
      // Controller C starts it seconds after A's claim (stale_after is 300 s): it must not take it over.
      const c = await playbook(LRT, { inventory: hosts.inventory, extraVars: vars, cwd: tempDir("blip-c") });
      assert.equal(c.code, 0, c.out);
      // A's launch goes ahead with its token, as its "Launch the job" task does.
      const launch = path.join(tempDir("blip-a"), "launch.yml");
      writeFileSync(
        launch,
        `- hosts: all\n  gather_facts: false\n  tasks:\n    - name: Launch\n      ansible.builtin.command: sleep 501\n      environment: {ANSIBLE_JOBS_CLAIM: "${claim.job.claim_token}"}\n      async: 3600\n      poll: 0\n`,
      );
      assert.equal((await playbook(launch, { inventory: hosts.inventory })).code, 0);
      let live = 0;
      for (let i = 0; i < 20 && live < 2; i++) {
        live = await countProcs(h, "sleep 501");
        await sleep(500);
      }
      assert.equal(heads(store)[0]?.attempt, 1, `A's fresh claim was taken over: ${JSON.stringify(heads(store))}`);
      assert.ok(live <= 1, `one live job for (${h}, blip), found ${live}`);
    },
  );
});
