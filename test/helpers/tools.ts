/**
 * Which ansible-core line and which pinned tools the tests run with. `make` puts the chosen
 * line's bin directory first on PATH (ANSIBLE=2.21|2.19|2.14) and exports these variables;
 * run by hand, the tests take whatever ansible-playbook is on PATH.
 */
import * as path from "node:path";

export const REPO_VENVS = path.resolve(import.meta.dirname, "..", "..", ".cache", "venv");
/** The ansible-core line under test ("2.21", "2.19", "2.14"), or undefined outside make. */
export const ANSIBLE_LINE = process.env.LRT_ANSIBLE_LINE;
/** The Python that runs ansible-playbook (its venv's, or Debian's for 2.14). */
export const ANSIBLE_PYTHON = process.env.LRT_ANSIBLE_PYTHON ?? "python3";
