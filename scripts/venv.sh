#!/usr/bin/env bash
# Create or refresh one pinned Python venv under .cache/venv/NAME.
#   scripts/venv.sh NAME            install scripts/python/NAME.txt, constrained by NAME.lock
#   scripts/venv.sh NAME --relock   reinstall from NAME.txt alone and rewrite NAME.lock
# Idempotent: a venv whose stamp matches the two files is left alone (a warm run is instant).
# Each venv has its interpreter (ansible-core 2.20+ needs Python >= 3.12 on the controller).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
name=${1:?usage: scripts/venv.sh NAME [--relock]}
spec=$repo/scripts/python/$name.txt
lock=$repo/scripts/python/$name.lock
venv=$repo/.cache/venv/$name
[[ -f $spec ]] || { echo "venv: no $spec" >&2; exit 2; }

case $name in
  ansible-2.19) want=3.11 ;;
  *) want=3.12 ;;
esac
python=
for p in "/root/.pyenv/versions/$want".*/bin/python$want "$(command -v "python$want" || true)"; do
  [[ -n $p && -x $p ]] && { python=$p; break; }
done
[[ -n $python ]] || { echo "venv: $name needs Python $want (pyenv or python$want on PATH); none found" >&2; exit 1; }

stamp=$venv/.lrt-stamp
want_stamp=$({ cat "$spec"; cat "$lock" 2>/dev/null || true; } | sha256sum | cut -d' ' -f1)
if [[ ${2:-} != --relock && -f $stamp && $(<"$stamp") == "$want_stamp" ]]; then
  exit 0
fi

echo "venv: $name ($python)"
rm -rf "$venv"
"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-warn-script-location)
if [[ ${2:-} == --relock ]]; then
  "${pip[@]}" -r "$spec"
  { echo "# pip freeze of the $name venv: every transitive version, used as a constraints file (pip -c)."
    echo "# Regenerate: scripts/venv.sh $name --relock"
    "$venv/bin/python" -m pip freeze --disable-pip-version-check; } >"$lock"
  want_stamp=$(cat "$spec" "$lock" | sha256sum | cut -d' ' -f1)
else
  "${pip[@]}" -r "$spec" -c "$lock" 2>&1 | { grep -v "^WARNING: Location 'file:" || true; }
fi
echo "$want_stamp" >"$stamp"
