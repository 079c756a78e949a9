// Bundles the engine (job_store bridge) and the ansible-jobs CLI into single-file node18 programs,
// and copies them into the collection so ansible-galaxy packs them.
//
// The S3 and Ara stores are bundled separately and embedded in each program as a string that
// is compiled only when such a store is opened. A string costs V8 a scan, not a parse, so the
// filesystem path keeps its cold start whatever the size of the AWS SDK, and each program
// stays a single file.
import { chmodSync, copyFileSync, mkdirSync, statSync } from "node:fs";
import { build } from "esbuild";

const COLL = "ansible_collection/collections/ansible_collections/rstyczynski/ansible";
const common = {
  bundle: true,
  platform: "node",
  target: "node18",
  format: "cjs",
  minify: true,
  legalComments: "none",
  // ES module builds of the AWS SDK packages tree-shake better (about 80 KiB less).
  mainFields: ["module", "main"],
  logLevel: "warning",
};

const LAZY = { "./s3.js": "src/stores/s3.ts", "./ara.js": "src/stores/ara.ts" };
const lazyCode = {};
for (const [spec, entry] of Object.entries(LAZY)) {
  const r = await build({ ...common, entryPoints: [entry], write: false });
  lazyCode[spec] = r.outputFiles[0].text;
}

/** Resolves `import("./s3.js")` from src/stores/open.ts to a module that compiles the embedded code on first use. */
const lazyStores = {
  name: "lazy-stores",
  setup(b) {
    b.onResolve({ filter: /^\.\/(s3|ara)\.js$/ }, (args) =>
      args.importer.endsWith("stores/open.ts") ? { path: args.path, namespace: "lazy-store" } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "lazy-store" }, (args) => ({
      loader: "js",
      contents: `const m = { exports: {} };
new Function("module", "exports", "require", "__filename", "__dirname", ${JSON.stringify(lazyCode[args.path])})(m, m.exports, require, __filename, __dirname);
module.exports = m.exports;`,
    }));
  },
};

const bundles = [
  { entry: "src/bridge/entry.ts", out: "dist/job_store_engine.cjs", banner: "// rstyczynski.ansible job_store engine (bundled, do not edit)" },
  { entry: "src/cli/entry.ts", out: "dist/ansible-jobs.cjs", banner: "#!/usr/bin/env node\n// ansible-jobs CLI (bundled, do not edit)", executable: true },
];
mkdirSync(`${COLL}/engine`, { recursive: true });
for (const b of bundles) {
  await build({ ...common, entryPoints: [b.entry], outfile: b.out, banner: { js: b.banner }, plugins: [lazyStores] });
  const name = b.out.split("/").pop();
  copyFileSync(b.out, `${COLL}/engine/${name}`);
  if (b.executable) for (const f of [b.out, `${COLL}/engine/${name}`]) chmodSync(f, 0o755);
  console.log(`${b.out}: ${(statSync(b.out).size / 1024).toFixed(1)} KiB`);
}
for (const [spec, code] of Object.entries(lazyCode)) console.log(`  embedded ${spec}: ${(code.length / 1024).toFixed(1)} KiB`);
