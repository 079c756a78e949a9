/**
 * The collection in an execution environment, offline: ansible-builder (pinned in the tools venv)
 * reads Node.js from the installed tarball's meta/execution-environment.yml and bindep.txt, and
 * docs/execution-environment.yml makes a build context that enables a Node.js >= 18 stream,
 * checks the node it installed, and installs the collection from the built tarball. No image is
 * built (no registry is reachable); the galaxy stage's install is replayed from the context.
 */
import assert from "node:assert/strict";
import { copyFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { before, describe, test } from "node:test";
import { COLL, REPO, type RunResult, run, tempDir } from "../helpers/ansible.js";
import { REPO_VENVS } from "../helpers/tools.js";

const BUILDER = path.join(REPO_VENVS, "tools", "bin", "ansible-builder");
const DEFINITION = path.join(REPO, "docs", "execution-environment.yml");

/** ansible-galaxy with only `dir` configured (2.21 skips a collection it already sees in the source tree). */
const galaxy = (args: string[], dir: string) => run("ansible-galaxy", args, { env: { ANSIBLE_COLLECTIONS_PATH: dir } });

/** `ansible-builder introspect --sanitize DIR`: the system requirements it reads, one bindep line each. */
async function systemRequirements(dir: string): Promise<{ r: RunResult; lines: string[] }> {
  const file = path.join(tempDir("ee-bindep"), "bindep.txt");
  const r = await run(BUILDER, ["introspect", "--sanitize", "--write-bindep", file, dir]);
  return { r, lines: existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : [] };
}

describe("execution environment", () => {
  let tarball: string;
  before(async () => {
    assert.ok(existsSync(BUILDER), `${BUILDER} (the pinned tools venv: make lint builds it)`);
    const out = tempDir("ee-build");
    const b = await run("ansible-galaxy", ["collection", "build", COLL, "--output-path", out, "--force"]);
    assert.equal(b.code, 0, b.out);
    tarball = path.join(out, readdirSync(out).find((f) => f.endsWith(".tar.gz"))!);
  });

  test("ansible-builder introspect finds Node.js >= 18 among the installed collection's system requirements", async () => {
    const installed = tempDir("ee-install");
    const inst = await galaxy(["collection", "install", tarball, "-p", installed], installed);
    assert.equal(inst.code, 0, inst.out);
    assert.ok(existsSync(path.join(installed, "ansible_collections", "rstyczynski", "ansible", "meta", "execution-environment.yml")), inst.out);
    const { r, lines } = await systemRequirements(installed);
    assert.equal(r.code, 0, r.out);
    assert.match(r.stdout, /^python: \[\]$/m, "no Python requirements beyond ansible-core");
    assert.deepEqual(lines, [
      "nodejs [platform:rpm]  # from collection rstyczynski.ansible",
      "nodejs [platform:dpkg] >=18  # from collection rstyczynski.ansible",
    ]);
  });

  test("docs/execution-environment.yml: a build context with a Node.js >= 18 stream and the built collection", async () => {
    // The definition expects the tarball beside it: copy both into an empty directory.
    const dir = tempDir("ee-def");
    copyFileSync(DEFINITION, path.join(dir, "execution-environment.yml"));
    copyFileSync(tarball, path.join(dir, path.basename(tarball)));
    const context = path.join(dir, "context");
    const r = await run(BUILDER, ["create", "-f", path.join(dir, "execution-environment.yml"), "--context", context]);
    assert.equal(r.code, 0, r.out);

    const containerfile = readFileSync(path.join(context, "Containerfile"), "utf8");
    const stages = containerfile.split(/^(?=FROM )/m);
    const stage = (name: string) => stages.find((s) => new RegExp(`^FROM \\S+ AS ${name}$`, "m").test(s)) ?? "";
    // The final stage is built FROM base: a stream enabled there is the one bindep's nodejs comes from.
    const stream = /^RUN \$PKGMGR module enable -y nodejs:(\d+)$/m.exec(stage("base"));
    assert.ok(stream, `the base stage enables a nodejs module stream:\n${stage("base")}`);
    assert.ok(Number(stream[1]) >= 18, `nodejs:${stream[1]} >= 18`);
    assert.match(stage("final"), /^FROM base AS final$/m);
    assert.match(stage("final"), /^RUN \/output\/scripts\/install-from-bindep/m, "the final stage installs the bindep packages");
    assert.match(stage("final"), /^RUN node -e .*process\.versions\.node.*< 18.*process\.exit\(1\)/m, "the final stage checks node >= 18");
    assert.match(stage("builder"), /introspect\.py introspect/, "the builder stage reads the collections' requirements");
    assert.match(stage("galaxy"), /^COPY _build \/build$/m);

    // The collection: the built tarball, byte for byte, named by the galaxy requirements.
    const shipped = path.join(context, "_build", "collections", path.basename(tarball));
    assert.ok(readFileSync(shipped).equals(readFileSync(tarball)), `${shipped} is the built tarball`);
    const requirements = readFileSync(path.join(context, "_build", "requirements.yml"), "utf8");
    assert.match(requirements, new RegExp(`name: /build/collections/${path.basename(tarball).replace(/\./g, "\\.")}\\n\\s+type: file`));

    // Replay the galaxy stage (WORKDIR /build holds _build/) and the builder's introspection.
    const replayed = path.join(dir, "requirements.yml");
    writeFileSync(replayed, requirements.replaceAll("/build/", `${path.join(context, "_build")}/`));
    const collections = tempDir("ee-galaxy");
    const inst = await galaxy(["collection", "install", "-r", replayed, "-p", collections], collections);
    assert.equal(inst.code, 0, inst.out);
    const { r: intro, lines } = await systemRequirements(collections);
    assert.equal(intro.code, 0, intro.out);
    assert.ok(lines.includes("nodejs [platform:rpm]  # from collection rstyczynski.ansible"), lines.join("\n"));
  });
});
