#!/usr/bin/env bash
# Install the Debian packages the build, tests and managed hosts need.
# Idempotent: apt is only touched when a package is missing, so a warm run is instant.
# Usage: scripts/provision.sh
set -euo pipefail

# ansible: ansible-core 2.14, the floor of the version matrix, with its community collections.
# The newer lines, the linters, Ara and moto come pinned from PyPI (scripts/venv.sh).
# chromium: the browser the dashboard tests drive (playwright-core, never a downloaded browser).
packages=(
  ansible podman runc catatonit debootstrap openssh-client chromium
)

missing=()
for p in "${packages[@]}"; do
  # dpkg-query exits non-zero for unknown packages; treat that as missing too.
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ $status == installed ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "provision: all ${#packages[@]} packages present"
  exit 0
fi

echo "provision: installing ${missing[*]}"
sudo=()
((EUID == 0)) || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
