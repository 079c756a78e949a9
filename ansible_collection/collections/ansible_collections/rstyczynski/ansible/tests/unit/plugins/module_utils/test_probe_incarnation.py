# -*- coding: utf-8 -*-

# Copyright: (c) 2025, rstyczynski.ansible contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unit tests of _probe_incarnation: normalising and comparing host incarnations."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.rstyczynski.ansible.plugins.module_utils._probe_incarnation import (
    evaluate_restart,
    normalize_incarnation,
    process_start_time,
    read_incarnation,
    started_before,
)

CUR = {'boot_id': 'b1', 'boot_time': 1000.0, 'pid1_start': 1005.0}


def test_same_incarnation():
    assert evaluate_restart(CUR, dict(CUR, pid1_start=1005.6), None, False) == (False, [])


def test_boot_id_changed():
    restarted, evidence = evaluate_restart(CUR, dict(CUR, boot_id='b0'), None, False)
    assert restarted is True
    assert 'boot_id' in evidence[0]


def test_pid1_changed():
    restarted, evidence = evaluate_restart(CUR, dict(CUR, pid1_start=900.0), None, False)
    assert restarted is True
    assert 'PID 1 start time changed' in evidence[0]


def test_mtime_before_pid1_start_unfinished():
    assert evaluate_restart(CUR, None, 1002.0, False)[0] is True


def test_mtime_before_pid1_start_finished_is_not_evidence():
    assert evaluate_restart(CUR, None, 1002.0, True)[0] is None


def test_mtime_after():
    assert evaluate_restart(CUR, None, 2000.0, False)[0] is False


def test_unknown_without_current():
    assert evaluate_restart(None, CUR, 1.0, False)[0] is None


def test_unknown_without_previous_or_mtime():
    assert evaluate_restart(CUR, None, None, False)[0] is None


def test_normalize():
    assert normalize_incarnation({'boot_id': 'x', 'pid1_start': '12.5', 'extra': 1}) == \
        {'boot_id': 'x', 'boot_time': None, 'pid1_start': 12.5}


def test_normalize_none():
    assert normalize_incarnation(None) is None


def test_normalize_bad_number():
    with pytest.raises(ValueError, match='host_incarnation.pid1_start'):
        normalize_incarnation({'pid1_start': 'soon'})


def test_normalize_not_a_dict():
    with pytest.raises(ValueError):
        normalize_incarnation(['b1'])


def test_process_start_time():
    ticks = os.sysconf('SC_CLK_TCK')
    assert process_start_time({'boot_time': 1000.0}, 5 * ticks) == 1005.0


def test_process_start_time_unknown():
    assert process_start_time(None, 100) is None
    assert process_start_time({'boot_time': None}, 100) is None


def test_started_before():
    ticks = os.sysconf('SC_CLK_TCK')
    inc = {'boot_time': 1000.0}
    assert started_before(inc, {'starttime': 5 * ticks}, 1010.0) is True
    assert started_before(inc, {'starttime': 5 * ticks}, 1005.5) is False
    assert started_before(inc, {'starttime': 5 * ticks}, None) is False


@pytest.mark.skipif(not os.path.exists('/proc/stat'), reason='no /proc')
def test_read_incarnation_on_this_host():
    inc = read_incarnation()
    assert sorted(inc) == ['boot_id', 'boot_time', 'pid1_start']
    assert inc['boot_time'] is not None
