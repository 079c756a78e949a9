/** make bench: every benchmark, printed with the command that produced it. Numbers vary: compare ratios. */
import { benchCallback } from "./callback.js";
import { benchColdStart, benchFilesystem, benchTask } from "./engine.js";
import { benchRoles } from "./roles.js";
import { benchServe } from "./serve.js";

const only = process.argv[2];
const sections: [string, () => Promise<void>][] = [
  ["engine", benchColdStart],
  ["task", () => benchTask()],
  ["fs", benchFilesystem],
  ["roles", () => benchRoles()],
  ["callback", () => benchCallback()],
  ["serve", () => benchServe()],
];
for (const [name, fn] of sections) {
  if (only && only !== name) continue;
  console.log(`\n## ${name}  (node --import tsx bench/main.ts ${name})`);
  await fn();
}
