// SPDX-License-Identifier: GPL-3.0-or-later
// Copyright: rstyczynski.ansible contributors
//
// Bundles the engine (job_store bridge) and the ansible-jobs CLI into single-file node18 programs,
// and copies them into the collection (plugins/plugin_utils/_engine/) so ansible-galaxy packs them.
//
// The S3 and Ara stores are bundled separately and embedded in each program as a string that
// is compiled only when such a store is opened. A string costs V8 a scan, not a parse, so the
// filesystem path keeps its cold start whatever the size of the AWS SDK, and each program
// stays a single file.
//
// The bundles carry third-party code, whose licence comments esbuild strips (legalComments:
// "none" keeps the programs small). In their place, THIRD_PARTY_NOTICES.txt, written beside
// the bundles (in dist/ and in the collection), lists every npm package that went into each
// program (from esbuild's metafiles, the embedded stores included) with its name, version,
// licence and the licence and notice files it ships. dist/metafile.json keeps the metafiles
// for test/unit/notices.test.ts.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { build } from "esbuild";

const COLL = "ansible_collection/collections/ansible_collections/rstyczynski/ansible";
/** Inside plugins/ (the only code a collection may call), in a directory ansible-doc does not list. */
const ENGINE_DIR = `${COLL}/plugins/plugin_utils/_engine`;
const NOTICES = "THIRD_PARTY_NOTICES.txt";
/** Licence texts for packages that ship none (by SPDX id); a package with neither fails the build. */
const FALLBACK_LICENCES = "scripts/licenses";

const common = {
  bundle: true,
  platform: "node",
  target: "node18",
  format: "cjs",
  minify: true,
  legalComments: "none",
  metafile: true,
  // ES module builds of the AWS SDK packages tree-shake better (about 80 KiB less).
  mainFields: ["module", "main"],
  logLevel: "warning",
};

// The dashboard's page script (ansible-jobs serve), bundled for the browser and put into the CLI as
// a string (src/serve/assets.ts): the page needs nothing from the network.
const page = await build({
  entryPoints: ["src/serve/page/main.ts"],
  bundle: true,
  platform: "browser",
  target: "es2020",
  format: "iife",
  minify: true,
  legalComments: "none",
  metafile: true,
  write: false,
  logLevel: "warning",
});
const pageJs = page.outputFiles[0].text;

// The dashboard (ansible-jobs serve) is embedded the same way: only `serve` compiles it. It gets
// the CLI's store and selection functions from the serve command (src/serve/cli-parts.ts), so its
// bundle holds no second copy of the stores.
const LAZY = {
  "./s3.js": { entry: "src/stores/s3.ts", label: "S3 store", importer: "stores/open.ts" },
  "./ara.js": { entry: "src/stores/ara.ts", label: "Ara store", importer: "stores/open.ts" },
  "../../serve/index.js": {
    entry: "src/serve/index.ts",
    label: "dashboard",
    importer: "cli/commands/serve.ts",
    define: { __DASHBOARD_JS__: JSON.stringify(pageJs) },
  },
};
const lazyCode = {};
const lazyMeta = {};
for (const [spec, { entry, define }] of Object.entries(LAZY)) {
  const r = await build({ ...common, entryPoints: [entry], write: false, define: define ?? {} });
  lazyCode[spec] = r.outputFiles[0].text;
  lazyMeta[spec] = r.metafile;
}
for (const input of Object.keys(lazyMeta["../../serve/index.js"].inputs)) {
  if (/stores\/|engine\/ledger|node_modules/.test(input)) throw new Error(`the dashboard's bundle must not hold ${input}: take it from the CLI (src/serve/cli-parts.ts)`);
}

/** Resolves `import("./s3.js")` from src/stores/open.ts (and the dashboard's from the serve command) to a module that compiles the embedded code on first use. */
const lazyStores = {
  name: "lazy-stores",
  setup(b) {
    b.onResolve({ filter: /^(\.\/(s3|ara)|\.\.\/\.\.\/serve\/index)\.js$/ }, (args) =>
      args.importer.endsWith(LAZY[args.path].importer) ? { path: args.path, namespace: "lazy-store" } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "lazy-store" }, (args) => ({
      loader: "js",
      contents: `const m = { exports: {} };
new Function("module", "exports", "require", "__filename", "__dirname", ${JSON.stringify(lazyCode[args.path])})(m, m.exports, require, __filename, __dirname);
module.exports = m.exports;`,
    }));
  },
};

const licence = [
  "// SPDX-License-Identifier: GPL-3.0-or-later",
  "// Copyright: rstyczynski.ansible contributors. GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)",
  `// Contains third-party code under its own licences: see ${NOTICES} beside this file.`,
].join("\n");
const bundles = [
  { entry: "src/bridge/entry.ts", out: "dist/job_store_engine.cjs", banner: `// rstyczynski.ansible job_store engine (bundled, do not edit)\n${licence}` },
  { entry: "src/cli/entry.ts", out: "dist/ansible-jobs.cjs", banner: `#!/usr/bin/env node\n// ansible-jobs CLI (bundled, do not edit)\n${licence}`, executable: true },
];
// The bundles' location before 1.0.0: a stale copy there would be packed into the tarball.
rmSync(`${COLL}/engine`, { recursive: true, force: true });
mkdirSync(ENGINE_DIR, { recursive: true });
const meta = { outputs: {}, lazy: lazyMeta };
for (const b of bundles) {
  const r = await build({ ...common, entryPoints: [b.entry], outfile: b.out, banner: { js: b.banner }, plugins: [lazyStores] });
  const name = path.basename(b.out);
  meta.outputs[name] = r.metafile;
  copyFileSync(b.out, `${ENGINE_DIR}/${name}`);
  if (b.executable) for (const f of [b.out, `${ENGINE_DIR}/${name}`]) chmodSync(f, 0o755);
  console.log(`${b.out}: ${(statSync(b.out).size / 1024).toFixed(1)} KiB`);
}
for (const [spec, code] of Object.entries(lazyCode)) console.log(`  embedded ${spec}: ${(code.length / 1024).toFixed(1)} KiB`);
console.log(`  (the dashboard's page script in it: ${(pageJs.length / 1024).toFixed(1)} KiB)`);

