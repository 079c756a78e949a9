/**
 * Ledger rules found by the deterministic simulation and the kill -9 trials, each pinned
 * by the smallest sequence of store calls that broke it, on the in-memory store.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Operations } from "../../src/bridge/ops.js";
import { JOB_STORE_OPTIONS } from "../../src/bridge/spec.js";
import { setClock } from "../../src/engine/clock.js";
import { isCode } from "../../src/engine/errors.js";
import { Ledger, keys } from "../../src/engine/ledger.js";
import { coerceTo } from "../../src/engine/options.js";
import type { JobRecord } from "../../src/engine/record.js";
import type { Entry } from "../../src/stores/types.js";
import { MemoryStore } from "../helpers/memory-store.js";

const ID = { namespace: "default", host: "web1", name: "backup" };
const launch = (jid: string) => ({ ansible_job_id: jid, results_file: `/root/.ansible_async/${jid}`, started: 1, finished: 0 });

test("a history copy left by a lost compare-and-swap is brought up to the head it replaces", async () => {
  // Simulation seed 2105611662 (start next to async_job_save): the saver archived the claim,
  // lost its compare-and-swap to the launch record, and its retry kept the stale copy, so the
  // launched jid ended up in no record.
  const store = new MemoryStore();
  const ledger = new Ledger(store);
  const claim = await ledger.claim(ID, {}, {}, 300);
  assert.ok(claim.claimed);
  await store.create(keys.history(ID, 1), claim.record); // the saver's first archive
  await ledger.recordLaunch(ID, claim.record.claim_token!, launch("j1.1"));
  const { record, superseded } = await ledger.recordNew(ID, {}, {}, launch("j2.2"));
  assert.equal(record.attempt, 2);
  assert.equal(superseded?.jid, "j1.1");
  const kept = (await store.get(keys.history(ID, 1)))!.value as JobRecord;
  assert.equal(kept.jid, "j1.1");
  assert.equal(kept.status, "running");
});

test("a staler copy never replaces a history copy that is further along", async () => {
  const store = new MemoryStore();
  const ledger = new Ledger(store);
  const claim = await ledger.claim(ID, {}, {}, 300);
  assert.ok(claim.claimed);
  const stale = (await ledger.head(ID))!;
  await ledger.recordLaunch(ID, claim.record.claim_token!, launch("j1.1"));
  await ledger.recordNew(ID, {}, {}, launch("j2.2")); // archives attempt 1 as running
  // a paused archiver wakes up with the head as it read it (starting): its copy loses
  await (ledger as unknown as { archive(h: typeof stale): Promise<void> }).archive(stale);
  assert.equal(((await store.get(keys.history(ID, 1)))!.value as JobRecord).jid, "j1.1");
});

test("async_job_save does not replace a claim whose launch is not recorded", async () => {
  // Simulation seeds 1633725684 and -565659014: replacing it left the start's launch in no record.
  const ledger = new Ledger(new MemoryStore());
  const claim = await ledger.claim(ID, { controller: "ctl-a" }, {}, 300);
  assert.ok(claim.claimed);
  await assert.rejects(ledger.recordNew(ID, {}, {}, launch("j9.9")), (err) => {
    assert.ok(isCode(err, "conflict"));
    assert.match((err as Error).message, /job "backup" on web1 is claimed by a start that has not recorded its launch yet \(attempt 1, by ctl-a\)/);
    assert.match((err as Error).message, /long_running_task check of "backup" settles the claim/);
    return true;
  });
  assert.equal((await ledger.head(ID))!.record.claim_token, claim.record.claim_token);
  // the same for a claim a probe found unreachable: its launch is still not recorded
  await ledger.setStatus(ID, "unreachable", "host unreachable");
  await assert.rejects(ledger.recordNew(ID, {}, {}, launch("j9.9")), /has not recorded its launch yet/);
});

test("after a prune killed before its head went, attempts go on after the history left", async () => {
  const store = new MemoryStore();
  const ledger = new Ledger(store);
  await ledger.recordNew(ID, {}, {}, { ...launch("j1.1"), finished: 1, rc: 0 });
  // a prune (or delete) killed after the head was removed but not its history copy
  await store.create(keys.history(ID, 1), (await ledger.head(ID))!.record);
  await store.delete(keys.head(ID));
  const again = await ledger.claim(ID, {}, {}, 300);
  assert.ok(again.claimed);
  assert.equal(again.record.attempt, 2);
});

test("prune removes the head last, so a prune killed half way leaves what the next one finds", async () => {
  const store = new MemoryStore();
  const deletes: string[] = [];
  const ledger = new Ledger(
    new Proxy(store, {
      get(t, p, r) {
        if (p === "delete")
          return (key: Entry["key"], v?: string) => {
            deletes.push(key[0]!);
            return t.delete(key, v);
          };
        return Reflect.get(t, p, r);
      },
    }),
  );
  await ledger.recordNew(ID, {}, {}, { ...launch("j1.1"), finished: 1, rc: 0 });
  const { pruned } = await ledger.prune({ namespace: "default", updatedBefore: new Date(Date.now() + 60_000) }, false);
  assert.equal(pruned.length, 1);
  assert.deepEqual(deletes, ["history", "jids", "heads"]);
});

test("a claim is judged stale as it was when the probe's caller loaded it, not when the evidence lands", async () => {
  // Simulation seed 1471048054: a check loaded a fresh claim, its token probe ran just before the
  // claim's launch, the controller paused past stale_after, and the evidence then made it lost
  // while the launched job ran on.
  let t = Date.parse("2030-01-01T00:00:00Z");
  const prev = setClock({ now: () => t, sleep: async () => {} });
  try {
    const ledger = new Ledger(new MemoryStore());
    const args = (extra: Record<string, unknown>) => coerceTo(JOB_STORE_OPTIONS, { op: "update", name: ID.name, stale_after: 300, ...extra });
    const claim = await ledger.claim(ID, {}, {}, 300);
    assert.ok(claim.claimed);
    const loaded = await new Operations(ledger, args({ op: "load" }), {}).forHost(ID.host, {});
    assert.equal(loaded.claim_stale, false);
    const gone = { state: "gone", jid: null, results_file: null, invocation: { module_args: { jid: null, claim_token: claim.record.claim_token } } };
    t += 301_000; // the pause
    const update = new Operations(ledger, args({ probe_var: "__job_probe", loaded_var: "__job_loaded" }), {});
    const kept = await update.forHost(ID.host, { probe: gone, loaded: { hosts: { [ID.host]: loaded } } });
    assert.equal(kept.status, "starting");
    // A later check that loads the claim once it is stale, and probes after that, may call it lost.
    const late = await new Operations(ledger, args({ op: "load" }), {}).forHost(ID.host, {});
    assert.equal(late.claim_stale, true);
    const lost = await update.forHost(ID.host, { probe: gone, loaded: { hosts: { [ID.host]: late } } });
    assert.equal(lost.status, "lost");
    assert.match(String(lost.job?.last_error), /the claim was never launched/);
  } finally {
    setClock(prev);
  }
});

test("a check whose job is started again while it runs reports the new attempt, and neither fails the host nor touches it", async () => {
  // Seen in a podman run (stop 17): a check failed its host with "moved on to attempt 2 while
  // this one was checked" when another controller restarted the job between the check's read
  // and its write.
  const store = new MemoryStore();
  const ledger = new Ledger(store);
  const first = await ledger.claim(ID, { controller: "ctl-a" }, {}, 300);
  assert.ok(first.claimed);
  await ledger.recordLaunch(ID, first.record.claim_token!, launch("j1.1"));
  let raced = false;
  store.hook = async (call) => {
    if (raced || call.op !== "update" || call.key[0] !== "heads") return undefined;
    raced = true; // the other controller's own calls pass
    const other = new Ledger(store);
    await other.setStatus(ID, "succeeded", null);
    assert.ok((await other.claim(ID, { controller: "ctl-b" }, {}, 300)).claimed);
    return undefined;
  };
  const running = { state: "running", jid: "j1.1", finished: 0, invocation: { module_args: { jid: "j1.1" } } };
  const args = coerceTo(JOB_STORE_OPTIONS, { op: "update", name: ID.name, probe_var: "__probe", stale_after: 300 });
  const answer = await new Operations(ledger, args, {}).forHost(ID.host, { probe: running });
  assert.ok(raced, "the restart happened between the check's read and its write");
  assert.ok(!answer.failed, answer.msg);
  assert.equal(answer.changed, false);
  assert.equal(answer.job?.attempt, 2);
  assert.equal(answer.status, "starting");
  assert.equal(answer.msg, `job "${ID.name}" on ${ID.host}: attempt 1 was followed by attempt 2 while it was checked; the new attempt is reported`);
  const head = (await ledger.head(ID))!.record;
  assert.deepEqual([head.attempt, head.status, head.controller, head.checked_at], [2, "starting", "ctl-b", null], "the new attempt is as its claim left it");
});

test("a start that finds a stale claim says what it is: the attempt, who claimed it, for how long no launch was recorded", async () => {
  let t = Date.parse("2030-01-01T00:00:00Z");
  const prev = setClock({ now: () => t, sleep: async () => {} });
  try {
    const ledger = new Ledger(new MemoryStore());
    const claim = (extra: Record<string, unknown> = {}) =>
      new Operations(ledger, coerceTo(JOB_STORE_OPTIONS, { op: "save", claim: true, name: ID.name, stale_after: 300, ...extra }), {}).forHost(ID.host, {});
    assert.ok((await ledger.claim(ID, { controller: "ctl-a" }, {}, 300)).claimed);
    const fresh = await claim();
    assert.equal(fresh.claimed, false);
    assert.equal(fresh.warnings, undefined, "a fresh claim may be launching right now: no warning");
    t += 301_000;
    const stale = await claim();
    assert.equal(stale.claimed, false);
    assert.equal(stale.claim_stale, true);
    assert.deepEqual(stale.warnings, [
      `stale claim: job "${ID.name}" attempt 1 (claimed by ctl-a) has recorded no launch for stale_after (300 s) or more; only a probe by its claim token can tell whether that launch ran`,
    ]);
  } finally {
    setClock(prev);
  }
});

test("one decision for a launch already made: a save adopts, a replay leaves it, each reads the jid index and the head once", async () => {
  const store = new MemoryStore();
  const ledger = new Ledger(store);
  const calls: string[] = [];
  store.hook = (c) => {
    calls.push(`${c.op} ${c.key[0]}`);
    return undefined;
  };
  const counted = async <T>(fn: () => Promise<T>): Promise<[T, string[]]> => {
    calls.length = 0;
    const out = await fn();
    return [out, calls.filter((c) => c.startsWith("get ")).sort()];
  };
  const TASK = { ...ID, name: "Long sleep" };
  const SAVED = { ...ID, name: "saved" };
  // The callback's journal replayed: a new record under the task's name.
  const [cb, cbReads] = await counted(() => ledger.recordLaunched(TASK, {}, {}, launch("j1.1"), false));
  assert.equal(cb.existing, undefined);
  assert.deepEqual(cbReads, ["get heads", "get jids"]);
  // Replayed again: nothing written, the index and the head read once.
  const [again, againReads] = await counted(() => ledger.recordLaunched(TASK, {}, {}, launch("j1.1"), false));
  assert.equal(again.existing, true);
  assert.deepEqual(againReads, ["get heads", "get jids"]);
  assert.ok(!calls.some((c) => /^(create|update|delete) /.test(c)), "nothing written");
  // async_job_save of the same jid under its own name takes the callback's record over.
  const [saved, savedReads] = await counted(() => ledger.recordLaunched(SAVED, {}, { async_timeout: 300 }, launch("j1.1"), true));
  assert.equal(saved.record.name, "saved");
  assert.equal(saved.record.started_at, cb.record.started_at, "the callback's start time is kept");
  assert.equal(await ledger.head(TASK), undefined, "the callback's record is gone");
  assert.equal((await ledger.byJid(ID.namespace, ID.host, "j1.1"))?.record.name, "saved");
  // The index, the save's head, the callback's head (once: its delete uses that read), and the
  // index again when it is pointed at the saved record.
  assert.deepEqual(savedReads, ["get heads", "get heads", "get jids", "get jids"]);
  // The save repeated: nothing written. The journal replayed late: the launch is in the store.
  const [twice, twiceReads] = await counted(() => ledger.recordLaunched(SAVED, {}, {}, launch("j1.1"), true));
  assert.equal(twice.existing, true);
  assert.deepEqual(twiceReads, ["get heads", "get jids"]);
  const late = await ledger.recordLaunched(TASK, {}, {}, launch("j1.1"), false);
  assert.equal(late.existing, true);
  assert.equal(late.record.name, "saved");
  assert.equal(await ledger.head(TASK), undefined, "not recorded again under the task's name");
});
