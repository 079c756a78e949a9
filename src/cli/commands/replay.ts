import { replay as replayJournals } from "../../bridge/replay.js";
import { defineCommand } from "../argv.js";
import { globalArgs, outputMode, print, warn } from "../context.js";
import { EXIT } from "../errors.js";

export const replay = defineCommand({
  meta: {
    name: "replay",
    description: "Record the launches that the job_ledger callback journalled but did not get into their store (a killed controller, a store that was down)",
  },
  args: {
    "journal-dir": {
      type: "string",
      valueHint: "dir",
      description: "The callback's journal directory (default: $ANSIBLE_JOB_LEDGER_DIR, else ~/.ansible/job_ledger)",
    },
    ...globalArgs,
  },
  async run({ args }) {
    const mode = outputMode(args, "replay");
    // Each launch names its own store (the one its run used); --store does not apply.
    const res = await replayJournals({ dir: args["journal-dir"] ?? null, orphans: true }, "ansible-jobs replay");
    for (const w of res.warnings) warn(w);
    if (mode === "table") {
      for (const j of res.journals) {
        const what = j.busy ? `skipped, ${j.busy}` : `${j.recorded} recorded, ${j.present} already there${j.pending ? `, ${j.pending} kept` : ""}${j.removed ? ", journal removed" : ""}`;
        print(`${j.file}: ${what}\n`);
      }
      print(`${res.msg} (${res.dir})\n`);
    } else print(`${JSON.stringify(res)}\n`);
    return res.journals.some((j) => j.pending > 0 || j.errors.length > 0) ? EXIT.store : EXIT.ok;
  },
});
