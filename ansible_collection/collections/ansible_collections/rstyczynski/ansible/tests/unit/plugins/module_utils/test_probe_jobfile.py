# -*- coding: utf-8 -*-

# Copyright: (c) 2025, rstyczynski.ansible contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unit tests of _probe_jobfile: parsing and interpreting job files, reading, writing, finding."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import time

import pytest

from ansible_collections.rstyczynski.ansible.plugins.module_utils._probe_common import CANCEL_MSG
from ansible_collections.rstyczynski.ansible.plugins.module_utils._probe_jobfile import (
    REREAD_PAUSE,
    default_job_file_candidates,
    locate_job_file_from_wrapper,
    parse_job_text,
    read_job_file,
    read_output_tail,
    write_job_file_atomic,
)


def flags(obj):
    return parse_job_text(json.dumps(obj))[1]


def test_running_ints():
    f = flags({'started': 1, 'finished': 0, 'ansible_job_id': 'j1.2'})
    assert f['finished'] is False
    assert f['started'] is True


def test_running_bools():
    assert flags({'started': True, 'finished': False})['finished'] is False


def test_running_strings():
    assert flags({'started': '1', 'finished': '0'})['finished'] is False


def test_finished_ints():
    assert flags({'started': 1, 'finished': 1})['finished'] is True


def test_finished_bools():
    assert flags({'started': True, 'finished': True})['finished'] is True


def test_finished_string_one():
    assert flags({'started': '1', 'finished': '1'})['finished'] is True


def test_finished_string_true():
    assert flags({'started': 'true', 'finished': 'true'})['finished'] is True


def test_started_without_finished_is_running():
    assert flags({'started': 1})['finished'] is False


def test_module_result_without_started_is_finished():
    f = flags({'rc': 0, 'stdout': 'hi', 'changed': True, 'cmd': ['echo', 'hi']})
    assert f['finished'] is True
    assert f['timed_out'] is False
    assert f['cancelled'] is False


def test_timeout_result():
    f = flags({'msg': 'Timeout exceeded', 'failed': True, 'child_pid': 1234})
    assert f['finished'] is True
    assert f['timed_out'] is True


def test_timeout_result_failed_int():
    assert flags({'msg': 'Timeout exceeded', 'failed': 1, 'child_pid': 9})['timed_out'] is True


def test_timeout_msg_with_failed_false_is_not_a_timeout():
    assert flags({'msg': 'Timeout exceeded', 'failed': False})['timed_out'] is False


def test_cancel_marker():
    f = flags({'failed': 1, 'finished': 1, 'cancelled': 1, 'msg': CANCEL_MSG})
    assert f['finished'] is True
    assert f['cancelled'] is True
    assert f['timed_out'] is False


def test_wrapper_failure_result():
    f = flags({'failed': 1, 'cmd': 'x', 'data': '', 'stderr': '', 'msg': 'Traceback',
               'ansible_job_id': 'j1.2'})
    assert f['finished'] is True


def test_invalid_json():
    with pytest.raises(ValueError):
        parse_job_text('{"started": 1, "fini')


def test_empty():
    with pytest.raises(ValueError):
        parse_job_text('  \n')


def test_not_an_object():
    with pytest.raises(ValueError):
        parse_job_text('[1, 2]')


def test_bytes():
    data, f = parse_job_text(b'{"started": 1, "finished": 1}')
    assert f['finished'] is True
    assert data == {'started': 1, 'finished': 1}


@pytest.fixture
def job_path(tmp_path):
    return str(tmp_path / 'j123.45')


def test_read_missing(job_path):
    info, parsed, problem = read_job_file(job_path)
    assert info['exists'] is False
    assert parsed is None
    assert problem is None


def test_read_no_path():
    info, parsed, problem = read_job_file(None)
    assert info == {'path': None, 'exists': False, 'mtime': None, 'error': None}
    assert (parsed, problem) == (None, None)


def test_read_partial_then_bad(job_path):
    with open(job_path, 'w') as f:
        f.write('{"started": 1, "fin')
    t0 = time.time()
    info, parsed, problem = read_job_file(job_path)
    assert time.time() - t0 >= REREAD_PAUSE * 0.9   # read twice
    assert problem == 'parse'
    assert 'cannot parse job file' in info['error']
    assert info['exists'] is True


