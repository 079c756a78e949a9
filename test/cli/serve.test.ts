/**
 * ansible-jobs serve over HTTP (the built CLI): the API gives what `list` gives for the same
 * filters, job pages by URL-encoded identity, read-only, Host check, token, TLS, CSP, store
 * errors. The browser test with real ansible-playbook runs is test/integration/dashboard.test.ts.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, statSync } from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import type { JobRecord } from "../../src/engine/record.js";
import { type Dashboard, get, startDashboard } from "../helpers/dashboard.js";
import { freePort } from "../helpers/net.js";
import { EVIDENCE, fillStore, launch, observe, openLedger } from "./fixtures.js";
import { cli, useScratch } from "./helpers.js";

const root = useScratch();

/** Every file of a directory tree with a digest of its content: to prove nothing was written. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d).sort()) {
      const p = path.join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(`${path.relative(dir, p)} ${createHash("sha256").update(readFileSync(p)).digest("hex")}`);
    }
  };
  walk(dir);
  return out;
}

const ids = (rs: JobRecord[]) => rs.map((r) => `${r.namespace}/${r.host}/${r.name}#${r.attempt}`);

describe("ansible-jobs serve: the API", () => {
  let dir: string;
  let d: Dashboard;
  const odd = ["NAME[0]", "a/b c", "50% done?#x", "<b>ünï</b>"];
  before(async () => {
    dir = root.fresh();
    const f = await fillStore(dir);
    for (const name of odd) {
      const id = { namespace: "default", host: "web 3", name };
      await launch(f.ledger, id);
      await observe(f.ledger, id, EVIDENCE.succeeded);
    }
    d = await startDashboard(["--store", dir]);
  });
  after(async () => {
    const r = await d.stop();
    assert.equal(r.code, 0, r.stderr);
  });

  const api = async (q: string) => {
    const r = await get(`${d.url}api/jobs?limit=1000&${q}`);
    assert.equal(r.status, 200, r.body);
    return r.json() as { total: number; jobs: JobRecord[]; counts: Record<string, number>; errors: string[] };
  };

  test("/api/jobs selects exactly what list --json selects, for each of list's filters", async () => {
    const cases: [string, string[]][] = [
      ["", []],
      ["status=active", ["--status", "active"]],
      ["status=terminal&all-namespaces=true", ["--status", "terminal", "--all-namespaces"]],
      ["status=failed,lost", ["--status", "failed,lost"]],
      ["host=web1,web2", ["--host", "web1,web2"]],
      ["name=backup", ["--name", "backup"]],
      ["playbook=nightly.yml", ["--playbook", "nightly.yml"]],
      ["host=db1&history=true", ["--host", "db1", "--history"]],
      ["namespace=staging", ["--namespace", "staging"]],
      ["all-namespaces=1&newer-than=1h", ["--all-namespaces", "--newer-than", "1h"]],
      ["older-than=1h", ["--older-than", "1h"]],
    ];
    for (const [q, flags] of cases) {
      const listed = await cli(["list", "--store", dir, "--json", ...flags]);
      const page = await api(q);
      assert.deepEqual(ids(page.jobs), ids(JSON.parse(listed.stdout) as JobRecord[]), `?${q} vs list ${flags.join(" ")}`);
      assert.equal(page.total, page.jobs.length);
      // The same unreadable records too (list names them on stderr and exits 4).
      const warned = [...listed.stderr.matchAll(/^ansible-jobs: warning: unreadable record: (.*)$/gm)].map((m) => m[1]);
      assert.deepEqual(page.errors, warned, q);
      assert.equal(listed.code, warned.length ? 4 : 0);
    }
  });

  test("counts per status ignore only the status filter; unreadable records are named, the others listed", async () => {
    const page = await api("status=failed");
    assert.deepEqual(ids(page.jobs), ["default/web2/build#1"]);
    assert.equal(page.counts.succeeded, 1 + odd.length);
    assert.equal(page.counts.failed, 1);
    assert.equal(page.counts.starting, 1);
    assert.equal(page.errors.length, 2);
    assert.match(page.errors.join("\n"), /heads\/default\/web1\/broken\.json: not valid JSON/);
    assert.match(page.errors.join("\n"), /not-a-record\.json: not a valid job record/);
  });

  test("a bad filter is a 400 with list's own message", async () => {
    const r = await get(`${d.url}api/jobs?status=finished`);
    assert.equal(r.status, 400);
    const listed = await cli(["list", "--store", dir, "--status", "finished"]);
    assert.match(listed.stderr, /--status: unknown status "finished"/);
    assert.equal((r.json() as { error: string }).error, listed.stderr.replace(/^ansible-jobs: error: /, "").replace(/ \(see ansible-jobs list --help\)\n$/, ""));
    const typo = await get(`${d.url}api/jobs?stauts=failed`);
    assert.equal(typo.status, 400);
    assert.match(typo.body, /unknown option --stauts for list \(did you mean --status\?\)/);
    for (const q of ["sort=colour", "order=up", "limit=-1", "limit=5000", "offset=x"]) assert.equal((await get(`${d.url}api/jobs?${q}`)).status, 400, q);
  });

  test("paging and sorting", async () => {
    const all = await api("all-namespaces=true");
    assert.equal(all.total, 13);
    const p2 = (await get(`${d.url}api/jobs?all-namespaces=true&limit=5&offset=5`)).json() as { total: number; jobs: JobRecord[] };
    assert.equal(p2.total, 13);
    assert.deepEqual(ids(p2.jobs), ids(all.jobs.slice(5, 10)));
    const byStatus = await api("all-namespaces=true&sort=status&order=desc");
    assert.equal(byStatus.jobs[0]!.status, "cancelled");
    assert.equal(byStatus.jobs.at(-1)!.status, "starting");
    const byName = await api("sort=name");
    const names = byName.jobs.map((r) => r.name);
    assert.deepEqual(names, [...names].sort());
  });

  test("/api/jobs/NS/HOST/NAME with each part URL-encoded: brackets, slashes, spaces, markup", async () => {
    for (const name of odd) {
      const r = await get(`${d.url}api/jobs/default/${encodeURIComponent("web 3")}/${encodeURIComponent(name)}`);
      assert.equal(r.status, 200, `${name}: ${r.body}`);
      const body = r.json() as { record: JobRecord; history: JobRecord[]; ara: unknown };
      assert.equal(body.record.name, name);
      assert.equal(body.record.host, "web 3");
      assert.equal(body.history.length, 1);
      assert.equal(body.ara, null);
    }
    const three = (await get(`${d.url}api/jobs/default/db1/reindex`)).json() as { record: JobRecord; history: JobRecord[] };
    assert.deepEqual(
      three.history.map((r) => `${r.attempt}:${r.status}`),
      ["1:failed", "2:succeeded", "3:cancelled"],
    );
    assert.equal(three.record.attempt, 3);
    const missing = await get(`${d.url}api/jobs/default/db1/nope`);
    assert.equal(missing.status, 404);
    assert.match(missing.body, /no job \\"nope\\" on db1 in namespace default/);
    const unencoded = await get(`${d.url}api/jobs/default/web 3/a/b c`.replace(/ /g, "%20"));
    assert.equal(unencoded.status, 404);
    assert.match(unencoded.body, /each part URL-encoded/);
  });

  test("/api/timeline: one row per host, every attempt of the selection", async () => {
    const r = await get(`${d.url}api/timeline?all-namespaces=true`);
    const tl = r.json() as { hosts: { host: string; attempts: { name: string; attempt: number; status: string }[] }[] };
    assert.deepEqual(
      tl.hosts.map((h) => h.host),
      ["app1", "db1", "db3", "web 3", "web1", "web2"],
    );
    const db1 = tl.hosts.find((h) => h.host === "db1")!;
    assert.deepEqual(db1.attempts.map((a) => `${a.name}#${a.attempt}:${a.status}`).sort(), ["backup#1:lost", "reindex#1:failed", "reindex#2:succeeded", "reindex#3:cancelled"]);
  });

  test("read-only: every writing method is refused and the store is unchanged", async () => {
    const before = snapshot(dir);
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
      for (const p of ["api/jobs", "api/jobs/default/web1/build", "/"]) {
        const r = await get(`${d.url}${p}`, { method });
        assert.equal(r.status, 405, `${method} ${p}`);
        assert.equal(r.headers.allow, "GET, HEAD");
      }
    }
    assert.deepEqual(snapshot(dir), before);
  });

  test("the Host header must be a loopback name or an IP address (DNS rebinding)", async () => {
    for (const host of [`evil.example:${d.port}`, "attacker.test", `127.0.0.1.nip.io:${d.port}`, `localhost.evil.example:${d.port}`]) {
      const r = await get(`${d.url}api/jobs`, { headers: { host } });
      assert.equal(r.status, 403, host);
      assert.match(r.body, /not allowed.*--allow-host/);
    }
    for (const host of [`localhost:${d.port}`, `127.0.0.1:${d.port}`, `[::1]:${d.port}`]) {
      assert.equal((await get(`${d.url}api/jobs`, { headers: { host } })).status, 200, host);
    }
  });

  test("a restrictive Content-Security-Policy, and no inline script or style in the page", async () => {
    const r = await get(d.url);
    assert.equal(r.status, 200);
    const csp = String(r.headers["content-security-policy"]);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    assert.equal(r.headers["x-content-type-options"], "nosniff");
    assert.doesNotMatch(r.body, /<script>|<style|\sstyle=|\son\w+=/i);
    assert.match(r.body, /<script src="\/app\.js" defer><\/script>/);
    const js = await get(`${d.url}app.js`);
    assert.equal(js.status, 200);
    assert.ok(js.body.length > 5000, "the page script is bundled into the CLI");
    assert.doesNotMatch(js.body, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
    assert.doesNotMatch(js.body, /https?:\/\/(?!www\.w3\.org\/2000\/svg)/, "nothing from the network");
  });

  test("/api/events tells the page when another process writes the store", async () => {
    const ctrl = new AbortController();
    const res = await fetch(`${d.url}api/events`, { signal: ctrl.signal });
    assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    const reader = res.body!.getReader();
    let text = "";
    const until = async (re: RegExp) => {
      const deadline = Date.now() + 15_000;
      while (!re.test(text)) {
        assert.ok(Date.now() < deadline, `timed out waiting for ${re} in ${text}`);
        const { value } = await reader.read();
        text += new TextDecoder().decode(value);
      }
    };
    await until(/event: ready/);
    await observe(openLedger(dir), { namespace: "default", host: "web1", name: "build" }, EVIDENCE.succeeded);
    await until(/event: change/);
    ctrl.abort();
  });
});

describe("ansible-jobs serve: safe by default", () => {
  const TOKEN = "0123456789abcdef0123456789abcdef";

  test("a non-loopback --listen is refused without a token; bad --listen values are named", async () => {
    const dir = root.fresh();
    const r = await cli(["serve", "--store", dir, "--listen", "0.0.0.0:0"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^ansible-jobs: error: --listen 0\.0\.0\.0:0: a non-loopback address needs --token/);
    for (const [listen, why] of [
      ["example", /has no port/],
      ["127.0.0.1:99999", /no valid port/],
      ["::1:80", /IPv6 address without brackets/],
    ] as const) {
      const b = await cli(["serve", "--store", dir, "--listen", listen]);
      assert.equal(b.code, 2, listen);
      assert.match(b.stderr, why);
    }
    const short = await cli(["serve", "--store", dir, "--token", "abc"]);
    assert.equal(short.code, 2);
    assert.match(short.stderr, /--token must be at least 16 characters/);
    const half = await cli(["serve", "--store", dir, "--tls-cert", "/nonexistent.pem"]);
    assert.match(half.stderr, /--tls-cert and --tls-key go together/);
    const busy = await freePort();
    const first = await startDashboard(["--store", dir, "--listen", `127.0.0.1:${busy}`]);
    const second = await cli(["serve", "--store", dir, "--listen", `127.0.0.1:${busy}`]);
    assert.equal(second.code, 2);
    assert.match(second.stderr, /cannot listen on 127\.0\.0\.1:\d+: the address is in use/);
    await first.stop();
  });

  test("with --token: 401 without it, Bearer or the cookie set by /?token= let in; plain HTTP off loopback warns", async () => {
    const dir = root.fresh();
    await fillStore(dir, { corrupt: false });
    // Bound to every address, but the test only talks to 127.0.0.1.
    const d = await startDashboard(["--store", dir, "--listen", "0.0.0.0:0"], { env: { ANSIBLE_JOBS_TOKEN: TOKEN } });
    try {
      assert.match(d.proc.stderr, /warning: the token travels in clear text over plain HTTP.*--tls-cert\/--tls-key/);
      for (const p of ["", "app.js", "api/jobs", "api/events", "api/jobs/default/web1/build"]) {
        const r = await get(`${d.url}${p}`);
        assert.equal(r.status, 401, p);
        assert.doesNotMatch(r.body, /web1|build/);
      }
      assert.equal((await get(`${d.url}api/jobs`, { headers: { authorization: `Bearer ${TOKEN}x` } })).status, 401);
      assert.equal((await get(`${d.url}?token=wrong-token-wrong-token`)).status, 401);
      const ok = await get(`${d.url}api/jobs`, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(ok.status, 200);
      const login = await get(`${d.url}?token=${TOKEN}`);
      assert.equal(login.status, 303);
      assert.equal(login.headers.location, "/");
      const setCookie = String(login.headers["set-cookie"]);
      assert.match(setCookie, /^ansible_jobs_token=0123456789abcdef0123456789abcdef; Path=\/; HttpOnly; SameSite=Strict$/);
      const withCookie = await get(`${d.url}api/jobs`, { headers: { cookie: setCookie.split(";")[0]! } });
      assert.equal(withCookie.status, 200);
    } finally {
      await d.stop();
    }
  });

  test("--tls-cert/--tls-key serve HTTPS (the cookie is Secure), without the clear-text warning", async () => {
    const dir = root.fresh();
    await fillStore(dir, { corrupt: false });
    const cert = root.path("cert.pem");
    const key = root.path("key.pem");
    const ssl = spawnSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { encoding: "utf8" });
    assert.equal(ssl.status, 0, ssl.stderr);
    const d = await startDashboard(["--store", dir, "--listen", "0.0.0.0:0", "--token", TOKEN, "--tls-cert", cert, "--tls-key", key]);
    try {
      assert.match(d.url, /^https:/);
      assert.doesNotMatch(d.proc.stderr, /clear text/);
      const ca = readFileSync(cert);
      const r = await get(`${d.url}api/jobs`, { ca, headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(r.status, 200);
      const login = await get(`${d.url}?token=${TOKEN}`, { ca });
      assert.match(String(login.headers["set-cookie"]), /; Secure$/);
    } finally {
      await d.stop();
    }
  });

  test("an unreachable store is named in the answer, and the server keeps running", async () => {
    const closed = await freePort();
    const d = await startDashboard(["--store", "s3://ops-jobs/ci"], {
      env: {
        ANSIBLE_JOBS_S3_ENDPOINT: `http://127.0.0.1:${closed}`,
        AWS_ENDPOINT_URL: `http://127.0.0.1:${closed}`,
        AWS_ACCESS_KEY_ID: "test",
        AWS_SECRET_ACCESS_KEY: "test",
        AWS_REGION: "us-east-1",
      },
    });
    try {
      for (let i = 0; i < 2; i++) {
        const r = await get(`${d.url}api/jobs`);
        assert.equal(r.status, 503);
        const body = r.json() as { error: string; code: string };
        assert.equal(body.code, "store_unavailable");
        assert.match(body.error, new RegExp(`s3 store s3://ops-jobs/ci \\(endpoint http://127\\.0\\.0\\.1:${closed}\\): cannot reach the endpoint: connection refused`));
      }
      assert.equal((await get(d.url)).status, 200, "the page is still served");
      assert.equal(d.proc.child.exitCode, null);
    } finally {
      const r = await d.stop();
      assert.equal(r.code, 0);
      assert.doesNotMatch(r.stderr, /internal error|at .*\.cjs:/);
    }
  });
});
