# -*- coding: utf-8 -*-

# Copyright: (c) 2025, rstyczynski.ansible contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""async_job_probe's actions on a job: cancel (signal, mark the job file) and cleanup.

Both work on the evidence a Probe gathered (its result dict and its process scan).
Private module_utils of rstyczynski.ansible (no public API). Runs on the managed host:
Python 3.6+, standard library and ansible.module_utils only.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import shutil
import signal
import time

from ansible_collections.rstyczynski.ansible.plugins.module_utils._probe_common import (
    CANCEL_MSG,
    ProbeError,
    truncate_result,
)
from ansible_collections.rstyczynski.ansible.plugins.module_utils._probe_jobfile import (
    read_job_file,
    write_job_file_atomic,
)
from ansible_collections.rstyczynski.ansible.plugins.module_utils._probe_proc import (
    is_alive_state,
    still_alive,
    wrapper_index,
)

KILL_WAIT = 3.0             # seconds to wait for processes to vanish after SIGKILL
POLL_INTERVAL = 0.05


def set_finished(out, info, parsed, max_output):
    """Record a (re-read) job file in the result; a finished one makes the state finished."""
    out['job_file'] = info
    if parsed and parsed[1]['finished']:
        out['state'] = 'finished'
        out['finished'] = True
        out['timed_out'] = parsed[1]['timed_out']
        out['result'], out['truncated'] = truncate_result(parsed[0], max_output)


def cancel(probe, out):
    """action=cancel on the evidence `out` that `probe` (a gathered Probe) found."""
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

    procs, matched, excluded = probe.procs, probe.matched, probe.excluded
    targets = [procs[pid] for pid in sorted(matched) if is_alive_state(procs[pid]['state'])]
    own_pgids = set(procs[pid]['pgid'] for pid in excluded if pid in procs)
    own_pgids.update([0, 1, os.getpgrp()])
    pgids = []
    for pgid in sorted(set(t['pgid'] for t in targets)):
        members = [q for q in procs.values() if q['pgid'] == pgid and is_alive_state(q['state'])]
        if pgid not in own_pgids and all(q['pid'] in matched for q in members):
            pgids.append(pgid)

    if probe.check_mode:
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
    left = wait(probe.p['cancel_grace'])
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
        set_finished(out, info, parsed, probe.p['max_output'])
        return out

    # Booleans where Ansible expects them: 2.19+ warn when async_status returns an int 'failed'.
    marker = {'failed': True, 'finished': 1, 'cancelled': True, 'msg': CANCEL_MSG}
    if out['jid']:
        marker['ansible_job_id'] = out['jid']
    if path and os.path.isdir(os.path.dirname(path)):
        try:
            write_job_file_atomic(path, marker)
        except (IOError, OSError) as e:
            raise ProbeError('job cancelled, but writing the job file %s failed: %s'
                             % (path, e.strerror or e), **out)
        info, parsed, problem = read_job_file(path)
        set_finished(out, info, parsed, probe.p['max_output'])
    else:
        probe.notes.append('no job file directory to write the cancelled result into (%s)' % path)
        out['state'] = 'finished'
        out['finished'] = True
        out['result'] = marker
    out['cancelled'] = True
    out['msg'] = 'job cancelled: signalled %d process(es)' % len(signalled)
    return out


def cleanup(probe, out):
    """action=cleanup on the evidence `out` that `probe` (a gathered Probe) found."""
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
        path = probe.p['output_files'].get(key)
        if path:
            paths.append(path)
    existing = [x for x in paths if os.path.lexists(x) and not os.path.isdir(x)]
    if probe.check_mode:
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
