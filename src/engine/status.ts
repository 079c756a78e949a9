/** Job statuses and the state machine (design brief, "Statuses"). */
export const STATUSES = [
  "starting",
  "running",
  "unreachable",
  "succeeded",
  "failed",
  "timed_out",
  "lost",
  "cancelled",
] as const;
export type Status = (typeof STATUSES)[number];

export const TERMINAL: ReadonlySet<Status> = new Set<Status>([
  "succeeded",
  "failed",
  "timed_out",
  "lost",
  "cancelled",
]);

export function isStatus(s: unknown): s is Status {
  return typeof s === "string" && (STATUSES as readonly string[]).includes(s);
}

export function isTerminal(s: Status): boolean {
  return TERMINAL.has(s);
}

/** Every non-terminal status may move to any status except back to `starting`. */
const ALLOWED: Record<Status, readonly Status[]> = {
  starting: ["starting", "running", "unreachable", "succeeded", "failed", "timed_out", "lost", "cancelled"],
  running: ["running", "unreachable", "succeeded", "failed", "timed_out", "lost", "cancelled"],
  unreachable: ["running", "unreachable", "succeeded", "failed", "timed_out", "lost", "cancelled"],
  succeeded: [],
  failed: [],
  timed_out: [],
  lost: [],
  cancelled: [],
};

export function canTransition(from: Status, to: Status): boolean {
  return ALLOWED[from].includes(to);
}
