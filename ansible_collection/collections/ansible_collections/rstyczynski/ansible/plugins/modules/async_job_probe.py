#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2025, rstyczynski.ansible contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: async_job_probe
short_description: Gather evidence about a native Ansible async job on a managed host
version_added: "1.0.0"
author:
  - rstyczynski.ansible contributors (@rstyczynski)
description:
  - "Runs on the managed host and reports what can be seen there about one job that was
    started with Ansible's native C(async) and C(poll: 0): the job file written by
    C(async_wrapper), the processes that still belong to the job, the host incarnation
    (kernel boot and PID 1 start) and, optionally, the tail of live output files."
  - The module gathers B(evidence). It does not decide the final status of the job; the
    controller (the C(job_store) engine of this collection) does that. The module returns
    raw facts and a simple I(state) hint, one of C(finished), C(running), C(gone) or
    C(unknown).
  - "A process belongs to the job when (a) it is an C(async_wrapper) process whose jid
    argument B(exactly) equals the random part of the jid (C(j12345) never matches
    C(j123456789)), (b) its environment contains exactly C(ANSIBLE_JOBS_CLAIM=<claim_token>),
    or (c) it is in the job's session: the session of a process found by (a) or (b), or
    the I(session_id) recorded by an earlier probe when the host has not restarted since."
  - The job file is read before the process scan and read again after it, so a job that
    finishes while the probe runs is reported as C(finished), never as C(gone).
  - Missing evidence never looks like a dead job. When the probe cannot see other
    processes (no C(/proc), C(hidepid), permission errors, a non-Linux host), it reports
    I(visible=false) with the reason and the I(state) is C(unknown) unless the job file
    already holds the result or a matching process was seen.
  - I(action=cancel) stops a running job (SIGTERM, then SIGKILL after I(cancel_grace))
    and writes a finished, failed, cancelled result into the job file, so that
    M(ansible.builtin.async_status) also sees the job end.
  - I(action=cleanup) removes the job file and the output files of a terminal job.
  - Linux is fully supported. Other POSIX hosts can read the job file but report
    I(visible=false) because there is no Linux C(/proc). Windows hosts are not supported.
