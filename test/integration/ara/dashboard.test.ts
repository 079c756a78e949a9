/**
 * ansible-jobs serve over an Ara store: the API lists the ledger's jobs, and a job's page links
 * to the run (the playbook page in Ara's UI) that holds the play which wrote the record. The
 * play is recorded by a real ansible-playbook run with Ara's callback.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { Ledger } from "../../../src/engine/ledger.js";
import type { JobRecord } from "../../../src/engine/record.js";
import { makeAraStore } from "../../../src/stores/ara.js";
import { ensureBuilt } from "../../cli/helpers.js";
import { type AraServer, PYTHON, araApi, startAra } from "../../helpers/ara.js";
import { type Dashboard, get, startDashboard } from "../../helpers/dashboard.js";

const run = promisify(execFile);

describe("ansible-jobs serve over an Ara store", () => {
  let server: AraServer;
  let dir: string;
  let d: Dashboard;
  let playbookId: number;
  const storeUrl = () => `${server.storeUrl}?ledger=dash`;

  before(async () => {
    await ensureBuilt();
    server = await startAra();
    dir = mkdtempSync(path.join(tmpdir(), "lrt-ara-dash-"));
    const callbacks = (await run(PYTHON, ["-m", "ara.setup.callback_plugins"], { env: server.env })).stdout.trim();
    const file = path.join(dir, "nightly.yml");
    writeFileSync(file, "- name: nightly backup\n  hosts: localhost\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug:\n        msg: hello\n");
    await run("ansible-playbook", ["-i", "localhost,", "-c", "local", file], {
      env: { ...server.env, ANSIBLE_CALLBACK_PLUGINS: callbacks, ANSIBLE_NOCOLOR: "1" },
      timeout: 120_000,
    });
    const plays = (await araApi(server, "GET", "plays?name=nightly%20backup")).body as { results: { uuid: string; playbook: number }[] };
    const play = plays.results[0]!;
    playbookId = play.playbook;
    const s = makeAraStore(storeUrl(), { play_id: play.uuid, playbook: file }, {});
    const ledger = new Ledger(s);
    const id = { namespace: "default", host: "db1", name: "backup [0]" };
    const c = await ledger.claim(id, { play_id: play.uuid, playbook: file, play: "nightly backup", task: "Back up" }, {}, 300);
    await ledger.recordLaunch(id, c.record.claim_token ?? undefined, { ansible_job_id: "j1.2", started: 1, finished: 0, results_file: "/r/j1.2" });
    // A record whose play Ara does not know: no link.
    await ledger.claim({ namespace: "default", host: "db2", name: "orphan" }, { play_id: "02fc0000-0001-0000-0000-00000000abcd" }, {}, 300);
    await s.close?.();
    d = await startDashboard(["--store", storeUrl()], { env: server.env });
  });
  after(async () => {
    await d?.stop();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("the API lists the Ara ledger's jobs", async () => {
    const r = await get(`${d.url}api/jobs`);
    assert.equal(r.status, 200, r.body);
    const page = r.json() as { store: string; jobs: JobRecord[]; errors: string[] };
    assert.deepEqual(page.jobs.map((j) => `${j.host}/${j.name}:${j.status}`), ["db1/backup [0]:running", "db2/orphan:starting"]);
    assert.deepEqual(page.errors, []);
    assert.match(page.store, /^ara\+http:\/\/127\.0\.0\.1:\d+/);
  });

  test("a job's page links to the playbook run in Ara's UI that holds its play", async () => {
    const r = await get(`${d.url}api/jobs/default/db1/${encodeURIComponent("backup [0]")}`);
    assert.equal(r.status, 200, r.body);
    const body = r.json() as { ara: { play_url: string } | null };
    assert.equal(body.ara?.play_url, `${server.http}/playbooks/${playbookId}.html`);
    const ui = await fetch(body.ara!.play_url);
    assert.equal(ui.status, 200);
    const title = /<title>([^<]*)<\/title>/.exec(await ui.text())?.[1];
    assert.match(title ?? "", new RegExp(`^ara \\| Playbook #${playbookId}: .*/nightly\\.yml`), "Ara's page of that run");
    const orphan = (await get(`${d.url}api/jobs/default/db2/orphan`)).json() as { ara: unknown };
    assert.equal(orphan.ara, null);
  });
});
