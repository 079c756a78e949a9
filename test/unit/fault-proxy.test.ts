/**
 * The fault proxy itself (test/helpers/fault-proxy.ts), in front of a small node:http upstream
 * on loopback: every fault kind, rule matching (method, path, body, headers, nth), cut/heal, and
 * that "lose-answer" really forwards the request before the client loses the answer.
 */
import assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { type FaultProxy, startFaultProxy } from "../helpers/fault-proxy.js";

interface Answer {
  status: number;
  body: string;
}

function send(port: number, method: string, path: string, body = "", headers: Record<string, string> = {}, timeoutMs = 5000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (d: Buffer) => chunks.push(d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error("client timeout"), { code: "TIMEOUT" })));
    req.end(body);
  });
}

async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  }
  assert.fail("expected the request to fail");
}

describe("the fault proxy", () => {
  let upstream: http.Server;
  let proxy: FaultProxy;
  const got: string[] = [];

  before(async () => {
    upstream = http.createServer((req, res) => {
      let body = "";
      req.on("data", (d) => {
        body += d;
      });
      req.on("end", () => {
        got.push(`${req.method} ${req.url} ${body}`);
        res.writeHead(200, { "content-type": "text/plain" });
        res.end(`ok ${req.method} ${req.url}`);
      });
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
    proxy = await startFaultProxy(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
  });
  after(async () => {
    await proxy.close();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  test("forwards what no rule picks", async () => {
    assert.deepEqual(await send(proxy.port, "GET", "/a?x=1"), { status: 200, body: "ok GET /a?x=1" });
    assert.equal(proxy.log.at(-1)?.upstreamStatus, 200);
  });

  test("status, drop and reset break only the matching requests, and nth picks occurrences", async () => {
    const r500 = proxy.add({ method: "PUT", path: /^\/k\//, nth: [2, 3], fault: "status", status: 503 });
    assert.equal((await send(proxy.port, "PUT", "/k/1")).status, 200);
    assert.equal((await send(proxy.port, "PUT", "/k/2")).status, 503);
    assert.equal((await send(proxy.port, "PUT", "/k/3")).status, 503);
    assert.equal((await send(proxy.port, "PUT", "/k/4")).status, 200);
    assert.equal((await send(proxy.port, "GET", "/k/5")).status, 200, "another method");
    assert.equal(r500.matched, 4);
    assert.equal(r500.fired.length, 2);
    r500.remove();
    const drop = proxy.add({ body: /"key":"x@2"/, fault: "drop" });
    assert.match(await failure(send(proxy.port, "POST", "/r", '{"key":"x@2"}')), /ECONNRESET|socket hang up/);
    assert.equal((await send(proxy.port, "POST", "/r", '{"key":"x@1"}')).status, 200);
    drop.remove();
    const reset = proxy.add({ headers: { "if-match": /./ }, fault: "reset" });
    assert.equal(await failure(send(proxy.port, "PUT", "/h", "v", { "if-match": '"e1"' })), "ECONNRESET");
    assert.equal((await send(proxy.port, "PUT", "/h", "v")).status, 200, "no If-Match header");
    reset.remove();
    assert.ok(!got.some((g) => g.includes('"key":"x@2"')), "a dropped request never reached the server");
  });

  test("lose-answer forwards the request, then the client loses the answer; afterFault runs", async () => {
    let after = 0;
    const rule = proxy.add({ path: /^\/lost$/, nth: 1, fault: "lose-answer", afterFault: () => after++ });
    assert.equal(await failure(send(proxy.port, "PUT", "/lost", "written")), "ECONNRESET");
    assert.ok(got.includes("PUT /lost written"), "the server got and answered the write");
    assert.equal(rule.fired[0]?.upstreamStatus, 200);
    assert.equal(after, 1);
    assert.equal((await send(proxy.port, "PUT", "/lost", "again")).status, 200, "only the first");
    rule.remove();
  });

  test("delay forwards late; hang never answers until heal", async () => {
    const delay = proxy.add({ path: /^\/slow$/, fault: "delay", delayMs: 200 });
    assert.equal((await send(proxy.port, "GET", "/slow")).status, 200);
    delay.remove();
    const hang = proxy.add({ path: /^\/hang$/, fault: "hang" });
    assert.equal(await failure(send(proxy.port, "GET", "/hang", "", {}, 300)), "TIMEOUT");
    const pending = failure(send(proxy.port, "GET", "/hang"));
    while (hang.fired.length < 2) await new Promise((r) => setTimeout(r, 10));
    proxy.heal();
    assert.match(await pending, /ECONNRESET|socket hang up/);
    hang.remove();
  });

  test("cut makes the store unreachable, heal brings it back", async () => {
    proxy.cut();
    assert.ok(proxy.isCut);
    assert.equal(await failure(send(proxy.port, "GET", "/x")), "ECONNRESET");
    proxy.heal();
    assert.equal((await send(proxy.port, "GET", "/x")).status, 200);
  });
});
