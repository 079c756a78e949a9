/**
 * The CLI's one error type and its exit codes. Commands throw CliError (or let a
 * JobsError through); only the top-level handler in main.ts prints and picks the code.
 */
import { JobsError } from "../engine/errors.js";

/** Exit codes, documented in docs/cli.md and in `ansible-jobs --help`. */
export const EXIT = {
  ok: 0,
  /** show/history/delete: no such job (or delete declined at the prompt). */
  notFound: 1,
  /** Bad command line: unknown command or option, bad value, missing argument. */
  usage: 2,
  /** --fail-on matched: a listed job has one of the given statuses. */
  failOn: 3,
  /** The store cannot be reached or holds unreadable documents. */
  store: 4,
  /** watch --timeout ran out while jobs were still active. */
  timeout: 5,
  /** refresh: ansible-playbook failed (or found no record of the job) or could not be run. */
  playbook: 6,
  /** A bug: the stack trace is printed. */
  internal: 70,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * The dashboard (src/serve/) is compiled from its own embedded bundle (scripts/build.mjs), with
 * its own copy of this class; a global brand makes `instanceof` work across the copies.
 */
const BRAND = Symbol.for("rstyczynski.ansible/CliError");

export class CliError extends Error {
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
  readonly exitCode: ExitCode;
  /** Add "see ansible-jobs CMD --help" to the message. */
  readonly hint: string | undefined;
  constructor(exitCode: ExitCode, message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    (this as unknown as Record<symbol, boolean>)[BRAND] = true;
    this.name = "CliError";
    this.exitCode = exitCode;
    this.hint = opts.hint;
  }
}

export function usageError(message: string, command?: string): CliError {
  return new CliError(EXIT.usage, message, { hint: `ansible-jobs ${command ? `${command} ` : ""}--help` });
}

/** The exit code for an engine error; undefined means "a bug" (print the stack). */
export function exitCodeOf(err: JobsError): ExitCode | undefined {
  switch (err.code) {
    case "invalid_argument":
      return EXIT.usage;
    case "not_found":
      return EXIT.notFound;
    case "store_unavailable":
    case "corrupt":
    case "unsupported":
    case "conflict":
    case "exists":
    case "illegal_transition":
      return EXIT.store;
    default:
      return undefined;
  }
}

export { JobsError };
