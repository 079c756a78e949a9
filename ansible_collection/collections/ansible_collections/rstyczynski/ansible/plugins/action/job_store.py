# -*- coding: utf-8 -*-
# Copyright: rstyczynski.ansible contributors
# MIT License
"""Action plugin for rstyczynski.ansible.job_store: a thin bridge, no logic of its own.

It collects what only an action plugin can see (the playbook path, the play's name and
uuid, the task name, every served host's vars), runs the bundled TypeScript engine with
node as a local subprocess (JSON in, JSON out) and maps the answer back to Ansible.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import subprocess

try:
    from collections.abc import Mapping
except ImportError:  # Python 2 controllers are not supported by ansible-core 2.14 anyway
    from collections import Mapping

from ansible import context
from ansible.parsing.mod_args import ModuleArgsParser
from ansible.parsing.ajson import AnsibleJSONEncoder
from ansible.plugins.action import ActionBase

ENGINE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                      'engine', 'job_store_engine.cjs')

NODE_HELP = ("Install Node.js 18 or later on the controller (Debian/Ubuntu: apt-get install nodejs; "
             "AWX/AAP execution environment: add 'RUN dnf install -y nodejs' to additional_build_steps) "
             "or point ansible_node_interpreter at a node binary.")


_MISSING = object()
# Play-level magic variables: the same for every host of the play.
_PLAY_LEVEL = frozenset(('omit', 'playbook_dir', 'groups', 'ansible_play_hosts', 'ansible_play_hosts_all',
                         'ansible_play_batch', 'play_hosts', 'ansible_play_name', 'ansible_version',
                         'ansible_check_mode', 'ansible_run_tags', 'ansible_skip_tags', 'role_path',
                         'ansible_role_names', 'ansible_play_role_names', 'ansible_dependent_role_names'))


class _HostView(Mapping):
    """This task's vars as another served host sees them, looked up lazily.

    A key whose value here comes from this host's own host-level vars (inventory, facts,
    registered results) takes the other host's value; keys from play, role or task scope
    (role params, defaults, extra vars) stay shared. Registered results come straight from the
    variable manager's cache; the other host's full vars are computed only when needed.
    """

    def __init__(self, task_vars, own, host):
        self._tv, self._own, self._host = task_vars, own, host
        self._vm = task_vars['hostvars']._variable_manager
        self._full = None

    def _other(self):
        if self._full is None:
            self._full = self._tv['hostvars'].raw_get(self._host)
        return self._full

    def _shared(self, key):
        if key in _PLAY_LEVEL or key in self._vm.extra_vars:
            return True
        return key in self._tv and not (key in self._own and self._tv[key] == self._own[key])

    def __getitem__(self, key):
        if key == 'inventory_hostname':
            return self._host
        if key == 'inventory_hostname_short':
            return self._host.split('.')[0]
        if self._shared(key):
            return self._tv[key]
        registered = self._vm._nonpersistent_fact_cache.get(self._host, {})
        if key in registered:
            return registered[key]
        return self._other()[key]

    def __contains__(self, key):
        try:
            self[key]
        except KeyError:
            return False
        return True

    def __iter__(self):
        return iter(set(self._tv) | set(self._other()))

    def __len__(self):
        return len(set(self._tv) | set(self._other()))


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def _play(self):
        return getattr(self._task._parent, '_play', None)

    def _served_hosts(self, task_vars):
        """Hosts this call serves: all of the batch for run_once (not under strategy free), else this host."""
        args = self._task.args
        if args.get('hosts'):
            return list(args['hosts'])
        free = getattr(self._play(), 'strategy', None) == 'free'
        if self._task.run_once and not free:
            return list(task_vars.get('ansible_play_batch') or [task_vars['inventory_hostname']])
        return [task_vars['inventory_hostname']]

    def _raw_args(self):
        """The task's arguments before templating, to template them again for each served host."""
        try:
            return ModuleArgsParser(self._task._ds, collection_list=self._task.collections).parse()[1]
        except Exception:  # pylint: disable=broad-except
            return None

    def _request(self, task_vars):
        args = dict(self._task.args)
        me = task_vars.get('inventory_hostname')
        served = self._served_hosts(task_vars)
        raw = self._raw_args() if any(h != me for h in served) else None
        own = task_vars['hostvars'].raw_get(me) if raw is not None else {}
        hosts = {}
        for host in served:
            if host == me or raw is None:
                host_args, host_vars = args, task_vars
            else:
                host_vars = _HostView(task_vars, own, host)
                templar = self._templar.copy_with_new_env(available_variables=host_vars)
                omit = task_vars.get('omit')
                host_args = dict((k, v) for k, v in templar.template(raw).items() if v != omit)
            entry = {'args': host_args}
            for option, key in (('result_var', 'result'), ('probe_var', 'probe')):
                var = host_args.get(option)
                if var and var in host_vars:
                    entry[key] = self._templar.copy_with_new_env(available_variables=host_vars).template(host_vars[var])
            hosts[host] = entry
        args['hosts'] = list(hosts)
        play = self._play()
        cli = context.CLIARGS
        request = {
            'args': args,
            'hosts': hosts,
            'context': {
                'playbooks': [os.path.abspath(p) for p in (cli.get('args') or [])],
                'playbook_dir': task_vars.get('playbook_dir'),
                'play': getattr(play, 'name', None),
                'play_id': getattr(play, '_uuid', None),
                'task': self._task.get_name(),
                'check_mode': bool(self._play_context.check_mode),
                'no_log': bool(self._play_context.no_log),
                'awx_job_id': task_vars.get('awx_job_id') or task_vars.get('tower_job_id'),
            },
        }
        return json.dumps(request, cls=AnsibleJSONEncoder)

    def _node(self, task_vars):
        node = task_vars.get('ansible_node_interpreter')
        if node:
            return self._templar.template(node)
        return shutil.which('node')

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        node = self._node(task_vars)
        if not node:
            return dict(result, failed=True, msg='job_store: node was not found on the controller. ' + NODE_HELP)
        if not os.path.exists(ENGINE):
            return dict(result, failed=True, msg='job_store: the engine bundle %s is missing; build the collection '
                        '(make build) or install a released collection tarball' % ENGINE)
        try:
            proc = subprocess.run([node, ENGINE], input=self._request(task_vars).encode('utf-8'),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        except OSError as err:
            return dict(result, failed=True, msg='job_store: cannot run %s: %s. %s' % (node, err, NODE_HELP))
        try:
            response = json.loads(proc.stdout.decode('utf-8'))
        except ValueError:
            version = subprocess.run([node, '--version'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     check=False).stdout.decode('utf-8', 'replace').strip()
            return dict(result, failed=True, stderr=proc.stderr.decode('utf-8', 'replace')[-2000:],
                        msg='job_store: the engine did not answer (node %s, exit %s). It needs Node.js >= 18. %s'
                        % (version or node, proc.returncode, NODE_HELP))
        for warning in response.pop('warnings', None) or []:
            self._display.warning(warning)
        result.update(response)
        hosts = response.get('hosts')
        if hosts is not None and not self._task.run_once and len(hosts) == 1:
            # A plain per-host call: surface this host's answer at the top level.
            only = list(hosts.values())[0]
            result.update(only)
            result['failed'] = bool(only.get('failed'))
        return result
