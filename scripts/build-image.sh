#!/usr/bin/env bash
# Build the managed-host image from Debian packages (no registry can be pulled).
# Skips everything when the image exists. Usage: scripts/build-image.sh [--force]
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=${LRT_STATE_DIR:-$repo/.cache}
image=${LRT_IMAGE:-localhost/lrt-target:latest}
mirror=${LRT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
[[ -n ${CONTAINERS_CONF:-} ]] || eval "$("$repo/scripts/podman-env.sh")"

if [[ ${1:-} != --force ]] && podman image exists "$image"; then
  echo "build-image: $image exists"
  exit 0
fi

rootfs=$state/rootfs-$$
mkdir -p "$state"
trap 'rm -rf "$rootfs"' EXIT

echo "build-image: debootstrap into $rootfs"
# python3 for Ansible modules, openssh-server for the SSH-connected host.
debootstrap --variant=minbase --include=python3,openssh-server \
  bookworm "$rootfs" "$mirror" >"$state/debootstrap.log" 2>&1 \
  || { tail -n 20 "$state/debootstrap.log" >&2; exit 1; }

# Host keys baked in so sshd starts without a first-boot step; drop apt caches for size.
chroot "$rootfs" ssh-keygen -A >/dev/null
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*

echo "build-image: importing $image"
tar -C "$rootfs" -c . | podman import -q - "$image" >/dev/null
echo "build-image: done"
