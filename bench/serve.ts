/**
 * ansible-jobs serve over 10,000 filesystem records (make bench, or
 * `node scripts/build.mjs && node --import tsx bench/serve.ts [--records N] [--runs N]`):
 *  - /api/jobs (the first page of 100, a status filter, a page of 1000) and /api/timeline: the
 *    server's own time (its Server-Timing header: the store query included, the network not);
 *    target 300 ms for /api/jobs;
 *  - in headless chromium: time from navigation to the first contentful paint (the page's
 *    frame), to the first frame that shows the jobs table (the page's `ansible-jobs:table-painted`
 *    mark) and to the one that adds the timeline (`ansible-jobs:data-painted`), each on a fresh page.
 * The store is filled by bench/cli.ts's fill() on tmpfs and copied to a plain temp directory.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { launchChromium } from "../test/helpers/browser.js";
import { get, startDashboard } from "../test/helpers/dashboard.js";
import { fill } from "./cli.js";
import { fmt, median } from "./lib.js";

const TARGET_MS = 300;

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

function serverMs(h: string | string[] | undefined): number {
  const m = /app;dur=([\d.]+)/.exec(String(h));
  if (!m) throw new Error(`no Server-Timing in the answer (${String(h)})`);
  return Number(m[1]);
}

export async function benchServe(records = arg("--records", 10_000), runs = arg("--runs", 7)): Promise<void> {
  const scratch = existsSync("/dev/shm") ? mkdtempSync("/dev/shm/ajserve-") : mkdtempSync(path.join(tmpdir(), "ajserve-fill-"));
  const work = mkdtempSync(path.join(tmpdir(), "ajserve-"));
  const store = path.join(work, "store");
  const t0 = Date.now();
  await fill(path.join(scratch, "store"), records);
  cpSync(path.join(scratch, "store"), store, { recursive: true });
  rmSync(scratch, { recursive: true, force: true });
  console.log(`filled ${records} records with the Ledger in ${((Date.now() - t0) / 1000).toFixed(1)} s -> ${store}`);
  const d = await startDashboard(["--store", store], { cwd: work });
  try {
    const queries: [string, string][] = [
      ["/api/jobs (first page of 100)", "api/jobs?all-namespaces=true"],
      ["/api/jobs?status=failed", "api/jobs?all-namespaces=true&status=failed"],
      ["/api/jobs sort=updated_at desc", "api/jobs?all-namespaces=true&sort=updated_at&order=desc"],
      ["/api/jobs limit=1000", "api/jobs?all-namespaces=true&limit=1000"],
      ["/api/timeline (50 hosts)", "api/timeline?all-namespaces=true"],
    ];
    const first = (await get(`${d.url}${queries[0]![1]}`)).json() as { total: number };
    if (first.total !== records) throw new Error(`/api/jobs says ${first.total} records, expected ${records}`);
    const server = queries.map((): number[] => []);
    const wall = queries.map((): number[] => []);
    for (let i = 0; i < runs + 1; i++) {
      for (const [k, [, q]] of queries.entries()) {
        const w0 = performance.now();
        const r = await get(`${d.url}${q}`);
        const w = performance.now() - w0;
        if (r.status !== 200) throw new Error(`${q}: ${r.status} ${r.body.slice(0, 200)}`);
        if (i === 0) continue; // warm-up
        server[k]!.push(serverMs(r.headers["server-timing"]));
        wall[k]!.push(w);
      }
    }
    console.log(`\n${records} records, ${runs} runs each after a warm-up; load average ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
    console.log(`${"request".padEnd(34)}${"server (median, min-max)".padStart(28)}${"client wall".padStart(26)}`);
    for (const [k, [label]] of queries.entries()) console.log(`${label.padEnd(34)}${fmt(server[k]!).padStart(28)}${fmt(wall[k]!).padStart(26)}`);
    const jobsMs = median(server[0]!);
    console.log(`target: /api/jobs over ${records} records within ${TARGET_MS} ms server-side: ${jobsMs <= TARGET_MS ? "OK" : "OVER"} (${jobsMs.toFixed(0)} ms)`);

    const browser = await launchChromium();
    try {
      const fcp: number[] = [];
      const table: number[] = [];
      const data: number[] = [];
      for (let i = 0; i < Math.max(3, Math.ceil(runs / 2)) + 1; i++) {
        const page = await browser.context.newPage();
        await page.goto(d.url);
        await page.waitForFunction(() => performance.getEntriesByName("ansible-jobs:data-painted").length > 0, undefined, { timeout: 60_000 });
        const t = await page.evaluate(() => ({
          fcp: performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? Number.NaN,
          table: performance.getEntriesByName("ansible-jobs:table-painted")[0]!.startTime,
          data: performance.getEntriesByName("ansible-jobs:data-painted")[0]!.startTime,
          rows: document.querySelectorAll("#jobs tbody tr.row").length,
        }));
        await page.close();
        if (t.rows !== 100) throw new Error(`the page shows ${t.rows} rows, expected 100`);
        if (i === 0) continue;
        fcp.push(t.fcp);
        table.push(t.table);
        data.push(t.data);
      }
      console.log(`chromium, ${records} jobs, from navigation: first contentful paint ${fmt(fcp)}; first frame with the table (100 rows and the counts) ${fmt(table)}; with the timeline too (50 hosts, ${records / 2} bars) ${fmt(data)}`);
    } finally {
      await browser.close();
    }
  } finally {
    await d.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === new URL(`file://${path.resolve(process.argv[1])}`).href) await benchServe();