options:
  jid:
    description:
      - The C(ansible_job_id) returned by the launch, for example C(j389284354218.19838).
      - "On ansible-core 2.14 the format is C(j<random>.<pid>): the random part (C(j389284354218))
        is the jid argument of the C(async_wrapper) command line and is what the process scan
        matches, exactly; the pid is the one of the short-lived first wrapper process."
      - When omitted and I(results_file) is given, the jid is taken from the file name.
      - At least one of I(jid), I(results_file) or I(claim_token) is required.
    type: str
  results_file:
    description:
      - Absolute path of the job file, as returned in C(results_file) by the launch.
      - Default is C(~/.ansible_async/<jid>), expanded for the user the probe runs as.
      - B(Always pass the recorded results_file when you have it.) The job file lives in the
        C($HOME) of the launching process; a probe that runs with another C($HOME) (another
        C(become_user), C(sudo) keeping or resetting C(HOME), a different C(async_dir)) looks
        in the wrong place, which is the C(could not find job) problem of ansible/ansible issues
        81805 and 77257. Without I(results_file) the module also tries the home directory from the
        password database, the C(SUDO_USER) home and, while the job is alive, the C(HOME) and
        C(ANSIBLE_ASYNC_DIR) found in the environment of the job's C(async_wrapper) process.
    type: path
  claim_token:
    description:
      - Value of the C(ANSIBLE_JOBS_CLAIM) environment variable set with C(environment:) on the
        launched async task.
      - Processes whose environment contains exactly C(ANSIBLE_JOBS_CLAIM=<claim_token>) belong
        to the job.
      - When given without I(jid) and I(results_file), the module adopts the job. It reads the
        jid from the command line of the C(async_wrapper) process that carries the token and
        finds its job file, and reports them in I(adopted_jid) and I(results_file).
      - Adoption works only while the job's C(async_wrapper) is alive.
    type: str
  session_id:
    description:
      - Session id reported by an earlier probe of the same job.
      - Lets the probe find the job's own process (the user's command) after the
        C(async_wrapper) processes died or were killed.
      - Used only when the host did not restart since it was recorded (checked with
        I(host_incarnation), or else with the job file's mtime), never for session ids
        C(0) or C(1) or the probe's own session, and never for a session whose leader
        process is alive (async_wrapper's session leader always exits right away, so a live
        leader means the id was reused).
    type: int
  host_incarnation:
    description:
      - The I(incarnation) reported by an earlier probe of the same job, a dict with
        C(boot_id), C(boot_time) and C(pid1_start).
      - When C(boot_id) differs, or C(pid1_start) differs by more than one second, the host
        restarted and I(restarted) is C(true).
      - Unknown keys are ignored.
    type: dict
  action:
    description:
      - C(probe) only gathers evidence.
      - C(cancel) stops a running job, see the description. A job that already finished is
        left alone (C(changed=false)). When the state is C(unknown) or C(gone) nothing is
        signalled and nothing is written.
      - C(cleanup) removes the job file (and a leftover C(<job file>.tmp)) and the
        I(output_files) when the job is terminal (finished, or visible and gone). For a
        running job or an unknown state it refuses, with C(changed=false) and a I(msg)
        saying why; this is not a failure.
    type: str
    choices: [probe, cancel, cleanup]
    default: probe
  tail_lines:
    description:
      - Number of lines returned from the end of each of the I(output_files).
    type: int
    default: 20
  max_output:
    description:
      - Upper bound in bytes for each output string returned, the I(stdout)/I(stderr) (and
        related) values of the I(result) and each output file tail.
      - Longer values keep their last I(max_output) bytes and I(truncated) is C(true).
    type: int
    default: 65536
  output_files:
    description:
      - Paths of live output capture files of the job.
      - When a file exists, its last I(tail_lines) lines are returned in I(stdout_tail) or
        I(stderr_tail). A missing file is not an error.
      - With I(action=cleanup) the files are removed together with the job file.
    type: dict
    suboptions:
      stdout:
        description: Path of the file that captures the job's standard output.
        type: path
      stderr:
        description: Path of the file that captures the job's standard error.
        type: path
  cancel_grace:
    description:
      - Seconds to wait after SIGTERM before SIGKILL is sent, with I(action=cancel).
    type: int
    default: 5
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - With I(action=cancel) nothing is signalled or written; I(would_signal) lists the pids.
      - With I(action=cleanup) nothing is removed; I(would_remove) lists the paths.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in diff mode).
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: partial
    platforms: posix
    details:
      - Linux is first-class.
      - Other POSIX systems report I(visible=false) (no Linux /proc).
      - Windows is not supported.
notes:
  - Run the probe with the same C(become) settings as the launch. The claim token is found in
    process environments, and a non-root user cannot read the environment of other users'
    processes; such processes are skipped (counted in I(environ_skipped)). Permission
    errors on the user's own processes (PID 1 and the probe's own process tree excepted)
    make a claim search that found nothing report I(visible=false).
  - "C(restarted) is evidence about the host: C(true) when PID 1 or the kernel started after
    the job file of an unfinished job was last written, or when the given I(host_incarnation)
    differs. In a podman container, C(podman kill) + C(podman start) changes the PID 1 start
    time but not the kernel C(boot_id)."
  - "If the job task itself is C(no_log), the job file still holds its result; set C(no_log)
    on the probe task too."
  - "The job's user command is found through the session of C(async_wrapper). A command that
    leaves that session (C(setsid), a daemon) cannot be followed."
seealso:
  - module: ansible.builtin.async_status
  - module: rstyczynski.ansible.job_store
'''

EXAMPLES = r'''
- name: Launch a long job with a claim token
  ansible.builtin.command: /usr/local/bin/backup.sh
  async: 7200
  poll: 0
  environment:
    ANSIBLE_JOBS_CLAIM: "{{ claim_token }}"
  register: launched

- name: Probe it
  rstyczynski.ansible.async_job_probe:
    jid: "{{ launched.ansible_job_id }}"
    results_file: "{{ launched.results_file }}"
  register: probe

- name: Probe again later, following the user's command even if the wrapper died
  rstyczynski.ansible.async_job_probe:
    jid: "{{ launched.ansible_job_id }}"
    results_file: "{{ launched.results_file }}"
    session_id: "{{ probe.session_id }}"
    host_incarnation: "{{ probe.incarnation }}"
  register: probe2

