"""R2Diffop: equivariance for every discretisation and family (flips included), parity of the
parameter counts with e2cnn 0.2.3 (tests/data/diffop_dims.json, measured with the reference in
its own environment), the module contract shared with R2Conv, and bad arguments.

Equivariance: grid-exact elements (multiples of 90 degrees and the flips) on odd-sized inputs are
exact up to float32 round-off, for fd, rbffd and gauss alike (the reference fails the flips).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from e2compile import gspaces
from runtime import nn
from tests.equivariance import assert_equivariant

TABLE = json.loads((Path(__file__).parents[1] / "data" / "diffop_dims.json").read_text())

SPACES = {
    "C4": lambda: gspaces.Rot2dOnR2(4),
    "C8": lambda: gspaces.Rot2dOnR2(8),
    "SO2": lambda: gspaces.Rot2dOnR2(-1, maximum_frequency=3),
    "D4": lambda: gspaces.FlipRot2dOnR2(4),
    "D2-axis0": lambda: gspaces.FlipRot2dOnR2(2, axis=0.0),
    "O2": lambda: gspaces.FlipRot2dOnR2(-1, maximum_frequency=3),
    "Flip": lambda: gspaces.Flip2dOnR2(),
    "Flip0": lambda: gspaces.Flip2dOnR2(axis=0.0),
    "Trivial": lambda: gspaces.TrivialOnR2(),
}

METHODS = {
    "fd": {},
    "rbffd": {"rbffd": True},
    "gauss": {"smoothing": 1.0},
}


def _types(gs: Any) -> tuple[Any, Any]:
    group = gs.fibergroup
    irreps = list(group.irreps.values())
    if group.order() > 0:
        reps_in = [gs.regular_repr, gs.trivial_repr, irreps[-1]]
        reps_out = [irreps[-1], gs.regular_repr, gs.trivial_repr]
    else:
        reps_in = [irreps[0], irreps[1], irreps[2]]
        reps_out = [irreps[2], irreps[0], irreps[1]]
    return nn.FieldType(gs, reps_in), nn.FieldType(gs, reps_out)


def _scale(module: Any, size: int = 11) -> float:
    x = torch.randn(2, module.in_type.size, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return max(1.0, module(nn.GeometricTensor(x, module.in_type)).tensor.abs().max().item())


@pytest.mark.parametrize(
    "method", ["fd", pytest.param("rbffd", marks=pytest.mark.extra("pdo")), "gauss"]
)
@pytest.mark.parametrize("space", SPACES)
def test_r2diffop_is_equivariant_to_rotations_and_flips(space, method):
    gs = SPACES[space]()
    in_type, out_type = _types(gs)
    layer = nn.R2Diffop(in_type, out_type, kernel_size=5, padding=2, **METHODS[method])
    with torch.no_grad():
        if layer.bias is not None:
            layer.bias.normal_()
    errors = assert_equivariant(layer, atol=1e-5 * _scale(layer), rtol=1e-5)
    flips = [g for g in gs.testing_elements if gs.planar_action(g)[1]]
    if flips:  # the flips were among the checked elements
        assert any(gs.planar_action(g)[1] for g, _ in errors)


# --------------------------------------------------------------------------- parity
def _gspace(spec: list) -> Any:
    if spec[0] == "rot":
        return gspaces.Rot2dOnR2(spec[1], maximum_frequency=spec[2])
    if spec[0] == "fliprot":
        return gspaces.FlipRot2dOnR2(spec[1], maximum_frequency=spec[2])
    if spec[0] == "flip":
        return gspaces.Flip2dOnR2()
    assert spec[0] == "trivial", spec
    return gspaces.TrivialOnR2()


def _field_type(gs: Any, names: list) -> Any:
    reps = []
    for name in names:
        if name == "regular":
            reps.append(gs.regular_repr)
        elif name == "trivial":
            reps.append(gs.trivial_repr)
        else:
            assert name[0] == "irrep", name
            reps.append(gs.irrep(*name[1:]))
    return nn.FieldType(gs, reps)


@pytest.mark.parametrize(
    "case", TABLE["cases"], ids=lambda c: f"{c['gspace']}-{c['in']}-{c['out']}-{c['kwargs']}"
)
def test_parameter_count_and_kernel_size_match_the_reference(case):
    gs = _gspace(case["gspace"])
    layer = nn.R2Diffop(
        _field_type(gs, case["in"]), _field_type(gs, case["out"]), initialize=False,
        **case["kwargs"],
    )  # fmt: skip
    assert layer.kernel_size == case["kernel_size_used"]
    assert layer.weights.numel() == case["n_weights"]


def test_the_table_has_the_62_measured_cases():
    assert len(TABLE["cases"]) == 62 and TABLE["library"] == "e2cnn 0.2.3"


# ------------------------------------------------------------------------- contract
def test_module_contract_is_r2convs():
    gs = gspaces.FlipRot2dOnR2(4)
    in_type, out_type = _types(gs)
    layer = nn.R2Diffop(in_type, out_type, kernel_size=3, padding=1)
    assert isinstance(layer, type(nn.R2Conv(in_type, out_type, 3)).__mro__[1])
    train_keys = set(layer.state_dict())
    assert train_keys == {"weights", "bias"}
    layer.eval()
    assert set(layer.state_dict()) == train_keys and layer.filter is not None
    x = torch.randn(2, in_type.size, 9, 9)
    y = layer(nn.GeometricTensor(x, in_type)).tensor
    plain = layer.export()
    assert isinstance(plain, torch.nn.Conv2d)
    assert torch.allclose(plain(x), y, atol=1e-6)
    assert layer.evaluate_output_shape(x.shape) == tuple(y.shape)
    again = nn.R2Diffop(in_type, out_type, kernel_size=3, padding=1)
    again.load_state_dict(layer.state_dict())
    assert torch.allclose(again.eval()(nn.GeometricTensor(x, in_type)).tensor, y, atol=1e-6)
    assert layer.maximum_order == 2 and "R2Diffop(" in repr(layer)
    import io

    buffer = io.BytesIO()
    torch.save(layer, buffer)  # the whole module pickles (spawn multiprocessing, DDP)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    assert torch.allclose(loaded(nn.GeometricTensor(x, in_type)).tensor, y, atol=1e-6)


def test_basis_filter_sees_pdo_attributes():
    gs = gspaces.Rot2dOnR2(4)
    t = nn.FieldType(gs, [gs.regular_repr])
    full = nn.R2Diffop(t, t, kernel_size=5, initialize=False)
    seen: list = []

    def first_order_only(attr: dict) -> bool:
        seen.append(attr)
        return attr["order"] <= 1

    low = nn.R2Diffop(t, t, kernel_size=5, basis_filter=first_order_only)
    assert 0 < low.weights.numel() < full.weights.numel()
    assert {"order", "power", "frequency", "in_irrep", "out_irrep"} <= set(seen[0])


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(kernel_size=5, accuracy=2, maximum_order=4), "set at most two"),
        (dict(), "kernel_size or maximum_order must be set"),
        (dict(kernel_size=5, rbffd=True, smoothing=1.0), "'smoothing' selects the Gaussian"),
        (dict(kernel_size=5, radial_basis_function="gaussian", rbffd=True), "phi must be one of"),
        (dict(kernel_size=5, smoothing=0.0), "smoothing must be positive"),
        (dict(kernel_size=5, cache="yes"), "'cache' must be one of"),
        (dict(kernel_size=5, maximum_order=5), "maximum_order 5 needs a kernel_size of at least 6"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, pattern):
    gs = gspaces.Rot2dOnR2(4)
    t = nn.FieldType(gs, [gs.regular_repr])
    with pytest.raises(ValueError, match=pattern):
        nn.R2Diffop(t, t, **kwargs)


def test_an_empty_basis_is_refused_naming_what_to_change():
    gs = gspaces.Rot2dOnR2(8)
    # frequency 4 needs order 4: with maximum_order 1 nothing maps trivial to irrep 4
    t_in = nn.FieldType(gs, [gs.trivial_repr])
    t_out = nn.FieldType(gs, [gs.irrep(4)])
    with pytest.raises(ValueError, match="basis .* is empty.*maximum_order"):
        nn.R2Diffop(t_in, t_out, maximum_order=1)


def test_angle_offset_rotates_the_operators():
    gs = gspaces.Rot2dOnR2(-1, maximum_frequency=2)
    t_in = nn.FieldType(gs, [gs.trivial_repr])
    t_out = nn.FieldType(gs, [gs.irrep(1)])
    a = nn.R2Diffop(t_in, t_out, kernel_size=3, initialize=False)
    b = nn.R2Diffop(t_in, t_out, kernel_size=3, initialize=False, angle_offset=math.pi / 2)
    sa = a.basisexpansion.blocks[0].sampled_basis
    sb = b.basisexpansion.blocks[0].sampled_basis
    assert sa.shape == sb.shape and not torch.allclose(sa, sb)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(kernel_size=3, dilation=2, padding=2),
        dict(kernel_size=5, stride=2, padding=2, padding_mode="reflect"),
        dict(maximum_order=3, padding=1),  # an even (4x4) kernel: exact on matching grids
    ],
)
def test_dilation_stride_and_even_kernels_keep_equivariance(kwargs):
    gs = gspaces.FlipRot2dOnR2(4)
    in_type, out_type = _types(gs)
    layer = nn.R2Diffop(in_type, out_type, **kwargs)
    size = 12 if layer.kernel_size % 2 == 0 else 11
    assert_equivariant(layer, atol=1e-5 * _scale(layer), rtol=1e-5, spatial=size)


@pytest.mark.parametrize("smoothing", [1e-100, 1e-300, 5e-324])
@pytest.mark.parametrize("kernel_size", [3, 5, 7])
def test_a_vanishing_smoothing_is_a_value_error_naming_it(smoothing, kernel_size):
    gs = gspaces.Rot2dOnR2(4)
    t = nn.FieldType(gs, [gs.regular_repr])
    with pytest.raises(ValueError, match=f"smoothing={smoothing!r} is too small"):
        nn.R2Diffop(t, t, kernel_size=kernel_size, smoothing=smoothing, recompute=True)
