#!/usr/bin/env bash
# Container scenario for async_job_probe: a job in a podman managed host, then
# `podman kill` + `podman start` (crash simulation). The job's processes are gone, the job
# file survives, PID 1 started again: the probe must say gone + restarted, and must not
# reuse the old session id. Uses scripts/hosts.sh with its own prefix and removes it.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
prefix=lrtprobe$$
inv=$PROBE_TMP/container-$$.ini
trap '"$repo/scripts/hosts.sh" down "$prefix" >/dev/null 2>&1 || true' EXIT
"$repo/scripts/hosts.sh" up "$prefix" 1 "$inv"
ansible-playbook -i "$inv" -e "probe_host=$prefix-1 repo=$repo" "$here/container_restart.yml"
