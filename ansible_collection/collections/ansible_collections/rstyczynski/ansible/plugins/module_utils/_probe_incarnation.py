# -*- coding: utf-8 -*-

# Copyright: (c) 2025, rstyczynski.ansible contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The host incarnation for async_job_probe: kernel boot and PID 1 start, restart evidence.

Private module_utils of rstyczynski.ansible (no public API). Runs on the managed host:
Python 3.6+, standard library and ansible.module_utils only.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import time

from ansible_collections.rstyczynski.ansible.plugins.module_utils._probe_common import (
    PROC,
    read_bytes,
)
from ansible_collections.rstyczynski.ansible.plugins.module_utils._probe_proc import parse_stat_line

MTIME_TOLERANCE = 0.5       # seconds: boot/PID 1 start "later than" the job file mtime
# seconds: PID 1 start time compared with an earlier probe. Above 1 s: a record written by a probe
# that still took boot_time from btime (a whole second) may be up to a second early.
INCARNATION_TOLERANCE = 1.5


def read_incarnation():
    """{boot_id, boot_time, pid1_start} of this host (values None when unknown).

    boot_time is the wall clock now minus /proc/uptime (1/100 s), not /proc/stat's btime: btime is
    a whole second, so a time computed from it can be up to a second early, and a host restarted
    within a second or so after the job began would not look restarted against the job file's
    mtime. btime is the fallback when /proc/uptime cannot be read.
    """
    inc = {'boot_id': None, 'boot_time': None, 'pid1_start': None}
    try:
        inc['boot_id'] = read_bytes(PROC + '/sys/kernel/random/boot_id').decode('ascii', 'replace').strip() or None
    except (IOError, OSError):
        pass
    try:
        uptime = float(read_bytes(PROC + '/uptime').decode('ascii', 'replace').split()[0])
        inc['boot_time'] = round(time.time() - uptime, 2)
    except (IOError, OSError, ValueError, IndexError):
        try:
            for line in read_bytes(PROC + '/stat').decode('ascii', 'replace').splitlines():
                if line.startswith('btime '):
                    inc['boot_time'] = float(line.split()[1])
                    break
        except (IOError, OSError, ValueError, IndexError):
            pass
    if inc['boot_time'] is not None:
        try:
            ticks = parse_stat_line(read_bytes(PROC + '/1/stat'))['starttime']
            inc['pid1_start'] = round(inc['boot_time'] + float(ticks) / os.sysconf('SC_CLK_TCK'), 2)
        except (IOError, OSError, ValueError, IndexError):
            pass
    return inc


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


def process_start_time(incarnation, ticks):
    """Start time (seconds since the epoch) of a process that started `ticks` after boot."""
    if not incarnation or incarnation.get('boot_time') is None:
        return None
    return round(incarnation['boot_time'] + float(ticks) / os.sysconf('SC_CLK_TCK'), 2)


def started_before(incarnation, pr, when):
    """Whether the process started over a second before `when` (so it cannot be the job's)."""
    started = process_start_time(incarnation, pr['starttime']) if when is not None else None
    return started is not None and started < when - 1
