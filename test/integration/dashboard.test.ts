/**
 * The dashboard in a real browser (Debian's chromium through playwright-core) over a store that
 * real ansible-playbook runs (long_running_task on podman hosts lrt-dash-1..3) filled: the table
 * rows, the timeline's bars per host, a filter click, the job page, a live update when a check
 * runs in another process (one host crashed meanwhile: lost), markup in job names and output
 * shown as text, a window resize redrawn without a request, and the token refusal. Writes a
 * screenshot ($DASHBOARD_SCREENSHOT, else a temp file; docs/dashboard.png is one).
 */
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import type { Page } from "playwright-core";
import { tempDir } from "../helpers/ansible.js";
import { type Chromium, launchChromium } from "../helpers/browser.js";
import { type Dashboard, startDashboard } from "../helpers/dashboard.js";
import { type Hosts, hostCtl, podmanHosts } from "../helpers/hosts.js";
import { roleRunner } from "../helpers/roles.js";
import { backdate, openLedger } from "../cli/fixtures.js";
import { ensureBuilt } from "../cli/helpers.js";

const XSS_NAME_1 = "<script>window.__xss=1</script>";
const XSS_NAME_2 = '"><img src=x onerror="window.__xss=2">';
const XSS_OUT_1 = "<script>window.__xss=3</script>";
const XSS_OUT_2 = '"><img src=x onerror=window.__xss=4>';
const NIGHTLY_SEC = 15;

