# -*- coding: utf-8 -*-

# Copyright: (c) 2025, rstyczynski.ansible contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unit tests of _probe_incarnation: normalising and comparing host incarnations."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import time

import pytest

from ansible_collections.rstyczynski.ansible.plugins.module_utils import _probe_incarnation

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


def _fake_proc(tmp_path, uptime, btime, pid1_ticks):
    (tmp_path / 'sys' / 'kernel' / 'random').mkdir(parents=True)
    (tmp_path / 'sys' / 'kernel' / 'random' / 'boot_id').write_text(u'b1\n')
    (tmp_path / 'stat').write_text(u'cpu  1 2 3\nbtime %d\n' % btime)
    if uptime is not None:
        (tmp_path / 'uptime').write_text(u'%.2f 1.00\n' % uptime)
    (tmp_path / '1').mkdir()
    # Field 22 (starttime) of /proc/1/stat, after "(comm)": 19 fields before it.
    (tmp_path / '1' / 'stat').write_text(u'1 (catatonit) S ' + ' '.join(['0'] * 18) + ' %d 0 0\n' % pid1_ticks)
    return str(tmp_path)


def test_boot_time_from_uptime_is_not_a_whole_second(tmp_path, monkeypatch):
    # btime says a whole second; the clock minus the uptime says where in that second the host booted.
    monkeypatch.setattr(_probe_incarnation, 'PROC', _fake_proc(tmp_path, 100.0, 999, 5000))
    monkeypatch.setattr(_probe_incarnation.time, 'time', lambda: 1099.75)
    ticks = os.sysconf('SC_CLK_TCK')
    inc = read_incarnation()
    assert inc['boot_time'] == 999.75
    assert inc['pid1_start'] == round(999.75 + 5000.0 / ticks, 2)


def test_boot_time_falls_back_to_btime(tmp_path, monkeypatch):
    monkeypatch.setattr(_probe_incarnation, 'PROC', _fake_proc(tmp_path, None, 999, 0))
    assert read_incarnation()['boot_time'] == 999.0


def test_restart_soon_after_the_job_began_is_seen():
    # PID 1 (re)started 0.9 s after the unfinished job file was last written: a restart.
    assert evaluate_restart(dict(CUR, pid1_start=1002.9), None, 1002.0, False)[0] is True


def test_a_btime_era_record_is_not_a_restart():
    # An incarnation recorded from btime (up to a second early) against a precise one: same host.
    assert evaluate_restart(dict(CUR, pid1_start=1006.2), dict(CUR, pid1_start=1005.0), None, False) == (False, [])


@pytest.mark.skipif(not os.path.exists('/proc/uptime'), reason='no /proc/uptime')
def test_boot_time_on_this_host_is_precise():
    with open('/proc/uptime') as f:
        uptime = float(f.read().split()[0])
    assert abs(read_incarnation()['boot_time'] - (time.time() - uptime)) < 0.5
