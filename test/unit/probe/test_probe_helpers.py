"""Unit tests for the pure helpers of rstyczynski.ansible.async_job_probe.

Run with plain unittest (any python3 >= 3.6, ansible not required):

    python3 -m unittest discover -s test/unit/probe -v
    python3 test/unit/probe/test_probe_helpers.py

(`python3 -m unittest test/unit/probe/test_probe_helpers.py` does not work from the repo
root: the path maps to the module name test.unit..., and `test` is the stdlib package.)
"""
import importlib.util
import json
import os
import sys
import tempfile
import time
import types
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..', '..'))
MODULE_PATH = os.path.join(
    ROOT, 'ansible_collection', 'collections', 'ansible_collections', 'rstyczynski',
    'ansible', 'plugins', 'modules', 'async_job_probe.py')


def _load_module():
    try:
        import ansible.module_utils.basic  # noqa: F401
    except ImportError:
        # The helpers under test do not use AnsibleModule; a python without ansible
        # (for example a pyenv build) only needs the import to succeed.
        for name in ('ansible', 'ansible.module_utils', 'ansible.module_utils.basic'):
            sys.modules.setdefault(name, types.ModuleType(name))
        sys.modules['ansible.module_utils.basic'].AnsibleModule = None
    spec = importlib.util.spec_from_file_location('async_job_probe', MODULE_PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


probe = _load_module()


class ToFlagTest(unittest.TestCase):
    def test_true_values(self):
        for v in (1, True, '1', 'true', 'True', 'yes', ' 1 ', 2):
            self.assertIs(probe.to_flag(v), True, v)

    def test_false_values(self):
        for v in (0, False, '0', 'false', 'no', ''):
            self.assertIs(probe.to_flag(v), False, v)

    def test_unknown_values(self):
        for v in (None, 'maybe', [], {}):
            self.assertIsNone(probe.to_flag(v), v)


class JobFileParsingTest(unittest.TestCase):
    def parse(self, obj):
        return probe.parse_job_text(json.dumps(obj))[1]

    def test_running_ints(self):
        f = self.parse({'started': 1, 'finished': 0, 'ansible_job_id': 'j1.2'})
        self.assertFalse(f['finished'])
        self.assertTrue(f['started'])

    def test_running_bools(self):
        self.assertFalse(self.parse({'started': True, 'finished': False})['finished'])

    def test_running_strings(self):
        self.assertFalse(self.parse({'started': '1', 'finished': '0'})['finished'])

    def test_finished_ints(self):
        self.assertTrue(self.parse({'started': 1, 'finished': 1})['finished'])

    def test_finished_bools(self):
        self.assertTrue(self.parse({'started': True, 'finished': True})['finished'])

    def test_finished_strings(self):
        self.assertTrue(self.parse({'started': '1', 'finished': '1'})['finished'])
        self.assertTrue(self.parse({'started': 'true', 'finished': 'true'})['finished'])

    def test_started_without_finished_is_running(self):
        self.assertFalse(self.parse({'started': 1})['finished'])

    def test_module_result_without_started_is_finished(self):
        f = self.parse({'rc': 0, 'stdout': 'hi', 'changed': True, 'cmd': ['echo', 'hi']})
        self.assertTrue(f['finished'])
        self.assertFalse(f['timed_out'])
        self.assertFalse(f['cancelled'])

    def test_timeout_result(self):
        f = self.parse({'msg': 'Timeout exceeded', 'failed': True, 'child_pid': 1234})
        self.assertTrue(f['finished'])
        self.assertTrue(f['timed_out'])

    def test_timeout_result_failed_int(self):
        self.assertTrue(self.parse({'msg': 'Timeout exceeded', 'failed': 1, 'child_pid': 9})['timed_out'])

    def test_cancel_marker(self):
        f = self.parse({'failed': 1, 'finished': 1, 'cancelled': 1, 'msg': probe.CANCEL_MSG})
        self.assertTrue(f['finished'])
        self.assertTrue(f['cancelled'])
        self.assertFalse(f['timed_out'])

    def test_wrapper_failure_result(self):
        f = self.parse({'failed': 1, 'cmd': 'x', 'data': '', 'stderr': '', 'msg': 'Traceback',
                        'ansible_job_id': 'j1.2'})
        self.assertTrue(f['finished'])

    def test_invalid_json(self):
        with self.assertRaises(ValueError):
            probe.parse_job_text('{"started": 1, "fini')

    def test_empty(self):
        with self.assertRaises(ValueError):
            probe.parse_job_text('  \n')

    def test_not_an_object(self):
        with self.assertRaises(ValueError):
            probe.parse_job_text('[1, 2]')

    def test_bytes(self):
        data, flags = probe.parse_job_text(b'{"started": 1, "finished": 1}')
        self.assertTrue(flags['finished'])


class ReadJobFileTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.path = os.path.join(self.dir, 'j123.45')

    def tearDown(self):
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)

    def test_missing(self):
        info, parsed, problem = probe.read_job_file(self.path)
        self.assertFalse(info['exists'])
        self.assertIsNone(parsed)
        self.assertIsNone(problem)

    def test_partial_then_bad(self):
        with open(self.path, 'w') as f:
            f.write('{"started": 1, "fin')
        t0 = time.time()
        info, parsed, problem = probe.read_job_file(self.path)
        self.assertGreaterEqual(time.time() - t0, probe.REREAD_PAUSE * 0.9)   # read twice
        self.assertEqual(problem, 'parse')
        self.assertIn('cannot parse job file', info['error'])
        self.assertTrue(info['exists'])

    def test_good(self):
        with open(self.path, 'w') as f:
            f.write('{"started": true, "finished": false}')
        info, parsed, problem = probe.read_job_file(self.path)
        self.assertIsNone(problem)
        self.assertFalse(parsed[1]['finished'])
        self.assertIsNotNone(info['mtime'])

    def test_directory(self):
        info, parsed, problem = probe.read_job_file(self.dir)
        self.assertEqual(problem, 'io')

    def test_atomic_write(self):
        with open(self.path, 'w') as f:
            f.write('{"started": 1, "finished": 0}')
        probe.write_job_file_atomic(self.path, {'finished': 1, 'failed': 1})
        self.assertEqual(os.listdir(self.dir), ['j123.45'])
        with open(self.path) as f:
            self.assertEqual(json.load(f), {'finished': 1, 'failed': 1})


