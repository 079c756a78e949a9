/**
 * The earlier save/load roles' layout (src/stores/earlier.ts) and its import into the ledger.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import { Operations } from "../../src/bridge/ops.js";
import { JOB_STORE_OPTIONS } from "../../src/bridge/spec.js";
import { isCode } from "../../src/engine/errors.js";
import { Ledger } from "../../src/engine/ledger.js";
import { coerceTo } from "../../src/engine/options.js";
import { validateRecord } from "../../src/engine/record.js";
import { listEarlierJobs, readEarlierJob } from "../../src/stores/earlier.js";
import { MemoryStore } from "../helpers/memory-store.js";

function earlierFile(root: string, host: string, play: string, job: string, body: unknown): string {
  const dir = path.join(root, host, play);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${job}.json`);
  writeFileSync(file, typeof body === "string" ? body : JSON.stringify(body));
  return file;
}

describe("the earlier roles' state layout", () => {
  const root = mkdtempSync(path.join(tmpdir(), "earlier-"));
  after(() => rmSync(root, { recursive: true, force: true }));
  const meta = { ticket: "CHG-1", owner: { team: "db" } };
  const good = earlierFile(root, "web1", "Nightly backup", "backup", {
    job_name: "backup",
    host: "web1",
    ansible_job_id: "j123456789.4242",
    save_time: "2026-11-30T10:00:00Z",
    metadata: meta,
  });
  earlierFile(root, "web2", "Nightly backup", "backup", { job_name: "backup", host: "web2", ansible_job_id: "j2.1", save_time: "2026-11-30T10:00:01Z" });
  earlierFile(root, "web1", "other play", "broken", "{not json");
  earlierFile(root, "web1", "other play", "liar", { job_name: "other", host: "web1", ansible_job_id: "j3.1", save_time: "2026-11-30T10:00:00Z" });
  // the new store's own directories at the same root are never read as earlier state
  earlierFile(root, "heads", "default", "x", { ansible_job_id: "j9.9", save_time: "2026-11-30T10:00:00Z" });

  test("one job is read from <dir>/<host>/<playbook_name>/<job_name>.json, every field kept", () => {
    const j = readEarlierJob(root, "web1", "Nightly backup", "backup");
    assert.deepEqual(j, {
      job_name: "backup",
      host: "web1",
      playbook_name: "Nightly backup",
      ansible_job_id: "j123456789.4242",
      save_time: "2026-11-30T10:00:00.000Z",
      metadata: meta,
      path: good,
    });
    assert.equal(readEarlierJob(root, "web1", "Nightly backup", "absent"), undefined);
    assert.equal(readEarlierJob(root, "web1", "..", "backup"), undefined);
  });

  test("listing finds every job and names each unusable file", () => {
    const { jobs, errors } = listEarlierJobs(root);
    assert.deepEqual(jobs.map((j) => `${j.host}/${j.playbook_name}/${j.job_name}`), ["web1/Nightly backup/backup", "web2/Nightly backup/backup"]);
    assert.equal(errors.length, 2);
    assert.match(errors.join("\n"), /broken\.json: not a state file of the earlier save\/load roles \(invalid JSON/);
    assert.match(errors.join("\n"), /liar\.json: .*job_name "other" does not match the file name "liar"/);
    assert.throws(() => listEarlierJobs(path.join(root, "nope")), (e) => isCode(e, "not_found") && /no such directory/.test(e.message));
  });

  test("import: a running record in namespace = playbook_name, idempotent, a later job kept, the file untouched", async () => {
    const ledger = new Ledger(new MemoryStore());
    const before = readFileSync(good, "utf8");
    const job = readEarlierJob(root, "web1", "Nightly backup", "backup")!;
    const a = await ledger.importEarlier(job);
    assert.equal(a.outcome, "imported");
    const rec = validateRecord(a.record, "test");
    assert.equal(rec.namespace, "Nightly backup");
    assert.equal(rec.status, "running");
    assert.equal(rec.jid, "j123456789.4242");
    assert.equal(rec.results_file, null);
    assert.equal(rec.started_at, "2026-11-30T10:00:00.000Z");
    assert.deepEqual(rec.metadata, meta);
    assert.equal((await ledger.byJid("Nightly backup", "web1", "j123456789.4242"))?.record.id, rec.id);
    assert.equal((await ledger.importEarlier(job)).outcome, "already");
    assert.equal((await ledger.importEarlier({ ...job, ansible_job_id: "j1.1" })).outcome, "kept");
    assert.equal(readFileSync(good, "utf8"), before);
  });

  test("job_store load reads through: a job only in the earlier layout is imported, then found", async () => {
    const ledger = new Ledger(new MemoryStore());
    const args = coerceTo(JOB_STORE_OPTIONS, { op: "load", name: "backup", namespace: "Nightly backup", earlier_state: root });
    const out = await new Operations(ledger, args, {}).forHost("web1", {});
    assert.equal(out.found, true);
    assert.equal(out.job?.jid, "j123456789.4242");
    assert.deepEqual(out.job?.metadata, meta);
    const none = await new Operations(ledger, { ...args, name: "absent" }, {}).forHost("web1", {});
    assert.equal(none.found, false);
  });

  test("metadata is bounded and checked on save", async () => {
    const ledger = new Ledger(new MemoryStore());
    const save = (metadata: unknown) =>
      new Operations(ledger, coerceTo(JOB_STORE_OPTIONS, { op: "save", name: "m", metadata, result: { ansible_job_id: "j5.5", started: 1, finished: 0 } }), {}).forHost("h", {});
    assert.deepEqual((await save({ a: 1 })).job?.metadata, { a: 1 });
    await assert.rejects(save({ big: "x".repeat(9000) }), (e) => isCode(e, "invalid_argument") && /^metadata: is \d+ characters of JSON \(max 8192\)/.test(e.message));
  });
});