// ---- third-party notices ----

/** The package directory (node_modules/NAME or node_modules/@SCOPE/NAME, innermost) of a metafile input, or undefined. */
function packageDir(input) {
  const at = input.lastIndexOf("node_modules/");
  if (at < 0) return undefined;
  const rest = input.slice(at + "node_modules/".length).split("/");
  return input.slice(0, at) + ["node_modules", ...rest.slice(0, rest[0].startsWith("@") ? 2 : 1)].join("/");
}

/** Package directories of a metafile, with the embedded stores it loads (by their lazy-store inputs). */
function packagesIn(metafile, via) {
  const found = new Map();
  for (const input of Object.keys(metafile.inputs)) {
    const store = /^lazy-store:(.*)$/.exec(input);
    if (store) {
      for (const [dir, how] of packagesIn(lazyMeta[store[1]], `in the embedded ${LAZY[store[1]].label}`)) {
        if (!found.has(dir)) found.set(dir, how);
      }
      continue;
    }
    const dir = packageDir(input);
    if (dir && !found.has(dir)) found.set(dir, via);
  }
  return found;
}

const packages = new Map(); // dir -> { name, version, license, repository, in: [] }
for (const [out, metafile] of Object.entries(meta.outputs)) {
  for (const [dir, via] of packagesIn(metafile, undefined)) {
    if (!packages.has(dir)) {
      const pj = JSON.parse(readFileSync(`${dir}/package.json`, "utf8"));
      const license = typeof pj.license === "string" ? pj.license : (pj.license?.type ?? pj.licenses?.map((l) => l.type ?? l).join(" OR "));
      if (!license) throw new Error(`${dir}/package.json names no licence: add its terms to ${FALLBACK_LICENCES} and to build.mjs before bundling it`);
      const repository = typeof pj.repository === "string" ? pj.repository : pj.repository?.url;
      const files = readdirSync(dir)
        .filter((f) => /^(licen[cs]e|copying|notice)([.-].*)?$/i.test(f) && statSync(`${dir}/${f}`).isFile())
        .sort((a, b) => Number(/^notice/i.test(a)) - Number(/^notice/i.test(b)) || a.localeCompare(b));
      let texts = files.map((f) => ({ source: `${f} of the package`, text: readFileSync(`${dir}/${f}`, "utf8") }));
      if (!texts.length) {
        const fallback = `${FALLBACK_LICENCES}/${license}.txt`;
        if (!existsSync(fallback)) throw new Error(`${dir} ships no licence file and ${fallback} does not exist`);
        texts = [{ source: `the package ships no licence file: the standard ${license} text`, text: readFileSync(fallback, "utf8") }];
      }
      packages.set(dir, { name: pj.name, version: pj.version, license, repository, texts, in: [] });
    }
    packages.get(dir).in.push(via ? `${out} (${via})` : out);
  }
}

const normalise = (t) => `${t.replace(/\r\n?/g, "\n").replace(/[ \t]+$/gm, "").replace(/^\n+|\s+$/g, "")}\n`;
const textIds = new Map(); // normalised text -> T<n>
const sorted = [...packages.values()].sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
const lines = [
  "Third-party software in job_store_engine.cjs and ansible-jobs.cjs",
  "",
  "These two programs are part of rstyczynski.ansible, which is licensed under the GNU General",
  "Public License v3.0 or later (COPYING, LICENSES/GPL-3.0-or-later.txt). Each is a bundle that",
  "also contains code from the npm packages below, each under its own licence. The code of the S3",
  "and Ara stores is embedded in both programs, so its packages are listed for both.",
  "",
  "Written by scripts/build.mjs from esbuild's metafiles; do not edit.",
  "",
  "PACKAGES",
  "",
];
for (const p of sorted) {
  const ids = p.texts.map((t) => {
    const key = normalise(t.text);
    if (!textIds.has(key)) textIds.set(key, `T${textIds.size + 1}`);
    return `[${textIds.get(key)}] ${t.source}`;
  });
  lines.push(`Package: ${p.name}@${p.version}`, `License: ${p.license}`);
  if (p.repository) lines.push(`Source: ${p.repository}`);
  lines.push(`Bundled into: ${p.in.join(", ")}`, ...ids.map((id) => `Text: ${id}`), "");
}
lines.push("LICENCE AND NOTICE TEXTS", "");
for (const [text, id] of textIds) lines.push(`===== [${id}] =====`, text.trimEnd(), `===== end of [${id}] =====`, "");
const notices = `${lines.join("\n").trimEnd()}\n`;
for (const dir of ["dist", ENGINE_DIR]) writeFileSync(`${dir}/${NOTICES}`, notices);
writeFileSync("dist/metafile.json", JSON.stringify(meta));
console.log(`${NOTICES}: ${packages.size} packages, ${textIds.size} distinct licence texts, ${(notices.length / 1024).toFixed(1)} KiB`);