class JidTest(unittest.TestCase):
    def test_token(self):
        self.assertEqual(probe.jid_token('j389284354218.19838'), 'j389284354218')
        self.assertEqual(probe.jid_token('585084411675.1234'), '585084411675')
        self.assertEqual(probe.jid_token('j389284354218'), 'j389284354218')
        self.assertIsNone(probe.jid_token(None))

    def test_wrapper_argv(self):
        argv = ['/usr/bin/python3', '/root/.ansible/tmp/ansible-tmp-1-2-3/async_wrapper.py',
                'j389284354218', '60', '/root/.ansible/tmp/ansible-tmp-1-2-3/AnsiballZ_command.py', '_']
        self.assertEqual(probe.wrapper_jid_token(argv), 'j389284354218')
        self.assertIsNone(probe.wrapper_jid_token(['grep', 'j389284354218']))
        self.assertIsNone(probe.wrapper_jid_token(['sleep', '30']))
        self.assertIsNone(probe.wrapper_jid_token(['x/async_wrapper.py']))

    def test_exact_not_substring(self):
        argv = ['python3', 'async_wrapper.py', 'j123456789', '60', 'm.py', '_']
        self.assertNotEqual(probe.wrapper_jid_token(argv), probe.jid_token('j12345.1'))
        self.assertEqual(probe.wrapper_jid_token(argv), probe.jid_token('j123456789.1'))


class TruncateTest(unittest.TestCase):
    def test_short_untouched(self):
        out, cut = probe.truncate_result({'stdout': 'abc', 'rc': 0}, 10)
        self.assertEqual(out['stdout'], 'abc')
        self.assertFalse(cut)
        self.assertNotIn('truncated', out)

    def test_keeps_tail(self):
        out, cut = probe.truncate_result({'stdout': '0123456789', 'stderr': 'x'}, 4)
        self.assertEqual(out['stdout'], '6789')
        self.assertEqual(out['stderr'], 'x')
        self.assertTrue(cut)
        self.assertIs(out['truncated'], True)

    def test_multibyte_boundary(self):
        text, cut = probe.tail_text(u'a\u00e9\u00e9', 3)   # 1 + 2 + 2 bytes
        self.assertTrue(cut)
        self.assertEqual(text, u'\u00e9')

    def test_lines(self):
        out, cut = probe.truncate_result({'stdout_lines': ['aaaa', 'bbbb', 'cccc']}, 10)
        self.assertEqual(out['stdout_lines'], ['bbbb', 'cccc'])
        self.assertTrue(cut)

    def test_does_not_modify_input(self):
        data = {'stdout': '0123456789'}
        probe.truncate_result(data, 2)
        self.assertEqual(data['stdout'], '0123456789')

    def test_tail_lines_of(self):
        self.assertEqual(probe.tail_lines_of(b'a\nb\nc\n', 2, False), 'b\nc')
        self.assertEqual(probe.tail_lines_of(b'artial\nb\nc', 5, True), 'b\nc')
        self.assertEqual(probe.tail_lines_of(b'a\nb', 0, False), '')


