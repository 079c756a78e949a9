/**
 * S3 store settings: URL, options and environment fallbacks (no network).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import { isCode } from "../../../src/engine/errors.js";
import { endpointLabel, parseS3Url, resolveS3Config } from "../../../src/stores/s3/config.js";

const base = { AWS_CONFIG_FILE: "/nonexistent/config", AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/credentials" };

describe("s3 store settings", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "s3cfg-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("s3://BUCKET[/PREFIX] parsing", () => {
    assert.deepEqual(parseS3Url("s3://bkt"), { bucket: "bkt", prefix: "", url: "s3://bkt" });
    assert.deepEqual(parseS3Url("s3://bkt/"), { bucket: "bkt", prefix: "", url: "s3://bkt" });
    assert.deepEqual(parseS3Url("s3://bkt/a/b/"), { bucket: "bkt", prefix: "a/b", url: "s3://bkt/a/b" });
    for (const bad of ["s3://", "s3://b", "s3://bkt/a//b", "s3://bkt/../x", "s3://bkt/a?x=1", "s3://bk t/a"]) {
      assert.throws(() => parseS3Url(bad), (e) => isCode(e, "invalid_argument"), bad);
    }
  });

  test("AWS defaults: region us-east-1, virtual-hosted style on s3.REGION.amazonaws.com", async () => {
    const c = await resolveS3Config("s3://bkt/p", {}, { ...base });
    assert.equal(c.region, "us-east-1");
    assert.equal(c.endpoint.href, "https://s3.us-east-1.amazonaws.com/");
    assert.equal(c.pathStyle, false);
    assert.equal(c.customEndpoint, false);
    assert.equal(c.allowUnsafeWrites, false);
    assert.equal(c.sse, undefined);
    assert.equal(c.maxAttempts, 3);
    assert.equal(c.connectTimeoutMs, 2000);
    assert.equal(endpointLabel(c), "https://s3.us-east-1.amazonaws.com");
    const cn = await resolveS3Config("s3://bkt", {}, { ...base, AWS_REGION: "cn-north-1" });
    assert.equal(cn.endpoint.host, "s3.cn-north-1.amazonaws.com.cn");
  });

  test("region: option, AWS_REGION, AWS_DEFAULT_REGION, then the profile in the shared config file", async () => {
    const cfg = path.join(dir, "config");
    writeFileSync(cfg, "[default]\nregion = eu-central-1\n[profile other]\nregion = ap-southeast-2\n");
    const env = { ...base, AWS_CONFIG_FILE: cfg };
    assert.equal((await resolveS3Config("s3://bkt", {}, env)).region, "eu-central-1");
    assert.equal((await resolveS3Config("s3://bkt", {}, { ...env, AWS_PROFILE: "other" })).region, "ap-southeast-2");
    assert.equal((await resolveS3Config("s3://bkt", { profile: "other" }, env)).region, "ap-southeast-2");
    assert.equal((await resolveS3Config("s3://bkt", {}, { ...env, AWS_DEFAULT_REGION: "eu-west-3" })).region, "eu-west-3");
    assert.equal((await resolveS3Config("s3://bkt", {}, { ...env, AWS_DEFAULT_REGION: "eu-west-3", AWS_REGION: "eu-west-1" })).region, "eu-west-1");
    assert.equal((await resolveS3Config("s3://bkt", { region: "us-west-2" }, { ...env, AWS_REGION: "eu-west-1" })).region, "us-west-2");
  });

  test("endpoint: option, ANSIBLE_JOBS_S3_ENDPOINT, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL; path style follows", async () => {
    const e = (env: Record<string, string>, opts: Record<string, unknown> = {}) => resolveS3Config("s3://bkt", opts, { ...base, ...env });
    assert.equal((await e({ AWS_ENDPOINT_URL: "http://a:1" })).endpoint.host, "a:1");
    assert.equal((await e({ AWS_ENDPOINT_URL: "http://a:1", AWS_ENDPOINT_URL_S3: "http://b:2" })).endpoint.host, "b:2");
    assert.equal((await e({ AWS_ENDPOINT_URL_S3: "http://b:2", ANSIBLE_JOBS_S3_ENDPOINT: "http://c:3" })).endpoint.host, "c:3");
    assert.equal((await e({ ANSIBLE_JOBS_S3_ENDPOINT: "http://c:3" }, { endpoint: "https://d" })).endpoint.host, "d");
    assert.equal((await e({ AWS_ENDPOINT_URL: "http://a:1", AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: "true" })).customEndpoint, false);
    const minio = await e({ AWS_ENDPOINT_URL_S3: "https://minio.example:9000/s3/" });
    assert.equal(minio.pathStyle, true);
    assert.equal(minio.basePath, "/s3");
    assert.equal(endpointLabel(minio), "https://minio.example:9000/s3");
    assert.equal((await e({ AWS_ENDPOINT_URL_S3: "https://ceph.example", ANSIBLE_JOBS_S3_PATH_STYLE: "false" })).pathStyle, false);
    assert.equal((await e({ AWS_ENDPOINT_URL_S3: "https://ceph.example" }, { path_style: "no" })).pathStyle, false);
    assert.equal((await e({}, { forcePathStyle: true })).pathStyle, true);
    // A dotted bucket name cannot be a TLS virtual host.
    assert.equal((await resolveS3Config("s3://my.bucket", {}, { ...base })).pathStyle, true);
  });

  test("sse, KMS key, unsafe writes, timeouts: options and env", async () => {
    const e = (env: Record<string, string>, opts: Record<string, unknown> = {}) => resolveS3Config("s3://bkt", opts, { ...base, ...env });
    assert.equal((await e({ ANSIBLE_JOBS_S3_SSE: "AES256" })).sse, "AES256");
    const kms = await e({}, { sse: "aws:kms", sse_kms_key_id: "alias/jobs" });
    assert.equal(kms.sse, "aws:kms");
    assert.equal(kms.sseKmsKeyId, "alias/jobs");
    assert.equal((await e({ ANSIBLE_JOBS_S3_SSE: "aws:kms", ANSIBLE_JOBS_S3_SSE_KMS_KEY_ID: "k" })).sseKmsKeyId, "k");
    await assert.rejects(e({ ANSIBLE_JOBS_S3_SSE_KMS_KEY_ID: "k" }), (err) => isCode(err, "invalid_argument") && /aws:kms/.test(String(err)));
    await assert.rejects(e({ ANSIBLE_JOBS_S3_SSE: "des" }), (err) => isCode(err, "invalid_argument") && /ANSIBLE_JOBS_S3_SSE/.test(String(err)));
    assert.equal((await e({ ANSIBLE_JOBS_S3_UNSAFE_WRITES: "yes" })).allowUnsafeWrites, true);
    assert.equal((await e({ ANSIBLE_JOBS_S3_UNSAFE_WRITES: "yes" }, { allow_unsafe_writes: false })).allowUnsafeWrites, false);
    await assert.rejects(e({ ANSIBLE_JOBS_S3_UNSAFE_WRITES: "perhaps" }), (err) => isCode(err, "invalid_argument"));
    const t = await e({}, { connect_timeout: "0.5", timeout: 5, retries: "0" });
    assert.deepEqual([t.connectTimeoutMs, t.requestTimeoutMs, t.maxAttempts], [500, 5000, 1]);
    await assert.rejects(e({}, { retries: 99 }), (err) => isCode(err, "invalid_argument") && /s3.retries/.test(String(err)));
  });
});
