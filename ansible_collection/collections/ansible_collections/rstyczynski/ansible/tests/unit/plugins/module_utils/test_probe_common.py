# -*- coding: utf-8 -*-

# Copyright: (c) 2025, rstyczynski.ansible contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unit tests of _probe_common: job file flags, jids, output tails."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.rstyczynski.ansible.plugins.module_utils._probe_common import (
    ProbeError,
    jid_token,
    tail_lines_of,
    tail_text,
    to_flag,
    truncate_result,
)


@pytest.mark.parametrize('value', [1, True, '1', 'true', 'True', 'yes', ' 1 ', 2, 'on', 'Y', 't', 1.0])
def test_to_flag_true(value):
    assert to_flag(value) is True


@pytest.mark.parametrize('value', [0, False, '0', 'false', 'no', '', '  ', 'OFF', 'n', 'f', 0.0])
def test_to_flag_false(value):
    assert to_flag(value) is False


@pytest.mark.parametrize('value', [None, 'maybe', [], {}, b'1'])
def test_to_flag_unknown(value):
    assert to_flag(value) is None


def test_probe_error_keeps_msg_and_facts():
    e = ProbeError('boom', state='running')
    assert e.msg == 'boom'
    assert e.facts == {'state': 'running'}
    assert str(e) == 'boom'


@pytest.mark.parametrize('jid, token', [
    ('j389284354218.19838', 'j389284354218'),
    ('585084411675.1234', '585084411675'),
    ('j389284354218', 'j389284354218'),
    (None, None),
])
def test_jid_token(jid, token):
    assert jid_token(jid) == token


def test_truncate_short_untouched():
    out, cut = truncate_result({'stdout': 'abc', 'rc': 0}, 10)
    assert out['stdout'] == 'abc'
    assert cut is False
    assert 'truncated' not in out


def test_truncate_keeps_tail():
    out, cut = truncate_result({'stdout': '0123456789', 'stderr': 'x'}, 4)
    assert out['stdout'] == '6789'
    assert out['stderr'] == 'x'
    assert cut is True
    assert out['truncated'] is True


def test_tail_text_multibyte_boundary():
    text, cut = tail_text(u'a\u00e9\u00e9', 3)   # 1 + 2 + 2 bytes
    assert cut is True
    assert text == u'\u00e9'


def test_truncate_lines():
    out, cut = truncate_result({'stdout_lines': ['aaaa', 'bbbb', 'cccc']}, 10)
    assert out['stdout_lines'] == ['bbbb', 'cccc']
    assert cut is True


def test_truncate_does_not_modify_input():
    data = {'stdout': '0123456789'}
    truncate_result(data, 2)
    assert data['stdout'] == '0123456789'


def test_tail_lines_of_last_lines():
    assert tail_lines_of(b'a\nb\nc\n', 2, False) == 'b\nc'


def test_tail_lines_of_drops_partial_first_line():
    assert tail_lines_of(b'artial\nb\nc', 5, True) == 'b\nc'


def test_tail_lines_of_zero_lines():
    assert tail_lines_of(b'a\nb', 0, False) == ''
