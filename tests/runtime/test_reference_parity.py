"""R2Conv parameter counts against e2cnn 0.2.3 on the 182 layers of reference_param_counts.json.

The table was measured with the reference library in its own environment
(``python benchmarks/reference.py --dump-param-counts``); this test only reads it.

* Undilated layers must have exactly the reference's weight and bias counts, and the layers the
  reference refuses (empty basis) must be refused here too.
* Dilated layers deliberately differ (docs/conventions.md, "Do not copy"): the reference evaluates
  the frequency cutoff on dilated radii, which lets outer rings alias. We evaluate it in grid
  units, so a dilated layer has exactly the basis of the undilated layer with rings divided by the
  dilation — never more than the reference.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from e2compile import gspaces
from runtime import nn

TABLE = json.loads((Path(__file__).parents[1] / "data" / "reference_param_counts.json").read_text())
CASES = TABLE["cases"]


def _gspace(case: dict[str, Any]) -> Any:
    axis = {} if case["axis"] is None else {"axis": case["axis"]}
    if case["gspace"] == "Rot2dOnR2":
        return gspaces.Rot2dOnR2(case["N"], maximum_frequency=case["maximum_frequency"])
    if case["gspace"] == "FlipRot2dOnR2":
        return gspaces.FlipRot2dOnR2(case["N"], maximum_frequency=case["maximum_frequency"], **axis)
    if case["gspace"] == "Flip2dOnR2":
        return gspaces.Flip2dOnR2(**axis)
    assert case["gspace"] == "TrivialOnR2", case["gspace"]
    return gspaces.TrivialOnR2()


def _representation(space: Any, name: str) -> Any:
    group = space.fibergroup
    if name == "regular":
        return group.regular_representation
    if name.startswith("quotient["):
        return group.quotient_representation(ast.literal_eval(name[len("quotient[") : -1]))
    return group.irreps[name]


def _conv(case: dict[str, Any], **overrides: Any) -> nn.R2Conv:
    space = _gspace(case)
    in_type = nn.FieldType(space, [_representation(space, n) for n in case["in"]])
    out_type = nn.FieldType(space, [_representation(space, n) for n in case["out"]])
    options = {
        k: case[k]
        for k in ("sigma", "rings", "frequencies_cutoff", "maximum_offset")
        if case[k] is not None
    }
    options.update(overrides)
    return nn.R2Conv(
        in_type,
        out_type,
        case["kernel_size"],
        dilation=case["dilation"],
        initialize=False,
        **options,
    )


def _counts(conv: nn.R2Conv) -> tuple[int, int]:
    return conv.weights.numel(), 0 if conv.bias is None else conv.bias.numel()


def _label(entry: dict[str, Any]) -> str:
    c = entry["case"]
    fields = f"{'+'.join(c['in'])}->{'+'.join(c['out'])}"
    return f"{c['group']}-{fields}-k{c['kernel_size']}-d{c['dilation']}"


UNDILATED = [e for e in CASES if e["case"]["dilation"] == 1]
DILATED = [e for e in CASES if e["case"]["dilation"] > 1 and "error" not in e]


def test_table_covers_many_layers():
    assert len(UNDILATED) > 100 and len(DILATED) >= 10


@pytest.mark.parametrize("entry", UNDILATED, ids=_label)
def test_undilated_layers_match_the_reference(entry):
    if "error" in entry:
        with pytest.raises(ValueError, match="empty"):
            _conv(entry["case"])
    else:
        assert _counts(_conv(entry["case"])) == (entry["weights"], entry["bias"])


@pytest.mark.parametrize("entry", DILATED, ids=_label)
def test_dilated_layers_keep_the_undilated_basis(entry):
    case = entry["case"]
    d = case["dilation"]
    ours = _counts(_conv(case))
    rings = None if case["rings"] is None else [r / d for r in case["rings"]]
    undilated = _counts(_conv({**case, "dilation": 1, "rings": rings}))
    assert ours == undilated
    assert ours[0] <= entry["weights"] and ours[1] == entry["bias"]
