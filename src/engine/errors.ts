/**
 * One error type for the whole engine. `code` says what kind of problem it is;
 * user-facing codes never print a stack trace (the CLI and the bridge show `message` only).
 */
export type ErrorCode =
  | "invalid_argument" // bad option or input: the message names the field
  | "exists" // create-if-absent found a document already there
  | "conflict" // compare-and-swap lost: someone else changed the document
  | "not_found"
  | "illegal_transition"
  | "corrupt" // a stored document is unreadable or not a job record
  | "store_unavailable" // the store cannot be reached or refused us
  | "unsupported"
  | "internal";

/**
 * The S3 and Ara stores are compiled from their own embedded bundles (scripts/build.mjs), each
 * with its own copy of this class; a global brand makes `instanceof` work across the copies.
 */
const BRAND = Symbol.for("rstyczynski.ansible/JobsError");

export class JobsError extends Error {
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
  readonly code: ErrorCode;
  readonly field: string | undefined;
  constructor(code: ErrorCode, message: string, opts: { field?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    (this as unknown as Record<symbol, boolean>)[BRAND] = true;
    this.name = "JobsError";
    this.code = code;
    this.field = opts.field;
  }
  /** Errors a user can fix; everything else is a bug and deserves a stack trace. */
  get isUserError(): boolean {
    return this.code !== "internal";
  }
}

export function invalid(field: string, message: string): JobsError {
  return new JobsError("invalid_argument", `${field}: ${message}`, { field });
}

export function isCode(err: unknown, code: ErrorCode): err is JobsError {
  return err instanceof JobsError && err.code === code;
}

/** Message for any thrown value, without stack traces for JobsError. */
export function describe(err: unknown): string {
  if (err instanceof JobsError) return err.message;
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
