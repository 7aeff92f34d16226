#!/usr/bin/env bash
# Set up (or reuse) the environment, then run the main job.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec .venv/bin/python scripts/main_job.py "$@"
