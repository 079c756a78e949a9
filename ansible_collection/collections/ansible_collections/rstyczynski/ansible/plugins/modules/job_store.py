#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2025, rstyczynski.ansible contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# The documentation of rstyczynski.ansible.job_store, and nothing else: the module is entirely
# implemented by the job_store action plugin (plugins/action/job_store.py), which runs on the
# controller and hands each step to the bundled TypeScript engine. As ansible.builtin.debug,
# this file never runs on a host. Its options must agree with the engine's option spec
# (src/bridge/spec.ts): test/unit/options.test.ts checks it.

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: job_store
short_description: Record long-running async jobs in a durable job ledger
version_added: 1.0.0
author:
  - rstyczynski.ansible contributors (@rstyczynski)
description:
  - Saves, loads, lists, updates, deletes and prunes job records in a pluggable store
    (a filesystem directory, S3-compatible object storage or an Ara server).
  - Runs on the controller. An action plugin hands Ansible's view of the play (playbook,
    play name and uuid, task name, each host's vars) to the bundled TypeScript engine,
    which runs with Node.js as one local process per task, whatever the number of hosts.
  - With C(run_once=true) one call serves every host of the current batch
    (C(ansible_play_batch)); results and errors come back per host under C(hosts) and one
    host's error never fails the others. Without C(run_once) it serves the current host only
    and fails that host on error. Under C(strategy=free), where C(run_once) runs on every host,
    it serves the current host only.
  - Needs Node.js 18 or later on the controller, found through C(ansible_node_interpreter)
    or on C(PATH). A missing or too old node fails the task with a message saying what to install.
  - The statuses are C(starting), C(running), C(unreachable) (not terminal) and C(succeeded),
    C(failed), C(timed_out), C(lost), C(cancelled) (terminal). A terminal record never changes
    status again; an illegal transition is an error.
