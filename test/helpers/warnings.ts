/**
 * What ansible may warn about in the tests: the one list of warnings that a test provokes on
 * purpose. Every ansible-playbook run of the tests is checked against it (helpers/ansible.ts
 * playbook(), test/integration/probe/run.sh): no [DEPRECATION WARNING] on any line, and no
 * [WARNING] that is not listed here.
 */
export const ALLOWED_WARNINGS: { pattern: RegExp; why: string }[] = [
  { pattern: /job_store: the default filesystem store .* lives inside this AWX\/AAP job/, why: "the AWX default-store warning (awx_job_id set on purpose)" },
  { pattern: /ignores If-None-Match|allow_unsafe_writes/, why: "an S3 server that ignores conditional writes, marked unsafe on purpose" },
  {
    pattern: /attempt \d+ \(\w+\) was replaced by attempt \d+ and kept in history/,
    why: "a save over a job that is still live, on purpose (test/cli/fill.yml makes history this way)",
  },
  {
    // Matched on the first line only: 2.14 wraps long warnings.
    pattern: /: stale claim: /,
    why: "a start finds a stale claim that never launched (test/integration/faults.test.ts and the soak take it over on purpose)",
  },
  {
    pattern: /^\[WARNING\]: running playbook inside collection rstyczynski\.ansible$/,
    why: "ansible-core 2.14 says so for every collection playbook (rstyczynski.ansible.check...); later lines say it only with -v",
  },
  {
    pattern: /job_ledger: task ".*" is no_log/,
    why: "the job_ledger callback sees a no_log async task (test/integration/callback.test.ts, on purpose)",
  },
  {
    pattern: /job_ledger: task ".*" delegates each loop item to a/,
    why: "the job_ledger callback on 2.19 and 2.14 with a loop delegated through groups (test/integration/callback.test.ts, on purpose)",
  },
  {
    pattern: /job_ledger: the job store \S+ did not take/,
    why: "the job_ledger callback with its store down (test/integration/callback.test.ts, on purpose)",
  },
];

/** The [WARNING] and [DEPRECATION WARNING] lines of an ansible run that are not allowed. */
export function unexpectedWarnings(out: string): string[] {
  const lines = out.split("\n").filter((l) => /^\s*\[(DEPRECATION )?WARNING\]/.test(l));
  return lines.filter((l) => l.includes("[DEPRECATION WARNING]") || !ALLOWED_WARNINGS.some((w) => w.pattern.test(l)));
}