- name: Adopt a job whose jid the controller never saved
  rstyczynski.ansible.async_job_probe:
    claim_token: "{{ claim_token }}"
  register: adopted
  # adopted.adopted_jid and adopted.results_file name the job

- name: Cancel it (SIGTERM, 10 s grace, SIGKILL)
  rstyczynski.ansible.async_job_probe:
    jid: "{{ launched.ansible_job_id }}"
    results_file: "{{ launched.results_file }}"
    session_id: "{{ probe.session_id }}"
    host_incarnation: "{{ probe.incarnation }}"
    action: cancel
    cancel_grace: 10

- name: Remove the job file and the captured output once the job is terminal
  rstyczynski.ansible.async_job_probe:
    jid: "{{ launched.ansible_job_id }}"
    results_file: "{{ launched.results_file }}"
    output_files:
      stdout: "{{ launched.results_file }}.stdout"
      stderr: "{{ launched.results_file }}.stderr"
    action: cleanup
'''

RETURN = r'''
state:
  description:
    - Hint for the controller.
    - C(finished) the job file holds a final result (success, failure, timeout or cancel).
    - C(running) a process of the job is alive.
    - C(gone) the probe can see the host's processes, none belongs to the job, and the job
      file holds no result (or is missing, or cannot be parsed).
    - C(unknown) the probe cannot tell; see I(visibility) and I(job_file.error).
  returned: always
  type: str
  sample: running
visible:
  description: Whether the probe could see everything it needed to call a job C(gone).
  returned: always
  type: bool
  sample: true
visibility:
  description: C(ok), or the reason why I(visible) is C(false).
  returned: always
  type: str
  sample: "hidepid=2 on /proc hides other users' processes from uid 1000"
jid:
  description: The jid the probe worked with (given, taken from I(results_file), or adopted).
  returned: always
  type: str
  sample: j389284354218.19838
jid_token:
  description: The random part of the jid, matched exactly against async_wrapper's jid argument.
  returned: always
  type: str
  sample: j389284354218
adopted_jid:
  description:
    - The jid found through I(claim_token) when neither I(jid) nor I(results_file) was given.
    - C(null) when nothing was adopted.
  returned: always
  type: str
  sample: j389284354218.19838
adopted_results_file:
  description: The job file of the adopted job (same as I(results_file)), C(null) when nothing was adopted.
  returned: always
  type: str
  sample: /root/.ansible_async/j389284354218.19838
adoption_candidates:
  description: The jid tokens of all async_wrapper processes carrying the claim token.
  returned: always
  type: list
  elements: str
  sample: [j389284354218]
results_file:
  description: Path of the job file used (given, default, or found).
  returned: always
  type: str
  sample: /root/.ansible_async/j389284354218.19838
job_file:
  description: What the probe found at I(results_file).
  returned: always
  type: dict
  contains:
    path:
      description: Path of the job file, C(null) when no path is known (claim search without a match).
      type: str
    exists:
      description: Whether the job file exists.
      type: bool
    mtime:
      description: Modification time of the job file, seconds since the epoch.
      type: float
    error:
      description: Why the job file could not be read or parsed, else C(null).
      type: str
finished:
  description: Whether the job file holds a final result.
  returned: always
  type: bool
timed_out:
  description: Whether the final result is async_wrapper's C(Timeout exceeded) result.
  returned: always
  type: bool
result:
  description:
    - The parsed job file when the job finished, else C(null).
    - C(stdout), C(stderr), C(module_stdout), C(module_stderr), C(data), C(outdata) keep their last
      I(max_output) bytes, C(stdout_lines)/C(stderr_lines) their last lines that fit in I(max_output).
    - When something was cut, the result also holds C(truncated=true).
  returned: always
  type: dict
  sample: {"rc": 0, "stdout": "done", "cmd": ["echo", "done"], "changed": true}
truncated:
  description: Whether a value in I(result) was cut to I(max_output) (then C(result.truncated) is C(true) too).
  returned: always
  type: bool
alive:
  description: Whether at least one process of the job is alive (zombies do not count).
  returned: always
  type: bool
