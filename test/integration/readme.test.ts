/** Runs the collection README's examples, in order, against podman hosts: the docs cannot rot. */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { COLL, heads, playbook, tempDir } from "../helpers/ansible.js";
import { type Hosts, podmanHosts } from "../helpers/hosts.js";

const examples = [...readFileSync(path.join(COLL, "README.md"), "utf8").matchAll(/```yaml\n# example: (\S+)\n([\s\S]*?)```/g)].map(
  (m) => ({ name: m[1]!, yaml: `---\n${m[2]}` }),
);
let hosts: Hosts;
const dir = tempDir("readme");
const store = path.join(dir, ".ansible_async_state"); // the default store: <playbook_dir>/.ansible_async_state
const run = (name: string) => {
  const ex = examples.find((e) => e.name === name)!;
  const file = path.join(dir, `${name}.yml`);
  writeFileSync(file, ex.yaml);
  return playbook(file, { inventory: hosts.inventory, env: { ANSIBLE_JOBS_STORE: "" } });
};
const status = (name: string) => heads(store).filter((r) => r.name === name).map((r) => r.status);

before(async () => {
  hosts = await podmanHosts("lrt-readme", 2);
});
after(async () => hosts.down());

test("the README has the examples this test runs", () => {
  assert.deepEqual(examples.map((e) => e.name), ["start", "check", "wait", "cancel", "save", "load"]);
});

test("start, check, wait, save and load examples work as written", async () => {
  let r = await run("start");
  assert.equal(r.code, 0, r.out);
  assert.deepEqual(status("reindex"), ["running", "running"]);
  r = await run("check");
  assert.equal(r.code, 0, r.out);
  await new Promise((res) => setTimeout(res, 7000));
  r = await run("check");
  assert.equal(r.code, 0, r.out);
  assert.equal((r.out.match(/"msg": "succeeded reindexed \S+"/g) ?? []).length, 2, r.out);
  r = await run("wait");
  assert.equal(r.code, 0, r.out);
  assert.deepEqual(status("migrate"), ["succeeded", "succeeded"]);
  r = await run("save");
  assert.equal(r.code, 0, r.out);
  r = await run("load");
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /found=True status=(running|succeeded)/);
});

test("the cancel example cancels a running job and cleans up", async () => {
  const r0 = await run("start");
  assert.equal(r0.code, 0, r0.out);
  const r = await run("cancel");
  assert.equal(r.code, 0, r.out);
  assert.deepEqual(status("reindex"), ["cancelled", "cancelled"]);
  assert.ok(heads(store).filter((x) => x.name === "reindex").every((x) => x.cleaned_at));
});
