# -*- coding: utf-8 -*-

# Copyright: (c) 2025, rstyczynski.ansible contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The /proc evidence of async_job_probe: visibility, the process scan, the job's session.

Private module_utils of rstyczynski.ansible (no public API). Runs on the managed host:
Python 3.6+, standard library and ansible.module_utils only.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import sys

from ansible_collections.rstyczynski.ansible.plugins.module_utils._probe_common import (
    CLAIM_ENV,
    PROC,
    WRAPPER_MARK,
    read_bytes,
)


# --------------------------------------------------------------------------------------
# Parsers (pure)
# --------------------------------------------------------------------------------------

def parse_stat_line(text):
    """Fields of /proc/PID/stat. The command name may contain spaces and parentheses."""
    if isinstance(text, bytes):
        text = text.decode('utf-8', 'replace')
    lparen = text.index('(')
    rparen = text.rindex(')')
    rest = text[rparen + 2:].split()
    return {
        'pid': int(text[:lparen].strip()),
        'comm': text[lparen + 1:rparen],
        'state': rest[0],
        'ppid': int(rest[1]),
        'pgid': int(rest[2]),
        'sid': int(rest[3]),
        'starttime': int(rest[19]),   # field 22, clock ticks since boot
    }


def hidepid_from_mountinfo(text):
    """(hidepid value, gid) of the last proc mount on /proc in a mountinfo text."""
    hidepid = None
    gid = None
    for line in text.splitlines():
        left, sep, right = line.partition(' - ')
        if not sep:
            continue
        fields = left.split()
        tail = right.split()
        if len(fields) < 5 or not tail or tail[0] != 'proc' or fields[4] != PROC:
            continue
        hidepid = None
        gid = None
        options = ','.join(x for x in (fields[5] if len(fields) > 5 else '',
                                       tail[2] if len(tail) > 2 else '') if x)
        for opt in options.split(','):
            if opt.startswith('hidepid='):
                hidepid = opt.split('=', 1)[1]
            elif opt.startswith('gid='):
                try:
                    gid = int(opt.split('=', 1)[1])
                except ValueError:
                    pass
    return hidepid, gid


def is_wrapper_arg(arg):
    return WRAPPER_MARK in arg.rsplit('/', 1)[-1]


def wrapper_index(argv):
    for i, arg in enumerate(argv):
        if is_wrapper_arg(arg):
            return i
    return None


def wrapper_jid_token(argv):
    """The jid argument of an async_wrapper command line, else None.

    async_wrapper is run as '<interpreter...> <dir>/async_wrapper.py <jid> <time limit>
    <module> <args file or _> [-preserve_tmp]'.
    """
    i = wrapper_index(argv)
    if i is None or i + 1 >= len(argv):
        return None
    return argv[i + 1]


def is_alive_state(state):
    return state not in ('Z', 'X', 'x')


def env_value(entries, name):
    """Value of name in the NUL-split entries of /proc/PID/environ, else None."""
    prefix = (name + '=').encode('utf-8')
    for entry in entries:
        if entry.startswith(prefix):
            return entry[len(prefix):].decode('utf-8', 'surrogateescape')
    return None


# --------------------------------------------------------------------------------------
# Reading /proc
# --------------------------------------------------------------------------------------

def check_visibility():
    """(visible, reason) for the process evidence of this host."""
    if not sys.platform.startswith('linux'):
        return False, ('unsupported platform %s: process evidence needs the Linux /proc '
                       'filesystem' % sys.platform)
    if not os.path.exists(PROC + '/self/stat'):
        return False, '/proc is not mounted: processes cannot be seen'
    euid = os.geteuid()
    try:
        hidepid, gid = hidepid_from_mountinfo(read_bytes(PROC + '/self/mountinfo').decode('utf-8', 'replace'))
    except (IOError, OSError):
        hidepid, gid = None, None
    if hidepid not in (None, '0', 'off') and euid != 0:
        groups = set(os.getgroups()) | set([os.getegid()])
        if gid is None or gid not in groups:
            return False, ("hidepid=%s on /proc hides other users' processes from uid %d; run the "
                           "probe as root (become) or as a member of the proc gid" % (hidepid, euid))
    try:
        read_bytes(PROC + '/1/stat')
    except (IOError, OSError) as e:
        return False, 'cannot read /proc/1/stat (%s): other processes cannot be seen' % e.strerror
    return True, 'ok'


