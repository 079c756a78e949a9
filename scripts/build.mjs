// Bundles the engine (job_store bridge) and the ansible-jobs CLI into single-file node18 programs,
// and copies them into the collection so ansible-galaxy packs them.
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
  logLevel: "warning",
};
const bundles = [
  { entry: "src/bridge/entry.ts", out: "dist/job_store_engine.cjs", banner: "// rstyczynski.ansible job_store engine (bundled, do not edit)" },
  { entry: "src/cli/entry.ts", out: "dist/ansible-jobs.cjs", banner: "#!/usr/bin/env node\n// ansible-jobs CLI (bundled, do not edit)", executable: true },
];
mkdirSync(`${COLL}/engine`, { recursive: true });
for (const b of bundles) {
  await build({ ...common, entryPoints: [b.entry], outfile: b.out, banner: { js: b.banner } });
  const name = b.out.split("/").pop();
  copyFileSync(b.out, `${COLL}/engine/${name}`);
  if (b.executable) for (const f of [b.out, `${COLL}/engine/${name}`]) chmodSync(f, 0o755);
  console.log(`${b.out}: ${(statSync(b.out).size / 1024).toFixed(1)} KiB`);
}
