/**
 * The four scenarios of ansible_collection/long_running_flow.yml on three real podman hosts,
 * with the filesystem store. Each step is a separate ansible-playbook run, as a user would do.
 */
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { heads, playbook, storeFiles, tempDir } from "../helpers/ansible.js";
import { type Hosts, podmanHosts } from "../helpers/hosts.js";
import { FLOW, launchThenResumeElsewhere } from "../helpers/flow.js";

describe("long_running_flow.yml on podman hosts (filesystem store)", () => {
  let hosts: Hosts;
  let store: string;
  const flow = (tags: string, extra: Record<string, unknown> = {}, cwd?: string) =>
    playbook(FLOW, { inventory: hosts.inventory, extraVars: { flow_store: store, ...extra }, args: ["--tags", tags], cwd });
  const byName = (name: string) => heads(store).filter((r) => r.name === name);

  before(async () => {
    hosts = await podmanHosts("lrt-flow", 3);
    store = path.join(tempDir("flow"), "state");
  });
  after(async () => hosts.down());

  test("scenario 1: the controller waits, and the result is captured", async () => {
    const r = await flow("wait");
    assert.equal(r.code, 0, r.out);
    const recs = byName("flow-wait");
    assert.equal(recs.length, 3);
    for (const rec of recs) {
      assert.equal(rec.status, "succeeded");
      assert.match(String((rec.result as { stdout_tail: string }).stdout_tail), /^waited on /);
      assert.ok(rec.finished_at);
    }
  });

  test("scenarios 2 and 3: launch and exit, resume from another directory, idempotent resumes", async () => {
    await launchThenResumeElsewhere(store, hosts, () => [...storeFiles(store).entries()]);
  });

  test("scenario 4: a crashed host is unreachable while down and lost once back; the others carry on", async () => {
    const r = await flow("crash");
    assert.equal(r.code, 0, r.out);
    const recs = byName("flow-crash");
    const victim = recs.find((x) => x.host === "lrt-flow-3")!;
    assert.equal(victim.status, "lost");
    assert.match(String(victim.last_error), /job "flow-crash" \(jid \S+\) on lrt-flow-3 is lost: host restarted after the job began/);
    assert.ok(victim.finished_at);
    for (const other of recs.filter((x) => x.host !== "lrt-flow-3")) assert.equal(other.status, "running");
    // The message a user sees names host, job, jid and reason.
    assert.match(r.out, /fatal: \[lrt-flow-3\]: FAILED! => .*job \\"flow-crash\\" \(jid \S+\) on lrt-flow-3 is lost: host restarted/);
    assert.match(r.out, /lrt-flow-3: flow-crash unreachable/);
  });

  test("every record in the store is valid JSON, files 0600 and directories 0700", async () => {
    const files = [...storeFiles(store).keys()];
    assert.ok(files.length >= 9);
    for (const file of files) {
      const full = path.join(store, file);
      JSON.parse(readFileSync(full, "utf8"));
      assert.equal(statSync(full).mode & 0o777, 0o600, file);
      assert.equal(statSync(path.dirname(full)).mode & 0o777, 0o700, path.dirname(file));
    }
  });
});
