/**
 * The usage text, rendered from the same command definitions the parser reads (argv.ts),
 * plus what definitions do not carry: examples, exit codes, environment.
 */
import { type ArgDef, type CommandDef, aliases } from "./argv.js";

type Paint = (text: string) => string;
const sgr =
  (open: number, close = 39): Paint =>
  (t) =>
    `\u001b[${open}m${t}\u001b[${close}m`;
const PLAIN = { bold: (t: string) => t, cyan: (t: string) => t, gray: (t: string) => t, underline: (t: string) => t };
const COLOUR = { bold: sgr(1, 22), cyan: sgr(36), gray: sgr(90), underline: sgr(4, 24) };

/** Rows of two columns, indented by two spaces: the first right-aligned, then four spaces and the second. */
function columns(rows: [string, string][]): string {
  const w = Math.max(...rows.map(([a]) => a.length));
  return rows.map(([a, b]) => `  ${a.padStart(w)}    ${b}`).join("\n");
}

function valueHint(d: ArgDef, name: string): string {
  if (d.type !== "string") return d.valueHint ? `=<${d.valueHint}>` : "";
  return `=<${d.valueHint ?? name}>`;
}

/**
 * The generated part of a command's usage: description, USAGE line, ARGUMENTS, OPTIONS and
 * (for the root) COMMANDS. `parent` is the root for a command; `commands` are the root's.
 */
export function renderUsage(cmd: CommandDef, color: boolean, parent?: CommandDef, commands?: Record<string, CommandDef>): string {
  const c = color ? COLOUR : PLAIN;
  const commandName = parent ? `${parent.meta.name} ${cmd.meta.name}` : cmd.meta.name;
  const version = cmd.meta.version ?? parent?.meta.version;
  const posLines: [string, string][] = [];
  const argLines: [string, string][] = [];
  const usageLine: string[] = [];
  for (const [name, d] of Object.entries(cmd.args)) {
    if (d.type === "positional") {
      const upper = name.toUpperCase();
      const required = d.required !== false;
      posLines.push([c.cyan(upper), [d.description, required ? c.gray("(Required)") : ""].filter(Boolean).join(" ")]);
      usageLine.push(required ? `<${upper}>` : `[${upper}]`);
      continue;
    }
    const names = aliases(d).map((a) => `-${a}`);
    argLines.push([c.cyan([...names, `--${name}`].join(", ") + valueHint(d, name)), d.description ?? ""]);
    if (d.type === "boolean" && d.negativeDescription) {
      argLines.push([c.cyan([...aliases(d).map((a) => `--no-${a}`), `--no-${name}`].join(", ")), d.negativeDescription]);
    }
  }
  const sub = Object.entries(commands ?? {});
  if (sub.length) usageLine.push(sub.flatMap(([n, s]) => [n, ...(s.meta.alias ? [s.meta.alias] : [])]).join("|"));
  const hasOptions = argLines.length > 0 || posLines.length > 0;
  const lines = [
    c.gray(`${cmd.meta.description} (${commandName}${version ? ` v${version}` : ""})`),
    "",
    `${c.underline(c.bold("USAGE"))} ${c.cyan(`${commandName}${hasOptions ? " [OPTIONS]" : ""} ${usageLine.join(" ")}`)}`,
    "",
  ];
  if (posLines.length) lines.push(c.underline(c.bold("ARGUMENTS")), "", columns(posLines), "");
  if (argLines.length) lines.push(c.underline(c.bold("OPTIONS")), "", columns(argLines), "");
  if (sub.length) {
    const rows = sub.map(([n, s]): [string, string] => [c.cyan([n, ...(s.meta.alias ? [s.meta.alias] : [])].join(", ")), s.meta.description]);
    lines.push(c.underline(c.bold("COMMANDS")), "", columns(rows), "", `Use ${c.cyan(`${commandName} <command> --help`)} for more information about a command.`);
  }
  return lines.join("\n");
}

/** The whole help of a command (`name` "" is the root): the generated usage plus examples; plain unless `color`. */
export function usage(name: string, cmd: CommandDef, color: boolean, root: CommandDef, commands: Record<string, CommandDef>): string {
  const rendered = name === "" ? renderUsage(cmd, color, undefined, commands) : renderUsage(cmd, color, root);
  const generated = rendered
    .split("\n")
    .map((l) => l.trimEnd())
    .join("\n");
  return `${generated.trimEnd()}\n\n${extraHelp(name)}\n`;
}

