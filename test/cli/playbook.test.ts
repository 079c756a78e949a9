/** Every ansible-jobs command against a store filled by real ansible-playbook runs. */
import assert from "node:assert/strict";
import * as path from "node:path";
import { before, describe, test } from "node:test";
import { validateRecord } from "../../src/engine/record.js";
import { REPO, playbook, run, tempDir } from "../helpers/ansible.js";

const CLI = path.join(REPO, "dist", "ansible-jobs.cjs");
const INV = path.join(REPO, "test", "integration", "job_store", "inventory.ini");
const store = path.join(tempDir("cli-pb"), "state");
const cli = (...args: string[]) => run(process.execPath, [CLI, "--store", store, ...args], { env: { NO_COLOR: "1" } });

describe("ansible-jobs on a store written by ansible-playbook", () => {
  before(async () => {
    for (const attempt of [1, 2]) {
      const r = await playbook(path.join(import.meta.dirname, "fill.yml"), { inventory: INV, extraVars: { store, attempt } });
      assert.equal(r.code, 0, r.out);
    }
  });

  test("list shows one row per host; --json records match the record schema", async () => {
    const table = await cli("list");
    assert.equal(table.code, 0, table.out);
    assert.match(table.stdout, /h01\s+nightly\s+running/);
    assert.match(table.stdout, /h02\s+nightly\s+failed/);
    assert.match(table.stdout, /h03\s+nightly\s+cancelled/);
    const json = await cli("list", "--json");
    const recs = JSON.parse(json.stdout) as unknown[];
    assert.equal(recs.length, 3);
    for (const r of recs) validateRecord(r, "cli output");
  });

  test("--fail-on gates CI with exit code 3", async () => {
    assert.equal((await cli("list", "--fail-on", "failed,lost")).code, 3);
    assert.equal((await cli("list", "--host", "h01", "--fail-on", "failed,lost")).code, 0);
  });

  test("show prints the record with rc and output tail; history shows both attempts", async () => {
    const show = await cli("show", "nightly", "--host", "h02");
    assert.equal(show.code, 0, show.out);
    assert.match(show.stdout, /failed/);
    assert.match(show.stdout, /disk full/);
    assert.match(show.stdout, /fill\.yml/);
    const hist = await cli("history", "nightly", "--host", "h01");
    assert.equal(hist.code, 0, hist.out);
    assert.match(hist.stdout, /j011\.7/);
    assert.match(hist.stdout, /j012\.7/);
  });

  test("prune --dry-run lists, prune removes terminal records; delete removes a name", async () => {
    const dry = await cli("prune", "--older-than", "0s", "--dry-run");
    assert.equal(dry.code, 0, dry.out);
    assert.match(dry.out, /h02/);
    assert.equal(JSON.parse((await cli("list", "--json")).stdout).length, 3, "dry run removed nothing");
    const real = await cli("prune", "--older-than", "0s");
    assert.equal(real.code, 0, real.out);
    const left = JSON.parse((await cli("list", "--json")).stdout) as { host: string }[];
    assert.deepEqual(left.map((r) => r.host), ["h01"]);
    const del = await cli("delete", "nightly", "--host", "h01", "--yes", "--force");
    assert.equal(del.code, 0, del.out);
    assert.equal(JSON.parse((await cli("list", "--json")).stdout).length, 0);
  });
});
