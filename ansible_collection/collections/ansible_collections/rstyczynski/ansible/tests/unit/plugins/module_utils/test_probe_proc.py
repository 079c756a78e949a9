# -*- coding: utf-8 -*-

# Copyright: (c) 2025, rstyczynski.ansible contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unit tests of _probe_proc: /proc parsers, wrapper argv tokens, attribution to the job."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.rstyczynski.ansible.plugins.module_utils._probe_common import jid_token
from ansible_collections.rstyczynski.ansible.plugins.module_utils._probe_proc import (
    env_value,
    hidepid_from_mountinfo,
    is_alive_state,
    match_processes,
    own_tree,
    parse_stat_line,
    wrapper_jid_token,
)

WRAPPER_ARGV = ['/usr/bin/python3', '/root/.ansible/tmp/ansible-tmp-1-2-3/async_wrapper.py',
                'j389284354218', '60', '/root/.ansible/tmp/ansible-tmp-1-2-3/AnsiballZ_command.py', '_']


def test_wrapper_argv_token():
    assert wrapper_jid_token(WRAPPER_ARGV) == 'j389284354218'


@pytest.mark.parametrize('argv', [
    ['grep', 'j389284354218'],
    ['sleep', '30'],
    ['x/async_wrapper.py'],
    [],
])
def test_wrapper_argv_without_token(argv):
    assert wrapper_jid_token(argv) is None


def test_wrapper_token_exact_not_substring():
    argv = ['python3', 'async_wrapper.py', 'j123456789', '60', 'm.py', '_']
    assert wrapper_jid_token(argv) != jid_token('j12345.1')


def test_wrapper_token_exact_match():
    argv = ['python3', 'async_wrapper.py', 'j123456789', '60', 'm.py', '_']
    assert wrapper_jid_token(argv) == jid_token('j123456789.1')


def test_stat_with_spaces_and_parens():
    line = ('4242 (we (ird) name) S 1 4240 4239 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 '
            '123456 1000 10 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0')
    st = parse_stat_line(line)
    assert st['pid'] == 4242
    assert st['comm'] == 'we (ird) name'
    assert (st['state'], st['ppid'], st['pgid'], st['sid']) == ('S', 1, 4240, 4239)
    assert st['starttime'] == 123456


@pytest.mark.skipif(not os.path.exists('/proc/self/stat'), reason='no /proc')
def test_stat_of_own_process():
    with open('/proc/self/stat', 'rb') as f:
        st = parse_stat_line(f.read())
    assert st['pid'] == os.getpid()
    assert st['sid'] == os.getsid(0)


def test_hidepid():
    text = ('22 28 0:20 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc '
            'rw,hidepid=2,gid=27\n')
    assert hidepid_from_mountinfo(text) == ('2', 27)


def test_hidepid_plain_proc():
    text = '22 28 0:20 / /proc rw,relatime - proc proc rw\n'
    assert hidepid_from_mountinfo(text) == (None, None)


def test_hidepid_invisible_newer_kernels():
    text = '22 28 0:20 / /proc rw,relatime - proc proc rw,hidepid=invisible\n'
    assert hidepid_from_mountinfo(text)[0] == 'invisible'


def test_hidepid_last_proc_mount_wins():
    text = ('22 28 0:20 / /proc rw - proc proc rw,hidepid=2\n'
            '23 28 0:21 / /proc rw - proc proc rw\n'
            '24 28 0:22 / /other rw - proc proc rw,hidepid=2\n')
    assert hidepid_from_mountinfo(text) == (None, None)


@pytest.mark.parametrize('state, alive', [('S', True), ('R', True), ('D', True), ('Z', False), ('X', False)])
def test_is_alive_state(state, alive):
    assert is_alive_state(state) is alive


def test_env_value():
    entries = [b'HOME=/home/u', b'ANSIBLE_JOBS_CLAIM=t', b'']
    assert env_value(entries, 'HOME') == '/home/u'
    assert env_value(entries, 'ANSIBLE_ASYNC_DIR') is None


def proc(pid, ppid, sid, argv=None, state='S', claim=False, pgid=None):
    return {'pid': pid, 'ppid': ppid, 'sid': sid, 'pgid': pgid if pgid is not None else sid,
            'state': state, 'comm': 'x', 'starttime': 0, 'uid': 0, 'argv': argv or ['x'],
            'claim': claim, 'environ_denied': False, 'env': None}


# pids far above any real pid_max, so os.getpid() is never among them
WRAPPER = ['python3', '/t/ansible-tmp-1/async_wrapper.py', 'j42', '60', 'm.py', '_']
PROCS = {
    10000001: proc(10000001, 1, 10000001, ['sshd']),                 # unrelated session leader
    10000010: proc(10000010, 1, 10000011, WRAPPER),                   # async_wrapper (watcher)
    10000012: proc(10000012, 10000010, 10000011, ['sleep', '600']),  # the user's command
    10000020: proc(10000020, 1, 10000021, ['bash'], claim=True),     # carries the claim token
    10000022: proc(10000022, 10000020, 10000021, ['cat']),
}


def test_match_by_argv_and_session():
    notes = []
    matched = match_processes(PROCS, set(), 'j42', None, None, notes)
    assert matched == {10000010: ['argv', 'session'], 10000012: ['session']}
    assert notes == []


def test_match_by_claim_and_session():
    matched = match_processes(PROCS, set(), None, 'tok', None, [])
    assert matched == {10000020: ['claim', 'session'], 10000022: ['session']}


def test_match_token_is_exact():
    assert match_processes(PROCS, set(), 'j4', None, None, []) == {}


def test_match_recorded_session():
    matched = match_processes(PROCS, set(), 'j0', None, 10000011, [])
    assert sorted(matched) == [10000010, 10000012]


def test_match_session_with_live_foreign_leader_is_ignored():
    notes = []
    assert match_processes(PROCS, set(), None, None, 10000001, notes) == {}
    assert 'session 10000001 ignored' in notes[0]


@pytest.mark.parametrize('sid', [0, 1])
def test_match_forbidden_session(sid):
    notes = []
    assert match_processes(PROCS, set(), None, None, sid, notes) == {}
    assert 'session_id %d ignored' % sid in notes[0]


def test_match_skips_excluded():
    matched = match_processes(PROCS, set([10000012]), 'j42', None, None, [])
    assert 10000012 not in matched


def test_own_tree():
    me = os.getpid()
    procs = {
        1: proc(1, 0, 1),
        10000100: proc(10000100, 1, 10000100),
        me: proc(me, 10000100, 10000100),
        10000101: proc(10000101, me, 10000100),
        10000102: proc(10000102, 10000101, 10000100),
        10000200: proc(10000200, 1, 10000200),
    }
    assert own_tree(procs) == set([1, 10000100, me, 10000101, 10000102])
