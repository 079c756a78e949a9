/**
 * A product bug seen in the soak (bench/soak.ts), fixed in src/stores/ara/book.ts (the warning is
 * given only when no other creator's ledger shows up once creation has settled):
 * several controllers writing to a fresh Ara server at once are told that their ledger was
 * deleted and its job records lost, although nothing was lost (they settle on one ledger).
 *
 * discoverLedger (src/stores/ara/book.ts) finds no ledger playbook by its path, then finds the
 * ledger's label: but the label is another creator's, made a moment before its playbook row is
 * visible, so "existed on this server before ... the job records it held are lost" is a false
 * alarm.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as path from "node:path";
import { describe, test } from "node:test";
import { REPO } from "../../helpers/ansible.js";
import { startAra } from "../../helpers/ara.js";

interface EngineAnswer {
  warnings?: string[];
  hosts?: Record<string, { claimed?: boolean; found?: boolean }>;
}

function engine(store: string, op: "save" | "load", name: string): Promise<EngineAnswer> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [path.join(REPO, "dist", "job_store_engine.cjs")], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    c.stdout.on("data", (d) => {
      out += d;
    });
    c.on("error", reject);
    c.on("close", () => {
      try {
        resolve(JSON.parse(out) as EngineAnswer);
      } catch {
        reject(new Error(`engine answered no JSON: ${out}`));
      }
    });
    c.stdin.end(JSON.stringify({ args: { op, claim: op === "save", store, name }, hosts: { h1: {} }, context: {} }));
  });
}

describe("the Ara ledger on first use by several controllers at once", () => {
  test(
    "nobody is told that job records were lost, and every record is found afterwards",
    {},
    async () => {
      const alarms: string[] = [];
      for (let trial = 0; trial < 4; trial++) {
        const ara = await startAra();
        try {
          const names = ["n1", "n2", "n3", "n4"];
          const claims = await Promise.all(names.map((n) => engine(ara.storeUrl, "save", n)));
          assert.deepEqual(claims.map((c) => c.hosts?.h1?.claimed), [true, true, true, true]);
          for (const c of claims) alarms.push(...(c.warnings ?? []).filter((w) => /existed on this server before/.test(w)));
          const loads = await Promise.all(names.map((n) => engine(ara.storeUrl, "load", n)));
          assert.deepEqual(loads.map((l) => l.hosts?.h1?.found), [true, true, true, true], "no record was lost");
        } finally {
          await ara.stop();
        }
      }
      assert.deepEqual(alarms, [], "no false 'the job records it held are lost' warning");
    },
  );
});
