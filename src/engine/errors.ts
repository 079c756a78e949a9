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

export class JobsError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;
  constructor(code: ErrorCode, message: string, opts: { field?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
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
