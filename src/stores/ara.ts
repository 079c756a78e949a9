import { JobsError } from "../engine/errors.js";
import type { Store } from "./types.js";

export async function openAraStore(url: string, _opts: Record<string, unknown>): Promise<Store> {
  throw new JobsError("unsupported", `store ${url}: the Ara store is not available in this build yet`);
}
