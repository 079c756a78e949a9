/** Real ansible-playbook runs that call rstyczynski.ansible.job_store for many local hosts. */
import assert from "node:assert/strict";
import { chmodSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import { heads, playbook, storeFiles, tempDir } from "../helpers/ansible.js";

const DIR = path.join(import.meta.dirname, "job_store");
const INV = path.join(DIR, "inventory.ini");
const pb = (name: string) => path.join(DIR, name);
const answers = (out: string) =>
  Object.fromEntries([...out.matchAll(/ANSWER (\S+) served=(\d+) status=(\S*)/g)].map((m) => [m[1], { served: Number(m[2]), status: m[3] }]));

describe("job_store from ansible-playbook", () => {
  test("one run_once call saves every host, and one host's bad input fails only that host", async () => {
    const store = path.join(tempDir("js"), "state");
    const r = await playbook(pb("save.yml"), { inventory: INV, extraVars: { store, broken_host: "h03" } });
    assert.equal(r.code, 0, r.out);
    const recs = heads(store);
    assert.equal(recs.length, 11);
    assert.ok(recs.every((x) => x.status === "running" && x.async_timeout === 3600 && x.task === "Save every host's job"));
    assert.ok(recs.every((x) => x.play === "Save jobs for many hosts" && String(x.playbook).endsWith("save.yml")));
    assert.ok(recs.every((x) => typeof x.play_id === "string" && (x.play_id as string).length > 10));
    const a = answers(r.stdout);
    assert.equal(a.h01?.served, 12);
    assert.match(r.stdout, /ANSWER h03 served=12 status= launch: must be the registered result of an async task/);
    // Every file in the store is a valid document; mode 0600 files, 0700 dirs are checked in unit tests.
    for (const [, v] of storeFiles(store)) assert.equal(typeof v, "object");
  });

  test("each served host's options are templated with its own vars; a host whose template fails fails alone, named", async () => {
    const store = path.join(tempDir("js"), "state");
    const r = await playbook(pb("save_per_host.yml"), { inventory: INV, extraVars: { store, no_name_host: "h03" } });
    assert.equal(r.code, 0, r.out);
    const recs = heads(store).sort((a, b) => String(a.host).localeCompare(String(b.host)));
    assert.equal(recs.length, 11);
    for (const x of recs) {
      const n = Number(String(x.host).slice(1));
      // The name is each host's own command output, kept as data: "{{ 6 * 7 }}" is never rendered.
      assert.equal(x.name, `tpl-{{ 6 * 7 }}-${x.host}`);
      assert.equal(x.async_timeout, 60 + n);
      assert.equal(x.jid, `${200000 + n}.9`);
    }
    const a = answers(r.stdout);
    assert.equal(a.h01?.served, 12);
    assert.match(r.stdout, /ANSWER h03 served=12 status= job_store: cannot template option name for host h03: /);
    // Never one host's arguments for all: no record carries the running host's name elsewhere.
    assert.equal(new Set(recs.map((x) => x.name)).size, 11);
  });

  test("serial batches are each served by one call, and a host failed earlier is skipped", async () => {
    const store = path.join(tempDir("js"), "state");
    const r = await playbook(pb("save_serial.yml"), { inventory: INV, extraVars: { store } });
    assert.equal(r.code, 2, r.out); // h02 failed on purpose
    const hosts = heads(store).map((x) => x.host).sort();
    assert.deepEqual(hosts, ["h01", "h03", "h04", "h05", "h06", "h07", "h08", "h09", "h10", "h11", "h12"]);
    const a = answers(r.stdout);
    assert.equal(a.h01?.served, 4); // batch 1 is h01..h05 without the failed h02
    assert.equal(a.h06?.served, 5);
    assert.equal(a.h11?.served, 2);
  });

  test("--limit serves only the limited hosts", async () => {
    const store = path.join(tempDir("js"), "state");
    const r = await playbook(pb("save.yml"), { inventory: INV, extraVars: { store }, args: ["--limit", "h01,h05"] });
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(heads(store).map((x) => x.host).sort(), ["h01", "h05"]);
  });

  test("strategy free serves each host once", async () => {
    const store = path.join(tempDir("js"), "state");
    const r = await playbook(pb("save_free.yml"), { inventory: INV, extraVars: { store } });
    assert.equal(r.code, 0, r.out);
    const recs = heads(store);
    assert.equal(recs.length, 12);
    assert.ok(recs.every((x) => x.attempt === 1), "no host was saved twice");
    assert.ok(Object.values(answers(r.stdout)).every((x) => (x as { served: number }).served === 1));
  });

  test("check mode writes nothing", async () => {
    const store = path.join(tempDir("js"), "state");
    const r = await playbook(pb("save.yml"), { inventory: INV, extraVars: { store }, args: ["--check"] });
    assert.equal(r.code, 0, r.out);
    assert.equal(storeFiles(store).size, 0);
  });

  test("load, update, list, prune and delete through the module", async () => {
    const store = path.join(tempDir("js"), "state");
    const r = await playbook(pb("ops.yml"), { inventory: INV, extraVars: { store } });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /job \\"ops\\" on h01 is failed \(terminal\); it cannot become running/);
  });

  test("bad input names the field, without a stack trace", async () => {
    const store = path.join(tempDir("js"), "state");
    const bad = await playbook(pb("save.yml"), { inventory: INV, extraVars: { store, batch_name: "" }, args: ["--limit", "h01"] });
    assert.match(bad.out, /name: is required for this operation/);
    assert.doesNotMatch(bad.out, /at .*\.cjs:\d+/);
  });

  test("a missing node and a node older than 18 fail with one clear message", async () => {
    const store = path.join(tempDir("js"), "state");
    const missing = await playbook(pb("save.yml"), {
      inventory: INV,
      extraVars: { store, ansible_node_interpreter: "/nonexistent/node" },
      args: ["--limit", "h01"],
    });
    assert.notEqual(missing.code, 0);
    assert.match(missing.out, /cannot run \/nonexistent\/node.*Install Node.js 18 or later/);
    const dir = tempDir("oldnode");
    const fake = path.join(dir, "node");
    writeFileSync(fake, '#!/bin/sh\nif [ "$1" = "--version" ]; then echo v16.20.2; exit 0; fi\necho "SyntaxError: Unexpected token" >&2; exit 1\n');
    chmodSync(fake, 0o755);
    const old = await playbook(pb("save.yml"), { inventory: INV, extraVars: { store, ansible_node_interpreter: fake }, args: ["--limit", "h01"] });
    assert.notEqual(old.code, 0);
    assert.match(old.out, /node v16\.20\.2.*needs Node.js >= 18/);
    assert.equal(storeFiles(store).size, 0);
  });

  test("concurrent ansible-playbook runs: every distinct job saved, one winner per shared name", async () => {
    const store = path.join(tempDir("js"), "state");
    const procs = [1, 2, 3, 4, 5];
    const runs = await Promise.all(procs.map((p) => playbook(pb("concurrent.yml"), { inventory: INV, extraVars: { store, proc: p } })));
    for (const r of runs) assert.equal(r.code, 0, r.out);
    const recs = heads(store);
    for (const p of procs) assert.equal(recs.filter((x) => x.name === `distinct-${p}`).length, 12, `distinct-${p}`);
    const same = recs.filter((x) => x.name === "same");
    assert.equal(same.length, 12);
    assert.ok(same.every((x) => x.attempt === 1 && x.status === "starting"));
    const claims = runs.flatMap((r) => [...r.stdout.matchAll(/"CLAIMED (h\d+) by (\d+)"/g)].map((m) => m[1]));
    assert.equal(claims.length, 12, "exactly one claim per host across all processes");
    assert.equal(new Set(claims).size, 12);
    for (const [, v] of storeFiles(store)) assert.equal(typeof v, "object");
  });
});