def test_read_good(job_path):
    with open(job_path, 'w') as f:
        f.write('{"started": true, "finished": false}')
    info, parsed, problem = read_job_file(job_path)
    assert problem is None
    assert parsed[1]['finished'] is False
    assert info['mtime'] is not None


def test_read_directory(tmp_path):
    info, parsed, problem = read_job_file(str(tmp_path))
    assert problem == 'io'
    assert 'is a directory' in info['error']


def test_atomic_write(tmp_path, job_path):
    with open(job_path, 'w') as f:
        f.write('{"started": 1, "finished": 0}')
    os.chmod(job_path, 0o640)
    write_job_file_atomic(job_path, {'finished': 1, 'failed': 1})
    assert os.listdir(str(tmp_path)) == ['j123.45']
    with open(job_path) as f:
        assert json.load(f) == {'finished': 1, 'failed': 1}
    assert os.stat(job_path).st_mode & 0o777 == 0o640


def test_default_candidates_start_with_home(monkeypatch, tmp_path):
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.delenv('SUDO_USER', raising=False)
    paths = default_job_file_candidates('j1.2')
    assert paths[0] == os.path.join(str(tmp_path), '.ansible_async', 'j1.2')
    assert len(paths) == len(set(paths))


def test_default_candidates_as_root_include_every_home(monkeypatch, tmp_path):
    # a job saved from its jid alone, launched by another user than the root that probes it
    import collections
    import pwd
    entry = collections.namedtuple('entry', 'pw_dir')
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.delenv('SUDO_USER', raising=False)
    monkeypatch.setattr(os, 'geteuid', lambda: 0)
    monkeypatch.setattr(pwd, 'getpwuid', lambda uid: entry('/root'))
    monkeypatch.setattr(pwd, 'getpwall', lambda: [entry('/home/deploy'), entry('/root'), entry('')])
    paths = default_job_file_candidates('j1.2')
    assert paths[0] == os.path.join(str(tmp_path), '.ansible_async', 'j1.2')
    assert '/home/deploy/.ansible_async/j1.2' in paths
    assert len(paths) == len(set(paths))


def test_default_candidates_not_root_stay_own(monkeypatch, tmp_path):
    import pwd
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.delenv('SUDO_USER', raising=False)
    import collections
    entry = collections.namedtuple('entry', 'pw_dir')
    monkeypatch.setattr(os, 'geteuid', lambda: 1000)
    monkeypatch.setattr(pwd, 'getpwuid', lambda uid: entry('/home/me'))
    monkeypatch.setattr(pwd, 'getpwall', lambda: pytest.fail('not root: other homes are not searched'))
    assert default_job_file_candidates('j1.2') == [os.path.join(str(tmp_path), '.ansible_async', 'j1.2'), '/home/me/.ansible_async/j1.2']


def test_locate_from_wrapper_env(tmp_path):
    d = tmp_path / 'async'
    d.mkdir()
    (d / 'j77.100').write_text(u'{}')
    (d / 'j777.100').write_text(u'{}')
    notes = []
    found = locate_job_file_from_wrapper('j77', {'HOME': '/nonexistent', 'ANSIBLE_ASYNC_DIR': str(d)}, notes)
    assert found == str(d / 'j77.100')
    assert notes == []


def test_locate_from_wrapper_home(tmp_path):
    d = tmp_path / '.ansible_async'
    d.mkdir()
    (d / 'j88.5').write_text(u'{}')
    (d / 'j88.6').write_text(u'{}')
    notes = []
    found = locate_job_file_from_wrapper('j88', {'HOME': str(tmp_path), 'ANSIBLE_ASYNC_DIR': None}, notes)
    assert found == str(d / 'j88.5')
    assert 'several job files match j88' in notes[0]


def test_output_tail_missing(tmp_path):
    assert read_output_tail(str(tmp_path / 'none'), 5, 100) is None


def test_output_tail_lines(tmp_path):
    path = tmp_path / 'out'
    path.write_bytes(b'1\n2\n3\n4\n')
    assert read_output_tail(str(path), 2, 100) == '3\n4'


def test_output_tail_cut_drops_partial_line(tmp_path):
    path = tmp_path / 'out'
    path.write_bytes(b'first line\nsecond\nthird\n')
    assert read_output_tail(str(path), 10, 15) == 'second\nthird'
