import { defineCommand } from "../argv.js";
import { EXIT } from "../errors.js";
import { close, globalArgs, open, outputMode, painter, print, reportUnreadable } from "../context.js";
import { headOf, resolveIdentity } from "../find.js";
import { historyTable } from "../render.js";
import { recordsOut } from "./list.js";
import { jobArgs } from "./show.js";

export const history = defineCommand({
  meta: { name: "history", description: "List every attempt of one job, oldest first" },
  args: { ...jobArgs, name: { ...jobArgs.name, required: true }, ...globalArgs },
  async run({ args }) {
    const mode = outputMode(args, "history");
    const namespace = args.namespace ?? "default";
    const s = await open(args);
    try {
      const id = await resolveIdentity(s, namespace, args.name, args.host, "history");
      const { records, errors } = s.missing ? { records: [], errors: [] } : await s.ledger.history(id);
      if (records.length === 0) {
        reportUnreadable(errors);
        await headOf(s, id); // not found (or corrupt: exit 4 naming the file)
      }
      if (mode === "table") {
        const head = `Job "${id.name}" on ${id.host} (namespace ${id.namespace}): ${records.length} attempt(s)\n`;
        print(head + historyTable(records, painter(args), { now: Date.now(), cut: process.stdout.isTTY === true, namespaces: false }));
      } else print(recordsOut(records, mode));
      reportUnreadable(errors);
      return errors.length > 0 ? EXIT.store : EXIT.ok;
    } finally {
      await close(s);
    }
  },
});
