/**
 * Playbooks written for the earlier rstyczynski.ansible save/load roles (test/integration/compat/:
 * load by name, start when not found, save the jid, async_status), unchanged, on real podman
 * hosts: reruns while running and after the end, equal job names in two playbooks, metadata, a
 * `hosts: localhost` play, a crash reported `lost`, and state left in the earlier layout.
 */
import assert from "node:assert/strict";
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { sleep } from "../../src/engine/clock.js";
import { COLL, heads, playbook, tempDir } from "../helpers/ansible.js";
import { cli, ensureBuilt } from "../cli/helpers.js";
import { type Hosts, countProcs, hostCtl, podmanHosts } from "../helpers/hosts.js";
import { startMoto } from "../helpers/moto.js";

const DIR = path.join(import.meta.dirname, "compat");

/** "EARLIER host found=... status=... jid=... finished=... meta={...} state_file=..." lines, by host. */
function said(out: string): Record<string, Record<string, string>> {
  const res: Record<string, Record<string, string>> = {};
  for (const m of out.matchAll(/"msg": "EARLIER (\S+) (.*)"/g)) {
    const fields: Record<string, string> = {};
    for (const f of m[2]!.matchAll(/(\w+)=(\{.*?\}|\S+)/g)) fields[f[1]!] = f[2]!.replace(/\\"/g, '"');
    res[m[1]!] = fields;
  }
  return res;
}

describe("playbooks of the earlier save/load roles, unchanged", () => {
  let hosts: Hosts;
  let state: string;
  const earlier = (file: string, vars: Record<string, unknown>, inventory?: string) =>
    playbook(path.join(DIR, file), { inventory: inventory ?? hosts.inventory, extraVars: { state_dir: state, ...vars } });
  const rec = (ns: string, name: string, host: string) => heads(state).find((r) => r.namespace === ns && r.name === name && r.host === host);

  before(async () => {
    await ensureBuilt();
    hosts = await podmanHosts("lrt-compat", 2);
    state = path.join(tempDir("compat"), "state");
  });
  after(async () => hosts.down());

  // The backup job runs while the next tests run; "rerun after the end" checks it once it is done.
  const backup = { job: "backup", cmd: "sleep 25", meta: { ticket: "CHG-7", by: "ops" } };
  let backupStarted = 0;

  test("start, rerun while running; metadata round-trip; the same job name in another playbook", async () => {
    backupStarted = Date.now();
    const vars = backup;
    const first = await earlier("nightly.yml", vars);
    assert.equal(first.code, 0, first.out);
    const s1 = said(first.out);
    for (const h of hosts.names) {
      assert.equal(s1[h]?.found, "False", first.out);
      assert.equal(s1[h]?.finished, "False");
      assert.match(s1[h]?.state_file ?? "", new RegExp(`^${state}/heads/`));
      const r = rec("Nightly backup", "backup", h);
      assert.equal(r?.status, "running");
      assert.equal(r?.jid, s1[h]?.jid);
      assert.equal(r?.results_file, null, "saved from the jid alone");
      assert.deepEqual(r?.metadata, vars.meta);
    }

    const again = await earlier("nightly.yml", vars);
    assert.equal(again.code, 0, again.out);
    const s2 = said(again.out);
    for (const h of hosts.names) {
      assert.equal(s2[h]?.found, "True");
      assert.equal(s2[h]?.status, "running");
      assert.equal(s2[h]?.jid, s1[h]?.jid);
      assert.deepEqual(JSON.parse(s2[h]?.meta ?? "null"), vars.meta);
      assert.equal(await countProcs(h, "sleep 25"), 1, `${h}: started once`);
      // the probe found the job file from the jid, and the record keeps it
      assert.equal(rec("Nightly backup", "backup", h)?.results_file, `/root/.ansible_async/${s1[h]?.jid}`);
    }

    // Another playbook (another play name) with the same job name keeps its own job.
    const weekly = await earlier("weekly.yml", { job: "backup", cmd: "sleep 1" });
    assert.equal(weekly.code, 0, weekly.out);
    for (const h of hosts.names) {
      assert.equal(said(weekly.out)[h]?.found, "False");
      const w = rec("Weekly report", "backup", h);
      assert.ok(w?.jid && w.jid !== s1[h]?.jid, weekly.out);
      assert.equal(rec("Nightly backup", "backup", h)?.jid, s1[h]?.jid);
    }
  });

  test("a hosts: localhost play", async () => {
    const vars = { job: "local-chore", cmd: "sleep 2", meta: { where: "controller" } };
    const first = await earlier("local.yml", vars);
    assert.equal(first.code, 0, first.out);
    assert.equal(said(first.out).localhost?.found, "False", first.out);
    await sleep(2500);
    const done = await earlier("local.yml", vars);
    assert.equal(done.code, 0, done.out);
    const s = said(done.out).localhost;
    assert.equal(s?.found, "True");
    assert.equal(s?.status, "succeeded");
    assert.equal(s?.finished, "True");
    assert.deepEqual(JSON.parse(s?.meta ?? "null"), vars.meta);
    assert.equal(rec("Controller chores", "local-chore", "localhost")?.status, "succeeded");
  });

  test("state in the earlier layout is loaded (read through, files kept) and listed; ansible-jobs import moves it", async () => {
    const launched = await playbook(path.join(DIR, "launch.yml"), { inventory: hosts.inventory, extraVars: { cmd: "sleep 121" } });
    assert.equal(launched.code, 0, launched.out);
    const jids = Object.fromEntries([...launched.out.matchAll(/"msg": "JID (\S+) (\S+)"/g)].map((m) => [m[1]!, m[2]!]));
    const legacy = path.join(tempDir("compat-legacy"), "state");
    const files: Record<string, string> = {};
    for (const h of hosts.names) {
      const dir = path.join(legacy, h, "Nightly backup");
      mkdirSync(dir, { recursive: true });
      files[h] = path.join(dir, "legacy.json");
      writeFileSync(
        files[h]!,
        JSON.stringify({ job_name: "legacy", host: h, ansible_job_id: jids[h], save_time: "2026-12-01T08:00:00Z", metadata: { owner: "ops", n: 1 } }),
      );
    }
    const copy = path.join(tempDir("compat-copy"), "state");
    cpSync(legacy, copy, { recursive: true });
    const before = Object.fromEntries(hosts.names.map((h) => [h, readFileSync(files[h]!, "utf8")]));

    const r = await earlier("nightly.yml", { job: "legacy", cmd: "sleep 121", state_dir: legacy });
    assert.equal(r.code, 0, r.out);
    for (const h of hosts.names) {
      const s = said(r.out)[h];
      assert.equal(s?.found, "True", r.out);
      assert.equal(s?.status, "running");
      assert.equal(s?.jid, jids[h]);
      assert.deepEqual(JSON.parse(s?.meta ?? "null"), { owner: "ops", n: 1 });
      assert.equal(await countProcs(h, "sleep 121"), 1, "not started again");
      assert.equal(readFileSync(files[h]!, "utf8"), before[h], "the earlier file is left as it was");
    }
    const listed = await cli(["list", "-A", "--store", legacy]);
    assert.equal(listed.code, 0, listed.out);
    for (const h of hosts.names) assert.match(listed.stdout, new RegExp(`Nightly backup\\s+${h}\\s+legacy\\s+running`));
    const shown = await cli(["show", "legacy", "--host", "lrt-compat-1", "-n", "Nightly backup", "--store", legacy]);
    assert.equal(shown.code, 0, shown.out);
    assert.match(shown.stdout, /metadata\s+\{"owner":"ops","n":1\}/);
    assert.match(shown.stdout, /task\s+imported from .*\/lrt-compat-1\/Nightly backup\/legacy\.json/);

    const target = path.join(tempDir("compat-import"), "store");
    const imported = await cli(["import", copy, "--store", target]);
    assert.equal(imported.code, 0, imported.out);
    assert.equal(imported.stdout.match(/^imported /gm)?.length, 2, imported.out);
    assert.match(imported.stderr, /2 earlier job file\(s\) in .*, 2 imported into .*; the files are left in place/);
    const json = await cli(["list", "-A", "--store", target, "--json"]);
    const recs = JSON.parse(json.stdout) as { namespace: string; host: string; name: string; jid: string; started_at: string; metadata: unknown }[];
    assert.deepEqual(
      recs.map((x) => [x.namespace, x.host, x.name, x.jid, x.started_at, x.metadata]),
      hosts.names.map((h) => ["Nightly backup", h, "legacy", jids[h], "2026-12-01T08:00:00.000Z", { owner: "ops", n: 1 }]),
    );
    const twice = await cli(["import", copy, "--store", target]);
    assert.equal(twice.stdout.match(/^already /gm)?.length, 2, twice.out);
  });

  test("the earlier oci backend: OCI's S3 compatibility API (moto stands in), region and Customer Secret Key from the OCI profile", async () => {
    const moto = await startMoto();
    try {
      await moto.createBucket("lrt-oci");
      const keys = await moto.createUser("oci-user");
      await moto.enableAuth();
      const dir = tempDir("compat-oci");
      const config = path.join(dir, "config");
      const profile = (id: string, secret: string) =>
        [
          "[DEFAULT]",
          "user=ocid1.user.oc1..aaaa",
          "fingerprint=12:34",
          "key_file=/nonexistent/oci_api_key.pem",
          "region=us-ashburn-1",
          "[JOBS]",
          `customer_access_key_id=${id}`,
          `customer_secret_key=${secret}`,
          "",
        ].join("\n");
      writeFileSync(config, profile(keys.accessKeyId, keys.secretAccessKey));
      // The Oracle endpoint (https://axyzns.compat.objectstorage.us-ashburn-1.oraclecloud.com) is replaced by moto, for tests only.
      const env = { OCI_CONFIG_FILE: config, ANSIBLE_JOBS_OCI_ENDPOINT: moto.endpoint, AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "" };
      const vars = { job: "oci-job", cmd: "sleep 2", bucket: "lrt-oci", oci_namespace: "axyzns", oci_profile: "JOBS" };
      const oci = (v: Record<string, unknown>) => playbook(path.join(DIR, "oci.yml"), { inventory: hosts.inventory, extraVars: v, env });
      const first = await oci(vars);
      assert.equal(first.code, 0, first.out);
      for (const h of hosts.names) {
        assert.equal(said(first.out)[h]?.found, "False", first.out);
        assert.equal(said(first.out)[h]?.state_file, "oci://axyzns@us-ashburn-1/lrt-oci");
      }
      await sleep(2500);
      const again = await oci(vars);
      assert.equal(again.code, 0, again.out);
      for (const h of hosts.names) {
        assert.equal(said(again.out)[h]?.status, "succeeded", again.out);
        assert.deepEqual(JSON.parse(said(again.out)[h]?.meta ?? "null"), { ticket: "CHG-9" });
      }
      const listed = await cli(["list", "-A", "--store", "oci://axyzns/lrt-oci"], { env: { ...env, OCI_CLI_PROFILE: "JOBS" } });
      assert.equal(listed.code, 0, listed.out);
      assert.match(listed.stdout, /Nightly backup\s+lrt-compat-1\s+oci-job\s+succeeded/);
      // A profile with only API signing keys: the message says what to create, and where.
      const apiOnly = await oci({ ...vars, oci_profile: "DEFAULT" });
      assert.equal(apiOnly.code, 2, apiOnly.out);
      assert.match(apiOnly.out, /profile \[DEFAULT\] in \S+config has only API signing keys \(key_file, fingerprint\).*Create a Customer Secret Key \(OCI Console: Profile menu > My profile > Customer secret keys/);
      writeFileSync(config, profile(keys.accessKeyId, "wrong-secret"));
      const wrong = await oci(vars);
      assert.equal(wrong.code, 2, wrong.out);
      assert.match(wrong.out, /oci store oci:\/\/axyzns@us-ashburn-1\/lrt-oci \(endpoint http:\/\/127\.0\.0\.1:\d+\): wrong credentials: the secret access key does not match/);
    } finally {
      await moto.stop();
    }
  });

  test("the collection README's example of the earlier pattern runs as written, twice", async () => {
    const text = readFileSync(path.join(COLL, "README.md"), "utf8");
    const yaml = /```yaml\n# earlier example\n([\s\S]*?)```/.exec(text)?.[1];
    assert.ok(yaml, "the README has the earlier example");
    const cwd = tempDir("compat-readme");
    writeFileSync(path.join(cwd, "nightly.yml"), `---\n${yaml}`);
    const go = () => playbook(path.join(cwd, "nightly.yml"), { inventory: hosts.inventory, cwd, env: { ANSIBLE_JOBS_STORE: "" } });
    const first = await go();
    assert.equal(first.code, 0, first.out);
    // the earlier default state_dir, .ansible_async_state, in the directory ansible-playbook runs in
    const saved = heads(path.join(cwd, ".ansible_async_state")).filter((r) => r.name === "backup");
    assert.deepEqual(saved.map((r) => [r.namespace, r.status, r.metadata]), hosts.names.map(() => ["Nightly backup", "running", { ticket: "CHG-7" }]));
    const second = await go();
    assert.equal(second.code, 0, second.out);
    assert.match(second.out, /TASK \[Start the backup when it is not found\] \*+\nskipping: \[lrt-compat-\d\]\nskipping: \[lrt-compat-\d\]/);
    const again = heads(path.join(cwd, ".ansible_async_state")).filter((r) => r.name === "backup");
    assert.deepEqual(again.map((r) => [r.attempt, r.jid]), saved.map((r) => [1, r.jid]));
  });

  test("rerun after the end: the earlier pattern finds the job succeeded and starts nothing", async () => {
    assert.ok(backupStarted > 0, "the first test started the job");
    const vars = backup;
    await sleep(Math.max(0, 26_500 - (Date.now() - backupStarted)));
    const done = await earlier("nightly.yml", vars);
    assert.equal(done.code, 0, done.out);
    const s3 = said(done.out);
    for (const h of hosts.names) {
      assert.equal(s3[h]?.found, "True");
      assert.equal(s3[h]?.status, "succeeded");
      assert.equal(s3[h]?.finished, "True");
      assert.equal(await countProcs(h, "sleep 25"), 0);
      assert.equal(rec("Nightly backup", "backup", h)?.attempt, 1, "nothing started again");
    }
  });

  test("a crash: async_job_load_status is lost on the first check after the host comes back", async () => {
    const vars = { job: "crashy", cmd: "sleep 300" };
    assert.equal((await earlier("nightly.yml", vars)).code, 0);
    await hostCtl("kill", "lrt-compat-1");
    await hostCtl("start", "lrt-compat-1");
    const r = await earlier("nightly.yml", vars);
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /job \\"crashy\\" \(jid \S+\) on lrt-compat-1 is lost: host restarted after the job began/);
    assert.equal(rec("Nightly backup", "crashy", "lrt-compat-1")?.status, "lost");
    assert.equal(said(r.out)["lrt-compat-2"]?.status, "running");
    // The earlier playbook can handle it itself once lost no longer fails the host.
    const handled = await earlier("nightly.yml", { ...vars, async_job_load_fail_on: [] });
    assert.equal(handled.code, 0, handled.out);
    assert.equal(said(handled.out)["lrt-compat-1"]?.status, "lost");
    assert.equal(said(handled.out)["lrt-compat-1"]?.found, "True");
  });

  test("mixing the two interfaces in one call names both variables; a record for another host is refused", async () => {
    const r = await playbook(path.join(DIR, "mixed.yml"), { inventory: hosts.inventory });
    assert.equal(r.code, 2, r.out);
    assert.match(
      r.out,
      /async_job_load: async_job_load_name \(current interface\) and async_job_load_job_name \(earlier interface\) cannot be mixed in one call; use one interface/,
    );
    assert.match(r.out, /async_job_save: async_job_save_host is elsewhere but this host is lrt-compat-1: a job is saved for, and later checked on, the host that ran its async task; pass inventory_hostname/);
    assert.doesNotMatch(r.out, /Traceback/);
    assert.match(
      r.out,
      /async_job_save: async_job_save_name \(current interface\) and async_job_save_job_name \(earlier interface\) cannot be mixed in one call; use one interface/,
    );
  });
});
