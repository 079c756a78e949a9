/**
 * Store faults on the real servers, injected by a loopback fault proxy (helpers/fault-proxy.ts)
 * between ansible-playbook's engine and moto (S3) or the Ara server, with the long_running_task
 * role on a podman host:
 *
 * - "the store fails right after the launch": the write that records the launch is answered
 *   500, or reset, on every attempt. The play names the jid and the host; a later check or
 *   start adopts the job through its claim token and nothing is launched twice.
 * - "the store answers the write, but the answer is lost", for the claim write and for the
 *   launch record: once (the stores' retries find their own write: the user sees nothing; S3
 *   re-sends the PUT and recognises its own bytes behind the 412, Ara looks its version record
 *   up by a nonce), and followed by the store going away (the user sees the failure; the ledger
 *   ends consistent after a later run).
 * A single 500 or reset is hidden by the same retries (S3: 3 attempts, Ara: 4 per version
 * POST), so the "fails" cases break every attempt, and count them.
 *
 * Everything asserted is what a user sees: exit codes, messages, the store's records (read
 * straight from the server, past the proxy), the job's processes and job files on the host.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { Ledger } from "../../src/engine/ledger.js";
import type { JobRecord } from "../../src/engine/record.js";
import { openStore } from "../../src/stores/open.js";
import type { Store } from "../../src/stores/types.js";
import { REPO, type RunResult, playbook } from "../helpers/ansible.js";
import { type AraServer, startAra } from "../helpers/ara.js";
import { type FaultProxy, type FaultRule, startFaultProxy } from "../helpers/fault-proxy.js";
import { type Hosts, countProcs, inHost, podmanHosts } from "../helpers/hosts.js";
import { type Moto, startMoto, useTestAwsEnv } from "../helpers/moto.js";

const LRT = path.join(REPO, "test", "integration", "roles", "lrt.yml");
const JID = /The job WAS launched and keeps running: jid (j\d+\.\d+), job file \/root\/\.ansible_async\/(j\d+\.\d+)/;

type Match = Omit<FaultRule, "fault">;

interface Backend {
  kind: "s3" | "ara";
  /** The store URL the playbooks use: through the proxy. */
  url: () => string;
  proxy: () => FaultProxy;
  /** A store opened straight on the server (past the proxy), for reading records. */
  direct: () => Promise<Store>;
  /** The request that writes the claim (the head's first version) of a new name. */
  claimWrite: (host: string, name: string) => Match;
  /** The request that records the launch (the head's second version). */
  launchWrite: (host: string, name: string) => Match;
  /** How many times the store sends a write that keeps failing (its own retries). */
  writeAttempts: number;
  /** What the user reads when every attempt of a write is answered 500, or reset. */
  failed500: RegExp;
  failedReset: RegExp;
}

/** The job files (~/.ansible_async/jNNN.NNN) on a host. */
async function jobFiles(host: string): Promise<string[]> {
  const out = await inHost(host, "import os, re\nd = '/root/.ansible_async'\nprint(' '.join(sorted(n for n in (os.listdir(d) if os.path.isdir(d) else []) if re.match(r'^j\\d+\\.\\d+$', n))))");
  return out ? out.split(" ") : [];
}