export const EXIT_CODES = `EXIT CODES

  0   ok
  1   not found: show, history or delete found no such job (or delete was declined)
  2   usage: unknown command or option, bad value, missing argument
  3   --fail-on matched: list, watch or refresh shows a job with one of the given statuses
  4   store: cannot be reached or opened, or a record in the selection is unreadable
      (the readable ones are still printed; each unreadable file is named on stderr);
      replay: a launch stayed in its journal
  5   watch --timeout ran out while jobs were still active
  6   refresh: ansible-playbook failed (or found no record of the job) or is not on PATH
  70  internal error (a bug; the stack trace is printed)`;

export const ENVIRONMENT = `ENVIRONMENT

  ANSIBLE_JOBS_STORE      the store when --store is not given (default ./.ansible_async_state)
  ANSIBLE_JOB_LEDGER_DIR  the job_ledger callback's journal directory (replay; default ~/.ansible/job_ledger)
  NO_COLOR            no colour (colour is also off when stdout is not a terminal)`;

export const EXAMPLES: Record<string, string[]> = {
  "": [
    "ansible-jobs list",
    "ansible-jobs list --status failed,lost --json",
    "ansible-jobs show nightly-backup --host db1",
    "ansible-jobs watch --until-done",
    "ansible-jobs prune --older-than 7d --dry-run",
  ],
  list: [
    "ansible-jobs list --host web1,web2 --status active",
    "ansible-jobs list --older-than 12h --status running      # suspiciously long runs",
    "ansible-jobs list --all-namespaces --history --ndjson | jq -r .jid",
    "ansible-jobs list --playbook site.yml --fail-on failed,lost,timed_out   # CI gate: exit 3",
  ],
  show: [
    "ansible-jobs show nightly-backup --host db1",
    "ansible-jobs show --jid 123456789.4242 --host db1 --json",
    "ansible-jobs show nightly-backup --host db1 --attempt 2",
  ],
  history: ["ansible-jobs history nightly-backup --host db1", "ansible-jobs history nightly-backup --host db1 --json"],
  watch: [
    "ansible-jobs watch",
    "ansible-jobs watch --until-done --interval 10 --fail-on failed,lost,timed_out",
    "ansible-jobs watch --until-done --timeout 2h --ndjson   # one line per change",
  ],
  prune: [
    "ansible-jobs prune --older-than 7d --dry-run",
    "ansible-jobs prune --older-than 30d --status succeeded,cancelled",
  ],
  refresh: [
    "ansible-jobs refresh nightly-backup -i inventory.ini",
    "ansible-jobs refresh nightly-backup -i inventory.ini --limit db1 --store s3://ops-jobs/prod",
    "ansible-jobs refresh nightly-backup -i inventory.ini --quiet --json   # only the records on stdout",
    "ansible-jobs refresh nightly-backup -i inventory.ini --fail-on failed,lost,timed_out   # CI gate: exit 3",
  ],
  delete: ["ansible-jobs delete nightly-backup --host db1", "ansible-jobs delete nightly-backup --host db1 --yes"],
  replay: ["ansible-jobs replay", "ansible-jobs replay --journal-dir /var/lib/job_ledger --json"],
  serve: [
    "ansible-jobs serve                               # http://127.0.0.1:8765/",
    "ansible-jobs serve --store s3://ops-jobs/ci --listen 127.0.0.1:9000",
    "ANSIBLE_JOBS_TOKEN=$(openssl rand -hex 16) ansible-jobs serve --listen 0.0.0.0:8765 --tls-cert cert.pem --tls-key key.pem",
  ],
  schema: ["ansible-jobs schema > job-record.schema.json"],
  version: ["ansible-jobs version --json"],
  help: ["ansible-jobs help list"],
};

export function extraHelp(command: string): string {
  const ex = EXAMPLES[command];
  const parts: string[] = [];
  if (ex?.length) parts.push(`EXAMPLES\n\n${ex.map((e) => `  ${e}`).join("\n")}`);
  if (command === "") parts.push(EXIT_CODES, ENVIRONMENT);
  else if (["list", "watch", "prune"].includes(command)) {
    parts.push("DURATIONS\n\n  A number of seconds, or a number with s, m, h, d or w: 90s, 15m, 12h, 7d, 2w.");
  }
  if (command !== "") parts.push(`Exit codes: see ansible-jobs --help.`);
  return parts.join("\n\n");
}
