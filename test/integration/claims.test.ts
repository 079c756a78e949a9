/**
 * The exactly-once start of long_running_task on real podman hosts: three controllers racing
 * for one name, a name another controller has just claimed on one host, a store that fails
 * right after the launch (the job is adopted by its claim token), and a job that finishes
 * while it is checked.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { REPO, tempDir } from "../helpers/ansible.js";
import { roleRunner } from "../helpers/roles.js";
import { type Hosts, countProcs, podmanHosts } from "../helpers/hosts.js";

import { sleep } from "../../src/engine/clock.js";

describe("exactly-once start and adoption: claims under races, on podman hosts", () => {
  let hosts: Hosts;
  let store: string;
  const { lrt, rec } = roleRunner(
    () => hosts.inventory,
    () => store,
  );

  before(async () => {
    hosts = await podmanHosts("lrt-claims", 2);
    store = path.join(tempDir("claims"), "state");
  });
  after(async () => hosts.down());

  test("three controllers starting the same name at once launch it exactly once per host (3 rounds)", async () => {
    // The losers probe the winner's claim while it launches; evidence gathered before the
    // winner records its launch must not make them take the name over (a CI failure once).
    for (const round of [1, 2, 3]) {
      const vars = { long_running_task_name: `race-${round}`, long_running_task_command: `sleep 8${round}` };
      const runs = await Promise.all(["a", "b", "c"].map((c) => lrt(vars, { cwd: tempDir(`ctl-${c}`) })));
      for (const r of runs) assert.equal(r.code, 0, r.out);
      for (const h of hosts.names) {
        assert.equal(await countProcs(h, `sleep 8${round}`), 1, `one launch on ${h} in round ${round}`);
        assert.equal(rec(`race-${round}`, h)?.attempt, 1);
        assert.equal(rec(`race-${round}`, h)?.status, "running");
      }
      const launches = runs.map((r) => {
        const section = r.out.split("\nTASK [").find((t) => t.startsWith("rstyczynski.ansible.long_running_task : Launch the job]")) ?? "";
        return (section.match(/^changed: \[/gm) ?? []).length;
      });
      assert.equal(launches.reduce((x, y) => x + y), hosts.names.length, `launch tasks changed once per host in round ${round}`);
    }
  });

  test("a name that another controller has just claimed on one host still launches on the others", async () => {
    // The other controller's engine claims lrt-claims-2 and has not launched yet (a split race).
    const other = spawnSync(process.execPath, [path.join(REPO, "dist", "job_store_engine.cjs")], {
      input: JSON.stringify({ args: { op: "save", claim: true, store, name: "split" }, hosts: { "lrt-claims-2": {} }, context: {} }),
      encoding: "utf8",
    });
    assert.equal(JSON.parse(other.stdout).hosts["lrt-claims-2"].claimed, true, other.stdout + other.stderr);
    const r = await lrt({ long_running_task_name: "split", long_running_task_command: "sleep 79" });
    assert.equal(r.code, 0, r.out);
    assert.equal(await countProcs("lrt-claims-1", "sleep 79"), 1, "launched where this controller holds the claim");
    assert.equal(await countProcs("lrt-claims-2", "sleep 79"), 0, "not where the other controller does");
    assert.equal(rec("split", "lrt-claims-1")?.status, "running");
    assert.equal(rec("split", "lrt-claims-2")?.status, "starting");
    assert.match(r.out, /"lrt-claims-2: split starting \(no jid yet, attempt 1\)"/);
  });

  test("a store that fails right after the launch loses nothing: the jid is reported and the job is adopted later", async () => {
    const h = "lrt-claims-1";
    const head = path.join(store, "heads", "default", h, "survivor.json");
    const run = lrt({ long_running_task_name: "survivor", long_running_task_command: "sleep 67", target: h });
    // Break the store between the claim and the record of the launch.
    let original = "";
    for (let i = 0; i < 400 && !original; i++) {
      try {
        const text = readFileSync(head, "utf8");
        if (text.includes('"starting"')) original = text;
      } catch {
        // not claimed yet
      }
      if (!original) await sleep(20);
    }
    assert.ok(original, "saw the claim");
    writeFileSync(head, "{ broken");
    const r = await run;
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /not valid JSON.*The job WAS launched and keeps running: jid j\d+\.\d+, job file \/root\/\.ansible_async\/j\d+\.\d+/);
    const jid = /keeps running: jid (j\d+\.\d+)/.exec(r.out)![1];
    assert.equal(await countProcs(h, "sleep 67"), 1);
    // The store answers again; a check finds the job by its claim token.
    writeFileSync(head, original);
    const check = await lrt({ long_running_task_name: "survivor", long_running_task_mode: "check", target: h });
    assert.equal(check.code, 0, check.out);
    assert.equal(rec("survivor", h)?.status, "running");
    assert.equal(rec("survivor", h)?.jid, jid);
    assert.equal(await countProcs(h, "sleep 67"), 1, "and nothing was launched twice");
  });

  test("a job that finishes while it is checked is never called lost", async () => {
    for (let i = 0; i < 3; i++) {
      const name = `quick-${i}`;
      assert.equal((await lrt({ long_running_task_name: name, long_running_task_command: "sleep 1" })).code, 0);
      const r = await lrt({ long_running_task_name: name, long_running_task_mode: "check" });
      assert.equal(r.code, 0, r.out);
      for (const h of hosts.names) assert.ok(["running", "succeeded"].includes(rec(name, h)!.status as string));
    }
  });
});
