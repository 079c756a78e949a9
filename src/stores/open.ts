/**
 * Store URLs: a path or file://PATH (filesystem), s3://BUCKET[/PREFIX], oci://NAMESPACE[@REGION]/BUCKET[/PREFIX]
 * (the S3 store on OCI Object Storage's S3 compatibility API), ara+http(s)://HOST:PORT.
 * Heavy store code is imported lazily, so the filesystem path never pays for SDKs.
 */
import * as path from "node:path";
import { JobsError } from "../engine/errors.js";
import { FilesystemStore } from "./filesystem.js";
import type { Store } from "./types.js";

export const DEFAULT_DIR = ".ansible_async_state";
export const STORE_ENV = "ANSIBLE_JOBS_STORE";

export interface StoreOptions {
  /** Extra per-store settings (S3 endpoint, path style...), from module options or CLI flags. */
  s3?: Record<string, unknown>;
  ara?: Record<string, unknown>;
}

/** Which store URL applies: explicit option, else $ANSIBLE_JOBS_STORE, else `<baseDir>/.ansible_async_state`. */
export function resolveStoreUrl(explicit: string | undefined | null, baseDir: string): { url: string; isDefault: boolean } {
  if (explicit && explicit.trim() !== "") return { url: explicit.trim(), isDefault: false };
  const env = process.env[STORE_ENV];
  if (env && env.trim() !== "") return { url: env.trim(), isDefault: false };
  return { url: path.join(baseDir, DEFAULT_DIR), isDefault: true };
}

export function storeKind(url: string): Store["kind"] {
  if (url.startsWith("s3://") || url.startsWith("oci://")) return "s3";
  if (url.startsWith("ara+http://") || url.startsWith("ara+https://")) return "ara";
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  if (scheme && scheme[1]!.toLowerCase() !== "file") {
    throw new JobsError(
      "invalid_argument",
      `store: unknown store URL scheme "${scheme[1]}://" (use a path, file://PATH, s3://BUCKET[/PREFIX], oci://NAMESPACE[@REGION]/BUCKET[/PREFIX] or ara+http(s)://HOST:PORT)`,
      { field: "store" },
    );
  }
  return "filesystem";
}

export async function openStore(url: string, opts: StoreOptions = {}): Promise<Store> {
  switch (storeKind(url)) {
    case "s3": {
      const { openOciStore, openS3Store } = await import("./s3.js");
      return url.startsWith("oci://") ? openOciStore(url, opts.s3 ?? {}) : openS3Store(url, opts.s3 ?? {});
    }
    case "ara": {
      const { openAraStore } = await import("./ara.js");
      return openAraStore(url, opts.ara ?? {});
    }
    default: {
      const p = url.startsWith("file://") ? decodeURIComponent(url.slice("file://".length)) : url;
      if (p === "") throw new JobsError("invalid_argument", "store: empty filesystem path", { field: "store" });
      return new FilesystemStore(p);
    }
  }
}
