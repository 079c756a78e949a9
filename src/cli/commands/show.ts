import { defineCommand } from "../argv.js";
import { toInt } from "../../engine/options.js";
import { close, globalArgs, open, outputMode, painter, print } from "../context.js";
import { usageError } from "../errors.js";
import { attemptOf, byJid, resolveIdentity } from "../find.js";
import { detail } from "../render.js";

export const jobArgs = {
  name: { type: "positional", required: false, description: "The job name" },
  host: { type: "string", valueHint: "host", description: "The inventory host (needed when the name exists on several hosts)" },
  namespace: { type: "string", alias: "n", valueHint: "ns", description: 'Namespace (default: "default")' },
} as const;

export function parseAttempt(raw: string | undefined, command: string): number | undefined {
  if (raw === undefined) return undefined;
  let n: number;
  try {
    n = toInt(raw, "--attempt");
  } catch {
    n = Number.NaN;
  }
  if (!(n >= 1)) throw usageError(`--attempt: "${raw}" is not an attempt number (1, 2, ...)`, command);
  return n;
}

export const show = defineCommand({
  meta: { name: "show", description: "Show one job's whole record: identity, origin, times, status, result and output tails" },
  args: {
    ...jobArgs,
    jid: { type: "string", valueHint: "jid", description: "Find the job by its Ansible job id instead of its name" },
    attempt: { type: "string", valueHint: "n", description: "An earlier attempt (default: the current one)" },
    ...globalArgs,
  },
  async run({ args }) {
    const mode = outputMode(args, "show");
    const namespace = args.namespace ?? "default";
    if (args.name === undefined && args.jid === undefined) throw usageError("give a job NAME or --jid JID", "show");
    if (args.name !== undefined && args.jid !== undefined) throw usageError("give a job NAME or --jid JID, not both", "show");
    if (args.jid !== undefined && args.attempt !== undefined) throw usageError("--attempt goes with NAME, not --jid", "show");
    const attempt = parseAttempt(args.attempt, "show");
    const s = await open(args);
    try {
      const record =
        args.jid !== undefined
          ? await byJid(s, namespace, args.jid, args.host, "show")
          : await attemptOf(s, await resolveIdentity(s, namespace, args.name!, args.host, "show"), attempt);
      if (mode === "json") print(`${JSON.stringify(record, null, 2)}\n`);
      else if (mode === "ndjson") print(`${JSON.stringify(record)}\n`);
      else print(detail(record, painter(args), Date.now()));
      return 0;
    } finally {
      await close(s);
    }
  },
});
