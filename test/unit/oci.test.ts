/**
 * The oci:// store's settings (src/stores/oci.ts): URL, OCI config profile, keys and the
 * messages for what is missing. No network.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import { isCode } from "../../src/engine/errors.js";
import { parseOciUrl, resolveOci, resolveOciS3Config } from "../../src/stores/oci.js";

describe("oci store settings", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "ocicfg-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = path.join(dir, "config");
  writeFileSync(
    cfg,
    [
      "[DEFAULT]",
      "user=ocid1.user.oc1..aaaa",
      "fingerprint=12:34",
      "key_file=~/.oci/oci_api_key.pem",
      "tenancy=ocid1.tenancy.oc1..aaaa",
      "region=eu-frankfurt-1",
      "",
      "[S3]",
      "# a Customer Secret Key",
      "customer_access_key_id = 0123abcd",
      "customer_secret_key = s3cr3t=",
      "region=us-ashburn-1",
      "",
      "[HALF]",
      "customer_access_key_id=only",
    ].join("\n"),
  );
  const env = { OCI_CONFIG_FILE: cfg };

  test("oci://NAMESPACE[@REGION]/BUCKET[/PREFIX]", () => {
    assert.deepEqual(parseOciUrl("oci://axyz@eu-frankfurt-1/jobs/a/b/"), { namespace: "axyz", region: "eu-frankfurt-1", bucket: "jobs", prefix: "a/b" });
    assert.deepEqual(parseOciUrl("oci://axyz/jobs"), { namespace: "axyz", region: undefined, bucket: "jobs", prefix: "" });
    for (const bad of ["oci://", "oci://axyz", "oci://axyz/", "oci://a b/jobs", "oci://axyz@EU/jobs"]) {
      assert.throws(() => parseOciUrl(bad), (e) => isCode(e, "invalid_argument") && e.message.startsWith("store: "), bad);
    }
  });

  test("region and Customer Secret Key from the named profile; the compat endpoint; path style", async () => {
    const r = resolveOci("oci://axyz/jobs/p", { profile: "S3" }, env);
    assert.equal(r.url, "oci://axyz@us-ashburn-1/jobs/p");
    assert.deepEqual(r.credentials, { accessKeyId: "0123abcd", secretAccessKey: "s3cr3t=" });
    assert.equal(r.s3Options.endpoint, "https://axyz.compat.objectstorage.us-ashburn-1.oraclecloud.com");
    const c = await resolveOciS3Config("oci://axyz@eu-frankfurt-1/jobs", { profile: "S3" }, env);
    assert.equal(c.endpoint.href, "https://axyz.compat.objectstorage.eu-frankfurt-1.oraclecloud.com/");
    assert.equal(c.region, "eu-frankfurt-1");
    assert.equal(c.pathStyle, true);
    assert.equal(c.bucket, "jobs");
    assert.equal(c.url, "oci://axyz@eu-frankfurt-1/jobs");
  });

  test("keys from options or the environment come before the profile's", () => {
    const o = resolveOci("oci://axyz/jobs", { profile: "S3", access_key_id: "k", secret_access_key: "s" }, env);
    assert.deepEqual(o.credentials, { accessKeyId: "k", secretAccessKey: "s" });
    const e = resolveOci("oci://axyz/jobs", { profile: "S3" }, { ...env, OCI_CUSTOMER_ACCESS_KEY_ID: "ek", OCI_CUSTOMER_SECRET_KEY: "es" });
    assert.deepEqual(e.credentials, { accessKeyId: "ek", secretAccessKey: "es" });
  });

  test("a profile with only API signing keys says what to create and where", () => {
    assert.throws(
      () => resolveOci("oci://axyz/jobs", {}, env),
      (e) =>
        isCode(e, "invalid_argument") &&
        e.message.includes(`profile [DEFAULT] in ${cfg} has only API signing keys (key_file, fingerprint)`) &&
        e.message.includes("Create a Customer Secret Key (OCI Console: Profile menu > My profile > Customer secret keys") &&
        e.message.includes("customer_access_key_id=... and customer_secret_key=..."),
    );
  });

  test("clear errors: half a key, unknown profile, no region, unknown option", () => {
    assert.throws(() => resolveOci("oci://axyz@eu-frankfurt-1/jobs", { profile: "HALF" }, env), /customer_access_key_id and customer_secret_key in profile \[HALF\].*: one is set without the other/);
    assert.throws(
      () => resolveOci("oci://axyz/jobs", { profile: "NOPE" }, env),
      (e) => isCode(e, "invalid_argument") && e.message.includes(`${cfg} has no profile [NOPE] (profiles: DEFAULT, S3, HALF)`) && e.message.startsWith("oci.region: no region"),
    );
    assert.throws(() => resolveOci("oci://axyz@r-1/jobs", {}, { OCI_CONFIG_FILE: path.join(dir, "missing") }), /no Customer Secret Key found \(cannot read .*missing: ENOENT\)/);
    assert.throws(() => resolveOci("oci://axyz/jobs", { bucket: "x" }, env), /^Error: oci\.bucket: unknown OCI store option|oci\.bucket: unknown OCI store option/);
  });
});
