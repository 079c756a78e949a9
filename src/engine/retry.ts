/**
 * The one retry loop, for the engine and the stores: a try that may ask to be tried again, a
 * bounded number of tries, and a wait between them. Each caller keeps its own count and waits
 * (a writer that lost a compare-and-swap backs off 5-25 ms; a server in trouble, exponentially).
 * A try that throws ends the loop with its error.
 */
import { sleep } from "./clock.js";

/** What a try returns to be tried again. */
export const AGAIN: unique symbol = Symbol("again");
export type Again = typeof AGAIN;

export interface RetryPolicy {
  /** How many tries in all. */
  attempts: number;
  /** Milliseconds to wait after try `i` (0-based) asked to be tried again (none: try again at once). */
  wait?: (i: number) => number;
  /** Also wait after the last try, before giving up. */
  waitAfterLast?: boolean;
}

/** 5-25 ms: what a writer that lost a compare-and-swap (or a create race) waits before it reads again. */
export function contention(): number {
  return 5 + Math.random() * 20;
}

/** Runs `attempt(0)`, `attempt(1)`... until one returns something else than AGAIN; then `giveUp()` is thrown. */
export async function retry<T>(policy: RetryPolicy, attempt: (i: number) => Promise<T | Again>, giveUp: () => Error): Promise<T> {
  for (let i = 0; i < policy.attempts; i++) {
    const r = await attempt(i);
    if (r !== AGAIN) return r;
    if (policy.wait && (i < policy.attempts - 1 || policy.waitAfterLast)) await sleep(policy.wait(i));
  }
  throw giveUp();
}

/** retry() for synchronous tries that do not wait (the filesystem store's write steps). */
export function retrySync<T>(attempts: number, attempt: (i: number) => T | Again, giveUp: () => Error): T {
  for (let i = 0; i < attempts; i++) {
    const r = attempt(i);
    if (r !== AGAIN) return r;
  }
  throw giveUp();
}
