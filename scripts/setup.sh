#!/usr/bin/env bash
# Create (or reuse) the repo's virtual environment and install pinned dependencies.
# Idempotent: a second run only checks that everything is in place.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$here/.venv"
python="${PYTHON:-python3}"
stamp="$venv/.e2c-setup-stamp"
want="$(cat "$here/pyproject.toml" "$here/scripts/requirements.txt" | sha256sum | cut -c1-16)"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
pip=("$venv/bin/python" -m pip -q --disable-pip-version-check)
# torch first, pinned to the CPU wheel, so nothing pulls a multi-GB CUDA build.
install() {
    # this machine's pip config names find-links folders that may not exist: drop that noise
    "${pip[@]}" install "$@" 2>&1 | { grep -v "^WARNING: Location '.*' is ignored" || true; }
}
install "torch==2.13.0"
install -r "$here/scripts/requirements.txt"
install --no-deps -e "$here"
echo "$want" > "$stamp"
