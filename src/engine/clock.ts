/**
 * The one owner of time for the engine and the stores: what "now" is and how to wait.
 * Production uses the real clock; tests (the deterministic simulation) install their own
 * with setClock(). Each esbuild bundle gets its own copy of this module, which is fine in
 * production (all of them read real time); the simulation imports the TypeScript sources,
 * so it controls the single instance every engine and store module shares.
 */
export interface Clock {
  /** Milliseconds since the epoch, like Date.now(). */
  now(): number;
  /** Waits `ms` milliseconds (a simulated clock may reschedule instead). */
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise<void>((r) => setTimeout(r, ms)),
};

let current: Clock = realClock;

/** Installs a clock (undefined restores the real one); returns the previous clock. */
export function setClock(clock: Clock | undefined): Clock {
  const prev = current;
  current = clock ?? realClock;
  return prev;
}

export function now(): number {
  return current.now();
}

export function nowDate(): Date {
  return new Date(current.now());
}

export function nowIso(): string {
  return new Date(current.now()).toISOString();
}

export function sleep(ms: number): Promise<void> {
  return current.sleep(ms);
}