processes:
  description: The processes attributed to the job.
  returned: always
  type: list
  elements: dict
  contains:
    pid:
      description: Process id.
      type: int
    ppid:
      description: Parent process id.
      type: int
    sid:
      description: Session id.
      type: int
    pgid:
      description: Process group id.
      type: int
    state:
      description:
        - Process state letter from /proc/PID/stat (C(Z) is a zombie).
        - After I(action=cancel), C(X) marks a process that no longer exists.
      type: str
    uid:
      description: Owner uid of /proc/PID.
      type: int
    start_time:
      description: Process start time, seconds since the epoch.
      type: float
    cmdline:
      description: Command line, truncated to 200 characters.
      type: str
    matched_by:
      description: Why the process belongs to the job, any of C(argv), C(claim), C(session).
      type: list
      elements: str
session_id:
  description:
    - Session id of the job's processes (async_wrapper's session), C(null) when no process
      was found. Record it and pass it back as I(session_id).
  returned: always
  type: int
  sample: 19840
incarnation:
  description:
    - Host incarnation, pass it back as I(host_incarnation). C(null) values when unknown.
  returned: always
  type: dict
  contains:
    boot_id:
      description: Kernel boot id (/proc/sys/kernel/random/boot_id).
      type: str
    boot_time:
      description: Kernel boot time, seconds since the epoch (the clock now minus /proc/uptime; btime of /proc/stat when that cannot be read).
      type: float
    pid1_start:
      description: Start time of PID 1 (of the container, in a container), seconds since the epoch.
      type: float
restarted:
  description:
    - C(true) when the host restarted after the job began (see notes), C(false) when the
      evidence says it did not, C(null) when unknown.
  returned: always
  type: bool
restart_evidence:
  description: Human readable reasons for I(restarted=true).
  returned: always
  type: list
  elements: str
environ_skipped:
  description: Number of other users' processes whose environment could not be read in a claim search.
  returned: always
  type: int
stdout_tail:
  description: Last I(tail_lines) lines of I(output_files.stdout), C(null) when not given or missing.
  returned: always
  type: str
stderr_tail:
  description: Last I(tail_lines) lines of I(output_files.stderr), C(null) when not given or missing.
  returned: always
  type: str
action:
  description: The action performed.
  returned: always
  type: str
cancelled:
  description: Whether this call cancelled the job (I(action=cancel)).
  returned: always
  type: bool
signalled:
  description: Pids that were sent a signal by I(action=cancel).
  returned: always
  type: list
  elements: int
would_signal:
  description: Pids that I(action=cancel) would signal, in check mode.
  returned: always
  type: list
  elements: int
removed:
  description: Paths removed by I(action=cleanup) (or the cancelled job's async_wrapper temporary directory).
  returned: always
  type: list
  elements: str
would_remove:
  description: Paths that I(action=cleanup) would remove, in check mode.
  returned: always
  type: list
  elements: str
notes:
  description: Diagnostic remarks about the evidence (ignored session ids, skipped paths...).
  returned: always
  type: list
  elements: str
msg:
  description: Summary of what was found or done.
  returned: always
  type: str
'''

# The logic lives in private module_utils (shipped to the host with the module):
# _probe (the Probe and run_module), _probe_jobfile, _probe_proc, _probe_incarnation,
# _probe_actions (cancel, cleanup) and _probe_common.
from ansible.module_utils.basic import AnsibleModule
from ansible_collections.rstyczynski.ansible.plugins.module_utils._probe import run_module


def main():
    module = AnsibleModule(
        argument_spec=dict(
            jid=dict(type='str'),
            results_file=dict(type='path'),
            claim_token=dict(type='str', no_log=False),
            session_id=dict(type='int'),
            host_incarnation=dict(type='dict'),
            action=dict(type='str', default='probe', choices=['probe', 'cancel', 'cleanup']),
            tail_lines=dict(type='int', default=20),
            max_output=dict(type='int', default=65536),
            output_files=dict(type='dict', options=dict(
                stdout=dict(type='path'),
                stderr=dict(type='path'),
            )),
            cancel_grace=dict(type='int', default=5),
        ),
        required_one_of=[['jid', 'results_file', 'claim_token']],
        supports_check_mode=True,
    )
    run_module(module)


if __name__ == '__main__':
    main()
