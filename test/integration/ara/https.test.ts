/**
 * ara+https://: a TLS front (self-signed certificate for 127.0.0.1, as a reverse proxy would
 * terminate TLS) before a real Ara server. Trusted through NODE_EXTRA_CA_CERTS it works;
 * untrusted it fails with a clear message that says how to trust the CA.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { type Server, createServer } from "node:https";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type AraServer, startAra } from "../../helpers/ara.js";

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));

describe("ara store over https", () => {
  let ara: AraServer;
  let front: Server;
  let dir: string;
  let url: string;

  before(async () => {
    ara = await startAra();
    dir = mkdtempSync(path.join(tmpdir(), "lrt-ara-tls-"));
    await run("openssl", [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
      "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem"),
    ]);
    front = createServer({ key: readFileSync(path.join(dir, "key.pem")), cert: readFileSync(path.join(dir, "cert.pem")) }, async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string" && k !== "host" && k !== "content-length") headers[k] = v;
      const body = Buffer.concat(chunks);
      const up = await fetch(`${ara.http}${req.url}`, { method: req.method, headers, body: body.length ? body : undefined });
      const out: Record<string, string> = {};
      up.headers.forEach((v, k) => {
        if (!["content-length", "transfer-encoding", "connection", "keep-alive"].includes(k)) out[k] = v;
      });
      res.writeHead(up.status, out);
      res.end(Buffer.from(await up.arrayBuffer()));
    });
    await new Promise<void>((r) => front.listen(0, "127.0.0.1", () => r()));
    url = `ara+https://127.0.0.1:${(front.address() as { port: number }).port}?ledger=tls`;
  });
  after(async () => {
    front?.close();
    await ara?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function worker(env: NodeJS.ProcessEnv): Promise<{ ok?: unknown; where?: string; url?: string; code?: string; message?: string }> {
    const { stdout } = await run(process.execPath, ["--import", "tsx", path.join(here, "fixtures/https-worker.ts"), url], { env, timeout: 60_000 });
    return JSON.parse(stdout.trim().split("\n").pop()!);
  }

  test("trusted through NODE_EXTRA_CA_CERTS: works", async () => {
    const r = await worker({ ...process.env, NODE_EXTRA_CA_CERTS: path.join(dir, "cert.pem") });
    assert.deepEqual(r.ok, { tls: true }, JSON.stringify(r));
    assert.match(r.where!, /^https:\/\/127\.0\.0\.1:\d+\/api\/v1\/records\/\d+$/);
    assert.equal(r.url, url);
  });

  test("an untrusted certificate: store_unavailable saying how to trust the CA", async () => {
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    const r = await worker(env);
    assert.equal(r.code, "store_unavailable", JSON.stringify(r));
    console.log(`# ${r.message}`);
    assert.match(r.message!, /ara store ara\+https:\/\/127\.0\.0\.1:\d+\?ledger=tls: cannot reach .*TLS: .*self-signed.*NODE_EXTRA_CA_CERTS/);
  });
});
