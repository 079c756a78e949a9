/**
 * ansible-jobs: the command line over the job ledger. One top-level handler checks the
 * command line, runs one command, and turns every error into one line on stderr and an
 * exit code (errors.ts). Nothing else decides the exit code or calls process.exit.
 */
import { JobsError } from "../engine/errors.js";
import { type CommandDef, commandIndex, defineCommand, didYouMean, parseArgv, wantsHelp } from "./argv.js";
import { del } from "./commands/delete.js";
import { history } from "./commands/history.js";
import { importEarlier } from "./commands/import.js";
import { list } from "./commands/list.js";
import { prune } from "./commands/prune.js";
import { refresh } from "./commands/refresh.js";
import { replay } from "./commands/replay.js";
import { schema } from "./commands/schema.js";
import { serve } from "./commands/serve.js";
import { show } from "./commands/show.js";
import { VERSION, version } from "./commands/version.js";
import { watch } from "./commands/watch.js";
import { globalArgs } from "./context.js";
import { CliError, EXIT, exitCodeOf, usageError } from "./errors.js";
import { usage as usageOf } from "./help.js";
import { safeText, useColor } from "./output.js";

// biome-ignore lint/suspicious/noExplicitAny: commands have different argument types
type AnyCommand = CommandDef<any>;

const helpCommand = defineCommand({
  meta: { name: "help", description: "Show help for a command" },
  args: { ...globalArgs, command: { type: "positional", required: false, description: "The command" } },
});

const COMMANDS: Record<string, AnyCommand> = {
  list,
  show,
  history,
  watch,
  serve,
  prune,
  refresh,
  import: importEarlier,
  replay,
  delete: del,
  schema,
  version,
  help: helpCommand,
};

const rootArgs = {
  ...globalArgs,
  version: { type: "boolean", alias: "v", description: "Print the version" },
} as const;

export const root = defineCommand({
  meta: {
    name: "ansible-jobs",
    version: VERSION,
    description: "Durable long-running Ansible jobs: list, inspect, watch and prune the job store",
  },
  args: rootArgs,
});

function findCommand(name: string): [string, AnyCommand] | undefined {
  if (COMMANDS[name]) return [name, COMMANDS[name]];
  for (const [n, c] of Object.entries(COMMANDS)) if (c.meta.alias === name) return [n, c];
  return undefined;
}

function unknownCommand(name: string): CliError {
  const names = Object.keys(COMMANDS);
  return usageError(`unknown command "${safeText(name, true)}"${didYouMean(name, names)}; commands: ${names.join(", ")}`);
}

/** Usage text for a command (or the root, name ""), with examples; plain unless colour is on. */
function usage(name: string, cmd: AnyCommand, color: boolean): string {
  return usageOf(name, cmd, color, root, COMMANDS);
}

function colorFlag(tokens: readonly string[]): boolean | undefined {
  let c: boolean | undefined;
  for (const t of tokens) {
    if (t === "--") break;
    if (t === "--color") c = true;
    if (t === "--no-color") c = false;
  }
  return c;
}

async function dispatch(argv: string[]): Promise<number> {
  const color = useColor({ color: colorFlag(argv) });
  const idx = commandIndex(argv, rootArgs);
  if (idx < 0) {
    if (wantsHelp(argv)) {
      process.stdout.write(usage("", root, color));
      return EXIT.ok;
    }
    if (argv.includes("--version") || argv.includes("-v")) return run("version", version, argv.filter((a) => a !== "--version" && a !== "-v"));
    if (argv.length === 0) {
      process.stderr.write(usage("", root, useColor({ color: colorFlag(argv), isTTY: process.stderr.isTTY === true })));
      return EXIT.usage;
    }
    parseArgv("", rootArgs, argv); // names an unknown option, if any
    throw usageError(`no command given; commands: ${Object.keys(COMMANDS).join(", ")}`);
  }
  const found = findCommand(argv[idx]!);
  if (!found) throw unknownCommand(argv[idx]!);
  const [name, cmd] = found;
  // Global options may come before the command name: move them after it.
  const rest = [...argv.slice(idx + 1), ...argv.slice(0, idx)];
  if (wantsHelp(rest)) {
    process.stdout.write(usage(name, cmd, color));
    return EXIT.ok;
  }
  if (name === "help") {
    const target = parseArgv(name, helpCommand.args, rest).command;
    const t = target === undefined ? undefined : findCommand(target);
    if (target !== undefined && !t) throw unknownCommand(target);
    process.stdout.write(t ? usage(t[0], t[1], color) : usage("", root, color));
    return EXIT.ok;
  }
  return run(name, cmd, rest);
}

async function run(name: string, cmd: AnyCommand, tokens: string[]): Promise<number> {
  const result = await cmd.run?.({ args: parseArgv(name, cmd.args, tokens) });
  return typeof result === "number" ? result : EXIT.ok;
}

/** The one place that turns an error into output and an exit code. */
export function report(err: unknown): number {
  const line = (msg: string) => process.stderr.write(`ansible-jobs: error: ${safeText(msg, true)}\n`);
  if (err instanceof CliError) {
    line(err.hint ? `${err.message} (see ${err.hint})` : err.message);
    return err.exitCode;
  }
  if (err instanceof JobsError) {
    const code = exitCodeOf(err);
    if (code !== undefined) {
      line(err.message);
      return code;
    }
  }
  const stack = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
  process.stderr.write(`ansible-jobs: internal error (please report it): ${stack}\n`);
  return EXIT.internal;
}

export async function main(argv: string[]): Promise<number> {
  const major = Number(process.versions.node.split(".")[0]);
  if (major < 18) {
    process.stderr.write(`ansible-jobs: error: needs Node.js >= 18, this is ${process.version}\n`);
    return EXIT.internal;
  }
  // `ansible-jobs list | head`: a reader that goes away is not an error worth a stack trace.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code !== "EPIPE") process.stderr.write(`ansible-jobs: error: cannot write the output: ${err.message}\n`);
  });
  try {
    return await dispatch(argv);
  } catch (err) {
    return report(err);
  }
}
