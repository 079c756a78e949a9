# -*- coding: utf-8 -*-

# Copyright: (c) 2025, rstyczynski.ansible contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action plugin for rstyczynski.ansible.job_store: a thin bridge, no logic of its own.

It collects what only an action plugin can see (the playbook path, the play's name and
uuid, the task name, every served host's vars), runs the bundled TypeScript engine with
node as a local subprocess (JSON in, JSON out) and maps the answer back to Ansible.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible import context
from ansible.parsing.mod_args import ModuleArgsParser
from ansible.parsing.ajson import AnsibleJSONEncoder
from ansible.plugins.action import ActionBase
from ansible_collections.rstyczynski.ansible.plugins.plugin_utils._engine_process import EngineError, find_node, run_engine

# Play-level magic variables: the same for every host of the play, never taken from another host.
_PLAY_LEVEL = frozenset(('omit', 'playbook_dir', 'groups', 'ansible_play_hosts', 'ansible_play_hosts_all',
                         'ansible_play_batch', 'play_hosts', 'ansible_play_name', 'ansible_version',
                         'ansible_check_mode', 'ansible_run_tags', 'ansible_skip_tags', 'role_path',
                         'ansible_role_names', 'ansible_play_role_names', 'ansible_dependent_role_names'))


def host_vars_for(task_vars, own, other, host):
    """This task's vars as another served host sees them: a plain dict (2.19+ templars take no other mapping).

    `own` and `other` are the host-level vars (inventory, facts, registered results, set_fact) of this
    host and of the other one, from the public `hostvars.raw_get()`. A key whose value here comes from
    this host's own host-level vars takes the other host's value; keys from play, role or task scope
    (role params, defaults, play vars) stay shared.
    """
    view = dict(task_vars)
    for key, value in other.items():
        if key in _PLAY_LEVEL:
            continue
        if key not in task_vars or (key in own and task_vars[key] == own[key]):
            view[key] = value
    for key in list(view):
        # A host-level key of this host that the other host does not have must not leak to it.
        if key not in other and key in own and key not in _PLAY_LEVEL and task_vars.get(key) == own[key]:
            del view[key]
    view['inventory_hostname'] = host
    view['inventory_hostname_short'] = host.split('.')[0]
    return view


class _HostInputError(Exception):
    """One served host's input could not be built: that host fails, the others go on."""


class _CallInputError(Exception):
    """The call's input could not be built for any host: the task fails with this message."""


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def _play(self):
        # Task.get_play() is public on newer lines; 2.14 has only the parent block's play.
        get_play = getattr(self._task, 'get_play', None)
        if get_play is not None:
            return get_play()
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
        ds = self._task.get_ds()
        try:
            if ds is None:
                raise ValueError('the task has no source data')
            return ModuleArgsParser(ds, collection_list=self._task.collections).parse()[1]
        except Exception as err:  # pylint: disable=broad-except
            # Never fall back to this host's arguments for every host: fail the whole call, loudly.
            raise _CallInputError('job_store: cannot read this task\'s arguments to template them for each '
                                  'served host (%s); run it without run_once, or pass hosts=[...] explicitly '
                                  'with per-host values set through vars' % err)

    @staticmethod
    def _template_for(templar, raw, host, omit):
        """`raw` templated with one host's templar, option by option, so that a failure names the option."""
        out = {}
        for option, value in raw.items():
            try:
                # A one-key dict: 2.19+ drop an omitted value from a dict (a bare Omit scalar is an error).
                templated = templar.template({option: value})
            except Exception as err:  # pylint: disable=broad-except
                raise _HostInputError('job_store: cannot template option %s for host %s: %s' % (option, host, err))
            if option in templated and (omit is None or templated[option] != omit):
                out[option] = templated[option]
        return out

    def _request(self, task_vars):
        args = dict(self._task.args)
        me = task_vars.get('inventory_hostname')
        served = self._served_hosts(task_vars)
        hostvars = task_vars['hostvars']
        others = [h for h in served if h != me]
        raw = self._raw_args() if others else None
        own = hostvars.raw_get(me) if others else {}
        # 2.14-2.18 pass a placeholder string for omit; 2.19+ drop omitted values while templating.
        omit = task_vars.get('omit')
        hosts = {}
        for host in served:
            try:
                if host == me:
                    host_args, host_vars, templar = args, task_vars, self._templar
                else:
                    host_vars = host_vars_for(task_vars, own, hostvars.raw_get(host), host)
                    # One templar per served host, for its options and its result/probe variable.
                    templar = self._templar.copy_with_new_env(available_variables=host_vars)
                    host_args = self._template_for(templar, raw, host, omit)
                entry = {'args': host_args}
                for option, key in (('result_var', 'result'), ('probe_var', 'probe'), ('loaded_var', 'loaded')):
                    var = host_args.get(option)
                    if var and var in host_vars:
                        try:
                            entry[key] = templar.template(host_vars[var])
                        except Exception as err:  # pylint: disable=broad-except
                            raise _HostInputError('job_store: cannot read %s (%s) for host %s: %s' % (var, option, host, err))
            except _HostInputError as err:
                entry = {'error': str(err)}
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
                # No public accessor: Ansible's own callbacks (and Ara's) read the play's _uuid too.
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
        return find_node(self._templar.template(node) if node else None)

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        node = self._node(task_vars)
        try:
            request = self._request(task_vars)
        except _CallInputError as err:
            return dict(result, failed=True, msg=str(err))
        try:
            response = run_engine(node, request, 'job_store')
        except EngineError as err:
            out = dict(result, failed=True, msg=str(err))
            if err.stderr is not None:
                out['stderr'] = err.stderr
            return out
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
