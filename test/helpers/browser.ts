/**
 * Debian's chromium (/usr/bin/chromium, scripts/provision.sh installs it) driven by
 * playwright-core, with the flags the closed network needs and a fresh profile each time.
 * Never a downloaded browser: when chromium is missing this throws, tests fail loudly.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { type Browser, type BrowserContext, chromium } from "playwright-core";

export const CHROMIUM = process.env.LRT_CHROMIUM ?? "/usr/bin/chromium";

/** From shared/notes/environment.md: no background connections, no sandbox (root), no GPU. */
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface Chromium {
  context: BrowserContext;
  close: () => Promise<void>;
}

/** A headless chromium with a fresh --user-data-dir (a persistent context is how playwright passes one). */
export async function launchChromium(viewport = { width: 1400, height: 900 }): Promise<Chromium> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (scripts/provision.sh does it)`);
  const profile = mkdtempSync(path.join(tmpdir(), "lrt-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport,
    timeout: 60_000,
  });
  return {
    context,
    close: async () => {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export type { Browser };
