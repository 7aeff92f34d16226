"""Parameter counts against the reference library's measurements (tests/data/basis_dims.json).

A count is the number of basis elements of the block between one input and one output field,
i.e. ``R2Conv(FieldType(g, [in]), FieldType(g, [out]), k).weights.numel()`` in e2cnn 0.2.3.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from e2compile import gspaces
from e2compile.compiler import compile
from e2compile.kernels.kind import kernel_spec

TABLE = json.loads((Path(__file__).parents[1] / "data" / "basis_dims.json").read_text())

GSPACES = {
    "C4": lambda: gspaces.Rot2dOnR2(4),
    "C8": lambda: gspaces.Rot2dOnR2(8),
    "C16": lambda: gspaces.Rot2dOnR2(16),
    "D4": lambda: gspaces.FlipRot2dOnR2(4),
    "D8": lambda: gspaces.FlipRot2dOnR2(8),
    "SO2_maxf10": lambda: gspaces.Rot2dOnR2(-1, maximum_frequency=10),
    "O2_maxf10": lambda: gspaces.FlipRot2dOnR2(-1, maximum_frequency=10),
}


def _repr(gspace, name):
    if name == "trivial":
        return gspace.trivial_repr
    if name == "regular":
        return gspace.regular_repr
    if name == "irrep1":
        flips = gspace.family == "fliprot2d"
        return gspace.irrep(1, 1) if flips else gspace.irrep(1)
    raise KeyError(name)


def _cells():
    for group, rows in TABLE["groups"].items():
        for pair, counts in rows.items():
            if pair == "repr_sizes" or counts is None:
                continue
            for k, count in counts.items():
                yield pytest.param(group, pair, int(k), count, id=f"{group}-{pair}-{k}")


CELLS = list(_cells())


def test_table_is_complete():
    assert len(CELLS) == 5 * 5 * 3 + 2 * 3 * 3


@pytest.mark.parametrize("group, pair, kernel_size, expected", CELLS)
def test_parameter_count_matches_reference(group, pair, kernel_size, expected):
    gspace = GSPACES[group]()
    a, b = pair.split("->")
    in_repr, out_repr = _repr(gspace, a), _repr(gspace, b)
    sizes = TABLE["groups"][group]["repr_sizes"]
    for name, rep in ((a, in_repr), (b, out_repr)):
        assert rep.size == sizes.get(name, 1)
    artifact = compile(kernel_spec(gspace, in_repr, out_repr, kernel_size))
    assert artifact.dim == expected
