/**
 * ansible-jobs refresh NAME -i INVENTORY: the one command that contacts hosts. It runs the
 * collection's check playbook (rstyczynski.ansible.check) with ansible-playbook, which probes
 * the job on every host that has a record of it and stores the truthful status, then prints
 * the list of that job as `list --name NAME` does.
 */
import { spawn } from "node:child_process";
import { resolveStoreUrl } from "../../stores/open.js";
import { defineCommand } from "../argv.js";
import { failOnArg, globalArgs, note, outputMode, parseStatuses, selection, selectionArgs } from "../context.js";
import { CliError, EXIT, usageError } from "../errors.js";
import { printList } from "./list.js";

export const CHECK_PLAYBOOK = "rstyczynski.ansible.check";

export const refresh = defineCommand({
  meta: {
    name: "refresh",
    description: `Probe a job on its hosts (ansible-playbook ${CHECK_PLAYBOOK}), then list it`,
  },
  args: {
    name: { type: "positional", description: "The job name" },
    inventory: { type: "string", alias: "i", valueHint: "inventory", description: "Required: the Ansible inventory of the job's hosts (passed to ansible-playbook -i)" },
    namespace: selectionArgs.namespace,
    limit: { type: "string", alias: "l", valueHint: "pattern", description: "Probe only these hosts (passed to ansible-playbook --limit)" },
    quiet: { type: "boolean", alias: "q", description: "Print ansible-playbook's output only when it fails (default: stream it to stderr)" },
    ...failOnArg,
    ...globalArgs,
  },
  async run({ args }) {
    const mode = outputMode(args, "refresh");
    if (args.inventory === undefined) throw usageError("refresh needs -i INVENTORY (the inventory of the job's hosts)", "refresh");
    const sel = selection({ namespace: args.namespace, name: args.name }, "refresh");
    const failOn = parseStatuses(args["fail-on"], "--fail-on", "refresh");
    // The playbook lives in the installed collection and has no default store: always name one
    // (the same store `list` reads: --store, else $ANSIBLE_JOBS_STORE, else ./.ansible_async_state).
    const { url } = resolveStoreUrl(args.store, process.cwd());
    // A job's status is judged by --fail-on on the list (exit 3), as `list` does; the playbook
    // fails (exit 6) only when it could not do its work.
    const extraVars = { job: args.name, store: url, job_namespace: sel.namespace, fail_on: [] };
    const argv = [CHECK_PLAYBOOK, "-i", args.inventory, "-e", JSON.stringify(extraVars)];
    if (args.limit !== undefined) argv.push("--limit", args.limit);
    const code = await runPlaybook(argv, args.quiet === true);
    const listed = await printList(args, sel, mode, failOn);
    if (code !== 0) {
      note(`ansible-jobs: refresh: ansible-playbook ${CHECK_PLAYBOOK} failed (exit ${code}); the list shows the store as it is now`);
      return EXIT.playbook;
    }
    return listed;
  },
});

/**
 * Runs ansible-playbook (found on PATH) with its output on stderr, so that stdout carries only
 * the list (and --json stays parseable). Quiet: kept, and shown only when it fails.
 */
function runPlaybook(argv: string[], quiet: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn("ansible-playbook", argv, { stdio: ["ignore", quiet ? "pipe" : 2, quiet ? "pipe" : 2] });
    const kept: Buffer[] = [];
    child.stdout?.on("data", (d: Buffer) => kept.push(d));
    child.stderr?.on("data", (d: Buffer) => kept.push(d));
    child.on("error", (err: NodeJS.ErrnoException) => {
      reject(
        err.code === "ENOENT"
          ? new CliError(
              EXIT.playbook,
              "refresh runs ansible-playbook, which is not on PATH: install ansible-core 2.14 or later (pip install ansible-core, or apt-get install ansible) or add its bin directory to PATH",
            )
          : new CliError(EXIT.playbook, `refresh cannot run ansible-playbook: ${err.message}`),
      );
    });
    child.on("close", (code, signal) => {
      const exit = code ?? (signal ? 128 : 1);
      if (quiet && exit !== 0) process.stderr.write(Buffer.concat(kept));
      resolve(exit);
    });
  });
}
