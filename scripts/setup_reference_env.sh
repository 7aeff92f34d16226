#!/usr/bin/env bash
# Create (or reuse) .venv-e2cnn/: a SEPARATE environment holding the reference library e2cnn, used
# only by the benchmarks (through benchmarks/reference.py, in a subprocess). e2cnn is never a
# dependency of e2compile and is never installed into .venv/.
#
# Idempotent: a second run only checks the stamp (and, with --check, re-runs the smoke test).
#
# e2cnn 0.2.3 (2021) predates NumPy 1.24 (it still uses `np.float`, removed in 1.24), so NumPy is
# pinned to the last 1.23 release (it has Python 3.11 wheels) and SciPy to 1.10.1, the last release
# built for NumPy 1.23 that also has 3.11 wheels; SymPy is the version torch 2.13 requires. torch
# is installed FIRST, pinned to the CPU wheel (found via pip's find-links), so nothing pulls a CUDA
# build. e2cnn 0.2.3 also trips over torch 2's refusal of uint8 masks in one
# place; benchmarks/reference.py applies a small shim in the reference process (see there), so
# always go through it rather than importing e2cnn by hand.
#
# Usage: bash scripts/setup_reference_env.sh [--check]
#   PYTHON=python3.11   interpreter to create the venv with (default: python3)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$here/.venv-e2cnn"
python="${PYTHON:-python3}"
stamp="$venv/.e2c-reference-stamp"

# Pinned versions known to make e2cnn 0.2.3 import and run (see benchmarks/README.md).
TORCH="torch==2.13.0"
PINS=(
    "numpy==1.23.5"
    "scipy==1.10.1"
    "sympy==1.14.0"
    "e2cnn==0.2.3"
)
want="$(printf '%s\n' "$TORCH" "${PINS[@]}" | sha256sum | cut -c1-16)"

smoke_test() {
    # Build and run R2Conv (C8 and D4 regular->regular, k=5) there, checking equivariance.
    # benchmarks/reference.py uses the standard library only; the venv's python runs it fine.
    E2C_REFERENCE_PYTHON="$venv/bin/python" "$venv/bin/python" "$here/benchmarks/reference.py" \
        --smoke-test
}

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    if [ "${1:-}" = "--check" ]; then
        smoke_test
    fi
    exit 0
fi
pip=("$venv/bin/python" -m pip -q --disable-pip-version-check)
# torch first, pinned to the CPU wheel, so nothing pulls a multi-GB CUDA build.
"${pip[@]}" install --no-warn-script-location "$TORCH"
# The rest, with torch held at the version just installed.
"${pip[@]}" install --no-warn-script-location "${PINS[@]}" "$TORCH"
smoke_test
echo "$want" > "$stamp"
