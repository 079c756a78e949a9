/** The dashboard's entry: `ansible-jobs serve` imports it when it runs (see cli-parts.ts). */
export type { CliParts } from "./cli-parts.js";
export { serveOptions } from "./options.js";
export { runServer } from "./server.js";
