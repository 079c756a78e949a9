/**
 * Links to the run: when Ara's callback records the playbook that starts or resumes a job,
 * the job shows up on THAT playbook too (record `ansible_job:NAME@HOST`), found through the
 * play's uuid. Real ansible-playbook runs with Ara's callback plugin; without the callback
 * the store works the same, just without links.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { Ledger } from "../../../src/engine/ledger.js";
import { makeAraStore } from "../../../src/stores/ara.js";
import { type AraServer, PYTHON, araApi, startAra } from "../../helpers/ara.js";
import { unexpectedWarnings } from "../../helpers/warnings.js";

const run = promisify(execFile);

interface Link {
  status: string;
  jid: string | null;
  name: string;
  host: string;
  ledger_playbook: number;
  play_id: string;
  record: string;
  record_api: string;
}

describe("ara store: job records linked to the run's playbook", () => {
  let server: AraServer;
  let dir: string;
  let callbacks: string;

  /** Runs a one-task playbook with Ara's callback; returns the play uuid and playbook id Ara recorded. */
  async function runPlaybook(playName: string): Promise<{ uuid: string; playbook: number; file: string }> {
    const file = path.join(dir, `${playName.replace(/\W+/g, "_")}.yml`);
    writeFileSync(file, `- name: ${playName}\n  hosts: localhost\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug:\n        msg: hello\n`);
    const r = await run("ansible-playbook", ["-i", "localhost,", "-c", "local", file], {
      env: { ...server.env, ANSIBLE_CALLBACK_PLUGINS: callbacks, ANSIBLE_NOCOLOR: "1" },
      timeout: 120_000,
    });
    // Ara's own callback on this ansible-core line: no deprecation, no warning.
    assert.deepEqual(unexpectedWarnings(r.stdout + r.stderr), [], r.stdout + r.stderr);
    const res = await araApi(server, "GET", `plays?name=${encodeURIComponent(playName)}`);
    const play = (res.body as { results: { uuid: string; playbook: number; name: string }[] }).results.find((p) => p.name === playName);
    assert.ok(play, `Ara's callback recorded the play "${playName}"`);
    return { uuid: play.uuid, playbook: play.playbook, file };
  }

  async function linkOn(playbook: number, key: string): Promise<Link | undefined> {
    const res = await araApi(server, "GET", `records?playbook=${playbook}&key=${encodeURIComponent(key)}`);
    const row = (res.body as { results: { id: number }[] }).results[0];
    if (!row) return undefined;
    return ((await araApi(server, "GET", `records/${row.id}`)).body as { value: Link }).value;
  }

  before(async () => {
    server = await startAra();
    console.log(`# ara server ${server.http} up in ${server.startMs} ms`);
    dir = mkdtempSync(path.join(tmpdir(), "lrt-ara-link-"));
    callbacks = (await run(PYTHON, ["-m", "ara.setup.callback_plugins"], { env: server.env })).stdout.trim();
  });
  after(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("start in one run, resume in another: each run's playbook shows the job, with the ledger record", async () => {
    const first = await runPlaybook("start backup");
    const id = { namespace: "default", host: "web1", name: "backup" };

    // The play step that starts the job (what the bridge does, with the play uuid it knows).
    const s1 = makeAraStore(`${server.storeUrl}?ledger=links`, { play_id: first.uuid, playbook: first.file }, {});
    const ledger1 = new Ledger(s1);
    const claim = await ledger1.claim(id, { play_id: first.uuid, playbook: first.file }, {}, 300);
    assert.equal(claim.claimed, true);
    let link = await linkOn(first.playbook, "ansible_job:backup@web1");
    assert.equal(link?.status, "starting");
    await ledger1.recordLaunch(id, claim.record.claim_token ?? undefined, {
      ansible_job_id: "j123456789.4242",
      started: 1,
      finished: 0,
      results_file: "/root/.ansible_async/j123456789.4242",
    });
    link = await linkOn(first.playbook, "ansible_job:backup@web1");
    assert.equal(link?.status, "running");
    assert.equal(link?.jid, "j123456789.4242");
    assert.equal(link?.play_id, first.uuid);
    assert.equal(link?.ledger_playbook, await s1.ledgerId());
    assert.deepEqual(s1.warnings, []);

    // The link leads to the job's current record in the ledger, in the API and the web UI.
    const rec = (await (await fetch(link!.record_api)).json()) as { value: { value: { status: string; jid: string } } };
    assert.equal(rec.value.value.status, "running");
    const ui = await (await fetch(`${server.http}/playbooks/${first.playbook}.html`)).text();
    assert.match(ui, /ansible_job:backup@web1/, "the run's playbook page in Ara's UI lists the job");
    assert.equal((await fetch(link!.record)).status, 200);

    // A later playbook resumes (checks) the job: its playbook gets the link too.
    const second = await runPlaybook("check backup");
    const s2 = makeAraStore(`${server.storeUrl}?ledger=links`, {}, {});
    s2.setContext({ play_id: second.uuid });
    await new Ledger(s2).setStatus(id, "succeeded", null);
    assert.equal((await linkOn(second.playbook, "ansible_job:backup@web1"))?.status, "succeeded");
    assert.equal((await linkOn(first.playbook, "ansible_job:backup@web1"))?.status, "running", "the start run keeps what it saw");
  });

  test("namespaced jobs get namespaced link keys", async () => {
    const run1 = await runPlaybook("namespaced");
    const s = makeAraStore(`${server.storeUrl}?ledger=links`, { play_id: run1.uuid }, {});
    await new Ledger(s).claim({ namespace: "nightly", host: "db1", name: "vacuum" }, { play_id: run1.uuid }, {}, 300);
    assert.equal((await linkOn(run1.playbook, "ansible_job:nightly/vacuum@db1"))?.status, "starting");
  });

  test("without Ara's callback (no such play) the store works the same, without links or warnings", async () => {
    const before = (await araApi(server, "GET", "records?limit=1")).body as { count: number };
    const s = makeAraStore(`${server.storeUrl}?ledger=nolink`, { play_id: "02fc0000-0001-0000-0000-00000000abcd" }, {});
    const id = { namespace: "default", host: "web2", name: "report" };
    const claim = await new Ledger(s).claim(id, { play_id: "02fc0000-0001-0000-0000-00000000abcd" }, {}, 300);
    assert.equal(claim.claimed, true);
    assert.equal((await new Ledger(s).head(id))?.record.status, "starting");
    assert.deepEqual(s.warnings, []);
    const links = await araApi(server, "GET", `records?key=${encodeURIComponent("ansible_job:report@web2")}`);
    assert.equal((links.body as { count: number }).count, 0);
    // A play id that is not a uuid at all is ignored the same way.
    const s2 = makeAraStore(`${server.storeUrl}?ledger=nolink`, { play_id: "not-a-uuid" }, {});
    await s2.create(["heads", "default", "web3", "x"], { namespace: "default", name: "x", host: "web3", play_id: "not-a-uuid" });
    assert.deepEqual(s2.warnings, []);
    assert.ok(((await araApi(server, "GET", "records?limit=1")).body as { count: number }).count > before.count);
  });
});
