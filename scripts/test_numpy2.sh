#!/usr/bin/env bash
# Run the suite again with NumPy 2 layered over the repo's environment.
# The environment pins NumPy 1.26 because the e2cnn reference test files (run against this
# package by its drop-in check) call NumPy-1-only APIs; users mostly install NumPy 2, and
# pyproject allows both. NumPy 2 goes into .venv/numpy2 (a --target folder placed first on
# PYTHONPATH), so nothing in .venv changes. Arguments are passed to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
want="numpy==2.4.6"
target=.venv/numpy2
if [ "$(cat "$target/.e2c-stamp" 2>/dev/null)" != "$want" ]; then
    rm -rf "$target"
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --target "$target" "$want" \
        2>&1 | { grep -v "^WARNING: Location '.*' is ignored" || true; }
    echo "$want" > "$target/.e2c-stamp"
fi
export PYTHONPATH="$PWD/$target:$PWD${PYTHONPATH:+:$PYTHONPATH}"
.venv/bin/python -c "import numpy, sys; v = numpy.__version__; print('NumPy', v); sys.exit(v[0] != '2')"
exec .venv/bin/python -m pytest -q -n 2 -p no:cacheprovider "$@"
