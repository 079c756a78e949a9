#!/usr/bin/env python3
"""Race short jobs against the probe, in-process, on the real /proc (no mocks).

A fake job imitates async_wrapper: a daemonized process whose command line carries the
jid token (`.../async_wrapper.py <token> 60 ...`) marks its job file finished (temp file
+ rename, as async_wrapper does) and exits at a random moment, while the probe reads the
job file, scans /proc and reads the job file again. The probe must never call such a
job `gone`.

As a control, the same helpers are also run in the naive order (job file read once,
before the scan): the number of times that order would have called a finished job gone
shows that the race window was really hit.

Usage: python3 race_probe.py [ROUNDS]      exit 0 on success
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..', '..'))
COLLECTIONS = os.path.join(ROOT, 'ansible_collection', 'collections')

CHILD = r'''
import json, os, sys, time
path, delay = sys.argv[-2], float(sys.argv[-1])
if os.fork():
    os._exit(0)
os.setsid()
time.sleep(delay)
with open(path + ".tmp", "w") as f:
    f.write(json.dumps({"rc": 0, "stdout": "", "changed": True}))
os.rename(path + ".tmp", path)
os._exit(0)
'''


def load_probe():
    """The probe's module_utils, imported by the names the module imports them with."""
    sys.path.insert(0, COLLECTIONS)
    from ansible_collections.rstyczynski.ansible.plugins.module_utils import _probe, _probe_jobfile, _probe_proc
    return types.SimpleNamespace(
        Probe=_probe.Probe, read_job_file=_probe_jobfile.read_job_file,
        scan_processes=_probe_proc.scan_processes, match_processes=_probe_proc.match_processes,
        own_tree=_probe_proc.own_tree, is_alive_state=_probe_proc.is_alive_state)


def params(**kw):
    p = {'jid': None, 'results_file': None, 'claim_token': None, 'session_id': None,
         'host_incarnation': None, 'action': 'probe', 'tail_lines': 20, 'max_output': 65536,
         'output_files': None, 'cancel_grace': 5}
    p.update(kw)
    return p


def naive_says_gone(probe, path, token):
    """Job file once, then the scan: would a finished job look gone?"""
    info, parsed, _ = probe.read_job_file(path)
    if parsed and parsed[1]['finished']:
        return False
    procs = probe.scan_processes(None)
    matched = probe.match_processes(procs, probe.own_tree(procs), token, None, None, [])
    if any(probe.is_alive_state(procs[pid]['state']) for pid in matched):
        return False
    info, parsed, _ = probe.read_job_file(path)
    return bool(parsed and parsed[1]['finished'])


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    probe = load_probe()
    tmp = tempfile.mkdtemp(prefix='probe-race-')
    wrapper = os.path.join(tmp, 'ansible-tmp-race', 'async_wrapper.py')
    # how long one probe takes, to spread the job ends over the probe's own duration
    t0 = time.time()
    probe.Probe(params(jid='j0.1', results_file=os.path.join(tmp, 'none'))).gather()
    span = max(0.005, (time.time() - t0) * 2)
    bad = []
    probes = 0
    naive_hits = 0
    outcomes = {}
    try:
        for i in range(rounds):
            token = 'j%012d' % random.randint(0, 999999999999)
            path = os.path.join(tmp, token + '.%d' % (i + 1))
            with open(path, 'w') as f:
                f.write(json.dumps({'started': 1, 'finished': 0, 'ansible_job_id': token}))
            delay = random.uniform(0, span)
            subprocess.check_call([sys.executable, '-c', CHILD, wrapper, token, '60', 'x.py', '_',
                                   path, '%.4f' % delay])
            use_naive = i % 2 == 1
            deadline = time.time() + 10
            while time.time() < deadline:
                if use_naive:
                    if naive_says_gone(probe, path, token):
                        naive_hits += 1
                    info, parsed, _ = probe.read_job_file(path)
                    if parsed and parsed[1]['finished']:
                        break
                    continue
                out = probe.Probe(params(jid=token + '.1', results_file=path)).gather()
                probes += 1
                outcomes[out['state']] = outcomes.get(out['state'], 0) + 1
                if out['state'] in ('gone', 'unknown'):
                    bad.append((token, out['state'], out['job_file'], out['processes']))
                if out['state'] == 'finished':
                    break
            else:
                bad.append((token, 'never finished', None, None))
    finally:
        shutil.rmtree(tmp, True)
    print('race: %d rounds, %d probes %s; naive order would have said gone %d time(s)'
          % (rounds, probes, outcomes, naive_hits))
    if bad:
        for item in bad[:10]:
            print('race: BAD %r' % (item,))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