function faultSuite(title: string, backend: Backend, hostsOf: () => Hosts) {
  describe(title, () => {
    const host = () => hostsOf().names[0]!;
    // Each test's job is `sleep N` with its own N, also across the two stores (one host).
    const SECS = backend.kind === "s3" ? 310 : 410;
    const lrt = (vars: Record<string, unknown>) =>
      playbook(LRT, { inventory: hostsOf().inventory, extraVars: { long_running_task_store: backend.url(), target: host(), ...vars } });
    const attempts = async (name: string): Promise<JobRecord[]> => {
      const store = await backend.direct();
      try {
        const res = await new Ledger(store).history({ namespace: "default", host: host(), name });
        assert.deepEqual(res.errors, [], "every record passes validation");
        return res.records;
      } finally {
        await store.close?.();
      }
    };
    const headOf = async (name: string) => (await attempts(name)).at(-1);
    /** Starts `name` running `sleep SECONDS` with one rule active; returns the run and the job files it added. */
    const startWith = async (name: string, seconds: number, rule: FaultRule | undefined, vars: Record<string, unknown> = {}) => {
      const before = await jobFiles(host());
      const handle = rule ? backend.proxy().add(rule) : undefined;
      let r: RunResult;
      try {
        r = await lrt({ long_running_task_name: name, long_running_task_command: `sleep ${seconds}`, ...vars });
      } finally {
        handle?.remove();
        backend.proxy().heal();
      }
      if (rule) assert.ok(handle!.fired.length > 0, `the fault "${rule.label}" hit a request:\n${r.out.slice(-3000)}`);
      const added = (await jobFiles(host())).filter((f) => !before.includes(f));
      return { r, added, fired: handle?.fired.length ?? 0 };
    };
    const launchedOnce = async (seconds: number, jid: string, added: string[]) => {
      assert.equal(await countProcs(host(), `sleep ${seconds}`), 1, "the job runs, once");
      assert.deepEqual(added, [jid], "one job file on the host: the launched job's");
    };

    test("the launch record answered 500 on every attempt: the jid and host are reported, a later check adopts the job", async () => {
      const name = `${backend.kind}-rec500`;
      const { r, added, fired } = await startWith(name, SECS + 1, { label: "launch record 500", ...backend.launchWrite(host(), name), fault: "status", status: 500 });
      assert.equal(r.code, 2, r.out);
      assert.equal(fired, backend.writeAttempts, "the store retried the write, and every attempt failed");
      assert.match(r.out, backend.failed500);
      assert.match(r.out, new RegExp(`fatal: \\[${host()}\\]`));
      const m = JID.exec(r.out);
      assert.ok(m, `the jid is reported:\n${r.out.slice(-3000)}`);
      const jid = m[1]!;
      assert.equal(m[2], jid);
      await launchedOnce(SECS + 1, jid, added);
      const claimed = await headOf(name);
      assert.equal(claimed?.status, "starting", "the record still holds the claim");
      assert.equal(claimed?.jid, null);

      const filesBefore = await jobFiles(host());
      const check = await lrt({ long_running_task_name: name, long_running_task_mode: "check" });
      assert.equal(check.code, 0, check.out);
      assert.match(check.out, new RegExp(`STATUS ${host()} running ${jid.replace(".", "\\.")}`));
      const all = await attempts(name);
      assert.deepEqual(
        all.map((a) => [a.attempt, a.status, a.jid, a.claim_token === claimed?.claim_token]),
        [[1, "running", jid, true]],
        "adopted through its claim token, no new attempt",
      );
      assert.deepEqual(await jobFiles(host()), filesBefore, "the check launched nothing");
      assert.equal(await countProcs(host(), `sleep ${SECS + 1}`), 1);
    });

    test("the launch record reset on every attempt: the jid and host are reported, a later start adopts the job and launches nothing", async () => {
      const name = `${backend.kind}-recreset`;
      const { r, added, fired } = await startWith(name, SECS + 2, { label: "launch record reset", ...backend.launchWrite(host(), name), fault: "reset" });
      assert.equal(r.code, 2, r.out);
      assert.equal(fired, backend.writeAttempts, "the store retried the write, and every attempt failed");
      assert.match(r.out, backend.failedReset);
      const m = JID.exec(r.out);
      assert.ok(m, `the jid is reported:\n${r.out.slice(-3000)}`);
      const jid = m[1]!;
      await launchedOnce(SECS + 2, jid, added);

      const again = await startWith(name, SECS + 2, undefined);
      assert.equal(again.r.code, 0, again.r.out);
      assert.match(again.r.out, new RegExp(`STATUS ${host()} running ${jid.replace(".", "\\.")}`));
      assert.deepEqual(again.added, [], "the second start launched nothing");
      assert.equal(await countProcs(host(), `sleep ${SECS + 2}`), 1);
      assert.deepEqual((await attempts(name)).map((a) => [a.attempt, a.status, a.jid]), [[1, "running", jid]]);
    });

    test("the claim write lands but its answer is lost once: the store's retry finds its own write, the user sees a normal start", async () => {
      const name = `${backend.kind}-claimlost`;
      const { r, added, fired } = await startWith(name, SECS + 3, { label: "claim answer lost", ...backend.claimWrite(host(), name), nth: 1, fault: "lose-answer" });
      assert.equal(fired, 1);
      assert.equal(r.code, 0, r.out);
      assert.doesNotMatch(r.out, /fatal:|\[WARNING\]/);
      const rec = await headOf(name);
      assert.equal(rec?.status, "running");
      assert.equal(rec?.attempt, 1);
      await launchedOnce(SECS + 3, rec!.jid!, added);
    });

    test("the claim write lands, its answer is lost and the store goes away: the host fails, nothing is launched; a later start takes the stale claim over once", async () => {
      const name = `${backend.kind}-claimcut`;
      const proxy = backend.proxy();
      const { r, added } = await startWith(name, SECS + 4, {
        label: "claim answer lost, then the store is cut",
        ...backend.claimWrite(host(), name),
        nth: 1,
        fault: "lose-answer",
        afterFault: () => proxy.cut(),
      });
      assert.equal(r.code, 2, r.out);
      assert.match(r.out, new RegExp(`fatal: \\[${host()}\\]: FAILED!.*${backend.kind} store`));
      assert.doesNotMatch(r.out, /WAS launched|Traceback|\.cjs:\d+/);
      assert.deepEqual(added, [], "nothing was launched");
      assert.equal(await countProcs(host(), `sleep ${SECS + 4}`), 0);
      const orphanClaim = await headOf(name);
      assert.equal(orphanClaim?.status, "starting", "the claim landed: it is in the store, with no jid");
      assert.equal(orphanClaim?.jid, null);

      // While the claim is fresh, a start does not take it over (another controller might be launching).
      const blocked = await startWith(name, SECS + 4, undefined);
      assert.equal(blocked.r.code, 0, blocked.r.out);
      assert.match(blocked.r.out, new RegExp(`${host()}: ${name} starting \\(no jid yet, attempt 1\\)`));
      assert.deepEqual(blocked.added, []);
      // Once stale by the store's clock, the probe shows no process carries its token: taken over, launched once.
      const later = await startWith(name, SECS + 4, undefined, { long_running_task_stale_after: 1 });
      assert.equal(later.r.code, 0, later.r.out);
      assert.match(
        later.r.out,
        new RegExp(`\\[WARNING\\]: ${host()}: stale claim: job "${name}" attempt 1 \\(claimed by \\S+\\) has recorded no launch for stale_after \\(1 s\\) or more`),
      );
      const all = await attempts(name);
      assert.deepEqual(all.map((a) => [a.attempt, a.status]), [
        [1, "lost"],
        [2, "running"],
      ]);
      assert.match(all[0]!.last_error ?? "", /the claim was never launched: no process on the host carries its token/);
      await launchedOnce(SECS + 4, all[1]!.jid!, later.added);
    });

    test("the launch record lands but its answer is lost once: the store's retry finds its own write, the user sees a normal start", async () => {
      const name = `${backend.kind}-reclost`;
      const { r, added, fired } = await startWith(name, SECS + 5, { label: "launch record answer lost", ...backend.launchWrite(host(), name), nth: 1, fault: "lose-answer" });
      assert.equal(fired, 1);
      assert.equal(r.code, 0, r.out);
      assert.doesNotMatch(r.out, /fatal:|\[WARNING\]/);
      const rec = await headOf(name);
      assert.equal(rec?.status, "running");
      await launchedOnce(SECS + 5, rec!.jid!, added);
      assert.match(r.out, new RegExp(`STATUS ${host()} running ${rec!.jid!.replace(".", "\\.")}`));
    });

    test("the launch record lands, its answer is lost and the store goes away: the jid is reported; a later check finds it recorded and launches nothing", async () => {
      const name = `${backend.kind}-reccut`;
      const proxy = backend.proxy();
      const { r, added } = await startWith(name, SECS + 6, {
        label: "launch record answer lost, then the store is cut",
        ...backend.launchWrite(host(), name),
        nth: 1,
        fault: "lose-answer",
        afterFault: () => proxy.cut(),
      });
      assert.equal(r.code, 2, r.out);
      const m = JID.exec(r.out);
      assert.ok(m, `the jid is reported:\n${r.out.slice(-3000)}`);
      const jid = m[1]!;
      await launchedOnce(SECS + 6, jid, added);
      assert.deepEqual((await attempts(name)).map((a) => [a.status, a.jid]), [["running", jid]], "the write did land");

      const check = await lrt({ long_running_task_name: name, long_running_task_mode: "check" });
      assert.equal(check.code, 0, check.out);
      const again = await startWith(name, SECS + 6, undefined);
      assert.equal(again.r.code, 0, again.r.out);
      assert.deepEqual(again.added, []);
      assert.equal(await countProcs(host(), `sleep ${SECS + 6}`), 1);
      assert.deepEqual((await attempts(name)).map((a) => [a.attempt, a.status, a.jid]), [[1, "running", jid]]);
    });
  });
}

