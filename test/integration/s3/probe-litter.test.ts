/**
 * The conditional-write probe's litter (found by the kill -9 trials: a process killed during
 * its probe leaves PREFIX/.ansible-jobs-probe/RANDOM.json). The next process's probe removes
 * such objects once PROBE_LITTER_MS old by the server's clock, and leaves younger ones (another
 * probe may be running). The server's clock is moved on by a loopback proxy in front of a real
 * moto_server that rewrites the Date header of its answers.
 */
import assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { after, test } from "node:test";
import { PROBE_DIR, PROBE_LITTER_MS, openS3Store } from "../../../src/stores/s3.js";
import { type Moto, raw, startMoto, useTestAwsEnv } from "../../helpers/moto.js";

useTestAwsEnv();

let moto: Moto | undefined;
const proxies: http.Server[] = [];
after(async () => {
  for (const p of proxies) p.close();
  await moto?.stop();
});

/** Forwards to moto; answers carry a Date `skewMs` ahead of the real one. */
async function dateProxy(upstreamPort: number, skewMs: number): Promise<number> {
  const proxy = http.createServer((req, res) => {
    const up = http.request({ host: "127.0.0.1", port: upstreamPort, method: req.method, path: req.url, headers: req.headers }, (ur) => {
      const headers = { ...ur.headers, date: new Date(Date.now() + skewMs).toUTCString() };
      res.writeHead(ur.statusCode ?? 502, headers);
      ur.pipe(res);
    });
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  proxies.push(proxy);
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  return (proxy.address() as AddressInfo).port;
}

const probeObjects = async (m: Moto, bucket: string) => {
  const res = await raw(m.port, "GET", `/${bucket}?list-type=2&prefix=${encodeURIComponent(`ledger/${PROBE_DIR}/`)}`);
  return [...res.body.matchAll(/<Key>([^<]+)<\/Key>/g)].map((x) => x[1]);
};

test("a probe object left by a killed process is removed by the next process once it is old by the server's clock", async () => {
  moto = await startMoto();
  await moto.createBucket("litter");
  const left = `ledger/${PROBE_DIR}/killed-during-its-probe.json`;
  await moto.putRaw("litter", left, '{"probe":1}\n');
  // Each engine run is a process of its own, which probes once: here each open goes through a
  // proxy of its own (the probe is remembered per endpoint within a process).
  const open = async (skewMs: number) => openS3Store("s3://litter/ledger", { endpoint: `http://127.0.0.1:${await dateProxy(moto!.port, skewMs)}` });

  // Young: another probe may still be running, so it stays.
  await (await open(0)).create(["heads", "default", "web1", "a"], { v: 1 });
  assert.deepEqual(await probeObjects(moto, "litter"), [left]);

  // Old by the server's clock: the next process's probe removes it, and leaves none of its own.
  await (await open(PROBE_LITTER_MS + 60_000)).create(["heads", "default", "web1", "b"], { v: 1 });
  assert.deepEqual(await probeObjects(moto, "litter"), []);
});
