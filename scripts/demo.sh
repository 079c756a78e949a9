#!/usr/bin/env bash
# make demo: the four scenarios of ansible_collection/long_running_flow.yml on three local
# podman hosts with the default filesystem store, then a per-host summary of the ledger.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo/ansible_collection"
export ANSIBLE_COLLECTIONS_PATH=$repo/ansible_collection/collections ANSIBLE_NOCOLOR=${ANSIBLE_NOCOLOR:-1}
[[ -n ${CONTAINERS_CONF:-} ]] || eval "$("$repo/scripts/podman-env.sh")"
store=$repo/ansible_collection/.ansible_async_state
inv=inventory/podman.ini

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
cleanup() { "$repo/scripts/hosts.sh" down lrt-demo >/dev/null 2>&1 || true; }
trap cleanup EXIT

say "Creating 3 managed hosts (podman containers lrt-demo-1..3)"
"$repo/scripts/hosts.sh" up lrt-demo 3 "$repo/.cache/demo-inventory.ini" >/dev/null
rm -rf "$store" # a fresh ledger for the demo (the default store: <playbook_dir>/.ansible_async_state)

say "Scenario 1: the controller waits for the result"
ansible-playbook -i "$inv" long_running_flow.yml --tags wait

say "Scenario 2: the controller launches a 12 s job and exits"
ansible-playbook -i "$inv" long_running_flow.yml --tags start -e flow_job_seconds=12

say "Scenario 3: a separate ansible-playbook run resumes (the job still runs)"
ansible-playbook -i "$inv" long_running_flow.yml --tags resume -e flow_expect=running

say "Scenario 3: ... and resumes again once it is done"
sleep 12
ansible-playbook -i "$inv" long_running_flow.yml --tags resume -e flow_expect=succeeded

say "Scenario 4: a host crashes during the job"
ansible-playbook -i "$inv" long_running_flow.yml --tags crash

say "The job ledger ($store)"
node "$repo/dist/ansible-jobs.cjs" list --store "$store"
