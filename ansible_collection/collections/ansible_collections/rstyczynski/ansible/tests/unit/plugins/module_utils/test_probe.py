# -*- coding: utf-8 -*-

# Copyright: (c) 2025, rstyczynski.ansible contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unit tests of _probe: parameter checks and the Probe on job files (no live job)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from ansible_collections.rstyczynski.ansible.plugins.module_utils._probe import Probe, summary, validate
from ansible_collections.rstyczynski.ansible.plugins.module_utils._probe_common import ProbeError

BASE = {'jid': None, 'results_file': None, 'claim_token': None, 'session_id': None,
        'host_incarnation': None, 'action': 'probe', 'tail_lines': 20, 'max_output': 65536,
        'output_files': None, 'cancel_grace': 5}


def params(**kw):
    return dict(BASE, **kw)


def test_validate_requires_identity():
    with pytest.raises(ProbeError):
        validate(params())


def test_validate_bad_jid():
    with pytest.raises(ProbeError) as ctx:
        validate(params(jid='../etc/passwd'))
    assert 'jid' in ctx.value.msg


def test_validate_relative_results_file():
    with pytest.raises(ProbeError) as ctx:
        validate(params(results_file='rel/j1.2'))
    assert 'results_file' in ctx.value.msg


def test_validate_negative():
    with pytest.raises(ProbeError) as ctx:
        validate(params(jid='j1.2', tail_lines=-1))
    assert 'tail_lines' in ctx.value.msg


def test_validate_bad_incarnation():
    with pytest.raises(ProbeError) as ctx:
        validate(params(jid='j1.2', host_incarnation={'boot_time': 'x'}))
    assert 'host_incarnation.boot_time' in ctx.value.msg


def test_validate_empty_claim_token():
    with pytest.raises(ProbeError) as ctx:
        validate(params(claim_token=''))
    assert 'claim_token' in ctx.value.msg


def test_validate_relative_output_file():
    with pytest.raises(ProbeError) as ctx:
        validate(params(jid='j1.2', output_files={'stdout': 'out.txt'}))
    assert 'output_files.stdout' in ctx.value.msg


def test_validate_ok():
    p = validate(params(jid=' j1.2 ', results_file='/tmp//x/../j1.2'))
    assert p['jid'] == 'j1.2'
    assert p['results_file'] == '/tmp/j1.2'
    assert p['output_files'] == {}


def write(path, obj):
    with open(path, 'w') as f:
        f.write(json.dumps(obj))
    return path


def test_probe_finished(tmp_path):
    path = write(str(tmp_path / 'j991122.7'), {'rc': 0, 'stdout': 'x' * 50, 'changed': True})
    out = Probe(params(results_file=path, max_output=10)).run()
    assert out['state'] == 'finished'
    assert out['jid'] == 'j991122.7'          # taken from the file name
    assert out['jid_token'] == 'j991122'
    assert out['result']['stdout'] == 'x' * 10
    assert out['truncated'] is True
    assert out['msg'] == 'job finished'
    assert out['changed'] is False


def test_probe_timeout(tmp_path):
    path = write(str(tmp_path / 'j5.6'), {'msg': 'Timeout exceeded', 'failed': True, 'child_pid': 1})
    out = Probe(params(results_file=path)).run()
    assert (out['state'], out['timed_out'], out['msg']) == ('finished', True, 'job finished (timeout)')


def test_probe_unfinished_without_process(tmp_path):
    path = write(str(tmp_path / 'j99887766.1'), {'started': 1, 'finished': 0})
    out = Probe(params(results_file=path)).run()
    assert out['state'] == ('gone' if out['visible'] else 'unknown')
    assert out['alive'] is False
    assert out['processes'] == []


def test_probe_output_tails(tmp_path):
    path = write(str(tmp_path / 'j3.4'), {'rc': 0})
    stdout = tmp_path / 'out'
    stdout.write_bytes(b'a\nb\nc\n')
    out = Probe(params(results_file=path, tail_lines=2,
                       output_files={'stdout': str(stdout), 'stderr': str(tmp_path / 'none')})).run()
    assert out['stdout_tail'] == 'b\nc'
    assert out['stderr_tail'] is None


def test_cancel_finished_job_is_left_alone(tmp_path):
    path = write(str(tmp_path / 'j3.4'), {'rc': 0})
    out = Probe(params(results_file=path, action='cancel')).run()
    assert out['changed'] is False
    assert out['msg'] == 'job already finished; nothing to cancel'


def test_cleanup_check_mode(tmp_path):
    path = write(str(tmp_path / 'j3.4'), {'rc': 0})
    out = Probe(params(results_file=path, action='cleanup'), check_mode=True).run()
    assert out['would_remove'] == [path]
    assert out['changed'] is True
    assert os.path.exists(path)


def test_cleanup_removes_files(tmp_path):
    path = write(str(tmp_path / 'j3.4'), {'rc': 0})
    write(path + '.tmp', {})
    stdout = write(str(tmp_path / 'j3.4.stdout'), {})
    out = Probe(params(results_file=path, action='cleanup', output_files={'stdout': stdout})).run()
    assert out['removed'] == [path, path + '.tmp', stdout]
    assert out['changed'] is True
    assert out['job_file']['exists'] is False
    assert out['msg'] == 'removed 3 file(s) of the finished job'


def test_summary_unknown_names_visibility():
    out = {'state': 'unknown', 'visible': False, 'visibility': 'no /proc', 'job_file': {'error': None}}
    assert summary(out) == 'job state unknown: no /proc'


def test_summary_unknown_names_job_file_error():
    out = {'state': 'unknown', 'visible': True, 'visibility': 'ok', 'job_file': {'error': 'cannot read'}}
    assert summary(out) == 'job state unknown: cannot read'
