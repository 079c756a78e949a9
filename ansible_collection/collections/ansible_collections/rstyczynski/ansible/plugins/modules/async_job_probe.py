#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2025, rstyczynski.ansible contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: async_job_probe
short_description: Gather evidence about a native Ansible async job on a managed host
version_added: "1.0.0"
author:
  - rstyczynski.ansible contributors
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
      description: Kernel boot time (btime of /proc/stat), seconds since the epoch.
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

import errno
import json
import os
import re
import shutil
import signal
import stat
import sys
import time

from ansible.module_utils.basic import AnsibleModule

CLAIM_ENV = 'ANSIBLE_JOBS_CLAIM'
CANCEL_MSG = 'cancelled by rstyczynski.ansible'
TIMEOUT_MSG = 'Timeout exceeded'
WRAPPER_MARK = 'async_wrapper'
DEFAULT_ASYNC_DIR = '~/.ansible_async'
PROC = '/proc'

REREAD_PAUSE = 0.2          # seconds before re-reading an unparseable job file
MTIME_TOLERANCE = 0.5       # seconds: boot/PID 1 start "later than" the job file mtime
INCARNATION_TOLERANCE = 1.0  # seconds: PID 1 start time compared with an earlier probe
CMDLINE_MAX = 200
KILL_WAIT = 3.0             # seconds to wait for processes to vanish after SIGKILL
POLL_INTERVAL = 0.05

JID_RE = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.-]*$')
JID_SPLIT_RE = re.compile(r'^(.+)\.([0-9]+)$')
TRUNCATE_STR_KEYS = ('stdout', 'stderr', 'module_stdout', 'module_stderr', 'data', 'outdata')
TRUNCATE_LIST_KEYS = ('stdout_lines', 'stderr_lines')

_TRUE_WORDS = ('1', 'true', 'yes', 'on', 'y', 't')
_FALSE_WORDS = ('0', 'false', 'no', 'off', 'n', 'f', '')


class ProbeError(Exception):
    """An expected problem: reported with fail_json, never as a traceback."""

    def __init__(self, msg, **facts):
        super(ProbeError, self).__init__(msg)
        self.msg = msg
        self.facts = facts


# --------------------------------------------------------------------------------------
# Pure helpers (unit tested)
# --------------------------------------------------------------------------------------

def to_flag(value):
    """1/0, true/false, "1"/"0", "yes"/"no" -> True/False; anything else -> None."""
    if isinstance(value, bool):
        return value
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    return None


def interpret_job_data(data):
    """Classify the content of a job file the way async_status does.

    async_wrapper writes {"started": 1, "finished": 0, ...} while the job runs and replaces it
    with the module's own result (which has no "started" key) when the job ends; its watcher
    writes {"msg": "Timeout exceeded", "failed": true, "child_pid": N} on timeout. A file
    without "started" therefore is a final result, whatever else it holds.
    """
    if not isinstance(data, dict):
        raise ValueError('job file does not hold a JSON object')
    if 'started' not in data:
        finished = True
    else:
        finished = to_flag(data.get('finished')) is True
    timed_out = bool(
        finished and 'started' not in data and data.get('msg') == TIMEOUT_MSG
        and to_flag(data.get('failed')) is not False)
    return {
        'finished': finished,
        'started': True if 'started' not in data else bool(to_flag(data.get('started'))),
        'timed_out': timed_out,
        'cancelled': bool(finished and to_flag(data.get('cancelled'))),
    }


def parse_job_text(text):
    """Parse the text of a job file. Returns (data, flags); raises ValueError when unusable."""
    if isinstance(text, bytes):
        text = text.decode('utf-8', 'replace')
    if not text.strip():
        raise ValueError('job file is empty')
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ValueError('invalid JSON: %s' % e)
    return data, interpret_job_data(data)


def jid_token(jid):
    """Random part of a jid: 'j389284354218.19838' -> 'j389284354218'."""
    if jid is None:
        return None
    m = JID_SPLIT_RE.match(jid)
    return m.group(1) if m else jid


def is_wrapper_arg(arg):
    return WRAPPER_MARK in arg.rsplit('/', 1)[-1]


def wrapper_index(argv):
    for i, arg in enumerate(argv):
        if is_wrapper_arg(arg):
            return i
    return None


def wrapper_jid_token(argv):
    """The jid argument of an async_wrapper command line, else None.

    async_wrapper is run as '<interpreter...> <dir>/async_wrapper.py <jid> <time limit>
    <module> <args file or _> [-preserve_tmp]'.
    """
    i = wrapper_index(argv)
    if i is None or i + 1 >= len(argv):
        return None
    return argv[i + 1]


def tail_text(text, max_bytes):
    """Keep the last max_bytes bytes (UTF-8) of text. Returns (text, truncated)."""
    raw = text.encode('utf-8', 'surrogatepass')
    if len(raw) <= max_bytes:
        return text, False
    kept = raw[len(raw) - max_bytes:] if max_bytes > 0 else b''
    return kept.decode('utf-8', 'ignore'), True


