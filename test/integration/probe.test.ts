/** async_job_probe against real async jobs (localhost and a podman host): test/integration/probe/run.sh. */
import assert from "node:assert/strict";
import * as path from "node:path";
import { test } from "node:test";
import { run } from "../helpers/ansible.js";

test("async_job_probe integration suite passes", async () => {
  const r = await run("bash", [path.join(import.meta.dirname, "probe", "run.sh")], { env: { PROBE_CONTAINER: "1" } });
  assert.equal(r.code, 0, r.out);
  const m = /probe: (\d+) passed, 0 failed/.exec(r.out);
  assert.ok(m, r.out);
  assert.ok(Number(m[1]) >= 12, r.out);
});