options:
  op:
    description:
      - C(save) records a new attempt. With I(claim=true) it claims the name for a launch
        (status C(starting), with a claim token) unless a non-terminal attempt exists. With
        I(result) or I(result_var) it records the registered result of a task that ran with
        C(async) (a C(loop) result gives one record per item, named C(NAME[0]), C(NAME[1])...).
      - C(load) reads the current attempt by I(name) or I(job_id).
      - C(update) applies a launch result (I(result)/I(result_var)), probe evidence
        (I(probe)/I(probe_var), from M(rstyczynski.ansible.async_job_probe)), an explicit
        I(status), or I(cleaned).
      - C(delete) removes every attempt of a name on the served hosts.
      - C(list) and C(prune) act on the whole store (filters I(host), I(name), I(statuses),
        I(playbook), I(older_than)).
    type: str
    required: true
    choices: [save, load, list, update, delete, prune]
  store:
    description:
      - Where records live. A path or C(file://PATH) (filesystem), C(s3://BUCKET[/PREFIX])
        or C(ara+http://HOST:PORT) / C(ara+https://HOST).
      - Default from the environment variable E(ANSIBLE_JOBS_STORE), else
        C(<playbook_dir>/.ansible_async_state). Inside AWX/AAP the default directory disappears
        with the job; a warning says so.
    type: str
  store_options:
    description:
      - Store settings beyond the URL. For S3 stores C(endpoint), C(region), C(profile),
        C(path_style), C(sse) (C(AES256) or C(aws:kms)), C(sse_kms_key_id), C(allow_unsafe_writes),
        C(connect_timeout), C(timeout), C(retries); the standard AWS environment variables and
        E(ANSIBLE_JOBS_S3_ENDPOINT) and friends work too. For Ara stores C(ledger) and C(timeout).
      - Unknown keys are rejected by name.
    type: dict
  namespace:
    description: Separates independent sets of jobs in one store.
    type: str
    default: default
  name:
    description: The job name. Identity is (namespace, host, name).
    type: str
  job_id:
    description: The Ansible async job id (jid), to find a job without its name.
    type: str
  result:
    description: The registered result of the async task, for the current host.
    type: raw
  result_var:
    description: Name of the host variable holding each served host's registered async result.
    type: str
  probe:
    description: Evidence returned by M(rstyczynski.ansible.async_job_probe), for the current host.
    type: dict
  probe_var:
    description:
      - Name of the host variable holding each served host's registered probe result.
      - With I(op=save) and I(claim=true) ("claim again" after probing the job that blocks the
        name), a host whose probe result is missing or skipped is left alone and reported with
        C(skipped=true), so the answer of an earlier claim on that host still stands.
    type: str
  loaded_var:
    description:
      - Name of the host variable holding the registered answer of the job_store call that the
        probe in I(probe_var) followed (the I(op=load), or the first I(claim=true) call).
      - Evidence is judged as of the moment it was gathered. That answer says, in C(claim_stale),
        whether a C(starting) claim was already stale (by the store's clock) before the probe
        ran; only then does a probe that found no process carrying the claim token make it C(lost).
        A claim that went stale while the probe ran may have been launched meanwhile.
      - Without it, the claim is judged as it stands when the evidence is applied.
    type: str
  claim:
    description: With I(op=save), claim the name for a launch instead of recording a launched task.
    type: bool
    default: false
  claim_token:
    description: With I(op=update) and a launch result, only update the attempt that carries this claim token.
    type: str
  status:
    description: With I(op=update), set this status (for example C(cancelled)), following the state machine.
    type: str
    choices: [starting, running, unreachable, succeeded, failed, timed_out, lost, cancelled]
  message:
    description: With I(status), the message kept in C(last_error).
    type: str
  cleaned:
    description: With I(op=update), record that the job's files were removed from the host.
    type: bool
    default: false
  async_timeout:
    description: The C(async) time limit the task used, in seconds (kept in the record).
    type: int
  sensitive:
    description: Keep no result (rc, msg, output) in the record, only the status. Implied by C(no_log) on the task.
    type: bool
    default: false
  output_files:
    description: Paths of the job's live output files on the host (C(stdout), C(stderr)), kept in the record.
    type: dict
  stale_after:
    description: Seconds after which a C(starting) claim without a launched job may be taken over, judged by the store's clock.
    type: int
    default: 300
  hosts:
    description: Hosts to serve. Default the current batch with C(run_once), else the current host.
    type: list
    elements: str
  host:
    description: With I(op=list) or I(op=prune), only records of this host.
    type: str
  statuses:
    description: With I(op=list) or I(op=prune), only records in these statuses.
    type: list
    elements: str
    choices: [starting, running, unreachable, succeeded, failed, timed_out, lost, cancelled]
  playbook:
    description: With I(op=list) or I(op=prune), only records started by this playbook (path or file name).
    type: str
  older_than:
    description:
      - With I(op=list) or I(op=prune), only records last updated longer ago than this
        (C(3600), C(90s), C(15m), C(12h), C(7d)). Required for C(prune).
    type: str
  history:
    description: With I(op=list) or I(op=load), include earlier attempts.
    type: bool
    default: false
  metadata:
    description:
      - With I(op=save), a dictionary kept in the record as C(metadata) and returned by I(op=load)
        (the earlier roles' C(async_job_save_metadata)). At most 64 keys and 8192 characters of JSON.
    type: dict
  earlier_state:
    description:
      - With I(op=load), the directory of state saved by the earlier C(rstyczynski.ansible) save/load
        roles (C(<earlier_state>/<host>/<namespace>/<name>.json), the namespace being their playbook
        name). A job the store does not hold yet is imported from there into the store, then loaded.
        The earlier file is left in place.
    type: str
attributes:
  check_mode:
    support: full
    description: Nothing is written; each operation reports what it would do.
  diff_mode:
    support: none
    description: No diff is shown; the records returned say what changed.
  platform:
    support: full
    platforms: posix
    description: Runs on the controller.
notes:
  - Records are validated on every read and write. A corrupt or foreign record is reported
    by name and never hides the others from C(list).
seealso:
  - module: rstyczynski.ansible.async_job_probe
  - name: Collection README
    description: Stores, statuses and examples.
    link: https://github.com/rstyczynski/ansible
'''

EXAMPLES = r'''
- name: Record a native async task
  ansible.builtin.command: /usr/local/bin/backup.sh
  async: 7200
  poll: 0
  register: backup

- name: Save every host's job in one call
  rstyczynski.ansible.job_store:
    op: save
    name: nightly-backup
    result_var: backup
    async_timeout: 7200
  run_once: true

- name: Later, from any playbook, load this host's job
  rstyczynski.ansible.job_store:
    op: load
    name: nightly-backup
  register: saved

- name: List failed or lost jobs in an S3 store
  rstyczynski.ansible.job_store:
    op: list
    store: s3://ops-jobs/prod
    statuses: [failed, lost]
  run_once: true
  register: bad

- name: Prune terminal records older than a week
  rstyczynski.ansible.job_store:
    op: prune
    older_than: 7d
  run_once: true
'''

RETURN = r'''
hosts:
  description: Per served host, its answer (with C(run_once)).
  returned: for save, load, update and delete
  type: dict
  sample:
    web1:
      changed: true
      claimed: true
      status: starting
      terminal: false
      job: {name: nightly-backup, host: web1, attempt: 1, status: starting}
summary:
  description: One readable line per served host, as the roles report it.
  returned: for save, load, update and delete
  type: list
  elements: str
  sample: ['web1: nightly-backup running (jid j1234.5, attempt 1)']
job:
  description: The job record (for a per-host call, and inside C(hosts)).
  returned: for save, load, update
  type: dict
  contains:
    schema: {description: Record schema version., type: int, returned: always}
    id: {description: Unique id of this attempt (uuid)., type: str, returned: always}
    namespace: {description: Namespace., type: str, returned: always}
    name: {description: Job name., type: str, returned: always}
    host: {description: Inventory host name., type: str, returned: always}
    attempt: {description: 'Attempt number of this name on this host, from 1.', type: int, returned: always}
    status: {description: Current status., type: str, returned: always}
    jid: {description: Ansible async job id., type: str, returned: always}
    results_file: {description: Absolute path of the async job file on the host., type: str, returned: always}
    async_timeout: {description: The async time limit in seconds., type: int, returned: always}
    host_incarnation: {description: Boot id and start times of the host when the job was first seen., type: dict, returned: always}
    playbook: {description: Playbook that started the job., type: str, returned: always}
    play: {description: Play name., type: str, returned: always}
    play_id: {description: Play uuid (the one Ara records)., type: str, returned: always}
    task: {description: Task name., type: str, returned: always}
    controller: {description: Controller host name., type: str, returned: always}
    started_at: {description: ISO 8601 time of the claim or save., type: str, returned: always}
    updated_at: {description: ISO 8601 time of the last change., type: str, returned: always}
    finished_at: {description: ISO 8601 time the record became terminal., type: str, returned: always}
    last_error: {description: 'Why the job is in its status (lost reason, failure message).', type: str, returned: always}
    result: {description: 'Bounded result (rc, msg, stdout_tail, stderr_tail); null when no_log.', type: dict, returned: always}
status:
  description: The job's status (per-host call).
  returned: for save, load, update
  type: str
  sample: running
terminal:
  description:
    - Whether the job's status is final (C(succeeded), C(failed), C(timed_out), C(lost) or C(cancelled)).
      The roles probe only a job whose status is not final (and, for cleanup, a finished one's files).
  returned: for save, load and update, when the answer has a job
  type: bool
found:
  description: Whether a record was found (load, update).
  returned: for load and update
  type: bool
claimed:
  description: Whether this call claimed the name for a launch (save with claim).
  returned: for save with claim
  type: bool
claim_stale:
  description:
    - For a C(starting) record without a jid (a claim whose launch is not recorded), whether the
      claim was older than I(stale_after) by the store's clock when this answer was given. Pass
      this answer to the update that applies a probe's evidence, with I(loaded_var).
  returned: for load, and save with claim when another claim holds the name
  type: bool
skipped:
  description: Nothing was done for this host (save with claim and I(probe_var), no probe evidence for the host).
  returned: for save with claim and probe_var, per host
  type: bool
jobs:
  description: Records found (list), pruned (prune), or attempts (load with history).
  returned: for list, prune, and load with history
  type: list
  elements: dict
errors:
  description: Records that could not be read, each message naming the file or key.
  returned: for list and prune
  type: list
  elements: str
store:
  description: The store used.
  returned: always
  type: str
'''
