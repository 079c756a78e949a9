import { defineCommand } from "../argv.js";
import type { JobRecord } from "../../engine/record.js";
import type { Status } from "../../engine/status.js";
import { EXIT } from "../errors.js";
import {
  close,
  failOnArg,
  failOnCode,
  type GlobalOptions,
  globalArgs,
  note,
  type OpenedStore,
  type OutputMode,
  open,
  outputMode,
  painter,
  parseStatuses,
  print,
  reportUnreadable,
  type Selection,
  select,
  selection,
  selectionArgs,
} from "../context.js";
import type { Painter } from "../output.js";
import { listTable } from "../render.js";

export function recordsOut(records: readonly JobRecord[], mode: OutputMode): string {
  if (mode === "json") return `${JSON.stringify(records, null, 2)}\n`;
  let out = "";
  for (const r of records) out += `${JSON.stringify(r)}\n`;
  return out;
}

export function tableOut(records: readonly JobRecord[], p: Painter, sel: Selection, now: number): string {
  return listTable(records, p, { now, cut: process.stdout.isTTY === true, namespaces: sel.namespace === undefined });
}

export function emptyNote(s: OpenedStore, sel: Selection, elsewhere: readonly JobRecord[] = []): string {
  const where = sel.namespace === undefined ? "any namespace" : `namespace ${sel.namespace}`;
  const others = [...new Set(elsewhere.map((r) => r.namespace))].sort();
  const hint =
    others.length > 0
      ? `; ${elsewhere.length} in other namespaces (${others.slice(0, 5).join(", ")}${others.length > 5 ? ", ..." : ""}): ansible-jobs list -A, or -n NAMESPACE`
      : "";
  return `No jobs found in ${s.url} (${where})${s.missing ? "; the store directory does not exist yet" : ""}${hint}.`;
}

export const list = defineCommand({
  meta: { name: "list", alias: "ls", description: "List jobs: the current attempt of each job (with --history, every attempt)" },
  args: {
    ...selectionArgs,
    ...failOnArg,
    ...globalArgs,
  },
  async run({ args }) {
    const mode = outputMode(args, "list");
    const sel = selection(args, "list");
    const failOn = parseStatuses(args["fail-on"], "--fail-on", "list");
    return printList(args, sel, mode, failOn);
  },
});

/**
 * What `list` prints for a selection (the table, JSON or NDJSON, or a note when it is empty),
 * and its exit code. Also the end of `refresh`.
 */
export async function printList(g: GlobalOptions, sel: Selection, mode: OutputMode, failOn?: Status[]): Promise<number> {
  const s = await open(g);
  try {
    const now = Date.now();
    const { records, errors } = await select(s, sel, now);
    if (mode === "table") {
      if (records.length > 0) print(tableOut(records, painter(g), sel, now));
      else {
        // Nothing in this namespace: say where the same selection finds jobs (the earlier
        // save/load roles' jobs are in a namespace per playbook name).
        const elsewhere = sel.namespace === undefined || s.missing ? [] : (await select(s, { ...sel, namespace: undefined }, now)).records;
        note(emptyNote(s, sel, elsewhere));
      }
    } else print(recordsOut(records, mode));
    reportUnreadable(errors);
    return failOnCode(records, failOn) || (errors.length > 0 ? EXIT.store : EXIT.ok);
  } finally {
    await close(s);
  }
}
