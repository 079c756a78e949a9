# -*- coding: utf-8 -*-

# Copyright: (c) 2025, rstyczynski.ansible contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The job_ledger callback: journals every poll 0 async launch, then hands the batch to the engine.

Thin on purpose: it sees results, appends launches to a local journal (fsync, no node) and runs
the engine bundle once per task to put them in the store. The journal's format, lock and replay
belong to src/engine/journal.ts; this writer follows it.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: job_ledger
type: aggregate
short_description: Records every C(poll=0) async launch of any playbook in the job store
description:
  - Records each task result that carries an C(ansible_job_id) and is not finished (C(async) > 0
    with C(poll=0)), for any module, every host and every loop item (one record per item, named
    C(NAME[0]), C(NAME[1]), ...). No change to the playbook is needed.
  - Each record holds the host, playbook, play, play id, task, jid, C(results_file), async timeout,
    controller and no_log flag, like a record saved by P(rstyczynski.ansible.async_job_save#role);
    P(rstyczynski.ansible.async_job_load#role), C(ansible-jobs) and a
    P(rstyczynski.ansible.long_running_task#role) C(check) resume it the same way.
  - The record's host is the host the job runs on. For a task with C(delegate_to) that is the delegated
    host (per loop item), so a later check probes the host that has the job. On ansible-core 2.19 and
    earlier a loop item's result does not name its delegated host (2.21 does); the callback templates C(delegate_to) with the
    item and the task's vars, and where that is not enough (C(groups), C(hostvars)) it warns and records
    nothing.
  - The job name is the task's name. The task variable C(job_ledger_name) (a literal string set with
    C(vars:) on the task, its block or its play) overrides it; C(job_ledger_namespace) overrides the
    namespace and C(job_ledger_skip=true) leaves the task out.
  - Two tasks with the same name in different playbooks would share one identity (namespace, host,
    name), each launch a new attempt of the other's job. Keep them apart with C(job_ledger_name) on
    the task, or with a namespace per playbook (C(job_ledger_namespace) in the play's C(vars), or
    E(ANSIBLE_JOB_LEDGER_NAMESPACE) for the run).
  - Not recorded, so that nothing is recorded twice, the launches of
    P(rstyczynski.ansible.long_running_task#role) (it records its own) and C(async_status) results.
    A launch that P(rstyczynski.ansible.async_job_save#role) saves afterwards is taken over by that save
    (found through its jid), so the job keeps one record, under the save's name.
  - Durable before the play moves on. Each launch is first appended to a local journal and fsynced,
    in this callback, without node. When the next task starts (under C(strategy=free), the next task
    start of any host), when a play starts and when the playbook ends, one engine process puts every
    journalled launch in its store, whatever the number of hosts, and deletes the journal.
  - A journal that a killed controller left behind is replayed by the next run that uses this
    callback (from the same journal directory) and by C(ansible-jobs replay). Replays are idempotent
    by host and jid, and a lock file keeps a live run's journal out of other replays.
  - When the store does not answer, a warning names the store and the journal; the play goes on.
  - A task with C(no_log) hides its result, and its jid, from every callback. This callback then warns,
    naming the task, and records nothing. Register the result and save it with
    P(rstyczynski.ansible.async_job_save#role) and C(async_job_save_no_log=true). No output of a
    no_log task is ever recorded.
  - A run that launches a task again while its earlier job still runs records a new attempt, since the
    launch happened, and a callback cannot prevent it. For exactly-once starts use
    P(rstyczynski.ansible.long_running_task#role).
requirements:
  - Node.js 18 or later on the controller (as for the rest of the collection).
  - Enable it with C(callbacks_enabled = rstyczynski.ansible.job_ledger) in the C([defaults]) section
    of C(ansible.cfg), or E(ANSIBLE_CALLBACKS_ENABLED=rstyczynski.ansible.job_ledger).
options:
  store:
    description:
      - The job store, as for the roles and C(ansible-jobs). A path or C(file://PATH), C(s3://BUCKET[/PREFIX]),
        C(ara+http://HOST:PORT) or C(ara+https://HOST:PORT).
      - Unset means C(<playbook_dir>/.ansible_async_state), beside the playbook, as for the roles.
      - E(ANSIBLE_JOBS_STORE) wins over the C(ansible.cfg) key, as Ansible's environment settings do.
    type: str
    env:
      - name: ANSIBLE_JOBS_STORE
    ini:
      - section: callback_job_ledger
        key: store
  namespace:
    description: The namespace of the records (a task's C(job_ledger_namespace) variable overrides it).
    type: str
    default: default
    env:
      - name: ANSIBLE_JOB_LEDGER_NAMESPACE
    ini:
      - section: callback_job_ledger
        key: namespace
  journal_dir:
    description:
      - Where launches are journalled before they reach the store, one C(journal-*.jsonl) file per run
        (versioned JSON lines) and its C(.lock) while the run lives.
      - C(ansible-jobs replay) reads the same directory (E(ANSIBLE_JOB_LEDGER_DIR) or C(--journal-dir)).
      - Inside AWX/AAP the job's filesystem, and so this directory, disappears with the job. The
        journal then only covers the time up to the next flush within the job; point this option
        at a persistent volume to replay what a killed job left.
    type: path
    default: ~/.ansible/job_ledger
    env:
      - name: ANSIBLE_JOB_LEDGER_DIR
    ini:
      - section: callback_job_ledger
        key: journal_dir
  node:
    description: The node binary that runs the engine (default, node on PATH).
    type: str
    env:
      - name: ANSIBLE_JOB_LEDGER_NODE
    ini:
      - section: callback_job_ledger
        key: node
'''

import json
import os
import signal
import socket
import time

from ansible.module_utils.parsing.convert_bool import boolean
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.callback import CallbackBase
from ansible.template import Templar
from ansible_collections.rstyczynski.ansible.plugins.plugin_utils._engine_process import EngineError, find_node, run_engine

JOURNAL_VERSION = 1
# Test hook: stop the controller (SIGKILL) right after a launch is journalled, before any flush.
KILL_HOOK = 'ANSIBLE_JOB_LEDGER_TEST_KILL_AFTER_JOURNAL'
_ASYNC_STATUS = frozenset(('async_status', 'ansible.builtin.async_status', 'ansible.legacy.async_status'))


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _now():
    now = time.time()
    return time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(now)) + '.%03dZ' % (int(now * 1000) % 1000)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'rstyczynski.ansible.job_ledger'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None):
        super(CallbackModule, self).__init__(display)
        self._controller = socket.gethostname()
        self._playbook = None
        self._playbook_dir = None
        self._play = None
        self._play_id = None
        self._play_vars = {}
        self._dir = None
        self._journal = None
        self._lock = None
        self._pending = 0
        self._warned = set()

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super(CallbackModule, self).set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        self._dir = os.path.abspath(os.path.expanduser(self.get_option('journal_dir')))
        safe = ''.join(c if c.isalnum() or c in '.-_' else '_' for c in self._controller)
        self._journal = os.path.join(self._dir, 'journal-%s-%d-%d.jsonl' % (safe, os.getpid(), int(time.time() * 1000)))

    # Lifecycle: replay leftovers at the start, flush at every task start and at the end.

    def v2_playbook_on_start(self, playbook):
        self._playbook = os.path.abspath(getattr(playbook, '_file_name', '') or '') or None
        self._playbook_dir = os.path.abspath(getattr(playbook, '_basedir', '') or '.')
        try:
            leftovers = [n for n in os.listdir(self._dir) if n.startswith('journal-') and n.endswith('.jsonl')]
        except OSError:
            leftovers = []
        if leftovers:
            self._engine({'dir': self._dir, 'orphans': True})

    def v2_playbook_on_play_start(self, play):
        self._flush()
        self._play = play.get_name()
        self._play_id = getattr(play, '_uuid', None)
        self._play_vars = getattr(play, 'vars', None) or {}

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._flush()

    def v2_playbook_on_handler_task_start(self, task):
        self._flush()

    def v2_playbook_on_stats(self, stats):
        self._flush(final=True)
        if self._lock:
            try:
                os.unlink(self._lock)
            except OSError:
                pass
            self._lock = None

    # Results.

    def v2_runner_on_ok(self, result):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        # A loop whose later item failed still launched its earlier items.
        self._record(result)

    def _record(self, result):
        task = result._task
        tvars = self._task_vars(task)
        if self._skipped(task, tvars):
            return
        res = result._result
        if isinstance(res.get('results'), list):
            items = [('[%d]' % i, r) for i, r in enumerate(res['results']) if isinstance(r, dict)]
        else:
            items = [('', res)]
        host = result._host.get_name()
        name = tvars.get('job_ledger_name') or task.get_name()
        namespace = tvars.get('job_ledger_namespace') or self.get_option('namespace')
        lines = []
        for suffix, r in items:
            if r.get('censored') and self._launches_async(task):
                self._warn_no_log(task)
                continue
            jid = r.get('ansible_job_id')
            if not jid or boolean(r.get('finished'), strict=False) or r.get('skipped'):
                continue
            job_host = self._job_host(task, tvars, r, host)
            if job_host is None:
                self._warn_once(task, 'job_ledger: task "%s" delegates each loop item to a host this ansible-core does not '
                                'report to callbacks (delegate_to: %s): its async jobs are not recorded. Save them with the '
                                'rstyczynski.ansible.async_job_save role, or use ansible-core 2.21 or later'
                                % (task.get_name(), task.delegate_to))
                continue
            lines.append({
                'v': JOURNAL_VERSION, 'kind': 'launch', 'at': _now(),
                'store': self.get_option('store') or None, 'playbook_dir': self._playbook_dir,
                'namespace': str(namespace), 'name': '%s%s' % (name, suffix), 'host': job_host,
                'jid': str(jid),
                'results_file': r.get('results_file'), 'async_timeout': _int_or_none(getattr(task, 'async_val', None)),
                'no_log': bool(task.no_log), 'playbook': self._playbook, 'play': self._play, 'play_id': self._play_id,
                'task': task.get_name(), 'controller': self._controller,
            })
        if lines:
            self._append(lines)
            if os.environ.get(KILL_HOOK):
                os.kill(os.getpid(), signal.SIGKILL)

    @staticmethod
    def _job_host(task, tvars, res, host):
        """The host the job runs on: the delegated host of a delegate_to task (per loop item), else the task's host.

        ansible-core 2.21 reports each item's delegated host. 2.19 and earlier do not for a loop item's async result,
        and the task's delegate_to is the untemplated expression: it is templated here with the item and the
        task's vars; None when that does not give a host name.
        """
        delegated = (res.get('_ansible_delegated_vars') or {}).get('ansible_delegated_host')
        if delegated:
            return str(delegated)
        target = getattr(task, 'delegate_to', None)
        if not target:
            return host
        if isinstance(target, str) and '{' in target:
            loop_var = res.get('ansible_loop_var') or 'item'
            try:
                target = Templar(loader=DataLoader(), variables=dict(tvars, **{loop_var: res.get(loop_var)})).template(target)
            except Exception:  # pylint: disable=broad-except
                return None
            if not isinstance(target, str) or not target or '{' in target:
                return None
        return str(target)

    @staticmethod
    def _skipped(task, tvars):
        if task.action in _ASYNC_STATUS:
            return True
        role = getattr(task, '_role', None)
        if role is not None and getattr(role, '_role_name', None) == 'long_running_task' \
                and getattr(role, '_role_collection', None) == 'rstyczynski.ansible':
            return True
        return boolean(tvars.get('job_ledger_skip'), strict=False)

    def _task_vars(self, task):
        merged = dict(self._play_vars)
        try:
            merged.update(task.get_vars())
        except Exception:  # pylint: disable=broad-except
            pass
        return merged

    @staticmethod
    def _launches_async(task):
        return (_int_or_none(getattr(task, 'async_val', None)) or 0) > 0 and _int_or_none(getattr(task, 'poll', None)) == 0

    def _warn_no_log(self, task):
        self._warn_once(task, 'job_ledger: task "%s" is no_log, so its result (and its job id) is hidden from callbacks: '
                        'its async job is not recorded. To record it, register the result and save it with the '
                        'rstyczynski.ansible.async_job_save role and async_job_save_no_log: true' % task.get_name())

    def _warn_once(self, task, msg):
        """One warning per task, not per host or item."""
        if task._uuid in self._warned:
            return
        self._warned.add(task._uuid)
        self._display.warning(msg)

    # The journal (format: src/engine/journal.ts).

    def _append(self, lines):
        data = ''.join(json.dumps(line, sort_keys=True) + '\n' for line in lines).encode('utf-8')
        if not os.path.isdir(self._dir):
            os.makedirs(self._dir, 0o700)
        if self._lock is None:
            lock = self._journal + '.lock'
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, json.dumps({'pid': os.getpid(), 'controller': self._controller, 'at': _now()}).encode('utf-8'))
                os.fsync(fd)
            finally:
                os.close(fd)
            self._lock = lock
        new = not os.path.exists(self._journal)
        fd = os.open(self._journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if new:
            dfd = os.open(self._dir, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        self._pending += len(lines)

    def _flush(self, final=False):
        if not self._pending and not (final and self._journal and os.path.exists(self._journal)):
            return
        self._pending = 0
        self._engine({'dir': self._dir, 'own': self._journal})

    def _engine(self, replay):
        try:
            answer = run_engine(find_node(self.get_option('node')), json.dumps({'replay': replay}), 'job_ledger')
        except EngineError as err:
            self._display.warning('%s; journalled launches stay in %s' % (err, self._dir))
            return
        if answer.get('failed'):
            self._display.warning('job_ledger: %s; journalled launches stay in %s' % (answer.get('msg'), self._dir))
        for warning in answer.get('warnings') or []:
            self._display.warning(warning)
