/** The role test files' runner: test/integration/roles/lrt.yml against podman hosts and one store. */
import * as path from "node:path";
import { type RunResult, heads, playbook } from "./ansible.js";

export const ROLES_DIR = path.join(import.meta.dirname, "..", "integration", "roles");

export interface LrtOptions {
  cwd?: string;
  args?: string[];
  inventory?: string;
}

/** `lrt(vars)` runs lrt.yml with the store; `rec(name, host)` reads that job's head record. */
export function roleRunner(inventory: () => string, store: () => string) {
  const lrt = (vars: Record<string, unknown>, opts: LrtOptions = {}): Promise<RunResult> =>
    playbook(path.join(ROLES_DIR, "lrt.yml"), {
      inventory: opts.inventory ?? inventory(),
      extraVars: { long_running_task_store: store(), ...vars },
      cwd: opts.cwd,
      args: opts.args,
    });
  const rec = (name: string, host: string) => heads(store()).find((r) => r.name === name && r.host === host);
  return { lrt, rec };
}