def scan_processes(claim_token):
    """Read every /proc/PID once. Returns {pid: info}.

    info holds the stat fields, uid, argv, and, when a claim token is searched, whether the
    environment carries it ('claim'), could not be read ('environ_denied') and the HOME and
    ANSIBLE_ASYNC_DIR of claim carriers ('env').
    """
    claim_entry = None
    if claim_token is not None:
        claim_entry = ('%s=%s' % (CLAIM_ENV, claim_token)).encode('utf-8', 'surrogateescape')
    procs = {}
    for name in os.listdir(PROC):
        if not name.isdigit():
            continue
        pid = int(name)
        base = '%s/%d' % (PROC, pid)
        try:
            st = parse_stat_line(read_bytes(base + '/stat'))
            uid = os.stat(base).st_uid
            raw = read_bytes(base + '/cmdline')
        except (IOError, OSError, ValueError, IndexError):
            continue        # the process ended during the scan
        argv = [a.decode('utf-8', 'surrogateescape') for a in raw.split(b'\0')]
        if argv and argv[-1] == '':
            argv.pop()
        st['uid'] = uid
        st['argv'] = argv
        st['claim'] = False
        st['environ_denied'] = False
        st['env'] = None
        if claim_entry is not None:
            entries = None
            try:
                entries = read_bytes(base + '/environ').split(b'\0')
            except (IOError, OSError) as e:
                if e.errno in (errno.EACCES, errno.EPERM):
                    st['environ_denied'] = True
            if entries and claim_entry in entries:
                st['claim'] = True
                st['env'] = {
                    'HOME': env_value(entries, 'HOME'),
                    'ANSIBLE_ASYNC_DIR': env_value(entries, 'ANSIBLE_ASYNC_DIR'),
                }
        procs[pid] = st
    return procs


def read_env(pid):
    """HOME and ANSIBLE_ASYNC_DIR of a process, None when its environment cannot be read."""
    try:
        entries = read_bytes('%s/%d/environ' % (PROC, pid)).split(b'\0')
    except (IOError, OSError):
        return None
    return {'HOME': env_value(entries, 'HOME'),
            'ANSIBLE_ASYNC_DIR': env_value(entries, 'ANSIBLE_ASYNC_DIR')}


def environ_still_denied(pr, claim):
    """Reads a denied environment once more; a process that now shows the token is the job's."""
    try:
        entries = read_bytes('%s/%d/environ' % (PROC, pr['pid'])).split(b'\0')
    except (IOError, OSError) as e:
        return e.errno in (errno.EACCES, errno.EPERM)
    pr['environ_denied'] = False
    if ('%s=%s' % (CLAIM_ENV, claim)).encode('utf-8', 'surrogateescape') in entries:
        pr['claim'] = True
        pr['env'] = {'HOME': env_value(entries, 'HOME'), 'ANSIBLE_ASYNC_DIR': env_value(entries, 'ANSIBLE_ASYNC_DIR')}
    return False


def still_alive(pid, starttime):
    """Whether the process pid (with that start time, to ignore pid reuse) still runs."""
    try:
        st = parse_stat_line(read_bytes('%s/%d/stat' % (PROC, pid)))
    except (IOError, OSError, ValueError, IndexError):
        return False
    return st['starttime'] == starttime and is_alive_state(st['state'])


# --------------------------------------------------------------------------------------
# The job's processes and session
# --------------------------------------------------------------------------------------

def own_tree(procs):
    """Pids of the probe itself, its ancestors and its descendants."""
    me = os.getpid()
    excluded = set([me])
    pid = me
    while pid in procs and procs[pid]['ppid'] > 0 and procs[pid]['ppid'] not in excluded:
        pid = procs[pid]['ppid']
        excluded.add(pid)
    children = {}
    for p in procs.values():
        children.setdefault(p['ppid'], []).append(p['pid'])
    todo = [me]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in excluded:
                excluded.add(child)
                todo.append(child)
    return excluded


def match_processes(procs, excluded, token, claim_token, session_id, notes):
    """Attribute processes to the job. Returns {pid: [reasons]}."""
    matched = {}
    for pid, p in procs.items():
        if pid in excluded:
            continue
        if token and p['argv'] and wrapper_jid_token(p['argv']) == token:
            matched.setdefault(pid, []).append('argv')
        if claim_token is not None and p['claim']:
            matched.setdefault(pid, []).append('claim')

    own_sid = procs[os.getpid()]['sid'] if os.getpid() in procs else None
    forbidden = set([0, 1, own_sid])
    for pid in excluded:
        if pid in procs:
            forbidden.add(procs[pid]['sid'])

    sids = []
    for pid in sorted(matched):
        sid = procs[pid]['sid']
        if sid not in forbidden and sid not in sids:
            sids.append(sid)
    if session_id is not None:
        if session_id in forbidden:
            notes.append('session_id %d ignored: it is 0, 1 or a session of the probe itself' % session_id)
        elif session_id not in sids:
            sids.append(session_id)

    for sid in sids:
        leader = procs.get(sid)
        if leader is not None and is_alive_state(leader['state']) and sid not in matched:
            notes.append('session %d ignored: its leader pid %d (%s) is alive and not part of the '
                         'job, so the session id was reused' % (sid, sid, leader['comm']))
            continue
        for pid, p in procs.items():
            if p['sid'] == sid and pid not in excluded:
                reasons = matched.setdefault(pid, [])
                if 'session' not in reasons:
                    reasons.append('session')
    return matched