describe("ansible-jobs serve in chromium, over a store filled by ansible-playbook on podman hosts", () => {
  let hosts: Hosts;
  let store: string;
  let d: Dashboard;
  let browser: Chromium;
  let page: Page;
  let nightlyStarted = 0;
  const problems: string[] = [];
  const { lrt } = roleRunner(
    () => hosts.inventory,
    () => store,
  );
  const h = (i: number) => hosts.names[i - 1]!;

  before(async () => {
    await ensureBuilt();
    hosts = await podmanHosts("lrt-dash", 3);
    store = path.join(tempDir("dash"), "state");
    const wait = { long_running_task_mode: "wait", long_running_task_poll: 1, long_running_task_fail_on: [] };
    const build = await lrt({
      ...wait,
      long_running_task_name: "build",
      long_running_task_command: `echo compiling; echo '${XSS_OUT_1}'; echo '${XSS_OUT_2}'; sleep 2; echo done`,
    });
    assert.equal(build.code, 0, build.out);
    // Three more runs at once, one per host: markup in names, a failure, a second attempt.
    const runs = await Promise.all([
      lrt({ ...wait, long_running_task_name: XSS_NAME_1, long_running_task_command: "echo 'disk full' >&2; exit 3", target: h(1) }),
      lrt({ ...wait, long_running_task_name: XSS_NAME_2, long_running_task_command: "sleep 1", target: h(2) }),
      lrt({ ...wait, long_running_task_name: "build", long_running_task_command: "sleep 3; echo 'no space left' >&2; exit 1", target: h(3) }),
    ]);
    for (const r of runs) assert.equal(r.code, 0, r.out);
    // Host 1's nightly job outlives the test (still running at the end, as in the screenshot).
    const nightly = await lrt({
      long_running_task_mode: "start",
      long_running_task_name: "nightly",
      long_running_task_command: `sleep {{ 600 if inventory_hostname == '${h(1)}' else ${NIGHTLY_SEC} }}`,
    });
    assert.equal(nightly.code, 0, nightly.out);
    nightlyStarted = Date.now();
    d = await startDashboard(["--store", store, "--interval", "0.5"]);
    browser = await launchChromium();
    page = await browser.context.newPage();
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  });

  after(async () => {
    await browser?.close();
    const r = await d?.stop();
    await hosts?.down();
    if (r) assert.equal(r.code, 0, r.stderr);
  });

  const ready = async () => page.waitForSelector("body[data-ready=true]");
  const rows = () => page.locator("#jobs tbody tr.row");
  const row = (host: string, name: string) => page.locator(`#jobs tbody tr.row[data-host="${host}"]`).filter({ has: page.getByRole("link", { name, exact: true }) });
  const noXss = async () => {
    assert.equal(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined, "no payload ran");
    assert.equal(await page.locator("img").count(), 0, "no <img> was made from a name or an output");
  };

  test("the table: one row per job with its status; the counts", async () => {
    await page.goto(d.url);
    await ready();
    assert.equal(await rows().count(), 8);
    const expect: [number, string, string][] = [
      [1, "build", "succeeded"],
      [2, "build", "succeeded"],
      [3, "build", "failed"],
      [1, XSS_NAME_1, "failed"],
      [2, XSS_NAME_2, "succeeded"],
      [1, "nightly", "running"],
      [2, "nightly", "running"],
      [3, "nightly", "running"],
    ];
    for (const [i, name, status] of expect) {
      const r = row(h(i), name);
      assert.equal(await r.count(), 1, `${name} on ${h(i)}`);
      assert.equal(await r.getAttribute("data-status"), status, `${name} on ${h(i)}`);
      assert.equal((await r.locator(".badge").textContent())?.trim(), status);
    }
    assert.equal((await row(h(3), "build").locator("td").nth(4).textContent())?.trim(), "2", "the second attempt");
    assert.match((await page.locator("#counts").textContent()) ?? "", /8 all.*3 active.*5 terminal.*3 running.*3 succeeded.*2 failed/s);
    await noXss();
  });

  test("the timeline: one row per host, one bar per attempt, labelled and marked at the last write", async () => {
    const hostRows = page.locator("svg.timeline g.host-row");
    assert.deepEqual(await hostRows.evaluateAll((gs) => gs.map((g) => g.getAttribute("data-host"))), [h(1), h(2), h(3)]);
    const bars = async (host: string) =>
      page.locator(`svg.timeline g.host-row[data-host="${host}"] a.bar`).evaluateAll((as) => as.map((a) => `${a.getAttribute("data-name")}:${a.getAttribute("data-status")}`).sort());
    assert.deepEqual(await bars(h(1)), [`${XSS_NAME_1}:failed`, "build:succeeded", "nightly:running"].sort());
    assert.deepEqual(await bars(h(2)), [`${XSS_NAME_2}:succeeded`, "build:succeeded", "nightly:running"].sort());
    assert.deepEqual(await bars(h(3)), ["build:failed", "build:succeeded", "nightly:running"].sort(), "both attempts of build");
    // Not by colour alone: each bar names its status in its tooltip; failed bars carry a pattern.
    for (const title of await page.locator("svg.timeline a.bar > title").allTextContents()) assert.match(title, /attempt \d+: (succeeded|failed|running)/);
    assert.equal(await page.locator("svg.timeline a.bar.st-failed rect.pattern").count(), 2);
    assert.equal(await page.locator("svg.timeline a.bar line.updated-mark").count(), 9);
    assert.equal(await page.locator("svg.timeline a.bar.st-running line.since-update").count(), 3, "active bars continue to now");
    await noXss();
  });

  test("a filter click: the failed count shows only failed jobs, in the address too", async () => {
    await page.locator('#counts button[data-status="failed"]').click();
    await page.waitForFunction(() => document.querySelectorAll("#jobs tbody tr.row").length === 2);
    assert.match(page.url(), /#\/\?status=failed$/);
    assert.deepEqual((await rows().evaluateAll((trs) => trs.map((t) => t.getAttribute("data-status")))).sort(), ["failed", "failed"]);
    // The timeline follows the filter (it is drawn after the table).
    await page.waitForFunction(() => document.querySelectorAll("svg.timeline a.bar").length === 2);
    assert.deepEqual(await page.locator("svg.timeline a.bar").evaluateAll((as) => as.map((a) => a.getAttribute("data-status"))), ["failed", "failed"]);
    await page.locator("#f-host").fill(h(3));
    await page.waitForFunction(() => document.querySelectorAll("#jobs tbody tr.row").length === 1);
    assert.match(page.url(), /status=failed&host=lrt-dash-3/);
    await page.locator('#counts button[data-status="all"]').click();
    await page.locator("#f-clear").click();
    await page.waitForFunction(() => document.querySelectorAll("#jobs tbody tr.row").length === 8);
    // Sorting: by status, descending.
    await page.locator('th button[data-sort="status"]').click();
    await page.locator('th button[data-sort="status"]').click();
    await page.waitForFunction(() => location.hash.includes("order=desc"));
    await ready();
    await page.waitForFunction(() => document.querySelector("#jobs tbody tr.row")?.getAttribute("data-status") === "failed");
  });

  test("the job page: the whole record, the output tails, every attempt, where it came from", async () => {
    await page.goto(`${d.url}#/`);
    await row(h(3), "build").getByRole("link", { name: "build", exact: true }).click();
    await page.waitForSelector("#job-title");
    assert.match(page.url(), new RegExp(`#/job/default/${h(3)}/build$`));
    assert.match((await page.locator("#job-title").textContent()) ?? "", new RegExp(`build on ${h(3)} failed`));
    assert.match((await page.locator("#stderr").textContent()) ?? "", /no space left/);
    assert.deepEqual(
      await page.locator("#history tbody tr").evaluateAll((trs) => trs.map((t) => [...t.querySelectorAll("td")].slice(0, 2).map((c) => c.textContent).join(":"))),
      ["1:succeeded", "2:failed"],
    );
    const main = (await page.locator("main").textContent()) ?? "";
    assert.match(main, /playbook.*test\/integration\/roles\/lrt\.yml/s);
    assert.match(main, /play\s*long_running_task from the tests/);
    assert.match(main, /controller/);
    const raw = JSON.parse((await page.locator("#raw").textContent()) ?? "{}") as { host: string; attempt: number; jid: string };
    assert.equal(raw.host, h(3));
    assert.equal(raw.attempt, 2);
    assert.match(raw.jid, /^j?\d+\.\d+$/);
  });

  test("markup in job names and in output is shown as text", async () => {
    await page.goto(`${d.url}#/job/default/${encodeURIComponent(h(1))}/build`);
    await page.waitForSelector("#stdout");
    const out = (await page.locator("#stdout").textContent()) ?? "";
    assert.ok(out.includes(XSS_OUT_1), out);
    assert.ok(out.includes(XSS_OUT_2), out);
    await noXss();
    await page.goto(`${d.url}#/`);
    await ready();
    for (const name of [XSS_NAME_1, XSS_NAME_2]) {
      await page.getByRole("link", { name, exact: true }).click();
      await page.waitForSelector("#job-title");
      assert.equal(await page.locator("#job-title .name").textContent(), name);
      await noXss();
      await page.goBack();
      await ready();
    }
    await noXss();
  });

  test("live: a check run by another ansible-playbook updates the open page without a reload", async () => {
    await page.goto(`${d.url}#/`);
    await ready();
    await page.waitForFunction(() => document.getElementById("live")?.textContent?.includes("live"));
    await page.evaluate(() => {
      (window as unknown as { __sameDocument: boolean }).__sameDocument = true;
    });
    // Host 3 crashes during its nightly job; the job ends on host 2, runs on on host 1; a check runs.
    await hostCtl("kill", h(3));
    await hostCtl("start", h(3));
    const left = nightlyStarted + NIGHTLY_SEC * 1000 + 1000 - Date.now();
    if (left > 0) await new Promise((r) => setTimeout(r, left));
    const check = await lrt({ long_running_task_mode: "check", long_running_task_name: "nightly", long_running_task_fail_on: [] });
    assert.equal(check.code, 0, check.out);
    await page.waitForFunction(
      (hs: string[]) =>
        hs.every((host, i) => document.querySelector(`#jobs tr.row[data-host="${host}"][data-name="nightly"]`)?.getAttribute("data-status") === ["running", "succeeded", "lost"][i]),
      hosts.names,
      { timeout: 20_000 },
    );
    assert.equal(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument), true, "no reload");
    await page.locator('svg.timeline a.bar[data-name="nightly"][data-status="lost"]').waitFor();
    await page.waitForTimeout(300);
    const shot = process.env.DASHBOARD_SCREENSHOT ?? path.join(tmpdir(), "ansible-jobs-dashboard.png");
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`screenshot: ${shot}`);
  });

  test("a running job whose record was not written for 10 minutes shows as stale", async () => {
    // Nobody checked host 1's nightly job for 10 minutes (its record's times moved back).
    await backdate(openLedger(store), { namespace: "default", host: h(1), name: "nightly" }, 600);
    const r = row(h(1), "nightly");
    await page.waitForFunction((host: string) => document.querySelector(`#jobs tr.row[data-host="${host}"][data-name="nightly"] .badge.stale`) !== null, h(1), {
      timeout: 20_000,
    });
    assert.equal((await r.locator(".badge").textContent())?.trim(), "running (stale)");
    assert.match((await page.locator("svg.timeline .stale-label").textContent({ timeout: 10_000 })) ?? "", /^no update for 10m/);
    assert.equal(await page.locator('svg.timeline a.bar.stale[data-name="nightly"]').count(), 1);
    assert.deepEqual(problems, [], "no console error, CSP violation or script error");
  });

  test("resizing the window draws the timeline again at the new width from what the page has (no request)", async () => {
    const svgWidth = async () => Number(await page.locator("svg.timeline").getAttribute("width"));
    const before = await svgWidth();
    const asked: string[] = [];
    const onRequest = (r: { url(): string }) => {
      if (new URL(r.url()).pathname.startsWith("/api/") && !r.url().includes("/api/events")) asked.push(r.url());
    };
    page.on("request", onRequest);
    try {
      await page.setViewportSize({ width: 1000, height: 900 });
      await page.waitForFunction((w: number) => Number(document.querySelector("svg.timeline")?.getAttribute("width")) !== w, before, { timeout: 10_000 });
      assert.ok((await svgWidth()) < before, "narrower");
      assert.equal(await page.locator("svg.timeline g.host-row").count(), 3, "the same rows");
      await page.waitForTimeout(500);
      assert.deepEqual(asked, [], "nothing fetched for a resize");
    } finally {
      page.off("request", onRequest);
      await page.setViewportSize({ width: 1400, height: 900 });
    }
  });

  test("with --token, the browser is refused until it brings the token", async () => {
    const token = "f00dfeedf00dfeedf00dfeedf00dfeed";
    const guarded = await startDashboard(["--store", store, "--token", token]);
    const p = await browser.context.newPage();
    try {
      const refused = await p.goto(guarded.url);
      assert.equal(refused?.status(), 401);
      assert.match((await p.locator("body").textContent()) ?? "", /needs its token/);
      assert.doesNotMatch((await p.content()) ?? "", /nightly|lrt-dash/);
      const wrong = await p.goto(`${guarded.url}?token=wrong-wrong-wrong-wrong`);
      assert.equal(wrong?.status(), 401);
      await p.goto(`${guarded.url}?token=${token}`);
      await p.waitForSelector("body[data-ready=true]");
      assert.equal(new URL(p.url()).search, "", "the token leaves the address bar");
      assert.equal(await p.locator("#jobs tbody tr.row").count(), 8);
    } finally {
      await p.close();
      await guarded.stop();
    }
  });
});
