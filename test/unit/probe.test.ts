/** The probe module's pure helpers, with Python's unittest (the host side is Python). */
import assert from "node:assert/strict";
import * as path from "node:path";
import { test } from "node:test";
import { run } from "../helpers/ansible.js";

test("async_job_probe helper unit tests pass under the host's python3", async () => {
  const r = await run("/usr/bin/python3", ["-m", "unittest", "discover", "-s", path.join(import.meta.dirname, "probe"), "-v"]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.stderr, /Ran \d+ tests/);
  assert.match(r.stderr, /\nOK\n?/);
});
