/** Text that citty's generated usage does not carry: examples, exit codes, environment. */

export const EXIT_CODES = `EXIT CODES

  0   ok
  1   not found: show, history or delete found no such job (or delete was declined)
  2   usage: unknown command or option, bad value, missing argument
  3   --fail-on matched: list or watch shows a job with one of the given statuses
  4   store: cannot be reached or opened, or a record in the selection is unreadable
      (the readable ones are still printed; each unreadable file is named on stderr)
  5   watch --timeout ran out while jobs were still active
  70  internal error (a bug; the stack trace is printed)`;

export const ENVIRONMENT = `ENVIRONMENT

  ANSIBLE_JOBS_STORE  the store when --store is not given (default ./.ansible_async_state)
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
  delete: ["ansible-jobs delete nightly-backup --host db1", "ansible-jobs delete nightly-backup --host db1 --yes"],
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
