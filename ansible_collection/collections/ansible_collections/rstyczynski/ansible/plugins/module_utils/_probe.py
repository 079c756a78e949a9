# -*- coding: utf-8 -*-

# Copyright: (c) 2025, rstyczynski.ansible contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The async_job_probe module's logic: parameter checks, the Probe, run_module().

The module file (plugins/modules/async_job_probe.py) only holds the documentation and the
argument spec and calls run_module(). Private module_utils of rstyczynski.ansible (no public
API). Runs on the managed host: Python 3.6+, standard library and ansible.module_utils only.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys
import time

from ansible_collections.rstyczynski.ansible.plugins.module_utils._probe_actions import (
    cancel,
    cleanup,
)
from ansible_collections.rstyczynski.ansible.plugins.module_utils._probe_common import (
    JID_RE,
    JID_SPLIT_RE,
    PROC,
    ProbeError,
    jid_token,
    truncate_result,
)
from ansible_collections.rstyczynski.ansible.plugins.module_utils._probe_incarnation import (
    evaluate_restart,
    normalize_incarnation,
    process_start_time,
    read_incarnation,
    started_before,
)
from ansible_collections.rstyczynski.ansible.plugins.module_utils._probe_jobfile import (
    default_job_file_candidates,
    locate_job_file_from_wrapper,
    read_job_file,
    read_output_tail,
)
from ansible_collections.rstyczynski.ansible.plugins.module_utils._probe_proc import (
    check_visibility,
    environ_still_denied,
    is_alive_state,
    match_processes,
    own_tree,
    read_env,
    scan_processes,
    wrapper_jid_token,
)

CMDLINE_MAX = 200
ENVIRON_REREAD_PAUSE = 0.2  # seconds before reading a denied environment again


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
    """One probe of one job. gather() collects the evidence, run() also performs the action.

    After gather(), procs, matched and excluded hold the process scan that cancel uses.
    """

    def __init__(self, params, check_mode=False):
        self.p = validate(params)
        self.check_mode = check_mode
        self.notes = []
        self.procs = {}
        self.matched = {}
        self.excluded = set()

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
                  and not started_before(incarnation, pr, job_began)]
        if denied:
            time.sleep(ENVIRON_REREAD_PAUSE)
            denied = [pr for pr in denied if environ_still_denied(pr, claim)]
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
                    env = pr['env'] or read_env(pid)
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
            gate = evaluate_restart(incarnation, p['host_incarnation'], info1['mtime'], False)[0]
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
                'start_time': process_start_time(incarnation, pr['starttime']),
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
        self.procs = procs
        self.matched = matched
        self.excluded = excluded
        return out

    def run(self):
        out = self.gather()
        action = self.p['action']
        if action == 'cancel':
            return cancel(self, out)
        if action == 'cleanup':
            return cleanup(self, out)
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


def run_module(module):
    """Probe with the module's parameters and end the module (exit_json or fail_json)."""
    try:
        out = Probe(module.params, check_mode=module.check_mode).run()
    except ProbeError as e:
        facts = dict(e.facts)
        facts.pop('msg', None)
        facts.pop('failed', None)
        module.fail_json(msg=e.msg, **facts)
    module.exit_json(**out)
