/** --help for every command, version and schema, and how errors look: one line, the right exit code, no stack. */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import * as path from "node:path";
import { before, describe, test } from "node:test";
import { JobRecord } from "../../src/engine/record.js";
import { STATUSES } from "../../src/engine/status.js";
import { fillStore } from "./fixtures.js";
import { ANSI, REPO, cli, useScratch } from "./helpers.js";

const root = useScratch();
let store: string;
let closedPort: number;

before(async () => {
  store = root.path("store");
  await fillStore(store, { corrupt: false });
  // A port nobody listens on: connections are refused at once.
  closedPort = await new Promise<number>((resolve) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
});

/** A user error: exactly one line on stderr, prefixed, and no stack trace. */
function oneLineError(stderr: string, re: RegExp): void {
  const lines = stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line: ${stderr}`);
  assert.match(lines[0]!, /^ansible-jobs: error: /);
  assert.match(lines[0]!, re);
  assert.doesNotMatch(stderr, /\n\s+at |Error: /, "no stack trace");
}

const COMMAND_FLAGS: Record<string, string[]> = {
  list: ["--host", "--name", "--status", "--playbook", "--older-than", "--newer-than", "--namespace", "--all-namespaces", "--history", "--fail-on"],
  show: ["NAME", "--host", "--jid", "--attempt", "--namespace"],
  history: ["NAME", "--host", "--namespace"],
  watch: ["--interval", "--until-done", "--timeout", "--fail-on", "--status"],
  prune: ["--older-than", "--status", "--dry-run", "--host"],
  delete: ["NAME", "--host", "--yes", "--force"],
  schema: [],
  version: [],
  help: ["COMMAND"],
};

describe("help", () => {
  for (const [name, flags] of Object.entries(COMMAND_FLAGS)) {
    test(`${name} --help`, async () => {
      for (const argv of [[name, "--help"], [name, "-h"], ["help", name], ["--store", "x", name, "--help"]]) {
        const r = await cli(argv);
        assert.equal(r.code, 0, `${argv.join(" ")}: ${r.stderr}`);
        assert.equal(r.stderr, "");
        assert.doesNotMatch(r.stdout, ANSI);
        assert.match(r.stdout, new RegExp(`\\nUSAGE ansible-jobs ${name}[ \\n]`));
        for (const f of [...flags, "--store", "--json", "--no-color"]) assert.ok(r.stdout.includes(f), `${name} --help mentions ${f}`);
        assert.match(r.stdout, /\nEXAMPLES\n\n {2}ansible-jobs /);
      }
    });
  }

  test("aliases ls and rm have the same help", async () => {
    assert.equal((await cli(["ls", "--help"])).stdout, (await cli(["list", "--help"])).stdout);
    assert.equal((await cli(["rm", "--help"])).stdout, (await cli(["delete", "--help"])).stdout);
  });

  test("ansible-jobs --help lists the commands, exit codes and environment", async () => {
    const r = await cli(["--help"]);
    assert.equal(r.code, 0);
    for (const c of Object.keys(COMMAND_FLAGS)) assert.match(r.stdout, new RegExp(`\\n +${c}(, \\w+)? {4}`));
    assert.match(r.stdout, /\nEXIT CODES\n\n {2}0 {3}ok\n {2}1 {3}not found/);
    assert.match(r.stdout, /\n {2}3 {3}--fail-on matched/);
    assert.match(r.stdout, /ANSIBLE_JOBS_STORE/);
    assert.equal((await cli(["help"])).stdout, r.stdout);
    assert.equal((await cli(["-h"])).stdout, r.stdout);
  });

  test("no command prints the usage on stderr and exits 2", async () => {
    const r = await cli([]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /USAGE ansible-jobs/);
  });
});

describe("version and schema", () => {
  test("version, --version and version --json", async () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")) as { version: string };
    const v = await cli(["version"]);
    assert.equal(v.code, 0);
    assert.equal(v.stdout, `ansible-jobs ${pkg.version} (record schema 1, node ${process.version})\n`);
    assert.equal((await cli(["--version"])).stdout, v.stdout);
    assert.equal((await cli(["-v"])).stdout, v.stdout);
    assert.deepEqual(JSON.parse((await cli(["version", "--json"])).stdout), {
      name: "ansible-jobs",
      version: pkg.version,
      record_schema: 1,
      node: process.version,
    });
  });

  test("schema prints the record's JSON Schema, the same one the engine validates with", async () => {
    const r = await cli(["schema"]);
    assert.equal(r.code, 0);
    const { $schema, title, description, ...rest } = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal($schema, "http://json-schema.org/draft-07/schema#");
    assert.equal(typeof title, "string");
    assert.equal(typeof description, "string");
    assert.deepEqual(rest, JSON.parse(JSON.stringify(JobRecord)));
    const status = (rest.properties as Record<string, { anyOf: { const: string }[] }>).status!;
    assert.deepEqual(
      status.anyOf.map((s) => s.const),
      [...STATUSES],
    );
  });
});

describe("errors", () => {
  test("unknown command (with a suggestion)", async () => {
    const r = await cli(["lsit"]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, "");
    oneLineError(r.stderr, /unknown command "lsit" \(did you mean list\?\); commands: list, show, history, watch, serve, prune, refresh, import, replay, delete, schema, version, help/);
    oneLineError((await cli(["frobnicate"])).stderr, /^ansible-jobs: error: unknown command "frobnicate"; commands:/);
    oneLineError((await cli(["help", "nope"])).stderr, /unknown command "nope"/);
  });

  test("unknown option, missing value, repeated option, extra argument", async () => {
    const cases: [string[], RegExp][] = [
      [["list", "--stauts", "failed"], /unknown option --stauts for list \(did you mean --status\?\)/],
      [["list", "--host"], /--host needs a value \(host\[,host\.\.\.\]\)/],
      [["list", "--host", "--json"], /--host needs a value/],
      [["list", "--name", "a", "--name", "b"], /--name given more than once/],
      [["list", "extra"], /list takes no arguments \(got "extra"\)/],
      [["show", "a", "b"], /unexpected argument "b" \(show takes NAME\)/],
      [["list", "--json=maybe"], /--json takes no value \(got "maybe"\)/],
      [["list", "--json", "--ndjson"], /--json and --ndjson cannot be used together/],
      [["list", "--namespace", "x", "-A"], /--namespace and --all-namespaces cannot be used together/],
      [["list", "--status", "finished"], /--status: unknown status "finished" \(use starting, running, .*, active or terminal\)/],
      [["list", "--status", ","], /--status needs at least one status/],
      [["list", "--older-than", "7 days"], /--older-than: "7 days" is not a duration \(examples: 90s, 15m, 12h, 7d, 2w\)/],
      [["list", "--newer-than", "-1"], /--newer-than needs a value/],
      [["--bogus"], /unknown option --bogus for ansible-jobs/],
      [["--json"], /no command given; commands: list/],
    ];
    for (const [argv, re] of cases) {
      const r = await cli([...argv, "--store", store]);
      assert.equal(r.code, 2, `${argv.join(" ")}: exit ${r.code} ${r.stderr}`);
      assert.equal(r.stdout, "", argv.join(" "));
      oneLineError(r.stderr, re);
    }
  });

  test("store errors exit 4 with one line: a file instead of a directory, unreachable S3, unreachable Ara", async () => {
    const file = root.path("a-file");
    writeFileSync(file, "x");
    const f = await cli(["list", "--store", file]);
    assert.equal(f.code, 4);
    oneLineError(f.stderr, new RegExp(`filesystem store ${file} is not a directory`));

    const awsEnv = {
      ANSIBLE_JOBS_S3_ENDPOINT: `http://127.0.0.1:${closedPort}`,
      AWS_ENDPOINT_URL: `http://127.0.0.1:${closedPort}`,
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      AWS_REGION: "us-east-1",
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_PROFILE: undefined,
    };
    for (const argv of [
      ["list", "--store", "s3://ajcli-test-bucket/jobs"],
      ["show", "build", "--host", "web1", "--store", "s3://ajcli-test-bucket/jobs"],
    ]) {
      const s3 = await cli(argv, { env: awsEnv, timeoutMs: 60_000 });
      assert.equal(s3.code, 4, `${argv.join(" ")}: ${s3.stderr}`);
      assert.equal(s3.stdout, "");
      oneLineError(s3.stderr, /s3 store s3:\/\/ajcli-test-bucket\/jobs .*connection refused/);
    }

    const ara = await cli(["list", "--store", `ara+http://127.0.0.1:${closedPort}`], { env: { ARA_API_TIMEOUT: "5" }, timeoutMs: 60_000 });
    assert.equal(ara.code, 4, ara.stderr);
    oneLineError(ara.stderr, new RegExp(`ara store ara\\+http://127\\.0\\.0\\.1:${closedPort}: .*connection refused`));
  });

  test("an unknown store scheme is a usage error", async () => {
    const r = await cli(["list", "--store", "ftp://example.com/jobs"]);
    assert.equal(r.code, 2);
    oneLineError(r.stderr, /store: unknown store URL scheme "ftp:\/\/"/);
  });
});
