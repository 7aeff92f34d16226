"""Generate ``tests/data/e2cnn_disentangle.json``: e2cnn 0.2.3's ``disentangle`` of restricted
regular representations (number, size and irreps of the blocks), for
``tests/runtime/test_dropin_api.py``. Run once in our environment (the reference runs in
``.venv-e2cnn`` through ``benchmarks/reference.py``)::

    .venv/bin/python scripts/make_e2cnn_disentangle.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from reference import _PRELUDE, run_reference  # noqa: E402

#: (group kind, N, subgroup id) of the parent group whose regular representation is restricted
CASES = [
    ["C", 8, 4], ["C", 8, 2], ["C", 6, 3], ["C", 6, 2], ["C", 12, 4], ["C", 12, 6], ["C", 9, 3],
    ["C", 8, 1], ["C", 4, 2], ["D", 4, [None, 4]], ["D", 4, [None, 2]], ["D", 4, [None, 1]],
    ["D", 8, [None, 2]], ["D", 8, [None, 4]], ["D", 6, [None, 3]], ["D", 3, [None, 1]],
    ["D", 4, [0, 2]], ["D", 8, [0, 4]], ["D", 8, [0, 2]], ["D", 6, [0, 3]], ["D", 6, [0, 2]],
    ["D", 6, [1, 3]], ["D", 4, [0, 1]], ["D", 3, [0, 1]], ["D", 5, [0, 1]], ["D", 4, [1, 2]],
    ["D", 4, [1, 1]],
]  # fmt: skip

BODY = r"""
from e2cnn.group import cyclic_group, dihedral_group, disentangle
out = []
for kind, n, sid in ARGS["cases"]:
    G = cyclic_group(n) if kind == "C" else dihedral_group(n)
    sid = tuple(sid) if isinstance(sid, list) else sid
    _, reprs = disentangle(G.restrict_representation(sid, G.regular_representation))
    out.append({"case": [kind, n, sid], "blocks": [[r.size, list(r.irreps)] for r in reprs]})
print(json.dumps({"versions": versions(), "results": out}))
"""


def main() -> int:
    args = json.dumps(json.dumps({"cases": CASES}))
    result = run_reference(f"{_PRELUDE}\nARGS = json.loads({args})\n{BODY}")
    path = ROOT / "tests" / "data" / "e2cnn_disentangle.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
