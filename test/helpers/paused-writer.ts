/**
 * A filesystem-store writer that stops itself (SIGSTOP) at one chosen system call, so a test can
 * change the store while it is paused there, then let it go on (SIGCONT). It prints "paused"
 * before it stops and, at the end, its outcome as JSON.
 *   update ROOT KEY VERSION   stops before the link(2) of its new version (after its checks)
 *   prune ROOT KEY VERSION    updates, and stops before its first rename(2): a remover of the
 *                              slot below, between its check and its removal
 */
import type * as fs from "node:fs";
import { createRequire, syncBuiltinESMExports } from "node:module";
import { FilesystemStore } from "../../src/stores/filesystem.js";

const [mode, root, key, version] = process.argv.slice(2);
const fsCjs = createRequire(import.meta.url)("node:fs") as typeof fs;
const call = mode === "update" ? "linkSync" : "renameSync";
const real = fsCjs[call] as (a: fs.PathLike, b: fs.PathLike) => void;
let stopped = false;
(fsCjs as unknown as Record<string, unknown>)[call] = (a: fs.PathLike, b: fs.PathLike) => {
  if (!stopped) {
    stopped = true;
    process.stdout.write("paused\n");
    process.kill(process.pid, "SIGSTOP");
  }
  return real(a, b);
};
syncBuiltinESMExports();

const store = new FilesystemStore(root!);
try {
  const e = await store.update(key!.split("/"), { by: "paused writer" }, version!);
  process.stdout.write(`${JSON.stringify({ ok: true, version: e.version, stopped })}\n`);
} catch (err) {
  process.stdout.write(`${JSON.stringify({ ok: false, code: (err as { code?: string }).code, message: (err as Error).message, stopped })}\n`);
}
