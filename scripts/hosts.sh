#!/usr/bin/env bash
# Create and remove podman containers that serve as Ansible managed hosts.
#   hosts.sh up PREFIX N INVENTORY       PREFIX-1..N, podman connection, group "targets"
#   hosts.sh down PREFIX                 remove PREFIX and PREFIX-<digits> (harness ones only)
#   hosts.sh ssh-up NAME PORT INVENTORY  sshd on 127.0.0.1:PORT (host network), group "ssh_targets"
#   hosts.sh ssh-stop NAME | ssh-start NAME
#   hosts.sh kill NAME | start NAME      crash simulation (SIGKILL, then start again)
# Environment: LRT_STATE_DIR (default REPO/.cache), LRT_IMAGE, LRT_PARALLEL (default 4).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=${LRT_STATE_DIR:-$repo/.cache}
image=${LRT_IMAGE:-localhost/lrt-target:latest}
key=$state/ssh/id_ed25519
label=lrt.harness=1 # marks our containers so "down" never touches foreign ones
# Runtime and ulimits come from the generated containers.conf, not from flags.
[[ -n ${CONTAINERS_CONF:-} ]] || eval "$("$repo/scripts/podman-env.sh")"
export CONTAINERS_CONF

die() { echo "hosts.sh: $*" >&2; exit 1; }
check_name() { [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || die "bad name: $1"; }

ensure_image() {
  podman image exists "$image" || "$repo/scripts/build-image.sh" >&2
}

# Write a file atomically so a reader never sees half an inventory.
write_file() {
  mkdir -p "$(dirname "$1")"
  cat >"$1.tmp.$$"
  mv -f "$1.tmp.$$" "$1"
}

# Start NAME if it exists (no-op when running), otherwise run it with the given args.
ensure_container() {
  local name=$1 mark
  shift
  if mark=$(podman container inspect -f '{{index .Config.Labels "lrt.harness"}}' "$name" 2>/dev/null); then
    [[ $mark == 1 ]] || die "$name exists but was not made by this harness"
    podman start "$name" >/dev/null
  else
    podman run -d --name "$name" --label "$label" --init "$@" >/dev/null
  fi
}

cmd_up() {
  local prefix=$1 n=$2 inv=$3 i
  check_name "$prefix"
  [[ $n =~ ^[0-9]+$ ]] || die "bad count: $n"
  ensure_image
  # Skip hosts already running (one podman call), then create or start the rest.
  # podman run takes ~0.1 s; a few in parallel roughly halve the wall time.
  local running
  running=" $(podman ps --filter "label=$label" --format '{{.Names}}' | tr '\n' ' ') "
  for ((i = 1; i <= n; i++)); do
    [[ $running == *" $prefix-$i "* ]] || echo "$prefix-$i"
  done | xargs -r -P "${LRT_PARALLEL:-4}" -I{} "$BASH" "$0" _target {}
  {
    echo "[targets]"
    for ((i = 1; i <= n; i++)); do
      echo "$prefix-$i ansible_connection=containers.podman.podman ansible_python_interpreter=/usr/bin/python3"
    done
  } | write_file "$inv"
}

cmd_target() {
  ensure_container "$1" --network none "$image" sleep infinity
}

cmd_down() {
  local prefix=$1 name names=()
  check_name "$prefix"
  while read -r name; do
    if [[ $name == "$prefix" || ($name == "$prefix"-* && ${name#"$prefix"-} =~ ^[0-9]+$) ]]; then
      names+=("$name")
    fi
  done < <(podman ps -a --filter "label=$label" --format '{{.Names}}')
  ((${#names[@]} == 0)) || podman rm -f -t 0 "${names[@]}" >/dev/null
  echo "hosts.sh: removed ${#names[@]} container(s)"
}

# Succeeds once sshd accepts our key; fails early if the container died.
wait_ssh() {
  local name=$1 port
  port=$(podman inspect -f '{{index .Config.Labels "lrt.ssh.port"}}' "$name")
  for _ in $(seq 1 50); do
    if ssh -q -i "$key" -p "$port" -o BatchMode=yes -o ConnectTimeout=2 \
      -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
      root@127.0.0.1 true 2>/dev/null; then
      return 0
    fi
    [[ $(podman inspect -f '{{.State.Running}}' "$name") == true ]] || break
    sleep 0.2
  done
  podman logs --tail 20 "$name" >&2 || true
  die "sshd in $name not answering on 127.0.0.1:$port"
}

cmd_ssh_up() {
  local name=$1 port=$2 inv=$3 conf_dir
  check_name "$name"
  [[ $port =~ ^[0-9]+$ ]] || die "bad port: $port"
  ensure_image
  [[ -f $key ]] || { mkdir -p "${key%/*}"; ssh-keygen -q -t ed25519 -N '' -C lrt-harness -f "$key"; }

  # Own sshd_config (mounted read-only): the shared host network means it must
  # listen on loopback only, and PAM is off because pam_loginuid fails in containers.
  conf_dir=$state/ssh/$name
  mkdir -p "$conf_dir"
  cp "$key.pub" "$conf_dir/authorized_keys"
  write_file "$conf_dir/sshd_config" <<EOF
ListenAddress 127.0.0.1:$port
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AuthorizedKeysFile /etc/ssh/lrt/authorized_keys
Subsystem sftp /usr/lib/openssh/sftp-server
EOF

  # A container made for another port is recreated rather than reused.
  if podman container exists "$name" &&
    [[ $(podman inspect -f '{{index .Config.Labels "lrt.ssh.port"}}' "$name") != "$port" ]]; then
    podman rm -f -t 0 "$name" >/dev/null
  fi
  # sshd is the container's command (under catatonit), so "podman start" brings it back.
  ensure_container "$name" --network host --label "lrt.ssh.port=$port" \
    -v "$conf_dir:/etc/ssh/lrt:ro" "$image" \
    /bin/sh -c 'mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e -f /etc/ssh/lrt/sshd_config'
  wait_ssh "$name"

  write_file "$inv" <<EOF
[ssh_targets]
$name ansible_connection=ssh ansible_host=127.0.0.1 ansible_port=$port ansible_user=root ansible_ssh_private_key_file=$key ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null' ansible_python_interpreter=/usr/bin/python3
EOF
}

cmd_start() {
  podman start "$1" >/dev/null
  # SSH hosts are only usable once sshd answers again.
  [[ -z $(podman inspect -f '{{index .Config.Labels "lrt.ssh.port"}}' "$1") ]] || wait_ssh "$1"
}

usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

case ${1:-} in
up) (($# == 4)) || usage; cmd_up "$2" "$3" "$4" ;;
down) (($# == 2)) || usage; cmd_down "$2" ;;
ssh-up) (($# == 4)) || usage; cmd_ssh_up "$2" "$3" "$4" ;;
ssh-stop) (($# == 2)) || usage; podman stop -t 5 "$2" >/dev/null ;;
ssh-start | start) (($# == 2)) || usage; cmd_start "$2" ;;
kill) (($# == 2)) || usage; podman kill "$2" >/dev/null ;;
_target) cmd_target "$2" ;; # internal: one parallel worker of "up"
*) usage ;;
esac
