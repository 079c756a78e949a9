/** The CLI's pure parts: command-line normalisation, durations, tables, safe text, the error handler. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { JobsError } from "../../src/engine/errors.js";
import { type ArgsDef, commandIndex, didYouMean, parseArgv, wantsHelp } from "../../src/cli/argv.js";
import { CliError, EXIT } from "../../src/cli/errors.js";
import { report } from "../../src/cli/main.js";
import { ellipsize, renderTable, safeText, shortDuration, stripAnsi, useColor } from "../../src/cli/output.js";

const DEF = {
  name: { type: "positional", required: false },
  host: { type: "string" },
  status: { type: "string" },
  namespace: { type: "string", alias: "n" },
  json: { type: "boolean" },
  color: { type: "boolean" },
} satisfies ArgsDef;

function capture(fn: () => number): { code: number; stderr: string } {
  const write = process.stderr.write;
  let stderr = "";
  process.stderr.write = ((s: string) => {
    stderr += s;
    return true;
  }) as typeof process.stderr.write;
  try {
    return { code: fn(), stderr };
  } finally {
    process.stderr.write = write;
  }
}

describe("argv", () => {
  test("parses --name value, --name=value, aliases, --no-flag, lists and positionals after --", () => {
    assert.deepEqual(parseArgv("show", DEF, ["job", "--host", "web1", "-n", "ns", "--no-color", "--json"]), {
      color: false,
      json: true,
      host: "web1",
      namespace: "ns",
      name: "job",
    });
    assert.deepEqual(parseArgv("show", DEF, ["--host=-odd-", "--", "-dash-name"]), { host: "-odd-", name: "-dash-name" });
    assert.deepEqual(parseArgv("list", DEF, ["--status", "failed", "--status=lost"]), { status: "failed,lost" });
    assert.deepEqual(parseArgv("list", DEF, ["--json=false"]), { json: false });
    assert.deepEqual(parseArgv("list", DEF, ["--color", "--no-color"]), { color: false });
  });

  test("rejects unknown, valueless, repeated and extra arguments", () => {
    const err = (argv: string[]) => {
      try {
        parseArgv("list", DEF, argv);
      } catch (e) {
        assert.ok(e instanceof CliError);
        assert.equal(e.exitCode, EXIT.usage);
        return e.message;
      }
      assert.fail(`accepted ${argv.join(" ")}`);
    };
    assert.equal(err(["--hots", "x"]), "unknown option --hots for list (did you mean --host?)");
    assert.equal(err(["--no-host"]), "unknown option --no-host for list (did you mean --host?)");
    assert.equal(err(["--host"]), "--host needs a value");
    assert.equal(err(["--host="]), "--host needs a non-empty value");
    assert.equal(err(["-n", "a", "--namespace", "b"]), "--namespace given more than once");
    assert.equal(err(["a", "b"]), 'unexpected argument "b" (list takes NAME)');
  });

  test("finds the command after global options and spots --help", () => {
    const globals = { store: { type: "string" }, json: { type: "boolean" } } satisfies ArgsDef;
    assert.equal(commandIndex(["--store", "list", "list"], globals), 2);
    assert.equal(commandIndex(["--store=x", "--json", "show", "a"], globals), 2);
    assert.equal(commandIndex(["--json"], globals), -1);
    assert.equal(commandIndex(["--", "list"], globals), -1);
    assert.ok(wantsHelp(["list", "-h"]));
    assert.ok(!wantsHelp(["show", "--", "--help"]));
    assert.equal(didYouMean("lsit", ["list", "show"]), " (did you mean list?)");
    assert.equal(didYouMean("zzzzzz", ["list", "show"]), "");
  });
});

describe("output", () => {
  test("durations keep the two largest units", () => {
    assert.equal(shortDuration(0), "0s");
    assert.equal(shortDuration(42_000), "42s");
    assert.equal(shortDuration(12 * 60_000 + 5_000), "12m5s");
    assert.equal(shortDuration(3 * 3600_000 + 12 * 60_000 + 59_000), "3h12m");
    assert.equal(shortDuration(7 * 86400_000 + 3 * 3600_000), "7d3h");
    assert.equal(shortDuration(86400_000 + 30_000), "1d");
    assert.equal(shortDuration(-5_000), "-5s");
  });

  test("tables pad to the widest cell and colour without breaking alignment", () => {
    const t = renderTable(
      [{ header: "A" }, { header: "N", right: true }, { header: "LAST" }],
      [
        ["x", "1", "end"],
        ["long", "100", ""],
      ],
      (_r, c, padded) => (c === 0 ? `<${padded}>` : padded),
    );
    assert.equal(t, "A       N  LAST\n<x   >    1  end\n<long>  100\n");
  });

  test("safe text shows control characters in caret notation", () => {
    assert.equal(safeText("a\u001b[31mb\u0007\u007f"), "a^[[31mb^G^?");
    assert.equal(safeText("line1\nline2\tx"), "line1\nline2\tx");
    assert.equal(safeText("line1\nline2", true), "line1 ⏎ line2");
    assert.equal(safeText("\u009b"), "\\u009b");
    assert.equal(stripAnsi("\u001b[1mbold\u001b[22m"), "bold");
    assert.equal(ellipsize("abcdefghij", 5), "ab…ij");
  });

  test("colour: explicit flag, then NO_COLOR and TERM=dumb, then the terminal", () => {
    assert.equal(useColor({ color: true, env: { NO_COLOR: "1" }, isTTY: false }), true);
    assert.equal(useColor({ color: false, env: {}, isTTY: true }), false);
    assert.equal(useColor({ env: { NO_COLOR: "1" }, isTTY: true }), false);
    assert.equal(useColor({ env: { NO_COLOR: "" }, isTTY: true }), true);
    assert.equal(useColor({ env: { TERM: "dumb" }, isTTY: true }), false);
    assert.equal(useColor({ env: {}, isTTY: false }), false);
  });
});

describe("the top-level error handler", () => {
  test("user errors: one line and their exit code", () => {
    assert.deepEqual(capture(() => report(new CliError(EXIT.notFound, "no job"))), { code: 1, stderr: "ansible-jobs: error: no job\n" });
    const u = capture(() => report(new CliError(EXIT.usage, "bad", { hint: "ansible-jobs list --help" })));
    assert.deepEqual(u, { code: 2, stderr: "ansible-jobs: error: bad (see ansible-jobs list --help)\n" });
    for (const [code, exit] of [
      ["invalid_argument", 2],
      ["not_found", 1],
      ["store_unavailable", 4],
      ["corrupt", 4],
      ["unsupported", 4],
      ["conflict", 4],
    ] as const) {
      const r = capture(() => report(new JobsError(code, `${code} happened\nsecond line`)));
      assert.equal(r.code, exit, code);
      assert.equal(r.stderr, `ansible-jobs: error: ${code} happened ⏎ second line\n`);
    }
  });

  test("internal errors print the stack and exit 70", () => {
    const r = capture(() => report(new TypeError("boom")));
    assert.equal(r.code, 70);
    assert.match(r.stderr, /^ansible-jobs: internal error \(please report it\): TypeError: boom\n\s+at /);
    const j = capture(() => report(new JobsError("internal", "engine bug")));
    assert.equal(j.code, 70);
    assert.match(j.stderr, /JobsError: engine bug\n\s+at /);
  });
});
