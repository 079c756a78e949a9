import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { encodeKey } from "../../src/stores/encode.js";
import { FilesystemStore } from "../../src/stores/filesystem.js";
import { testStore } from "./suite.js";

testStore("filesystem", async () => {
  const root = mkdtempSync(path.join(tmpdir(), "lrt-fs-"));
  const store = new FilesystemStore(path.join(root, "state"));
  return {
    store,
    corrupt: async (key, bytes) => {
      const file = `${path.join(store.root, ...encodeKey(key))}.json`;
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, bytes);
    },
    cleanup: async () => rmSync(root, { recursive: true, force: true }),
  };
});
