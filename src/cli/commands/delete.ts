import * as readline from "node:readline/promises";
import { defineCommand } from "../argv.js";
import { isCode } from "../../engine/errors.js";
import type { JobRecord } from "../../engine/record.js";
import { isTerminal } from "../../engine/status.js";
import { CliError, EXIT, usageError } from "../errors.js";
import { close, globalArgs, open, outputMode, print, reportUnreadable, warn } from "../context.js";
import { headOf } from "../find.js";
import { recordsOut } from "./list.js";
import { jobArgs } from "./show.js";

async function confirm(question: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(question);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

export const del = defineCommand({
  meta: { name: "delete", alias: "rm", description: "Delete one job: its current record, earlier attempts and jid index entries" },
  args: {
    ...jobArgs,
    name: { ...jobArgs.name, required: true },
    host: { ...jobArgs.host, description: "The inventory host (required)" },
    yes: { type: "boolean", alias: "y", description: "Do not ask for confirmation (required when stdin is not a terminal)" },
    force: { type: "boolean", description: "Also delete a job that is still active (its record and jid are then forgotten; the job keeps running)" },
    ...globalArgs,
  },
  async run({ args }) {
    const mode = outputMode(args, "delete");
    if (args.host === undefined) throw usageError("delete needs --host HOST", "delete");
    const id = { namespace: args.namespace ?? "default", host: args.host, name: args.name };
    const s = await open(args);
    try {
      let rec: JobRecord | undefined;
      let headError: string | undefined;
      try {
        rec = (await headOf(s, id)).record;
      } catch (err) {
        // A corrupt current record can still be deleted, but only on purpose.
        if (!isCode(err, "corrupt")) throw err;
        if (!args.force) throw new CliError(EXIT.store, `${err.message}; use --force to delete it anyway`);
        headError = err.message;
        warn(`deleting an unreadable record: ${headError}`);
      }
      if (rec && !isTerminal(rec.status) && !args.force) {
        throw new CliError(
          EXIT.usage,
          `job "${id.name}" on ${id.host} is ${rec.status}${rec.jid ? ` (jid ${rec.jid})` : ""}: deleting its record does not stop it and forgets its jid; cancel it first (long_running_task mode=cancel) or use --force`,
        );
      }
      const history = await s.ledger.history(id);
      const records = history.records;
      const errors = history.errors.filter((e) => e !== headError);
      reportUnreadable(errors);
      const what = `job "${id.name}" on ${id.host} (namespace ${id.namespace}): ${records.length} record(s)${rec ? `, current attempt ${rec.attempt} is ${rec.status}` : ", current record unreadable"}`;
      if (!args.yes) {
        if (!process.stdin.isTTY) {
          throw usageError(`refusing to delete ${what} without --yes (stdin is not a terminal)`, "delete");
        }
        if (!(await confirm(`Delete ${what}? [y/N] `))) throw new CliError(EXIT.notFound, "not deleted");
      }
      const removed = await s.ledger.remove(id);
      if (mode === "table") {
        const attempts = removed.map((r) => r.attempt);
        print(
          `Deleted job "${id.name}" on ${id.host}: ${removed.length} record(s)${attempts.length ? ` (attempts ${attempts.join(", ")})` : ""}.\n`,
        );
      } else print(recordsOut(removed, mode));
      if (errors.length > 0) {
        warn(`${errors.length} unreadable document(s) of this job were left in place (named above)`);
        return EXIT.store;
      }
      return EXIT.ok;
    } finally {
      await close(s);
    }
  },
});
