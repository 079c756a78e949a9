# -*- coding: utf-8 -*-

# Copyright: (c) 2025, rstyczynski.ansible contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Shared pieces of the async_job_probe module: constants, ProbeError, flags, jids, tails.

This is a private module_utils file of rstyczynski.ansible (leading underscore): its content
is no public API and may change without notice. It runs on the managed host: Python 3.6+,
standard library and ansible.module_utils only.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible.module_utils.parsing.convert_bool import boolean

CLAIM_ENV = 'ANSIBLE_JOBS_CLAIM'
CANCEL_MSG = 'cancelled by rstyczynski.ansible'
TIMEOUT_MSG = 'Timeout exceeded'
WRAPPER_MARK = 'async_wrapper'
DEFAULT_ASYNC_DIR = '~/.ansible_async'
PROC = '/proc'

JID_RE = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.-]*$')
JID_SPLIT_RE = re.compile(r'^(.+)\.([0-9]+)$')
TRUNCATE_STR_KEYS = ('stdout', 'stderr', 'module_stdout', 'module_stderr', 'data', 'outdata')
TRUNCATE_LIST_KEYS = ('stdout_lines', 'stderr_lines')


class ProbeError(Exception):
    """An expected problem: reported with fail_json, never as a traceback."""

    def __init__(self, msg, **facts):
        super(ProbeError, self).__init__(msg)
        self.msg = msg
        self.facts = facts


def to_flag(value):
    """A 1/0, true/false field of a job file -> True/False; anything else -> None.

    The words are Ansible's own booleans (yes/no, true/false, on/off, y/n, t/f, 1/0, any
    case, surrounding blanks ignored). On top of that the job file is read leniently (its
    started/finished fields may be 1/0 or true/false, see docs/crash-detection.md): any other
    number is its truth value (2 is true), an empty or blank string is false, and an
    unrecognised value is None (not known), never an error.
    """
    if isinstance(value, bool):
        return value
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str):
        if not value.strip():
            return False
        try:
            return boolean(value, strict=True)
        except TypeError:
            return None
    return None


def read_bytes(path):
    with open(path, 'rb') as f:
        return f.read()


def jid_token(jid):
    """Random part of a jid: 'j389284354218.19838' -> 'j389284354218'."""
    if jid is None:
        return None
    m = JID_SPLIT_RE.match(jid)
    return m.group(1) if m else jid


def tail_text(text, max_bytes):
    """Keep the last max_bytes bytes (UTF-8) of text. Returns (text, truncated)."""
    raw = text.encode('utf-8', 'surrogatepass')
    if len(raw) <= max_bytes:
        return text, False
    kept = raw[len(raw) - max_bytes:] if max_bytes > 0 else b''
    return kept.decode('utf-8', 'ignore'), True


def tail_list(items, max_bytes):
    """Keep the last items whose total UTF-8 size fits in max_bytes. Returns (list, truncated)."""
    total = 0
    kept = []
    for item in reversed(items):
        size = len(str(item).encode('utf-8', 'surrogatepass')) + 1
        if total + size > max_bytes:
            return list(reversed(kept)), True
        total += size
        kept.append(item)
    return list(items), False


def truncate_result(data, max_output):
    """Copy of a job result with the output values cut to max_output. Returns (dict, truncated).

    When something was cut, the copy also gets "truncated": true.
    """
    out = dict(data)
    truncated = False
    for key in TRUNCATE_STR_KEYS:
        value = out.get(key)
        if isinstance(value, str):
            out[key], cut = tail_text(value, max_output)
            truncated = truncated or cut
    for key in TRUNCATE_LIST_KEYS:
        value = out.get(key)
        if isinstance(value, list):
            out[key], cut = tail_list(value, max_output)
            truncated = truncated or cut
    if truncated:
        out['truncated'] = True
    return out, truncated


def tail_lines_of(raw, lines, partial_first):
    """Last `lines` lines of raw bytes; drop the first line when it was cut in the middle."""
    text = raw.decode('utf-8', 'replace')
    parts = text.splitlines()
    if partial_first and parts and len(parts) > 1:
        parts = parts[1:]
    if lines <= 0:
        return ''
    return '\n'.join(parts[-lines:])
