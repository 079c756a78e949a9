# -*- coding: utf-8 -*-

# Copyright: (c) 2025, rstyczynski.ansible contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The job file of an async job, for async_job_probe: read, parse, interpret, write, find.

Also the tail of live output files. Private module_utils of rstyczynski.ansible (no public
API). Runs on the managed host: Python 3.6+, standard library and ansible.module_utils only.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import json
import os
import re
import stat
import time

from ansible_collections.rstyczynski.ansible.plugins.module_utils._probe_common import (
    DEFAULT_ASYNC_DIR,
    TIMEOUT_MSG,
    read_bytes,
    tail_lines_of,
    to_flag,
)

REREAD_PAUSE = 0.2          # seconds before re-reading an unparseable job file


def interpret_job_data(data):
    """Classify the content of a job file the way async_status does.

    async_wrapper writes {"started": 1, "finished": 0, ...} while the job runs and replaces it
    with the module's own result (which has no "started" key) when the job ends; its watcher
    writes {"msg": "Timeout exceeded", "failed": true, "child_pid": N} on timeout. A file
    without "started" therefore is a final result, whatever else it holds.
    """
    if not isinstance(data, dict):
        raise ValueError('job file does not hold a JSON object')
    if 'started' not in data:
        finished = True
    else:
        finished = to_flag(data.get('finished')) is True
    timed_out = bool(
        finished and 'started' not in data and data.get('msg') == TIMEOUT_MSG
        and to_flag(data.get('failed')) is not False)
    return {
        'finished': finished,
        'started': True if 'started' not in data else bool(to_flag(data.get('started'))),
        'timed_out': timed_out,
        'cancelled': bool(finished and to_flag(data.get('cancelled'))),
    }


def parse_job_text(text):
    """Parse the text of a job file. Returns (data, flags); raises ValueError when unusable."""
    if isinstance(text, bytes):
        text = text.decode('utf-8', 'replace')
    if not text.strip():
        raise ValueError('job file is empty')
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ValueError('invalid JSON: %s' % e)
    return data, interpret_job_data(data)


def read_job_file(path):
    """Read and parse a job file. Returns (info, parsed, problem).

    info: {path, exists, mtime, error}; parsed: (data, flags) or None;
    problem: None, 'io' (could not read: state unknown) or 'parse' (unusable content).
    An unparseable file is read a second time after a short pause: a writer that does not
    rename atomically may be half-way through.
    """
    info = {'path': path, 'exists': False, 'mtime': None, 'error': None}
    if path is None:
        return info, None, None
    last_error = None
    for attempt in (0, 1):
        try:
            st = os.stat(path)
        except (IOError, OSError) as e:
            if e.errno in (errno.ENOENT, errno.ENOTDIR):
                info['exists'] = False
                info['mtime'] = None
                return info, None, None
            info['error'] = 'cannot stat job file %s: %s' % (path, e.strerror)
            return info, None, 'io'
        info['exists'] = True
        info['mtime'] = st.st_mtime
        if stat.S_ISDIR(st.st_mode):
            info['error'] = 'job file %s is a directory' % path
            return info, None, 'io'
        try:
            raw = read_bytes(path)
        except (IOError, OSError) as e:
            if e.errno in (errno.ENOENT, errno.ENOTDIR):
                info['exists'] = False
                info['mtime'] = None
                return info, None, None
            info['error'] = 'cannot read job file %s: %s' % (path, e.strerror)
            return info, None, 'io'
        try:
            return info, parse_job_text(raw), None
        except ValueError as e:
            last_error = e
            if attempt == 0:
                time.sleep(REREAD_PAUSE)
    info['error'] = 'cannot parse job file %s: %s' % (path, last_error)
    return info, None, 'parse'


def write_job_file_atomic(path, data):
    """Write a job file like async_wrapper does, but with fsync: temp file, then rename."""
    directory = os.path.dirname(path) or '.'
    tmp = os.path.join(directory, '.%s.%d.cancel.tmp' % (os.path.basename(path), os.getpid()))
    mode = 0o600
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except (IOError, OSError):
        pass
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, 'w') as f:
            f.write(json.dumps(data))
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)
    except Exception:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def default_job_file_candidates(jid):
    """~/.ansible_async/<jid> for $HOME, the passwd home and the SUDO_USER home.

    Run as root (become), also every account's home: a job saved from its jid alone (the earlier
    save/load roles' interface) has no recorded job file, and the user who launched it may not
    be the one who checks it.
    """
    paths = [os.path.join(os.path.expanduser(DEFAULT_ASYNC_DIR), jid)]
    homes = []
    try:
        import pwd
        homes.append(pwd.getpwuid(os.geteuid()).pw_dir)
        sudo_user = os.environ.get('SUDO_USER')
        if sudo_user:
            homes.append(pwd.getpwnam(sudo_user).pw_dir)
        if os.geteuid() == 0:
            homes.extend(sorted(set(e.pw_dir for e in pwd.getpwall() if e.pw_dir and e.pw_dir.startswith('/'))))
    except (ImportError, KeyError):
        pass
    for home in homes:
        path = os.path.join(home, DEFAULT_ASYNC_DIR[2:], jid)
        if path not in paths:
            paths.append(path)
    return paths


def locate_job_file_from_wrapper(token, env, notes):
    """Find <async dir>/<token>.<pid> from a wrapper environment (HOME, ANSIBLE_ASYNC_DIR)."""
    dirs = []
    home = (env or {}).get('HOME')
    async_dir = (env or {}).get('ANSIBLE_ASYNC_DIR') or DEFAULT_ASYNC_DIR
    if async_dir.startswith('~') and home:
        dirs.append(os.path.join(home, async_dir[1:].lstrip('/')))
    elif not async_dir.startswith('~'):
        dirs.append(async_dir)
    dirs.append(os.path.expanduser(DEFAULT_ASYNC_DIR))
    pattern = re.compile(r'^%s\.[0-9]+$' % re.escape(token))
    for d in dirs:
        try:
            names = sorted(n for n in os.listdir(d) if pattern.match(n))
        except (IOError, OSError):
            continue
        if len(names) > 1:
            notes.append('several job files match %s in %s: %s' % (token, d, ', '.join(names)))
        if names:
            return os.path.join(d, names[0])
    return None


def read_output_tail(path, lines, max_bytes):
    """Last lines of an output file, None when missing. Raises nothing."""
    try:
        size = os.stat(path).st_size
        with open(path, 'rb') as f:
            partial = size > max_bytes
            if partial:
                f.seek(size - max_bytes)
            raw = f.read(max_bytes)
    except (IOError, OSError):
        return None
    return tail_lines_of(raw, lines, partial)
