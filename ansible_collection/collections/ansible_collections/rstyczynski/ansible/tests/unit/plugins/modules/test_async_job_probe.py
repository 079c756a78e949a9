# -*- coding: utf-8 -*-

# Copyright: (c) 2025, rstyczynski.ansible contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unit tests of the async_job_probe module file: main() builds AnsibleModule and runs the probe."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import json
import os

import pytest

from ansible.module_utils import basic
from ansible_collections.rstyczynski.ansible.plugins.modules import async_job_probe

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:   # ansible-core < 2.19
    @contextlib.contextmanager
    def patch_module_args(args=None):
        saved = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = json.dumps({'ANSIBLE_MODULE_ARGS': args or {}}).encode('utf-8')
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = saved


def run_main(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as ctx:
            async_job_probe.main()
    return ctx.value.code, json.loads(capsys.readouterr().out)


def job_file(tmp_path, obj, name='j7001.42'):
    path = str(tmp_path / name)
    with open(path, 'w') as f:
        f.write(json.dumps(obj))
    return path


def test_finished_job(capsys, tmp_path):
    path = job_file(tmp_path, {'rc': 0, 'stdout': 'done', 'changed': True})
    rc, out = run_main(capsys, {'jid': 'j7001.42', 'results_file': path})
    assert rc == 0
    assert out['state'] == 'finished'
    assert out['result']['stdout'] == 'done'
    assert out['changed'] is False
    assert out['msg'] == 'job finished'


def test_bad_jid_fails_with_message(capsys):
    rc, out = run_main(capsys, {'jid': '../etc/passwd'})
    assert rc == 1
    assert out['failed'] is True
    assert 'is not an async job id' in out['msg']


def test_identity_required(capsys):
    rc, out = run_main(capsys, {'action': 'probe'})
    assert rc == 1
    assert 'jid, results_file, claim_token' in out['msg']


def test_bad_action_choice(capsys, tmp_path):
    rc, out = run_main(capsys, {'jid': 'j1.2', 'action': 'kill'})
    assert rc == 1
    assert 'action' in out['msg']


def test_cleanup_in_check_mode(capsys, tmp_path):
    path = job_file(tmp_path, {'rc': 0})
    rc, out = run_main(capsys, {'results_file': path, 'action': 'cleanup', '_ansible_check_mode': True})
    assert rc == 0
    assert out['would_remove'] == [path]
    assert out['changed'] is True
    assert os.path.exists(path)


def test_cleanup(capsys, tmp_path):
    path = job_file(tmp_path, {'rc': 0})
    rc, out = run_main(capsys, {'results_file': path, 'action': 'cleanup'})
    assert rc == 0
    assert out['removed'] == [path]
    assert not os.path.exists(path)
