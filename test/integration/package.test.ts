/** The collection as users install it: ansible-galaxy build, install into an empty path, run from there. */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { COLL, heads, playbook, run, tempDir } from "../helpers/ansible.js";

test("the built tarball carries the engine bundle, its notices and licences, and works once installed", async () => {
  const out = tempDir("pkg");
  const build = await run("ansible-galaxy", ["collection", "build", COLL, "--output-path", out, "--force"]);
  assert.equal(build.code, 0, build.out);
  const tarball = readdirSync(out).find((f) => f.endsWith(".tar.gz"))!;
  assert.match(tarball, /^rstyczynski-ansible-\d+\.\d+\.\d+\.tar\.gz$/);
  const listing = (await run("tar", ["-tzf", path.join(out, tarball)])).stdout.split("\n");
  for (const f of [
    "plugins/plugin_utils/_engine/job_store_engine.cjs",
    "plugins/plugin_utils/_engine/ansible-jobs.cjs",
    "plugins/plugin_utils/_engine/THIRD_PARTY_NOTICES.txt",
    "COPYING",
    "LICENSES/GPL-3.0-or-later.txt",
    "meta/execution-environment.yml",
    "bindep.txt",
    "plugins/action/job_store.py",
    "plugins/callback/job_ledger.py",
    "plugins/plugin_utils/_engine_process.py",
    "plugins/modules/job_store.py",
    "plugins/modules/async_job_probe.py",
    "roles/long_running_task/meta/argument_specs.yml",
    "meta/runtime.yml",
    "playbooks/check.yml",
    "playbooks/cancel.yml",
    "playbooks/cleanup.yml",
    "playbooks/prune.yml",
    "playbooks/tasks/targets.yml",
    "playbooks/vars/jobs.yml",
  ]) {
    assert.ok(listing.includes(f), `${f} in the tarball`);
  }
  assert.ok(!listing.some((f) => f.includes(".ansible_async_state")), "no state in the tarball");
  assert.ok(!listing.some((f) => f.startsWith("engine/")), "nothing in the old engine/ folder (outside plugins/)");

  const installed = tempDir("pkg-install");
  // Only the empty path is configured: ansible-galaxy 2.21 skips an install whose collection it
  // already sees on the configured paths (here: the source tree).
  const inst = await run("ansible-galaxy", ["collection", "install", path.join(out, tarball), "-p", installed], {
    env: { ANSIBLE_COLLECTIONS_PATH: installed },
  });
  assert.equal(inst.code, 0, inst.out);
  const doc = await run("ansible-doc", ["rstyczynski.ansible.job_store"], { env: { ANSIBLE_COLLECTIONS_PATH: installed } });
  assert.match(doc.stdout, new RegExp(`${installed}/ansible_collections/rstyczynski/ansible/plugins/modules/job_store.py`));
  // plugin_utils/_engine/ holds programs, not plugins: ansible-doc lists the two modules only.
  const list = await run("ansible-doc", ["-l", "rstyczynski.ansible"], { env: { ANSIBLE_COLLECTIONS_PATH: installed } });
  assert.equal(list.code, 0, list.out);
  const names = list.stdout.split("\n").filter(Boolean).map((l) => l.split(/\s+/)[0]).sort();
  assert.deepEqual(names, ["rstyczynski.ansible.async_job_probe", "rstyczynski.ansible.job_store"], list.out);

  const store = path.join(tempDir("pkg-store"), "state");
  const pb = path.join(import.meta.dirname, "job_store", "save.yml");
  const r = await playbook(pb, {
    inventory: path.join(import.meta.dirname, "job_store", "inventory.ini"),
    extraVars: { store },
    args: ["--limit", "h01,h02"],
    collectionsPath: installed,
    cwd: tempDir("pkg-cwd"),
  });
  assert.equal(r.code, 0, r.out);
  assert.deepEqual(heads(store).map((x) => x.host).sort(), ["h01", "h02"]);

  // The operator playbooks run by their FQCN from the installed collection (prune needs no host).
  const prune = await playbook("rstyczynski.ansible.prune", {
    inventory: path.join(import.meta.dirname, "job_store", "inventory.ini"),
    extraVars: { store, older_than: "1d" },
    collectionsPath: installed,
    cwd: tempDir("pkg-cwd"),
  });
  assert.equal(prune.code, 0, prune.out);
  assert.match(prune.out, new RegExp(`"pruned 0 job record\\(s\\) in ${store}"`));
});
