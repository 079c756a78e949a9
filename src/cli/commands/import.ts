import { defineCommand } from "../argv.js";
import type { JobRecord } from "../../engine/record.js";
import { listEarlierJobs } from "../../stores/earlier.js";
import { EXIT, usageError } from "../errors.js";
import { close, globalArgs, note, open, outputMode, print, warn } from "../context.js";

export const importEarlier = defineCommand({
  meta: {
    name: "import",
    description:
      "Import the jobs saved by the earlier rstyczynski.ansible save/load roles (STATE_DIR/HOST/PLAYBOOK_NAME/JOB_NAME.json) into the store; the files are left in place",
  },
  args: {
    state_dir: { type: "positional", required: true, valueHint: "state_dir", description: "The earlier roles' state directory (their async_job_save_state_dir, default .ansible_async_state)" },
    "dry-run": { type: "boolean", description: "Only show what would be imported" },
    ...globalArgs,
  },
  async run({ args }) {
    const mode = outputMode(args, "import");
    if (!args.state_dir) throw usageError("import needs the earlier state directory", "import");
    const { jobs, errors } = listEarlierJobs(args.state_dir);
    const s = await open(args);
    try {
      const rows: { outcome: string; file: string; record: JobRecord | null }[] = [];
      for (const job of jobs) {
        if (args["dry-run"]) {
          const head = await s.ledger.head({ namespace: job.playbook_name, host: job.host, name: job.job_name });
          rows.push({ outcome: head ? (head.record.jid === job.ansible_job_id ? "already" : "kept") : "would import", file: job.path, record: head?.record ?? null });
          continue;
        }
        try {
          const r = await s.ledger.importEarlier(job, { task: `imported from ${job.path}` });
          rows.push({ outcome: r.outcome, file: job.path, record: r.record });
        } catch (err) {
          errors.push(`${job.path}: ${(err as Error).message}`);
        }
      }
      if (mode === "table") {
        for (const r of rows) {
          const rec = r.record;
          const what = rec ? `job "${rec.name}" on ${rec.host} (namespace ${rec.namespace}, jid ${rec.jid ?? "-"}, ${rec.status})` : "";
          const why = r.outcome === "kept" ? "; the store already holds a later job of that name" : "";
          print(`${r.outcome.padEnd(12)} ${r.file}${what ? ` -> ${what}` : ""}${why}\n`);
        }
        const imported = rows.filter((r) => r.outcome === "imported").length;
        note(
          `${args["dry-run"] ? "dry run: " : ""}${jobs.length} earlier job file(s) in ${args.state_dir}, ${imported} imported into ${s.url}; ` +
            "the files are left in place. Each earlier playbook_name is a namespace: ansible-jobs list -A shows them.",
        );
      } else {
        const out = rows.map((r) => ({ outcome: r.outcome, file: r.file, job: r.record }));
        print(mode === "json" ? `${JSON.stringify(out, null, 2)}\n` : out.map((o) => `${JSON.stringify(o)}\n`).join(""));
      }
      for (const e of errors) warn(e);
      return errors.length > 0 ? EXIT.store : EXIT.ok;
    } finally {
      await close(s);
    }
  },
});
