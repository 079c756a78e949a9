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

from ansible import context
from ansible.parsing.ajson import AnsibleJSONEncoder
from ansible.plugins.action import ActionBase

ENGINE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                      'engine', 'job_store_engine.cjs')

NODE_HELP = ("Install Node.js 18 or later on the controller (Debian/Ubuntu: apt-get install nodejs; "
             "AWX/AAP execution environment: add 'RUN dnf install -y nodejs' to additional_build_steps) "
             "or point ansible_node_interpreter at a node binary.")


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

    def _request(self, task_vars):
        args = dict(self._task.args)
        hostvars = task_vars.get('hostvars', {})
        hosts = {}
        for host in self._served_hosts(task_vars):
            entry = {}
            for option, key in (('result_var', 'result'), ('probe_var', 'probe')):
                var = args.get(option)
                if var and host in hostvars and var in hostvars[host]:
                    entry[key] = hostvars[host][var]
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