class StatTest(unittest.TestCase):
    def test_parse_with_spaces_and_parens(self):
        line = ('4242 (we (ird) name) S 1 4240 4239 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 '
                '123456 1000 10 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0')
        st = probe.parse_stat_line(line)
        self.assertEqual(st['pid'], 4242)
        self.assertEqual(st['comm'], 'we (ird) name')
        self.assertEqual((st['state'], st['ppid'], st['pgid'], st['sid']), ('S', 1, 4240, 4239))
        self.assertEqual(st['starttime'], 123456)

    def test_parse_own_stat(self):
        if not os.path.exists('/proc/self/stat'):
            self.skipTest('no /proc')
        with open('/proc/self/stat', 'rb') as f:
            st = probe.parse_stat_line(f.read())
        self.assertEqual(st['pid'], os.getpid())
        self.assertEqual(st['sid'], os.getsid(0))


class IncarnationTest(unittest.TestCase):
    cur = {'boot_id': 'b1', 'boot_time': 1000.0, 'pid1_start': 1005.0}

    def test_same(self):
        self.assertEqual(probe.evaluate_restart(self.cur, dict(self.cur, pid1_start=1005.6), None, False),
                         (False, []))

    def test_boot_id_changed(self):
        restarted, ev = probe.evaluate_restart(self.cur, dict(self.cur, boot_id='b0'), None, False)
        self.assertTrue(restarted)
        self.assertIn('boot_id', ev[0])

    def test_pid1_changed(self):
        restarted, ev = probe.evaluate_restart(self.cur, dict(self.cur, pid1_start=900.0), None, False)
        self.assertTrue(restarted)

    def test_mtime_before_pid1_start_unfinished(self):
        self.assertTrue(probe.evaluate_restart(self.cur, None, 1002.0, False)[0])

    def test_mtime_before_pid1_start_finished_is_not_evidence(self):
        self.assertIsNone(probe.evaluate_restart(self.cur, None, 1002.0, True)[0])

    def test_mtime_after(self):
        self.assertIs(probe.evaluate_restart(self.cur, None, 2000.0, False)[0], False)

    def test_unknown(self):
        self.assertIsNone(probe.evaluate_restart(None, self.cur, 1.0, False)[0])
        self.assertIsNone(probe.evaluate_restart(self.cur, None, None, False)[0])

    def test_normalize(self):
        self.assertEqual(probe.normalize_incarnation({'boot_id': 'x', 'pid1_start': '12.5', 'extra': 1}),
                         {'boot_id': 'x', 'boot_time': None, 'pid1_start': 12.5})
        with self.assertRaises(ValueError):
            probe.normalize_incarnation({'pid1_start': 'soon'})


class MountinfoTest(unittest.TestCase):
    def test_hidepid(self):
        text = ('22 28 0:20 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc '
                'rw,hidepid=2,gid=27\n')
        self.assertEqual(probe.hidepid_from_mountinfo(text), ('2', 27))

    def test_plain(self):
        text = '22 28 0:20 / /proc rw,relatime - proc proc rw\n'
        self.assertEqual(probe.hidepid_from_mountinfo(text), (None, None))

    def test_invisible_newer_kernels(self):
        text = '22 28 0:20 / /proc rw,relatime - proc proc rw,hidepid=invisible\n'
        self.assertEqual(probe.hidepid_from_mountinfo(text)[0], 'invisible')


class ValidateTest(unittest.TestCase):
    base = {'jid': None, 'results_file': None, 'claim_token': None, 'session_id': None,
            'host_incarnation': None, 'action': 'probe', 'tail_lines': 20, 'max_output': 65536,
            'output_files': None, 'cancel_grace': 5}

    def check(self, **kw):
        return probe.validate(dict(self.base, **kw))

    def test_requires_identity(self):
        with self.assertRaises(probe.ProbeError):
            self.check()

    def test_bad_jid(self):
        with self.assertRaises(probe.ProbeError) as ctx:
            self.check(jid='../etc/passwd')
        self.assertIn('jid', ctx.exception.msg)

    def test_relative_results_file(self):
        with self.assertRaises(probe.ProbeError) as ctx:
            self.check(results_file='rel/j1.2')
        self.assertIn('results_file', ctx.exception.msg)

    def test_negative(self):
        with self.assertRaises(probe.ProbeError) as ctx:
            self.check(jid='j1.2', tail_lines=-1)
        self.assertIn('tail_lines', ctx.exception.msg)

    def test_bad_incarnation(self):
        with self.assertRaises(probe.ProbeError) as ctx:
            self.check(jid='j1.2', host_incarnation={'boot_time': 'x'})
        self.assertIn('host_incarnation.boot_time', ctx.exception.msg)

    def test_ok(self):
        p = self.check(jid=' j1.2 ')
        self.assertEqual(p['jid'], 'j1.2')


if __name__ == '__main__':
    unittest.main()
