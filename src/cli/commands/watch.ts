import { defineCommand } from "../argv.js";
import { isCode } from "../../engine/errors.js";
import type { JobRecord } from "../../engine/record.js";
import { type Status, STATUSES, isTerminal } from "../../engine/status.js";
import {
  close,
  failOnArg,
  failOnCode,
  globalArgs,
  isMissing,
  note,
  open,
  outputMode,
  painter,
  parseDurationArg,
  parseStatuses,
  print,
  select,
  selection,
  selectionArgs,
  warn,
} from "../context.js";
import { EXIT, usageError } from "../errors.js";
import { type Painter, safeText } from "../output.js";
import { emptyNote, tableOut } from "./list.js";

const MIN_INTERVAL_SEC = 0.1;

/** "5 jobs: 2 running, 1 failed, 2 succeeded" in the order of the state machine. */
function summary(records: readonly JobRecord[], p: Painter): string {
  const counts = new Map<Status, number>();
  for (const r of records) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  const parts = STATUSES.filter((s) => counts.has(s)).map((s) => p.status(s, `${counts.get(s)} ${s}`));
  return `${records.length} job(s)${parts.length ? `: ${parts.join(", ")}` : ""}`;
}

/** Waits `ms`, or less when woken (a signal). */
class Sleeper {
  private timer: NodeJS.Timeout | undefined;
  private wakeUp: (() => void) | undefined;
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wakeUp = resolve;
      this.timer = setTimeout(resolve, Math.max(0, ms));
    });
  }
  wake(): void {
    if (this.timer) clearTimeout(this.timer);
    this.wakeUp?.();
  }
}

export const watch = defineCommand({
  meta: { name: "watch", description: "Show the job list again every few seconds (reads the store only; it does not contact hosts)" },
  args: {
    ...selectionArgs,
    ...failOnArg,
    interval: { type: "string", valueHint: "seconds", description: "Seconds between refreshes, or a duration like 30s, 1m (default: 2)" },
    "until-done": { type: "boolean", description: "Exit when no selected job is active (starting, running, unreachable)" },
    timeout: { type: "string", valueHint: "duration", description: "Give up after DURATION and exit 5 if jobs are still active" },
    ...globalArgs,
  },
  async run({ args }) {
    const mode = outputMode(args, "watch");
    const sel = selection(args, "watch");
    const failOn = parseStatuses(args["fail-on"], "--fail-on", "watch");
    const intervalSec = parseDurationArg(args.interval ?? "2", "--interval", "watch")!;
    if (intervalSec < MIN_INTERVAL_SEC) throw usageError(`--interval must be at least ${MIN_INTERVAL_SEC}s`, "watch");
    const timeoutSec = parseDurationArg(args.timeout, "--timeout", "watch");
    const untilDone = args["until-done"] === true;
    const tty = process.stdout.isTTY === true && mode === "table";
    const p = painter(args);
    const s = await open(args);

    let stopped = false;
    const sleeper = new Sleeper();
    const stop = () => {
      stopped = true;
      sleeper.wake();
    };
    const onStdoutError = (err: NodeJS.ErrnoException) => {
      if (err.code === "EPIPE") stop();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    process.stdout.on("error", onStdoutError);

    const started = Date.now();
    const deadline = timeoutSec === undefined ? undefined : started + timeoutSec * 1000;
    const reported = new Set<string>();
    const lastVersion = new Map<string, string>();
    let last: { records: JobRecord[]; errors: string[] } = { records: [], errors: [] };
    let frame = 0;
    let timedOut = false;
    try {
      for (;;) {
        const now = Date.now();
        try {
          if (s.missing) s.missing = isMissing(s.store);
          last = await select(s, sel, now);
        } catch (err) {
          // Once watching, a store that stops answering (network, S3, Ara) is retried.
          if (frame === 0 || !isCode(err, "store_unavailable")) throw err;
          warn(`${err.message} (retrying every ${intervalSec}s)`);
          if (stopped || (deadline !== undefined && Date.now() >= deadline)) {
            timedOut = deadline !== undefined && !stopped;
            break;
          }
          await sleeper.sleep(deadline === undefined ? intervalSec * 1000 : Math.min(intervalSec * 1000, deadline - Date.now()));
          if (stopped) break;
          continue;
        }
        const { records, errors } = last;
        const active = records.filter((r) => !isTerminal(r.status)).length;
        const stamp = new Date(now).toISOString().replace(/\.\d+Z$/, "Z");
        if (mode === "json") print(`${JSON.stringify(records)}\n`);
        else if (mode === "ndjson") {
          // An event stream: each record when it first appears and whenever it changes.
          for (const r of records) {
            const v = `${r.status} ${r.updated_at} ${r.checked_at ?? ""}`;
            if (lastVersion.get(r.id) !== v) print(`${JSON.stringify(r)}\n`);
            lastVersion.set(r.id, v);
          }
        } else {
          const head = `${p.paint("bold", `Every ${intervalSec}s:`)} ansible-jobs watch  ${s.url}  ${stamp}`;
          const body = records.length > 0 ? tableOut(records, p, sel, now) : `${emptyNote(s, sel)}\n`;
          const lines = [head, summary(records, p), "", ...body.replace(/\n$/, "").split("\n")];
          if (tty) {
            for (const e of errors) lines.push(p.paint("yellow", `unreadable record: ${safeText(e, true)}`));
            const rows = process.stdout.rows ?? 0;
            if (rows > 3 && lines.length > rows - 1) {
              const hidden = lines.length - (rows - 2);
              lines.splice(rows - 2, lines.length, `... ${hidden} more line(s); narrow the selection or enlarge the window`);
            }
            // Redraw in place: home, each line cleared to its end, then the rest of the screen.
            print(`${frame === 0 ? "\u001b[H\u001b[2J" : "\u001b[H"}${lines.map((l) => `${l}\u001b[K`).join("\n")}\n\u001b[J`);
          } else print(`${frame > 0 ? "\n" : ""}${lines.join("\n")}\n`);
        }
        if (!tty) {
          for (const e of errors) if (!reported.has(e)) warn(`unreadable record: ${e}`);
        }
        for (const e of errors) reported.add(e);
        frame++;
        if (stopped) break;
        if (untilDone && active === 0) break;
        if (deadline !== undefined && Date.now() >= deadline) {
          timedOut = active > 0;
          break;
        }
        const wait = intervalSec * 1000 - (Date.now() - now);
        await sleeper.sleep(deadline === undefined ? wait : Math.min(wait, deadline - Date.now()));
        if (stopped) break;
      }
    } finally {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      process.stdout.off("error", onStdoutError);
      await close(s);
    }
    if (timedOut) {
      const active = last.records.filter((r) => !isTerminal(r.status)).length;
      note(`ansible-jobs: watch: --timeout ${args.timeout} reached with ${active} job(s) still active`);
      return EXIT.timeout;
    }
    return failOnCode(last.records, failOn) || (last.errors.length > 0 ? EXIT.store : EXIT.ok);
  },
});
