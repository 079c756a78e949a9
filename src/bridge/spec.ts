/**
 * Options of rstyczynski.ansible.job_store, declared once: JobStoreArgs is their Static<>
 * type and JOB_STORE_SPEC their AnsibleModule-style spec (coercion, src/engine/options.ts).
 * The module documentation (plugins/modules/job_store.py, docs only) must list the same
 * options with the same type, default, choices, required, elements and aliases:
 * test/unit/options.test.ts checks it.
 */
import { type Static, Type } from "@sinclair/typebox";
import { Opt, type Spec, specOf } from "../engine/options.js";
import { STATUSES } from "../engine/status.js";

export const OPS = ["save", "load", "list", "update", "delete", "prune"] as const;
export type Op = (typeof OPS)[number];

export const JOB_STORE_OPTIONS = Type.Object({
  op: Opt.choice(OPS, { required: true }),
  store: Opt.str(),
  store_options: Opt.dict(),
  namespace: Opt.str({ default: "default" }),
  name: Opt.str(),
  job_id: Opt.str(),
  result: Opt.raw(),
  result_var: Opt.str(),
  probe: Opt.dict(),
  probe_var: Opt.str(),
  loaded_var: Opt.str(),
  claim: Opt.bool({ default: false }),
  claim_token: Opt.str(),
  status: Opt.choice(STATUSES),
  message: Opt.str(),
  cleaned: Opt.bool({ default: false }),
  async_timeout: Opt.int(),
  sensitive: Opt.bool({ default: false }),
  output_files: Opt.dict(),
  stale_after: Opt.int({ default: 300 }),
  hosts: Opt.strList(),
  host: Opt.str(),
  statuses: Opt.choiceList(STATUSES),
  playbook: Opt.str(),
  older_than: Opt.str(),
  history: Opt.bool({ default: false }),
  metadata: Opt.dict(),
  earlier_state: Opt.str(),
});

export type JobStoreArgs = Static<typeof JOB_STORE_OPTIONS>;

export const JOB_STORE_SPEC: Spec = specOf(JOB_STORE_OPTIONS);
