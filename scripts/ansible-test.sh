#!/usr/bin/env bash
# ansible-test of the ansible-core line first on PATH, on the collection tree:
#   scripts/ansible-test.sh sanity [ARGS...]    every sanity test, --venv
#   scripts/ansible-test.sh units [ARGS...]     the Python unit tests (tests/unit), --venv
# --venv makes ansible-test install its own pinned requirements from PyPI. Two things here need help:
# - it bootstraps pip in each venv with a get-pip script downloaded from ci-files.testing.ansible.com,
#   which this machine cannot reach: scripts/get_pip_standin.py takes its place (it installs the
#   same pip version from PyPI's wheel), cached where ansible-test looks for the download;
# - the multi-version tests (compile, import, units) run on every python3.X found on PATH, and
#   pyenv's shims answer "command not found" for versions that are not active: each pyenv version's
#   own bin directory goes on PATH before the shims;
# - ansible-test walks the collection directory (it uses git only when the collection root is a
#   repository root), so it would judge the gitignored bundles too: it runs on a copy of the
#   collection's tracked and new, not ignored, files in a temporary directory instead (outside the
#   repository: inside it, ansible-test skips every target), which is the collection as a clean
#   checkout has it (the tarball test covers the bundles).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
coll=$repo/ansible_collection/collections/ansible_collections/rstyczynski/ansible
what=${1:?usage: scripts/ansible-test.sh sanity|units [ARGS...]}
shift

command -v ansible-test >/dev/null || { echo "ansible-test: not on PATH (make puts the chosen line's bin first)" >&2; exit 1; }
# The pip versions this ansible-test bootstraps (a default, and overrides for old Pythons).
at_dir=$(python3 -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')
pip_versions=$(grep -o "pip='[0-9.]*'" "$at_dir/_internal/python_requirements.py" | cut -d"'" -f2 | sort -u)
cache=$HOME/.ansible/test/cache
mkdir -p "$cache"
for v in $pip_versions; do
  standin=$cache/get_pip_${v//./_}.py
  wheel=$cache/pip-$v-py3-none-any.whl
  # Any Python with pip downloads the wheel (Debian's python3 of the 2.14 line may have none).
  [[ -f $wheel ]] || "$repo/.cache/venv/servers/bin/python" -m pip download --quiet --disable-pip-version-check \
    --no-deps --only-binary :all: -d "$cache" "pip==$v"
  cmp -s "$repo/scripts/get_pip_standin.py" "$standin" 2>/dev/null || cp "$repo/scripts/get_pip_standin.py" "$standin"
done

pyenv_bins=()
for d in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.*/bin; do
  [[ -d $d ]] && pyenv_bins+=("$d")
done
if ((${#pyenv_bins[@]})); then
  first=${PATH%%:*}
  rest=${PATH#*:}
  PATH=$first:$(IFS=:; echo "${pyenv_bins[*]}"):$rest
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lrt-ansible-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
work=$tmp/ansible_collections/rstyczynski/ansible
mkdir -p "$work"
(
  cd "$coll"
  git ls-files -z --cached --others --exclude-standard . |
    while IFS= read -r -d '' f; do [[ -e $f ]] && printf '%s\0' "$f"; done |
    tar --null -T - -cf - | tar -xf - -C "$work"
)

cd "$work"
case $what in
  sanity) ansible-test sanity --venv --color no "$@" ;;
  units) ansible-test units --venv --color no "$@" ;;
  *) echo "scripts/ansible-test.sh: unknown '$what' (sanity or units)" >&2; exit 2 ;;
esac
