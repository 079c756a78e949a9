/**
 * Third-party notices: every npm package that esbuild put into a bundle (the S3 and Ara stores
 * embedded as strings included) is in THIRD_PARTY_NOTICES.txt with its version, its licence and
 * the licence and notice files it ships; the file is the same in dist/ and in the collection.
 * The package list is derived here from the build's metafiles, independently of build.mjs.
 */
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import * as path from "node:path";
import { before, describe, test } from "node:test";
import { ensureBuilt } from "../cli/helpers.js";
import { COLL, REPO } from "../helpers/ansible.js";

const OUTPUTS = ["job_store_engine.cjs", "ansible-jobs.cjs"];
const ENGINE_DIR = path.join(COLL, "plugins", "plugin_utils", "_engine");

interface Metafile {
  inputs: Record<string, unknown>;
  outputs: Record<string, { bytes: number }>;
}
interface Meta {
  outputs: Record<string, Metafile>;
  lazy: Record<string, Metafile>;
}
interface Entry {
  license: string;
  bundledInto: string;
  texts: string[];
}

const normalise = (t: string) => `${t.replace(/\r\n?/g, "\n").replace(/[ \t]+$/gm, "").trim()}\n`;

/** node_modules/NAME or node_modules/@SCOPE/NAME (the innermost one) of a metafile input. */
function packageDir(input: string): string | undefined {
  const at = input.lastIndexOf("node_modules/");
  if (at < 0) return undefined;
  const parts = input.slice(at).split("/");
  return input.slice(0, at) + parts.slice(0, parts[1]!.startsWith("@") ? 3 : 2).join("/");
}

function packageDirs(meta: Meta, out: string): Set<string> {
  const dirs = new Set<string>();
  const add = (m: Metafile) => {
    for (const input of Object.keys(m.inputs)) {
      const spec = /^lazy-store:(.*)$/.exec(input)?.[1];
      if (spec !== undefined) {
        const store = meta.lazy[spec];
        assert.ok(store, `the metafile of the embedded store ${spec}`);
        add(store);
      } else {
        const dir = packageDir(input);
        if (dir) dirs.add(dir);
      }
    }
  };
  add(meta.outputs[out]!);
  return dirs;
}

/** The notices file's package entries (by name@version) and its texts (by [Tn]). */
function parse(notices: string): { entries: Map<string, Entry>; texts: Map<string, string> } {
  const texts = new Map<string, string>();
  for (const m of notices.matchAll(/^===== \[(T\d+)\] =====\n([\s\S]*?)\n===== end of \[\1\] =====$/gm)) texts.set(m[1]!, normalise(m[2]!));
  const entries = new Map<string, Entry>();
  for (const block of notices.split(/\n\n+/)) {
    const pkg = /^Package: (\S+)$/m.exec(block);
    if (!pkg) continue;
    entries.set(pkg[1]!, {
      license: /^License: (.*)$/m.exec(block)?.[1] ?? "",
      bundledInto: /^Bundled into: (.*)$/m.exec(block)?.[1] ?? "",
      texts: [...block.matchAll(/^Text: \[(T\d+)\]/gm)].map((m) => m[1]!),
    });
  }
  return { entries, texts };
}

describe("third-party notices", () => {
  let meta: Meta;
  let notices: string;
  before(async () => {
    await ensureBuilt();
    meta = JSON.parse(readFileSync(path.join(REPO, "dist", "metafile.json"), "utf8"));
    notices = readFileSync(path.join(REPO, "dist", "THIRD_PARTY_NOTICES.txt"), "utf8");
  });

  test("the metafiles are those of the bundles in dist/ (same sizes)", () => {
    for (const out of OUTPUTS) {
      const outputs = Object.entries(meta.outputs[out]?.outputs ?? {});
      assert.equal(outputs.length, 1, out);
      const [file, { bytes }] = outputs[0]!;
      assert.equal(file, `dist/${out}`);
      assert.equal(bytes, statSync(path.join(REPO, "dist", out)).size, `${out}: metafile and file sizes`);
    }
  });

  test("every bundled package, embedded stores included, is listed with its version, licence and licence files", () => {
    const { entries, texts } = parse(notices);
    const expected = new Map<string, string[]>(); // name@version -> outputs
    for (const out of OUTPUTS) {
      const dirs = packageDirs(meta, out);
      // The S3 store's SDK is embedded as a string: its packages count for both programs.
      assert.ok([...dirs].some((d) => d.endsWith("node_modules/@smithy/signature-v4")), `${out}: the embedded S3 store's packages`);
      for (const dir of dirs) {
        const pj = JSON.parse(readFileSync(path.join(REPO, dir, "package.json"), "utf8"));
        const id = `${pj.name}@${pj.version}`;
        const entry = entries.get(id);
        assert.ok(entry, `${id} (${dir}, in ${out}) is in THIRD_PARTY_NOTICES.txt`);
        assert.ok(pj.license, `${id} names a licence`);
        assert.equal(entry.license, pj.license, `${id}: licence`);
        assert.ok(entry.bundledInto.split(", ").some((b) => b === out || b.startsWith(`${out} (`)), `${id}: bundled into ${out}`);
        const given = entry.texts.map((t) => texts.get(t));
        assert.ok(given.length && given.every((t) => t !== undefined), `${id}: its texts are in the file`);
        const files = readdirSync(path.join(REPO, dir)).filter((f) => /^(licen[cs]e|copying|notice)([.-].*)?$/i.test(f));
        const wanted = files.length
          ? files.map((f) => normalise(readFileSync(path.join(REPO, dir, f), "utf8")))
          : [normalise(readFileSync(path.join(REPO, "scripts", "licenses", `${pj.license}.txt`), "utf8"))];
        for (const w of wanted) assert.ok(given.includes(w), `${id}: the text of ${files.join(", ") || `the standard ${pj.license}`}`);
        expected.set(id, [...(expected.get(id) ?? []), out]);
      }
    }
    assert.deepEqual([...entries.keys()].sort(), [...expected.keys()].sort(), "the file lists the bundled packages and no others");
  });

  test("the collection ships the same notices beside its bundles, and the bundles point at them", () => {
    const shipped = readFileSync(path.join(ENGINE_DIR, "THIRD_PARTY_NOTICES.txt"), "utf8");
    assert.ok(shipped === notices, "plugins/plugin_utils/_engine/THIRD_PARTY_NOTICES.txt is dist/THIRD_PARTY_NOTICES.txt");
    for (const out of OUTPUTS) {
      const head = readFileSync(path.join(ENGINE_DIR, out), "utf8").slice(0, 600);
      assert.match(head, /^\/\/ SPDX-License-Identifier: GPL-3\.0-or-later$/m, out);
      assert.match(head, /see THIRD_PARTY_NOTICES\.txt beside this file/, out);
    }
  });
});
