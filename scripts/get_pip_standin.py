"""Stand-in for ansible-test's get-pip-<version>.py (ci-files.testing.ansible.com is not
reachable here): installs pip from the pip-<version> wheel saved next to this file
(`pip download --no-deps pip==<version>`). The version comes from this file's name."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VERSION = os.path.splitext(os.path.basename(__file__))[0][len('get_pip_'):].replace('_', '.')
WHEEL = os.path.join(HERE, 'pip-%s-py3-none-any.whl' % VERSION)

if __name__ == '__main__':
    args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
    sys.path.insert(0, WHEEL)
    from pip._internal.cli.main import main
    sys.exit(main(['install', '--upgrade', '--force-reinstall'] + args))
