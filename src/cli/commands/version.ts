import { defineCommand } from "../argv.js";
import pkg from "../../../package.json" with { type: "json" };
import { SCHEMA_VERSION } from "../../engine/record.js";
import { globalArgs, outputMode, print } from "../context.js";

export const VERSION: string = pkg.version;

export const version = defineCommand({
  meta: { name: "version", description: "Print the version of ansible-jobs and of the record schema it reads" },
  args: { ...globalArgs },
  run({ args }) {
    const info = { name: "ansible-jobs", version: VERSION, record_schema: SCHEMA_VERSION, node: process.version };
    if (outputMode(args, "version") === "table") print(`ansible-jobs ${VERSION} (record schema ${SCHEMA_VERSION}, node ${process.version})\n`);
    else print(`${JSON.stringify(info)}\n`);
    return 0;
  },
});
