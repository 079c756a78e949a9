/**
 * What the CLI hands the dashboard: its own store and selection functions. The dashboard's code
 * is a bundle of its own, embedded in the CLI as a string and compiled only when `serve` runs
 * (scripts/build.mjs), so that the other commands' cold start does not pay for it. Passing these
 * in keeps one copy of the store code and one definition of list's filters.
 */
import type { parseArgv } from "../cli/argv.js";
import type { close, open, select, selection, selectionArgs, warn } from "../cli/context.js";

export interface CliParts {
  open: typeof open;
  close: typeof close;
  select: typeof select;
  selection: typeof selection;
  selectionArgs: typeof selectionArgs;
  parseArgv: typeof parseArgv;
  warn: typeof warn;
}