def tail_list(items, max_bytes):
    """Keep the last items whose total UTF-8 size fits in max_bytes. Returns (list, truncated)."""
    total = 0
    kept = []
    for item in reversed(items):
        size = len(str(item).encode('utf-8', 'surrogatepass')) + 1
        if total + size > max_bytes:
            return list(reversed(kept)), True
        total += size
        kept.append(item)
    return list(items), False


def truncate_result(data, max_output):
    """Copy of a job result with the output values cut to max_output. Returns (dict, truncated).

    When something was cut, the copy also gets "truncated": true.
    """
    out = dict(data)
    truncated = False
    for key in TRUNCATE_STR_KEYS:
        value = out.get(key)
        if isinstance(value, str):
            out[key], cut = tail_text(value, max_output)
            truncated = truncated or cut
    for key in TRUNCATE_LIST_KEYS:
        value = out.get(key)
        if isinstance(value, list):
            out[key], cut = tail_list(value, max_output)
            truncated = truncated or cut
    if truncated:
        out['truncated'] = True
    return out, truncated


def tail_lines_of(raw, lines, partial_first):
    """Last `lines` lines of raw bytes; drop the first line when it was cut in the middle."""
    text = raw.decode('utf-8', 'replace')
    parts = text.splitlines()
    if partial_first and parts and len(parts) > 1:
        parts = parts[1:]
    if lines <= 0:
        return ''
    return '\n'.join(parts[-lines:])


def parse_stat_line(text):
    """Fields of /proc/PID/stat. The command name may contain spaces and parentheses."""
    if isinstance(text, bytes):
        text = text.decode('utf-8', 'replace')
    lparen = text.index('(')
    rparen = text.rindex(')')
    rest = text[rparen + 2:].split()
    return {
        'pid': int(text[:lparen].strip()),
        'comm': text[lparen + 1:rparen],
        'state': rest[0],
        'ppid': int(rest[1]),
        'pgid': int(rest[2]),
        'sid': int(rest[3]),
        'starttime': int(rest[19]),   # field 22, clock ticks since boot
    }


