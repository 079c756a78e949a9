/**
 * The store conformance suite against a REAL Ara server (started by test/helpers/ara.ts).
 * Every capability the Ara store declares (atomicCreate, compareAndSwap, clock) is checked.
 */
import { randomBytes } from "node:crypto";
import { makeAraStore } from "../../src/stores/ara.js";
import { TYPE_DOC, docKeyOf, versionKey } from "../../src/stores/ara/keys.js";
import { araApi, startAra } from "../helpers/ara.js";
import { testStore } from "./suite.js";

testStore("ara", async () => {
  const server = await startAra();
  console.log(`# ara server ${server.http} up in ${server.startMs} ms`);
  const store = makeAraStore(`${server.storeUrl}?ledger=conformance-${randomBytes(3).toString("hex")}`);
  return {
    store,
    // A version record whose value is not a document envelope, where the document would live.
    corrupt: async (key, bytes) => {
      const ledger = await store.ledgerId(true);
      const res = await araApi(server, "POST", "records", {
        playbook: ledger,
        key: versionKey(docKeyOf(key), 1),
        type: TYPE_DOC,
        value: bytes,
      });
      if (res.status !== 201) throw new Error(`corrupt(): HTTP ${res.status} ${JSON.stringify(res.body)}`);
    },
    cleanup: async () => server.stop(),
  };
});
