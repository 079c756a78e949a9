# -*- coding: utf-8 -*-

# Copyright: (c) 2025, rstyczynski.ansible contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""How the controller-side plugins (the job_store action, the job_ledger callback) run the engine.

One owner for: where the bundle is, how node is found, what to say when node is missing or too
old, and how one JSON request becomes one JSON answer. No logic of the engine is here.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import subprocess

# The bundle lives under plugins/ (a collection's callable code may not depend on files outside
# meta/, plugins/, roles/, playbooks/), in plugin_utils/_engine/, which ansible-doc does not list.
ENGINE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '_engine', 'job_store_engine.cjs')

NODE_HELP = ("Install Node.js 18 or later on the controller (Debian/Ubuntu: apt-get install nodejs; "
             "AWX/AAP execution environment: ansible-builder installs nodejs from this collection's bindep.txt, "
             "and on EL9, whose default nodejs is 16, 'RUN dnf module enable -y nodejs:22' (microdnf on minimal "
             "images) in additional_build_steps.prepend_base makes it 22) "
             "or point ansible_node_interpreter at a node binary.")


class EngineError(Exception):
    """The engine could not be run or did not answer; the message says what to do."""

    def __init__(self, msg, stderr=None):
        super(EngineError, self).__init__(msg)
        self.stderr = stderr


def find_node(explicit=None):
    """The node binary: an explicit one (ansible_node_interpreter, a callback option), else node on PATH."""
    return explicit or shutil.which('node')


def run_engine(node, request, label):
    """Runs the engine on one JSON request (text); returns its JSON answer or raises EngineError."""
    if not node:
        raise EngineError('%s: node was not found on the controller. %s' % (label, NODE_HELP))
    if not os.path.exists(ENGINE):
        raise EngineError('%s: the engine bundle %s is missing; in a source checkout, build it (make build, or '
                          'node scripts/build.mjs), or install a collection tarball built after that (make collection)'
                          % (label, ENGINE))
    try:
        proc = subprocess.run([node, ENGINE], input=request.encode('utf-8'),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    except OSError as err:
        raise EngineError('%s: cannot run %s: %s. %s' % (label, node, err, NODE_HELP))
    try:
        return json.loads(proc.stdout.decode('utf-8'))
    except ValueError:
        version = subprocess.run([node, '--version'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 check=False).stdout.decode('utf-8', 'replace').strip()
        stderr = proc.stderr.decode('utf-8', 'replace')
        major = version.lstrip('v').split('.')[0]
        if major.isdigit() and int(major) >= 18:
            hint = 'This is a bug of the engine: please report it with its output (stderr)%s.' % (
                ': ' + stderr.strip().splitlines()[-1][:300] if stderr.strip() else ', which was empty')
        else:
            hint = 'It needs Node.js >= 18. %s' % NODE_HELP
        raise EngineError('%s: the engine did not answer (node %s, exit %s). %s'
                          % (label, version or node, proc.returncode, hint), stderr=stderr[-2000:])
