#!/usr/bin/env bash
# Set up (or reuse) the environment, lint, and run the whole test suite; with no arguments, also
# run the compiler and store tests again under NumPy 2 (scripts/test_numpy2.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
# pytest exits 5 when it collected no tests: that is a failure here too.
.venv/bin/python -m pytest -q -n 2 -p no:cacheprovider "$@"
if [ $# -eq 0 ]; then
    bash scripts/test_numpy2.sh tests/e2compile tests/cache
fi
