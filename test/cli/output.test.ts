/** Colour rules (TTY, NO_COLOR, --color/--no-color, TERM=dumb) and text from records made safe for a terminal. */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { spawn } from "node:child_process";
import { EVIDENCE, type Filled, fillStore, launch, observe, openLedger } from "./fixtures.js";
import { ANSI, CLI, cleanEnv, cli, cliOnTty, haveScript, useScratch } from "./helpers.js";

const root = useScratch();
let f: Filled;
const tty = { skip: haveScript() ? false : "script(1) is not installed: no pseudo-terminal" };

before(async () => {
  f = await fillStore(root.path("store"), { corrupt: false });
});

const COLOURS: [string, number][] = [
  ["starting", 36],
  ["running", 36],
  ["succeeded", 32],
  ["failed", 31],
  ["lost", 31],
  ["timed_out", 31],
  ["cancelled", 33],
  ["unreachable", 33],
];

function assertStatusColours(out: string): void {
  for (const [status, sgr] of COLOURS) assert.ok(out.includes(`\u001b[${sgr}m${status}\u001b[39m`), `${status} in colour ${sgr}`);
}

describe("colour", () => {
  test("none when stdout is not a terminal, for every command", async () => {
    for (const argv of [["list"], ["list", "-A", "--history"], ["show", "build", "--host", "web2"], ["history", "reindex"], ["watch", "--until-done", "--status", "terminal"], ["prune", "--older-than", "9d", "--dry-run"]]) {
      const r = await cli([...argv, "--store", f.dir]);
      assert.equal(r.code, 0, `${argv.join(" ")}: ${r.stderr}`);
      assert.doesNotMatch(r.stdout + r.stderr, ANSI, argv.join(" "));
    }
  });

  test("--color forces it: running/starting cyan, succeeded green, failed/lost/timed_out red, cancelled/unreachable yellow", async () => {
    const r = await cli(["list", "--store", f.dir, "--color"]);
    assert.equal(r.code, 0);
    assertStatusColours(r.stdout);
    assert.ok(r.stdout.startsWith("\u001b[1mHOST"), "bold header");
    const forced = await cli(["list", "--store", f.dir, "--color"], { env: { NO_COLOR: "1" } });
    assert.match(forced.stdout, ANSI, "an explicit --color overrides NO_COLOR");
    const last = await cli(["list", "--store", f.dir, "--color", "--no-color"]);
    assert.doesNotMatch(last.stdout, ANSI, "the last of --color/--no-color wins");
  });

  test("on a terminal: colour by default; not with NO_COLOR, --no-color or TERM=dumb", tty, async () => {
    const on = await cliOnTty(["list", "--store", f.dir]);
    assert.equal(on.code, 0, on.stdout);
    assertStatusColours(on.stdout);
    const show = await cliOnTty(["show", "build", "--host", "web2", "--store", f.dir]);
    assert.ok(show.stdout.includes("\u001b[31mfailed\u001b[39m"));
    const help = await cliOnTty(["list", "--help"]);
    assert.match(help.stdout, /list/);
    for (const [argv, env] of [
      [["list", "--store", f.dir], { NO_COLOR: "1" }],
      [["list", "--store", f.dir, "--no-color"], {}],
      [["list", "--store", f.dir], { TERM: "dumb" }],
      [["show", "build", "--host", "web2", "--store", f.dir, "--no-color"], {}],
      [["list", "--help", "--no-color"], {}],
    ] as [string[], Record<string, string>][]) {
      const r = await cliOnTty(argv, { env });
      assert.equal(r.code, 0, r.stdout);
      assert.doesNotMatch(r.stdout, ANSI, `${argv.join(" ")} ${JSON.stringify(env)}`);
    }
  });

  test("NO_COLOR with an empty value does not disable colour", tty, async () => {
    const r = await cliOnTty(["list", "--store", f.dir], { env: { NO_COLOR: "" } });
    assert.match(r.stdout, ANSI);
  });
});

describe("pipes", () => {
  test("a reader that goes away early (| head) ends the CLI quietly", async () => {
    const dir = root.path("big");
    const ledger = openLedger(dir);
    for (let i = 0; i < 24; i++) {
      const jid = `j${i}.1`;
      await ledger.recordNew({ namespace: "default", host: "web1", name: `big-${i}` }, {}, {}, {
        ansible_job_id: jid,
        started: 1,
        finished: 1,
        rc: 0,
        stdout: "x".repeat(8000),
      });
    }
    // 24 records with 8 KB tails: more than a pipe holds, so the CLI is still writing.
    const child = spawn(process.execPath, [CLI, "list", "--store", dir, "--json"], { env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
    assert.equal(stderr, "");
    assert.equal(code, 0);
  });
});

describe("text from records", () => {
  test("control characters in job output and messages are shown, not obeyed", async () => {
    const id = { namespace: "default", host: "evil", name: "prints-escapes" };
    await launch(f.ledger, id);
    await observe(f.ledger, id, {
      ...EVIDENCE.failed,
      result: { rc: 1, failed: true, msg: "bad\u001b[2J\u0007", stdout: "ok\u001b[31mred\r\nnext\n" },
    });
    const r = await cli(["show", "prints-escapes", "--store", f.dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, ANSI);
    assert.match(r.stdout, /\n {2}msg +bad\^\[\[2J\^G\n/);
    assert.match(r.stdout, /\n {2}\| ok\^\[\[31mred\^M\n {2}\| next\n/);
    const hist = await cli(["history", "prints-escapes", "--store", f.dir]);
    assert.doesNotMatch(hist.stdout, ANSI);
    assert.match(hist.stdout, /failed: bad\^\[\[2J\^G/);
    const json = await cli(["show", "prints-escapes", "--store", f.dir, "--json"]);
    assert.equal(JSON.parse(json.stdout).result.msg, "bad\u001b[2J\u0007", "JSON keeps the exact text");
  });
});