def normalize_incarnation(value):
    """Validate a host_incarnation dict. Raises ValueError naming the bad key."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError('host_incarnation must be a dict with boot_id, boot_time, pid1_start')
    out = {'boot_id': None, 'boot_time': None, 'pid1_start': None}
    boot_id = value.get('boot_id')
    if boot_id not in (None, ''):
        out['boot_id'] = str(boot_id).strip()
    for key in ('boot_time', 'pid1_start'):
        raw = value.get(key)
        if raw in (None, ''):
            continue
        try:
            out[key] = float(raw)
        except (TypeError, ValueError):
            raise ValueError('host_incarnation.%s must be a number of seconds, got %r' % (key, raw))
    return out


def evaluate_restart(current, previous, job_mtime, job_finished):
    """Return (restarted, evidence): True/False/None and the reasons for True."""
    evidence = []
    compared = False
    if current:
        if previous:
            if previous.get('boot_id') and current.get('boot_id'):
                compared = True
                if previous['boot_id'] != current['boot_id']:
                    evidence.append('kernel boot_id changed (%s -> %s)'
                                    % (previous['boot_id'], current['boot_id']))
            if previous.get('pid1_start') is not None and current.get('pid1_start') is not None:
                compared = True
                if abs(previous['pid1_start'] - current['pid1_start']) > INCARNATION_TOLERANCE:
                    evidence.append('PID 1 start time changed (%.2f -> %.2f)'
                                    % (previous['pid1_start'], current['pid1_start']))
        if job_mtime is not None and not job_finished:
            for key, label in (('boot_time', 'kernel boot time'), ('pid1_start', 'PID 1 start time')):
                if current.get(key) is None:
                    continue
                compared = True
                if current[key] > job_mtime + MTIME_TOLERANCE:
                    evidence.append('%s (%.2f) is later than the unfinished job file mtime (%.2f)'
                                    % (label, current[key], job_mtime))
    if evidence:
        return True, evidence
    if compared:
        return False, []
    return None, []


def hidepid_from_mountinfo(text):
    """(hidepid value, gid) of the last proc mount on /proc in a mountinfo text."""
    hidepid = None
    gid = None
    for line in text.splitlines():
        left, sep, right = line.partition(' - ')
        if not sep:
            continue
        fields = left.split()
        tail = right.split()
        if len(fields) < 5 or not tail or tail[0] != 'proc' or fields[4] != PROC:
            continue
        hidepid = None
        gid = None
        options = ','.join(x for x in (fields[5] if len(fields) > 5 else '',
                                       tail[2] if len(tail) > 2 else '') if x)
        for opt in options.split(','):
            if opt.startswith('hidepid='):
                hidepid = opt.split('=', 1)[1]
            elif opt.startswith('gid='):
                try:
                    gid = int(opt.split('=', 1)[1])
                except ValueError:
                    pass
    return hidepid, gid


# --------------------------------------------------------------------------------------
# Host evidence
# --------------------------------------------------------------------------------------

def _read_bytes(path):
    with open(path, 'rb') as f:
        return f.read()


def read_incarnation():
    """{boot_id, boot_time, pid1_start} of this host (values None when unknown)."""
    inc = {'boot_id': None, 'boot_time': None, 'pid1_start': None}
    try:
        inc['boot_id'] = _read_bytes(PROC + '/sys/kernel/random/boot_id').decode('ascii', 'replace').strip() or None
    except (IOError, OSError):
        pass
    try:
        for line in _read_bytes(PROC + '/stat').decode('ascii', 'replace').splitlines():
            if line.startswith('btime '):
                inc['boot_time'] = float(line.split()[1])
                break
    except (IOError, OSError, ValueError, IndexError):
        pass
    if inc['boot_time'] is not None:
        try:
            ticks = parse_stat_line(_read_bytes(PROC + '/1/stat'))['starttime']
            inc['pid1_start'] = round(inc['boot_time'] + float(ticks) / os.sysconf('SC_CLK_TCK'), 2)
        except (IOError, OSError, ValueError, IndexError):
            pass
    return inc


def check_visibility():
    """(visible, reason) for the process evidence of this host."""
    if not sys.platform.startswith('linux'):
        return False, ('unsupported platform %s: process evidence needs the Linux /proc '
                       'filesystem' % sys.platform)
    if not os.path.exists(PROC + '/self/stat'):
        return False, '/proc is not mounted: processes cannot be seen'
    euid = os.geteuid()
    try:
        hidepid, gid = hidepid_from_mountinfo(_read_bytes(PROC + '/self/mountinfo').decode('utf-8', 'replace'))
    except (IOError, OSError):
        hidepid, gid = None, None
    if hidepid not in (None, '0', 'off') and euid != 0:
        groups = set(os.getgroups()) | set([os.getegid()])
        if gid is None or gid not in groups:
            return False, ("hidepid=%s on /proc hides other users' processes from uid %d; run the "
                           "probe as root (become) or as a member of the proc gid" % (hidepid, euid))
    try:
        _read_bytes(PROC + '/1/stat')
    except (IOError, OSError) as e:
        return False, 'cannot read /proc/1/stat (%s): other processes cannot be seen' % e.strerror
    return True, 'ok'


def _env_value(entries, name):
    prefix = (name + '=').encode('utf-8')
    for entry in entries:
        if entry.startswith(prefix):
            return entry[len(prefix):].decode('utf-8', 'surrogateescape')
    return None


def scan_processes(claim_token):
    """Read every /proc/PID once. Returns {pid: info}.

    info holds the stat fields, uid, argv, and, when a claim token is searched, whether the
    environment carries it ('claim'), could not be read ('environ_denied') and the HOME and
    ANSIBLE_ASYNC_DIR of claim carriers ('env').
    """
    claim_entry = None
    if claim_token is not None:
        claim_entry = ('%s=%s' % (CLAIM_ENV, claim_token)).encode('utf-8', 'surrogateescape')
    procs = {}
    for name in os.listdir(PROC):
        if not name.isdigit():
            continue
        pid = int(name)
        base = '%s/%d' % (PROC, pid)
        try:
            st = parse_stat_line(_read_bytes(base + '/stat'))
            uid = os.stat(base).st_uid
            raw = _read_bytes(base + '/cmdline')
        except (IOError, OSError, ValueError, IndexError):
            continue        # the process ended during the scan
        argv = [a.decode('utf-8', 'surrogateescape') for a in raw.split(b'\0')]
        if argv and argv[-1] == '':
            argv.pop()
        st['uid'] = uid
        st['argv'] = argv
        st['claim'] = False
        st['environ_denied'] = False
        st['env'] = None
        if claim_entry is not None:
            entries = None
            try:
                entries = _read_bytes(base + '/environ').split(b'\0')
            except (IOError, OSError) as e:
                if e.errno in (errno.EACCES, errno.EPERM):
                    st['environ_denied'] = True
            if entries and claim_entry in entries:
                st['claim'] = True
                st['env'] = {
                    'HOME': _env_value(entries, 'HOME'),
                    'ANSIBLE_ASYNC_DIR': _env_value(entries, 'ANSIBLE_ASYNC_DIR'),
                }
        procs[pid] = st
    return procs


def own_tree(procs):
    """Pids of the probe itself, its ancestors and its descendants."""
    me = os.getpid()
    excluded = set([me])
    pid = me
    while pid in procs and procs[pid]['ppid'] > 0 and procs[pid]['ppid'] not in excluded:
        pid = procs[pid]['ppid']
        excluded.add(pid)
    children = {}
    for p in procs.values():
        children.setdefault(p['ppid'], []).append(p['pid'])
    todo = [me]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in excluded:
                excluded.add(child)
                todo.append(child)
    return excluded


def is_alive_state(state):
    return state not in ('Z', 'X', 'x')


def still_alive(pid, starttime):
    """Whether the process pid (with that start time, to ignore pid reuse) still runs."""
    try:
        st = parse_stat_line(_read_bytes('%s/%d/stat' % (PROC, pid)))
    except (IOError, OSError, ValueError, IndexError):
        return False
    return st['starttime'] == starttime and is_alive_state(st['state'])


def match_processes(procs, excluded, token, claim_token, session_id, notes):
    """Attribute processes to the job. Returns {pid: [reasons]}."""
    matched = {}
    for pid, p in procs.items():
        if pid in excluded:
            continue
        if token and p['argv'] and wrapper_jid_token(p['argv']) == token:
            matched.setdefault(pid, []).append('argv')
        if claim_token is not None and p['claim']:
            matched.setdefault(pid, []).append('claim')

    own_sid = procs[os.getpid()]['sid'] if os.getpid() in procs else None
    forbidden = set([0, 1, own_sid])
    for pid in excluded:
        if pid in procs:
            forbidden.add(procs[pid]['sid'])

    sids = []
    for pid in sorted(matched):
        sid = procs[pid]['sid']
        if sid not in forbidden and sid not in sids:
            sids.append(sid)
    if session_id is not None:
        if session_id in forbidden:
            notes.append('session_id %d ignored: it is 0, 1 or a session of the probe itself' % session_id)
        elif session_id not in sids:
            sids.append(session_id)

    for sid in sids:
        leader = procs.get(sid)
        if leader is not None and is_alive_state(leader['state']) and sid not in matched:
            notes.append('session %d ignored: its leader pid %d (%s) is alive and not part of the '
                         'job, so the session id was reused' % (sid, sid, leader['comm']))
            continue
        for pid, p in procs.items():
            if p['sid'] == sid and pid not in excluded:
                reasons = matched.setdefault(pid, [])
                if 'session' not in reasons:
                    reasons.append('session')
    return matched


def locate_job_file_from_wrapper(token, env, notes):
    """Find <async dir>/<token>.<pid> from a wrapper environment (HOME, ANSIBLE_ASYNC_DIR)."""
    dirs = []
    home = (env or {}).get('HOME')
    async_dir = (env or {}).get('ANSIBLE_ASYNC_DIR') or DEFAULT_ASYNC_DIR
    if async_dir.startswith('~') and home:
        dirs.append(os.path.join(home, async_dir[1:].lstrip('/')))
    elif not async_dir.startswith('~'):
        dirs.append(async_dir)
    dirs.append(os.path.expanduser(DEFAULT_ASYNC_DIR))
    pattern = re.compile(r'^%s\.[0-9]+$' % re.escape(token))
    for d in dirs:
        try:
            names = sorted(n for n in os.listdir(d) if pattern.match(n))
        except (IOError, OSError):
            continue
        if len(names) > 1:
            notes.append('several job files match %s in %s: %s' % (token, d, ', '.join(names)))
        if names:
            return os.path.join(d, names[0])
    return None


def default_job_file_candidates(jid):
    """~/.ansible_async/<jid> for $HOME, the passwd home and the SUDO_USER home."""
    paths = [os.path.join(os.path.expanduser(DEFAULT_ASYNC_DIR), jid)]
    homes = []
    try:
        import pwd
        homes.append(pwd.getpwuid(os.geteuid()).pw_dir)
        sudo_user = os.environ.get('SUDO_USER')
        if sudo_user:
            homes.append(pwd.getpwnam(sudo_user).pw_dir)
    except (ImportError, KeyError):
        pass
    for home in homes:
        path = os.path.join(home, DEFAULT_ASYNC_DIR[2:], jid)
        if path not in paths:
            paths.append(path)
    return paths


def read_job_file(path):
    """Read and parse a job file. Returns (info, parsed, problem).

    info: {path, exists, mtime, error}; parsed: (data, flags) or None;
    problem: None, 'io' (could not read: state unknown) or 'parse' (unusable content).
    An unparseable file is read a second time after a short pause: a writer that does not
    rename atomically may be half-way through.
    """
    info = {'path': path, 'exists': False, 'mtime': None, 'error': None}
    if path is None:
        return info, None, None
    last_error = None
    for attempt in (0, 1):
        try:
            st = os.stat(path)
        except (IOError, OSError) as e:
            if e.errno in (errno.ENOENT, errno.ENOTDIR):
                info['exists'] = False
                info['mtime'] = None
                return info, None, None
            info['error'] = 'cannot stat job file %s: %s' % (path, e.strerror)
            return info, None, 'io'
        info['exists'] = True
        info['mtime'] = st.st_mtime
        if stat.S_ISDIR(st.st_mode):
            info['error'] = 'job file %s is a directory' % path
            return info, None, 'io'
        try:
            raw = _read_bytes(path)
        except (IOError, OSError) as e:
            if e.errno in (errno.ENOENT, errno.ENOTDIR):
                info['exists'] = False
                info['mtime'] = None
                return info, None, None
            info['error'] = 'cannot read job file %s: %s' % (path, e.strerror)
            return info, None, 'io'
        try:
            return info, parse_job_text(raw), None
        except ValueError as e:
            last_error = e
            if attempt == 0:
                time.sleep(REREAD_PAUSE)
    info['error'] = 'cannot parse job file %s: %s' % (path, last_error)
    return info, None, 'parse'


def read_output_tail(path, lines, max_bytes):
    """Last lines of an output file, None when missing. Raises nothing."""
    try:
        size = os.stat(path).st_size
        with open(path, 'rb') as f:
            partial = size > max_bytes
            if partial:
                f.seek(size - max_bytes)
            raw = f.read(max_bytes)
    except (IOError, OSError):
        return None
    return tail_lines_of(raw, lines, partial)


def write_job_file_atomic(path, data):
    """Write a job file like async_wrapper does, but with fsync: temp file, then rename."""
    directory = os.path.dirname(path) or '.'
    tmp = os.path.join(directory, '.%s.%d.cancel.tmp' % (os.path.basename(path), os.getpid()))
    mode = 0o600
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except (IOError, OSError):
        pass
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, 'w') as f:
            f.write(json.dumps(data))
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)
    except Exception:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


# --------------------------------------------------------------------------------------
# The probe
# --------------------------------------------------------------------------------------

def validate(params):
    """Check and normalise the parameters. Raises ProbeError naming the option."""
    p = dict(params)
    jid = p.get('jid')
    if jid is not None:
        jid = jid.strip()
        if not jid or not JID_RE.match(jid) or jid in ('.', '..'):
            raise ProbeError("jid %r is not an async job id (expected something like "
                             "'j389284354218.19838')" % params.get('jid'))
    p['jid'] = jid
    rf = p.get('results_file')
    if rf is not None:
        if not rf.strip():
            raise ProbeError('results_file must not be empty')
        if not os.path.isabs(rf):
            raise ProbeError('results_file %r must be an absolute path' % rf)
        rf = os.path.normpath(rf)
    p['results_file'] = rf
    token = p.get('claim_token')
    if token is not None and (token == '' or '\0' in token):
        raise ProbeError('claim_token must be a non-empty string without NUL characters')
    if p.get('jid') is None and rf is None and token is None:
        raise ProbeError('one of jid, results_file or claim_token is required')
    for key in ('tail_lines', 'max_output', 'cancel_grace'):
        if p.get(key) is not None and p[key] < 0:
            raise ProbeError('%s must be 0 or more, got %d' % (key, p[key]))
    try:
        p['host_incarnation'] = normalize_incarnation(p.get('host_incarnation'))
    except ValueError as e:
        raise ProbeError(str(e))
    outputs = p.get('output_files') or {}
    for key in ('stdout', 'stderr'):
        path = outputs.get(key)
        if path is not None and not os.path.isabs(path):
            raise ProbeError('output_files.%s %r must be an absolute path' % (key, path))
    p['output_files'] = outputs
    return p


class Probe(object):

    def __init__(self, params, check_mode=False):
        self.p = validate(params)
        self.check_mode = check_mode
        self.notes = []

    # ---- evidence ------------------------------------------------------------------
    def gather(self):
        p = self.p
        jid = p['jid']
        results_file = p['results_file']
        if jid is None and results_file is not None:
            base = os.path.basename(results_file)
            if JID_RE.match(base) and JID_SPLIT_RE.match(base):
                jid = base
        token = jid_token(jid)
        claim = p['claim_token']
        adopting = p['jid'] is None and results_file is None

        candidates = []
        if results_file is None and jid is not None:
            candidates = default_job_file_candidates(jid)
            results_file = candidates[0]
            for c in candidates:
                if os.path.exists(c):
                    results_file = c
                    break

        visible, visibility = check_visibility()
        incarnation = read_incarnation() if sys.platform.startswith('linux') else None

        # 1. the job file, BEFORE the process scan
        info1, parsed1, problem1 = read_job_file(results_file)

        # 2. the process scan
        procs = {}
        if sys.platform.startswith('linux') and os.path.isdir(PROC):
            try:
                procs = scan_processes(claim)
            except (IOError, OSError) as e:
                visible, visibility = False, 'cannot list /proc: %s' % e
        excluded = own_tree(procs)
        # PID 1 and the probe's own tree never belong to a job: their environment does not count.
        # Neither do other probes, nor processes that started before the job did. A process
        # that `podman exec` (runc) is still starting is briefly not dumpable: read it again.
        job_began = info1['mtime'] if parsed1 is not None and not parsed1[1]['finished'] else None
        denied = [pr for pid, pr in procs.items()
                  if pr['environ_denied'] and pid != 1 and pid not in excluded
                  and not any('async_job_probe' in a for a in pr['argv'])
                  and not self._started_before(incarnation, pr, job_began)]
        if denied:
            time.sleep(0.2)
            denied = [pr for pr in denied if self._environ_still_denied(pr, claim)]
        denied_own = len([pr for pr in denied if pr['uid'] == os.geteuid()])
        skipped = len(denied) - denied_own

        adopted_jid = None
        adoption_candidates = []
        if claim is not None:
            wrappers = {}
            for pid, pr in sorted(procs.items()):
                if pid in excluded or not pr['claim']:
                    continue
                t = wrapper_jid_token(pr['argv'])
                if t and t not in wrappers:
                    wrappers[t] = pr
            adoption_candidates = sorted(wrappers)
            if adopting:
                if len(wrappers) == 1:
                    token = adoption_candidates[0]
                    found = locate_job_file_from_wrapper(token, wrappers[token]['env'], self.notes)
                    if found:
                        results_file = found
                        jid = adopted_jid = os.path.basename(found)
                    else:
                        self.notes.append('async_wrapper %s carries the claim token but its job file '
                                          'was not found' % token)
                elif len(wrappers) > 1:
                    self.notes.append('several async_wrapper processes carry the claim token: %s; '
                                      'nothing adopted' % ', '.join(adoption_candidates))
            elif token is not None and adoption_candidates and token not in adoption_candidates:
                self.notes.append('the claim token is carried by async_wrapper %s, not by %s'
                                  % (', '.join(adoption_candidates), token))

        # the default job file may live under the wrapper's own HOME / ANSIBLE_ASYNC_DIR
        if p['results_file'] is None and token is not None and not info1['exists'] and adopted_jid is None:
            for pid, pr in sorted(procs.items()):
                if pid not in excluded and wrapper_jid_token(pr['argv']) == token:
                    env = pr['env'] or self._read_env(pid)
                    found = locate_job_file_from_wrapper(token, env, self.notes)
                    if found and found != results_file:
                        self.notes.append('job file found through the async_wrapper environment: %s' % found)
                        results_file = found
                        jid = os.path.basename(found)
                    break

        if adopted_jid is not None or results_file != info1['path']:
            # the path changed after the first read: the first read of the new path is now
            # (after the scan). Processes were seen alive in the scan, so ordering still holds.
            info1, parsed1, problem1 = read_job_file(results_file)

        # session ids are only trusted while the host incarnation is unchanged
        session_id = p['session_id']
        if session_id is not None:
            gate, _ = evaluate_restart(incarnation, p['host_incarnation'], info1['mtime'], False)
            if gate is not False:
                self.notes.append('session_id %d not used: %s' % (
                    session_id, 'the host restarted since it was recorded' if gate
                    else 'cannot confirm that the host did not restart (pass host_incarnation)'))
                session_id = None

        matched = match_processes(procs, excluded, token, claim, session_id, self.notes)

        # 3. the job file AGAIN, after the scan: a job that finished meanwhile is finished
        info2, parsed2, problem2 = read_job_file(results_file)
        if parsed2 is not None and parsed2[1]['finished']:
            info, parsed, problem = info2, parsed2, problem2
        elif parsed1 is not None and parsed1[1]['finished']:
            info, parsed, problem = info1, parsed1, problem1
            self.notes.append('the job file changed during the probe; the finished result read first is kept')
        else:
            info, parsed, problem = info2, parsed2, problem2

        if claim is not None and denied_own and not any('claim' in r for r in matched.values()):
            visible = False
            visibility = ('cannot read the environment of %d process(es) of uid %d while looking '
                          'for the claim token' % (denied_own, os.geteuid()))

        processes = []
        for pid in sorted(matched):
            pr = procs[pid]
            cmd = ' '.join(pr['argv']) or '[%s]' % pr['comm']
            processes.append({
                'pid': pid, 'ppid': pr['ppid'], 'sid': pr['sid'], 'pgid': pr['pgid'],
                'state': pr['state'], 'uid': pr['uid'],
                'start_time': self._start_time(incarnation, pr['starttime']),
                'cmdline': cmd[:CMDLINE_MAX],
                'matched_by': matched[pid],
            })
        alive_pids = [pid for pid in sorted(matched) if is_alive_state(procs[pid]['state'])]

        job_sid = None
        for reason in ('argv', 'claim', 'session'):
            sids = [procs[pid]['sid'] for pid in sorted(matched)
                    if reason in matched[pid] and procs[pid]['sid'] not in (0, 1)]
            if sids:
                job_sid = max(set(sids), key=sids.count)
                break

        finished = bool(parsed and parsed[1]['finished'])
        if finished:
            state = 'finished'
        elif alive_pids:
            state = 'running'
        elif visible and problem != 'io':
            state = 'gone'
        else:
            state = 'unknown'

        restarted, evidence = evaluate_restart(incarnation, p['host_incarnation'], info['mtime'], finished)

        result = None
        truncated = False
        if finished:
            result, truncated = truncate_result(parsed[0], p['max_output'])

        out = {
            'changed': False,
            'action': p['action'],
            'state': state,
            'visible': bool(visible),
            'visibility': 'ok' if visible else visibility,
            'jid': jid,
            'jid_token': token,
            'adopted_jid': adopted_jid,
            'adopted_results_file': results_file if adopted_jid is not None else None,
            'adoption_candidates': adoption_candidates,
            'results_file': results_file,
            'job_file': info,
            'finished': finished,
            'timed_out': bool(finished and parsed[1]['timed_out']),
            'result': result,
            'truncated': truncated,
            'alive': bool(alive_pids),
            'processes': processes,
            'session_id': job_sid,
            'incarnation': incarnation,
            'restarted': restarted,
            'restart_evidence': evidence,
            'environ_skipped': skipped,
            'stdout_tail': None,
            'stderr_tail': None,
            'cancelled': False,
            'signalled': [],
            'would_signal': [],
            'removed': [],
            'would_remove': [],
            'notes': self.notes,
        }
        for key in ('stdout', 'stderr'):
            path = p['output_files'].get(key)
            if path:
                out['%s_tail' % key] = read_output_tail(path, p['tail_lines'], p['max_output'])
        self._procs = procs
        self._matched = matched
        self._excluded = excluded
        return out

    @staticmethod
    def _start_time(incarnation, ticks):
        if not incarnation or incarnation.get('boot_time') is None:
            return None
        return round(incarnation['boot_time'] + float(ticks) / os.sysconf('SC_CLK_TCK'), 2)

    @staticmethod
    def _read_env(pid):
        try:
            entries = _read_bytes('%s/%d/environ' % (PROC, pid)).split(b'\0')
        except (IOError, OSError):
            return None
        return {'HOME': _env_value(entries, 'HOME'),
                'ANSIBLE_ASYNC_DIR': _env_value(entries, 'ANSIBLE_ASYNC_DIR')}

    # ---- cancel --------------------------------------------------------------------
    @classmethod
    def _started_before(cls, incarnation, pr, when):
        """Whether the process started over a second before `when` (so it cannot be the job's)."""
        started = cls._start_time(incarnation, pr['starttime']) if when is not None else None
        return started is not None and started < when - 1

    @staticmethod
    def _environ_still_denied(pr, claim):
        """Reads a denied environment once more; a process that now shows the token is the job's."""
        try:
            entries = _read_bytes('%s/%d/environ' % (PROC, pr['pid'])).split(b'\0')
        except (IOError, OSError) as e:
            return e.errno in (errno.EACCES, errno.EPERM)
        pr['environ_denied'] = False
        if ('%s=%s' % (CLAIM_ENV, claim)).encode('utf-8', 'surrogateescape') in entries:
            pr['claim'] = True
            pr['env'] = {'HOME': _env_value(entries, 'HOME'), 'ANSIBLE_ASYNC_DIR': _env_value(entries, 'ANSIBLE_ASYNC_DIR')}
        return False

    def cancel(self, out):
        state = out['state']
        if state == 'finished':
            out['msg'] = 'job already finished; nothing to cancel'
            return out
        if state == 'unknown':
            out['msg'] = 'refusing to cancel: the job state is unknown (%s)' % out['visibility']
            return out
        if state == 'gone':
            out['msg'] = 'no live process of the job; nothing to cancel'
            return out

        procs, matched, excluded = self._procs, self._matched, self._excluded
        targets = [procs[pid] for pid in sorted(matched) if is_alive_state(procs[pid]['state'])]
        own_pgids = set(procs[pid]['pgid'] for pid in excluded if pid in procs)
        own_pgids.update([0, 1, os.getpgrp()])
        pgids = []
        for pgid in sorted(set(t['pgid'] for t in targets)):
            members = [q for q in procs.values() if q['pgid'] == pgid and is_alive_state(q['state'])]
            if pgid not in own_pgids and all(q['pid'] in matched for q in members):
                pgids.append(pgid)

        if self.check_mode:
            out['would_signal'] = [t['pid'] for t in targets]
            out['changed'] = True
            out['msg'] = 'would cancel the job: SIGTERM to %d process(es)' % len(targets)
            return out

        errors = []
        signalled = set()
        sent_at = time.time()

        def send(sig, only_alive):
            for pgid in pgids:
                if only_alive and not any(t['pgid'] == pgid and still_alive(t['pid'], t['starttime'])
                                          for t in targets):
                    continue
                try:
                    os.killpg(pgid, sig)
                    signalled.update(t['pid'] for t in targets if t['pgid'] == pgid)
                except OSError as e:
                    if e.errno != errno.ESRCH:
                        errors.append('killpg(%d, %d): %s' % (pgid, sig, e.strerror))
            for t in targets:
                if not still_alive(t['pid'], t['starttime']):
                    continue
                try:
                    os.kill(t['pid'], sig)
                    signalled.add(t['pid'])
                except OSError as e:
                    if e.errno != errno.ESRCH:
                        errors.append('kill(%d, %d): %s' % (t['pid'], sig, e.strerror))

        def wait(seconds):
            deadline = time.time() + seconds
            while True:
                left = [t for t in targets if still_alive(t['pid'], t['starttime'])]
                if not left or time.time() >= deadline:
                    return left
                time.sleep(POLL_INTERVAL)

        send(signal.SIGTERM, False)
        left = wait(self.p['cancel_grace'])
        if left:
            send(signal.SIGKILL, True)
            left = wait(KILL_WAIT)

        out['signalled'] = sorted(signalled)
        out['changed'] = bool(signalled)
        out['alive'] = bool(left)
        for entry in out['processes']:
            if not still_alive(entry['pid'], procs[entry['pid']]['starttime']):
                entry['state'] = 'X'
        if left:
            raise ProbeError('cancel failed: %d process(es) of the job survived SIGKILL: %s%s' % (
                len(left), ', '.join(str(t['pid']) for t in left),
                ('; ' + '; '.join(errors)) if errors else ''), **out)

        # remove async_wrapper's temporary directory, which its (killed) watcher would have removed
        for t in targets:
            i = wrapper_index(t['argv'])
            if i is None or '-preserve_tmp' in t['argv']:
                continue
            tmpdir = os.path.dirname(t['argv'][i])
            if os.path.basename(tmpdir).startswith('ansible-tmp-') and os.path.isdir(tmpdir) \
                    and tmpdir not in out['removed']:
                shutil.rmtree(tmpdir, True)
                if not os.path.exists(tmpdir):
                    out['removed'].append(tmpdir)

        path = out['results_file']
        info, parsed, problem = read_job_file(path)
        if parsed and parsed[1]['finished'] and info['mtime'] is not None and info['mtime'] < sent_at:
            out['msg'] = 'the job finished before it could be cancelled; its result is kept'
            self._set_finished(out, info, parsed)
            return out

        marker = {'failed': 1, 'finished': 1, 'cancelled': 1, 'msg': CANCEL_MSG}
        if out['jid']:
            marker['ansible_job_id'] = out['jid']
        if path and os.path.isdir(os.path.dirname(path)):
            try:
                write_job_file_atomic(path, marker)
            except (IOError, OSError) as e:
                raise ProbeError('job cancelled, but writing the job file %s failed: %s'
                                 % (path, e.strerror or e), **out)
            info, parsed, problem = read_job_file(path)
            self._set_finished(out, info, parsed)
        else:
            self.notes.append('no job file directory to write the cancelled result into (%s)' % path)
            out['state'] = 'finished'
            out['finished'] = True
            out['result'] = marker
        out['cancelled'] = True
        out['msg'] = 'job cancelled: signalled %d process(es)' % len(signalled)
        return out

    def _set_finished(self, out, info, parsed):
        out['job_file'] = info
        if parsed and parsed[1]['finished']:
            out['state'] = 'finished'
            out['finished'] = True
            out['timed_out'] = parsed[1]['timed_out']
            out['result'], out['truncated'] = truncate_result(parsed[0], self.p['max_output'])

    # ---- cleanup -------------------------------------------------------------------
    def cleanup(self, out):
        state = out['state']
        if state == 'running':
            out['msg'] = 'refusing to clean up: the job is still running (pids %s)' % ', '.join(
                str(x['pid']) for x in out['processes'] if is_alive_state(x['state']))
            return out
        if state == 'unknown':
            out['msg'] = 'refusing to clean up: the job state is unknown (%s)' % out['visibility']
            return out
        paths = []
        job = out['results_file']
        if job:
            paths.extend([job, job + '.tmp'])
        for key in ('stdout', 'stderr'):
            path = self.p['output_files'].get(key)
            if path:
                paths.append(path)
        existing = [x for x in paths if os.path.lexists(x) and not os.path.isdir(x)]
        if self.check_mode:
            out['would_remove'] = existing
            out['changed'] = bool(existing)
            out['msg'] = 'would remove %d file(s)' % len(existing)
            return out
        for path in existing:
            try:
                os.unlink(path)
                out['removed'].append(path)
            except OSError as e:
                if e.errno != errno.ENOENT:
                    raise ProbeError('cleanup failed: cannot remove %s: %s' % (path, e.strerror), **out)
        out['changed'] = bool(out['removed'])
        out['job_file'] = read_job_file(job)[0] if job else out['job_file']
        out['msg'] = 'removed %d file(s) of the %s job' % (len(out['removed']), state)
        return out

    def run(self):
        out = self.gather()
        action = self.p['action']
        if action == 'cancel':
            return self.cancel(out)
        if action == 'cleanup':
            return self.cleanup(out)
        out['msg'] = summary(out)
        return out


def summary(out):
    if out['state'] == 'finished':
        return 'job finished%s' % (' (timeout)' if out['timed_out'] else '')
    if out['state'] == 'running':
        return 'job running: %d live process(es) in session %s' % (
            len([x for x in out['processes'] if is_alive_state(x['state'])]), out['session_id'])
    if out['state'] == 'gone':
        return 'job gone: no live process and no result%s' % (
            '' if out['job_file']['exists'] else ' (job file missing)')
    if out['visible'] and out['job_file']['error']:
        return 'job state unknown: %s' % out['job_file']['error']
    return 'job state unknown: %s' % out['visibility']


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
    try:
        out = Probe(module.params, check_mode=module.check_mode).run()
    except ProbeError as e:
        facts = dict(e.facts)
        facts.pop('msg', None)
        facts.pop('failed', None)
        module.fail_json(msg=e.msg, **facts)
    module.exit_json(**out)


if __name__ == '__main__':
    main()
