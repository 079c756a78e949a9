import { JobsError } from "../engine/errors.js";
import type { Store } from "./types.js";

export async function openS3Store(url: string, _opts: Record<string, unknown>): Promise<Store> {
  throw new JobsError("unsupported", `store ${url}: the S3 store is not available in this build yet`);
}
