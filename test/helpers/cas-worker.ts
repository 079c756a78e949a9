/** A separate process that increments a counter document with compare-and-swap. */
import { isCode } from "../../src/engine/errors.js";
import { FilesystemStore } from "../../src/stores/filesystem.js";

const [root, key, count] = process.argv.slice(2);
const store = new FilesystemStore(root!);
let conflicts = 0;
for (let i = 0; i < Number(count); i++) {
  for (;;) {
    const cur = (await store.get(["c", key!]))!;
    try {
      await store.update(["c", key!], { n: (cur.value as { n: number }).n + 1, by: process.pid }, cur.version);
      break;
    } catch (e) {
      if (!isCode(e, "conflict")) throw e;
      conflicts++;
    }
  }
}
process.stdout.write(JSON.stringify({ conflicts }));
