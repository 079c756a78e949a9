import { defineCommand } from "../argv.js";
import type { JobRecord } from "../../engine/record.js";
import { isTerminal } from "../../engine/status.js";
import { EXIT, usageError } from "../errors.js";
import {
  close,
  filterFor,
  compareRecords,
  globalArgs,
  open,
  outputMode,
  painter,
  print,
  reportUnreadable,
  select,
  selection,
  selectionArgs,
  warn,
} from "../context.js";
import { recordsOut, tableOut } from "./list.js";

const { "newer-than": _n, history: _h, ...pruneSelection } = selectionArgs;

export const prune = defineCommand({
  meta: { name: "prune", description: "Delete terminal jobs (and earlier attempts) last updated before --older-than" },
  args: {
    ...pruneSelection,
    "older-than": { ...selectionArgs["older-than"], description: "Required: prune records last updated more than DURATION ago (90s, 15m, 12h, 7d, 2w)" },
    status: { ...selectionArgs.status, description: "Only these terminal statuses: succeeded, failed, timed_out, lost, cancelled (default: all five)" },
    "dry-run": { type: "boolean", description: "Only print what would be pruned" },
    ...globalArgs,
  },
  async run({ args }) {
    const mode = outputMode(args, "prune");
    if (args["older-than"] === undefined) throw usageError("prune needs --older-than DURATION (for example 7d)", "prune");
    const sel = selection(args, "prune");
    const active = sel.statuses?.filter((st) => !isTerminal(st));
    if (active?.length) {
      throw usageError(`--status: prune only removes terminal jobs; ${active.join(", ")} ${active.length > 1 ? "are" : "is"} not terminal`, "prune");
    }
    const dryRun = args["dry-run"] === true;
    const s = await open(args);
    try {
      const now = Date.now();
      const pruned: JobRecord[] = [];
      let unreadable: string[] = [];
      const kept: string[] = [];
      if (!s.missing) {
        // The engine's prune skips documents that are not job records without a word;
        // listing the same selection first names every one of them.
        unreadable = (await select(s, { ...sel, history: true, statuses: undefined }, now)).errors;
        for (const host of sel.hosts ?? [undefined]) {
          const res = await s.ledger.prune(filterFor(sel, host, now), dryRun);
          pruned.push(...res.pruned);
          // Records that changed while pruning are kept and said so.
          for (const e of res.errors) if (!unreadable.includes(e)) kept.push(e);
        }
      }
      pruned.sort(compareRecords);
      if (mode === "table") {
        if (pruned.length > 0) print(tableOut(pruned, painter(args), { ...sel, history: true }, now));
        print(
          dryRun
            ? `Would prune ${pruned.length} record(s) from ${s.url} (dry run: nothing deleted).\n`
            : `Pruned ${pruned.length} record(s) from ${s.url}.\n`,
        );
      } else print(recordsOut(pruned, mode));
      reportUnreadable(unreadable);
      for (const e of kept) warn(e);
      return unreadable.length > 0 ? EXIT.store : EXIT.ok;
    } finally {
      await close(s);
    }
  },
});
