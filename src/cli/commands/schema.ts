import { defineCommand } from "../argv.js";
import { JobRecord } from "../../engine/record.js";
import { globalArgs, print } from "../context.js";

/** The record's JSON Schema (draft-07 keywords), for checking `--json` output in scripts. */
export function recordJsonSchema(): Record<string, unknown> {
  const { $id, ...rest } = JSON.parse(JSON.stringify(JobRecord)) as Record<string, unknown>;
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    $id,
    title: "ansible-jobs job record",
    description: "One attempt of a durable Ansible job, as stored and as printed by `ansible-jobs list --json`.",
    ...rest,
  };
}

export const schema = defineCommand({
  meta: { name: "schema", description: "Print the JSON Schema of a job record (what --json prints)" },
  args: { ...globalArgs },
  run() {
    print(`${JSON.stringify(recordJsonSchema(), null, 2)}\n`);
    return 0;
  },
});
