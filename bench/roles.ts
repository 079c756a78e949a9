/**
 * The role against bare native async on real podman hosts, in one run (make bench):
 *  - start: long_running_task mode=start vs `command` with async/poll 0;
 *  - check: long_running_task mode=check vs one `async_status` per host;
 * at 1, 10 and 30 hosts, alternating runs, median and spread, plus the number of node
 * processes per play step (it must not grow with the host count) and the tasks each mode runs
 * (its TASK banners, argument validation and the mode include counted).
 * A third start, "bare role", is the same native launch inside a role that has only what
 * every documented role with modes has: argument_specs (Ansible adds a validation task) and an
 * include of the mode's file. It tells Ansible's cost of being such a role from the ledger's.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { COLLECTIONS, heads, tempDir } from "../test/helpers/ansible.js";
import { podmanHosts } from "../test/helpers/hosts.js";
import { NATIVE_LAUNCH_PLAY, countingNode, fmt, median, ratio, timeCmd } from "./lib.js";

const NATIVE_CHECK = `- hosts: targets
  gather_facts: false
  tasks:
    - name: Check
      ansible.builtin.async_status:
        jid: "{{ jids[inventory_hostname] }}"
      register: job
`;
/** The bare role: argument validation, the mode include, the native launch; nothing else. */
const BARE_ROLE: Record<string, string> = {
  "meta/argument_specs.yml": `argument_specs:
  main:
    short_description: The native launch inside a role with argument validation and a mode include
    options:
      bare_command: {type: str, required: true}
      bare_mode: {type: str, default: start}
`,
  "defaults/main.yml": "bare_mode: start\n",
  "tasks/main.yml": `- name: Run mode {{ bare_mode }}
  ansible.builtin.include_tasks: "{{ bare_mode }}.yml"
`,
  "tasks/start.yml": `- name: Launch
  ansible.builtin.command: "{{ bare_command }}"
  async: 600
  poll: 0
  register: job
`,
};
const BARE = `- hosts: targets
  gather_facts: false
  roles:
    - role: bare
      vars:
        bare_command: sleep 5
`;
const ROLE = `- hosts: targets
  gather_facts: false
  roles:
    - role: rstyczynski.ansible.long_running_task
      vars:
        long_running_task_command: sleep 5
        long_running_task_async: 600
`;

export async function benchRoles(sizes = [1, 10, 30], rounds = 5): Promise<void> {
  const dir = tempDir("bench-roles");
  const files = { nativeStart: NATIVE_LAUNCH_PLAY, nativeCheck: NATIVE_CHECK, role: ROLE, bare: BARE };
  for (const [k, v] of Object.entries(files)) writeFileSync(path.join(dir, `${k}.yml`), v);
  for (const [f, v] of Object.entries(BARE_ROLE)) {
    mkdirSync(path.dirname(path.join(dir, "roles", "bare", f)), { recursive: true });
    writeFileSync(path.join(dir, "roles", "bare", f), v);
  }
  const { shim, calls } = countingNode(dir);
  const store = path.join(dir, "state");
  const env = { ANSIBLE_COLLECTIONS_PATH: COLLECTIONS, ANSIBLE_NOCOLOR: "1" };
  console.log("role vs native async (podman hosts, forks 5, `sleep 5` job), %d alternating rounds; median (min-max)", rounds);
  for (const n of sizes) {
    const hosts = await podmanHosts(`lrt-bench${n}`, n);
    const tasks: Record<string, number> = {};
    const pb = (name: string, extra: Record<string, unknown>) =>
      timeCmd("ansible-playbook", ["-i", hosts.inventory, path.join(dir, name), "-e", JSON.stringify(extra)], { env }).then((t) => {
        if (t.code !== 0) throw new Error(`${name} failed:\n${t.out.slice(-3000)}`);
        tasks[String(extra.long_running_task_mode ?? name)] = t.out.match(/^TASK \[/gm)?.length ?? 0;
        return t.ms;
      });
    const t: Record<string, number[]> = { nativeStart: [], bareStart: [], roleStart: [], nativeCheck: [], roleCheck: [] };
    const nodePerStep: number[] = [];
    try {
      for (let r = 0; r < rounds; r++) {
        const name = `bench-${n}-${r}`;
        const roleVars = { long_running_task_name: name, long_running_task_store: store, ansible_node_interpreter: shim };
        t.nativeStart!.push(await pb("nativeStart.yml", {}));
        t.bareStart!.push(await pb("bare.yml", {}));
        const before = calls();
        t.roleStart!.push(await pb("role.yml", { ...roleVars, long_running_task_mode: "start" }));
        nodePerStep.push((calls() - before) / 2); // start = claim + record launch
        const jids = Object.fromEntries(heads(store).filter((x) => x.name === name).map((x) => [x.host, x.jid]));
        t.nativeCheck!.push(await pb("nativeCheck.yml", { jids }));
        t.roleCheck!.push(await pb("role.yml", { ...roleVars, long_running_task_mode: "check", long_running_task_fail_on: [] }));
      }
    } finally {
      await hosts.down();
    }
    console.log(
      `  ${String(n).padStart(2)} host(s)  start: native ${fmt(t.nativeStart!, "s")}  role ${fmt(t.roleStart!, "s")}  ratio ${ratio(t.roleStart!, t.nativeStart!)}`,
    );
    console.log(`            start: bare role (validation + mode include + the native launch) ${fmt(t.bareStart!, "s")}  ratio ${ratio(t.bareStart!, t.nativeStart!)}`);
    console.log(
      `            check: native ${fmt(t.nativeCheck!, "s")}  role ${fmt(t.roleCheck!, "s")}  ratio ${ratio(t.roleCheck!, t.nativeCheck!)}`,
    );
    console.log(`            node processes per job_store step: ${median(nodePerStep)} (target: 1, whatever the host count)`);
    console.log(`            tasks run: start ${tasks.start}, check ${tasks.check} (native: ${tasks["nativeStart.yml"]} and ${tasks["nativeCheck.yml"]})`);
  }
}
