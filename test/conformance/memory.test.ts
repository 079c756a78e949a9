import { MemoryStore } from "../helpers/memory-store.js";
import { testStore } from "./suite.js";

testStore("memory (test/helpers/memory-store.ts)", async () => {
  const store = new MemoryStore();
  return { store, corrupt: async (key, bytes) => store.corrupt(key, bytes), cleanup: async () => {} };
});
