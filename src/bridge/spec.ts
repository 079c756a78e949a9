/**
 * Options of rstyczynski.ansible.job_store. The module documentation
 * (plugins/modules/job_store.py, docs only) must list the same options; a unit test checks it.
 */
import type { Spec } from "../engine/options.js";
import { STATUSES } from "../engine/status.js";

export const OPS = ["save", "load", "list", "update", "delete", "prune"] as const;
export type Op = (typeof OPS)[number];

export const JOB_STORE_SPEC: Spec = {
  op: { type: "str", required: true, choices: OPS },
  store: { type: "str" },
  store_options: { type: "dict" },
  namespace: { type: "str", default: "default" },
  name: { type: "str" },
  job_id: { type: "str" },
  result: { type: "raw" },
  result_var: { type: "str" },
  probe: { type: "dict" },
  probe_var: { type: "str" },
  loaded_var: { type: "str" },
  claim: { type: "bool", default: false },
  claim_token: { type: "str" },
  status: { type: "str", choices: STATUSES },
  message: { type: "str" },
  cleaned: { type: "bool", default: false },
  async_timeout: { type: "int" },
  sensitive: { type: "bool", default: false },
  output_files: { type: "dict" },
  stale_after: { type: "int", default: 300 },
  hosts: { type: "list", elements: "str" },
  host: { type: "str" },
  statuses: { type: "list", elements: "str", choices: STATUSES },
  playbook: { type: "str" },
  older_than: { type: "str" },
  history: { type: "bool", default: false },
};

export interface JobStoreArgs {
  op: Op;
  store: string | null;
  store_options: Record<string, unknown> | null;
  namespace: string;
  name: string | null;
  job_id: string | null;
  result: unknown;
  result_var: string | null;
  probe: Record<string, unknown> | null;
  probe_var: string | null;
  loaded_var: string | null;
  claim: boolean;
  claim_token: string | null;
  status: (typeof STATUSES)[number] | null;
  message: string | null;
  cleaned: boolean;
  async_timeout: number | null;
  sensitive: boolean;
  output_files: Record<string, unknown> | null;
  stale_after: number;
  hosts: string[] | null;
  host: string | null;
  statuses: string[] | null;
  playbook: string | null;
  older_than: string | null;
  history: boolean;
}