describe("store faults through a fault proxy, on a podman host", () => {
  let hosts: Hosts;
  let moto: Moto;
  let s3Proxy: FaultProxy;
  let ara: AraServer;
  let araProxy: FaultProxy;
  const S3_URL = "s3://lrt-faults/p";

  before(async () => {
    useTestAwsEnv();
    [hosts, moto, ara] = await Promise.all([podmanHosts("lrt-faults", 1), startMoto(), startAra()]);
    await moto.createBucket("lrt-faults");
    s3Proxy = await startFaultProxy(moto.endpoint);
    araProxy = await startFaultProxy(ara.http);
    // The engine that ansible-playbook runs inherits this: S3 goes through the proxy.
    process.env.AWS_ENDPOINT_URL = s3Proxy.url;
  });
  after(async () => {
    await hosts?.down();
    await s3Proxy?.close();
    await araProxy?.close();
    await moto?.stop();
    await ara?.stop();
  });

  const head = (host: string, name: string) => `heads/default/${host}/${name}`;

  faultSuite(
    "S3 (moto_server)",
    {
      kind: "s3",
      url: () => S3_URL,
      proxy: () => s3Proxy,
      direct: () => openStore(S3_URL, { s3: { endpoint: moto.endpoint } }),
      claimWrite: (h, n) => ({ method: "PUT", path: new RegExp(`/${head(h, n)}\\.json$`), headers: { "if-none-match": /^\*$/ } }),
      launchWrite: (h, n) => ({ method: "PUT", path: new RegExp(`/${head(h, n)}\\.json$`), headers: { "if-match": /./ } }),
      // s3 option retries: 2 by default, so 3 attempts.
      writeAttempts: 3,
      failed500: /s3 store s3:\/\/lrt-faults\/p \(endpoint http:\/\/127\.0\.0\.1:\d+\): server error HTTP 500 \(after 3 attempts\)/,
      failedReset: /s3 store s3:\/\/lrt-faults\/p \(endpoint http:\/\/127\.0\.0\.1:\d+\): cannot reach the endpoint: connection reset by the server \(ECONNRESET\) \(after 3 attempts\)/,
    },
    () => hosts,
  );

  faultSuite(
    "Ara",
    {
      kind: "ara",
      url: () => `ara+${araProxy.url}`,
      proxy: () => araProxy,
      direct: () => openStore(ara.storeUrl),
      claimWrite: (h, n) => ({ method: "POST", path: /^\/api\/v1\/records\/?$/, body: new RegExp(`"key":"${head(h, n)}@1"`) }),
      launchWrite: (h, n) => ({ method: "POST", path: /^\/api\/v1\/records\/?$/, body: new RegExp(`"key":"${head(h, n)}@2"`) }),
      // A version POST is tried 4 times (the store looks for its own write between tries).
      writeAttempts: 4,
      failed500: /ara store ara\+http:\/\/127\.0\.0\.1:\d+: POST http:\/\/127\.0\.0\.1:\d+\/api\/v1\/records keeps failing \(HTTP 500\)/,
      failedReset: /ara store ara\+http:\/\/127\.0\.0\.1:\d+: cannot reach http:\/\/127\.0\.0\.1:\d+\/api\/v1\/records: connection reset by the server/,
    },
    () => hosts,
  );
});
