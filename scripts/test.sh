#!/usr/bin/env bash
# Set up (or reuse) the environment, lint, and run the whole test suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
# pytest exits 5 when it collected no tests: that is a failure here too.
.venv/bin/python -m pytest -q -n 2 -p no:cacheprovider "$@"
