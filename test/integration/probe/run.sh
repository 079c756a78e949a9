#!/usr/bin/env bash
# Integration tests of rstyczynski.ansible.async_job_probe against real async jobs.
#
#   bash test/integration/probe/run.sh [PATTERN]
#
# Runs every test_*.yml here (or those whose name contains PATTERN) with ansible-playbook
# on localhost (ansible_connection=local), then race_probe.py (in-process race against
# the real /proc), then the container scenario (restart detection) when podman and the
# image localhost/lrt-target are available; PROBE_CONTAINER=0 skips it, PROBE_CONTAINER=1
# makes a missing image a failure. Prints "probe: N passed, M failed"; exits non-zero on
# any failure. Logs: $PROBE_LOG_DIR (default a temp dir, kept on failure).
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
pattern=${1:-}

export ANSIBLE_COLLECTIONS_PATH=$repo/ansible_collection/collections
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ANSIBLE_RETRY_FILES_ENABLED=0
export ANSIBLE_LOCALHOST_WARNING=0 ANSIBLE_INVENTORY_UNPARSED_WARNING=0
export ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3
PROBE_TMP=$(mktemp -d "${TMPDIR:-/tmp}/probe-it.XXXXXX")
export PROBE_TMP
logs=${PROBE_LOG_DIR:-$PROBE_TMP/logs}
mkdir -p "$logs"

python=/usr/bin/python3
[[ -x $python ]] || python=python3

passed=0
failed=0
failures=()

record() { # name rc seconds
  if [[ $2 == 0 ]]; then
    passed=$((passed + 1))
    printf 'ok    %-28s %3ss\n' "$1" "$3"
  else
    failed=$((failed + 1))
    failures+=("$1")
    printf 'FAIL  %-28s %3ss  (log: %s/%s.log)\n' "$1" "$3" "$logs" "$1"
  fi
}

run_case() { # name command...
  local name=$1 start rc
  shift
  start=$SECONDS
  "$@" >"$logs/$name.log" 2>&1
  rc=$?
  # No warning is provoked here: any [WARNING] or [DEPRECATION WARNING] fails the case.
  if ((rc == 0)) && grep -E '^\s*\[(DEPRECATION )?WARNING\]' "$logs/$name.log"; then
    echo "      (ansible warned: see above)"
    rc=1
  fi
  record "$name" "$rc" $((SECONDS - start))
  if [[ $rc != 0 ]]; then
    grep -E -A25 '^(fatal|failed):' "$logs/$name.log" | head -60 | sed 's/^/      /'
  fi
}

for pb in "$here"/test_*.yml; do
  name=$(basename "$pb" .yml)
  [[ -z $pattern || $name == *"$pattern"* ]] || continue
  run_case "$name" ansible-playbook -i "$here/inventory.ini" "$pb"
done

if [[ -z $pattern || race == *"$pattern"* ]]; then
  run_case race_probe "$python" "$here/race_probe.py" "${PROBE_RACE_ROUNDS:-200}"
  tail -1 "$logs/race_probe.log" | sed 's/^/      /'
fi

if [[ -z $pattern || container == *"$pattern"* ]]; then
  if [[ ${PROBE_CONTAINER:-auto} == 0 ]]; then
    echo "skip  container (PROBE_CONTAINER=0)"
  elif command -v podman >/dev/null && podman image exists localhost/lrt-target 2>/dev/null; then
    run_case container_restart bash "$here/container.sh"
  elif [[ ${PROBE_CONTAINER:-auto} == 1 ]]; then
    record container_restart 1 0
    echo "      podman or localhost/lrt-target missing" | tee "$logs/container_restart.log"
  else
    echo "skip  container (no podman image localhost/lrt-target)"
  fi
fi

echo "probe: $passed passed, $failed failed"
if ((failed)); then
  echo "probe: failed: ${failures[*]} (logs kept in $logs)"
  exit 1
fi
[[ -n ${PROBE_LOG_DIR:-} ]] || rm -rf "$PROBE_TMP"
exit 0
