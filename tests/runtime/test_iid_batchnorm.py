"""nn.IIDBatchNorm1d / IIDBatchNorm2d: escnn's statistics, equivariance, export, bad input."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from e2compile.group import cyclic_group, dihedral_group, o2_group, so2_group
from e2compile.gspaces import flipRot2dOnR2, no_base_space, rot2dOnR2
from runtime.nn import (
    ArgumentError,
    FieldType,
    FieldTypeMismatchError,
    GeometricTensor,
    IIDBatchNorm1d,
    IIDBatchNorm2d,
)
from tests.equivariance import assert_equivariant

ANGLES = [2 * math.pi * i / 17 + 0.1 for i in range(17)]


def _c8_type():
    gs = rot2dOnR2(8)
    G = gs.fibergroup
    reg = G.regular_representation
    return FieldType(gs, [reg, reg, G.irrep(1), reg])  # 'regular' fields not contiguous


def _randomise(bn):
    with torch.no_grad():
        for p in bn.parameters():
            p.normal_()


def test_buffers_and_parameters_have_escnn_s_names():
    bn = IIDBatchNorm2d(_c8_type(), momentum=0.3)
    shapes = {k: tuple(v.shape) for k, v in bn.state_dict().items()}
    assert shapes == {
        "regular_weight": (3, 1),
        "regular_bias": (3, 1),
        "regular_running_mean": (3, 8),
        "regular_running_var": (3, 1),
        "irrep_1_weight": (1, 1),
        "irrep_1_running_var": (1, 1),
        "num_batches_tracked": (),
    }


def test_training_statistics_and_eval_formula():
    """The escnn formulas (checked against escnn 1.0.11 by benchmarks/parity_escnn_linear.py)."""
    ft = _c8_type()
    bn = IIDBatchNorm2d(ft, momentum=0.3)
    torch.manual_seed(0)
    x = torch.randn(5, ft.size, 4, 3) + 1.0
    y_train = bn(GeometricTensor(x, ft)).tensor
    idx = list(range(16)) + list(range(18, 26))
    s = x[:, idx].reshape(5, 3, 8, 4, 3)
    mean = s.mean(dim=(0, 3, 4)).mean(dim=1, keepdim=True).expand(3, 8)  # P = ones/8 for C8
    var = (s - mean[None, :, :, None, None]).var(dim=(0, 3, 4), unbiased=True).mean(1, True)
    assert torch.allclose(bn.regular_running_mean, 0.3 * mean, atol=1e-6)
    assert torch.allclose(bn.regular_running_var, 0.7 + 0.3 * var, atol=1e-6)
    expected = (s - mean[None, :, :, None, None]) / (var + 1e-5).sqrt()[None, :, :, None, None]
    assert torch.allclose(y_train[:, idx].reshape(5, 3, 8, 4, 3), expected, atol=1e-5)
    v = x[:, 16:18]  # irrep_1: no centring, variance around each channel's own mean
    var1 = v.var(dim=(0, 2, 3), unbiased=True).mean()
    assert torch.allclose(y_train[:, 16:18], v / (var1 + 1e-5).sqrt(), atol=1e-5)
    assert bn.num_batches_tracked.item() == 1
    _randomise(bn)
    bn.eval()
    y = bn(GeometricTensor(x, ft)).tensor
    rm, rv = bn.regular_running_mean, bn.regular_running_var
    w, b = bn.regular_weight, bn.regular_bias
    manual = (s - rm[None, :, :, None, None]) * (w / (rv + bn.eps).sqrt())[None, :, :, None, None]
    manual = manual + (b * (1 / math.sqrt(8)))[None, :, :, None, None]  # Q's trivial column
    assert torch.allclose(y[:, idx].reshape(5, 3, 8, 4, 3), manual, atol=1e-5)


def test_momentum_none_and_no_running_stats():
    ft = _c8_type()
    bn = IIDBatchNorm2d(ft, momentum=None)
    x1, x2 = torch.randn(4, ft.size, 3, 3), torch.randn(4, ft.size, 3, 3)
    ref = IIDBatchNorm2d(ft, track_running_stats=False)
    v1 = ref._batch_stats(x1[:, 16:18].reshape(4, 1, 2, 3, 3), "irrep_1", False)[1]
    v2 = ref._batch_stats(x2[:, 16:18].reshape(4, 1, 2, 3, 3), "irrep_1", False)[1]
    bn(GeometricTensor(x1, ft))
    bn(GeometricTensor(x2, ft))
    assert torch.allclose(bn.irrep_1_running_var, (v1 + v2) / 2, atol=1e-6)
    ref.eval()  # batch statistics in eval mode too
    y1 = ref(GeometricTensor(x1, ft)).tensor
    ref.train()
    assert torch.allclose(y1, ref(GeometricTensor(x1, ft)).tensor)
    with pytest.raises(ValueError, match="track_running_stats"):
        ref.export()


@settings(max_examples=15, deadline=None)
@given(st.sampled_from("CD"), st.integers(1, 6), st.data())
def test_1d_equivariant_on_every_element_of_finite_groups(kind, n, data):
    G = cyclic_group(n) if kind == "C" else dihedral_group(n)
    gs = no_base_space(G)
    reps = list(G.irreps.values()) + [G.regular_representation]
    ft = FieldType(gs, data.draw(st.lists(st.sampled_from(reps), min_size=1, max_size=4)))
    bn = IIDBatchNorm1d(ft, affine=data.draw(st.booleans()))
    _randomise(bn)
    for mode in (True, False):
        bn.train(mode)
        assert_equivariant(bn, spatial=(), elements=G.elements, batch=6, atol=1e-4)


@pytest.mark.parametrize("G", [so2_group(), o2_group()], ids=["SO2", "O2"])
def test_1d_equivariant_on_angle_sweep(G):
    gs = no_base_space(G)
    reps = [r for r in G.irreps.values() if r.frequency <= 3]
    ft = FieldType(gs, reps * 2)
    bn = IIDBatchNorm1d(ft)
    _randomise(bn)
    elements = ANGLES if G == so2_group() else [(f, a) for f in (0, 1) for a in ANGLES]
    for mode in (True, False):
        bn.train(mode)
        assert_equivariant(bn, spatial=(), elements=elements, batch=8, atol=1e-4)
    x = torch.randn(5, ft.size, 7)  # (B, C, L) is accepted too
    assert bn(GeometricTensor(x, ft)).tensor.shape == x.shape


@pytest.mark.parametrize("gs", [rot2dOnR2(8), flipRot2dOnR2(4)], ids=["C8", "D4"])
def test_2d_equivariant(gs):
    G = gs.fibergroup
    ft = FieldType(gs, [G.regular_representation, *G.irreps.values()])
    bn = IIDBatchNorm2d(ft)
    _randomise(bn)
    for mode in (True, False):
        bn.train(mode)
        assert_equivariant(bn, spatial=9, atol=1e-4)
        assert_equivariant(bn, fibers_only=True, spatial=5, atol=1e-4)


@pytest.mark.parametrize("contiguous", [True, False])
def test_export(contiguous):
    ft = _c8_type() if not contiguous else FieldType(rot2dOnR2(8), [rot2dOnR2(8).regular_repr] * 3)
    bn = IIDBatchNorm2d(ft)
    bn(GeometricTensor(torch.randn(6, ft.size, 3, 3) + 2, ft))
    _randomise(bn)
    exported = bn.export()
    assert isinstance(exported, torch.nn.BatchNorm2d) and not bn.training
    x = torch.randn(3, ft.size, 5, 5)
    assert torch.allclose(exported(x), bn(GeometricTensor(x, ft)).tensor, atol=1e-5)
    gs = no_base_space(cyclic_group(4))
    bn1 = IIDBatchNorm1d(FieldType(gs, [gs.fibergroup.regular_representation] * 2))
    bn1(GeometricTensor(torch.randn(6, 8) + 1, bn1.in_type))
    e1 = bn1.export()
    assert isinstance(e1, torch.nn.BatchNorm1d)
    x = torch.randn(4, 8)
    assert torch.allclose(e1(x), bn1(GeometricTensor(x, bn1.in_type)).tensor, atol=1e-5)


def test_bad_arguments_and_inputs():
    ft = _c8_type()
    with pytest.raises(ArgumentError, match="eps"):
        IIDBatchNorm2d(ft, eps=0)
    with pytest.raises(ArgumentError, match="momentum"):
        IIDBatchNorm2d(ft, momentum="fast")
    with pytest.raises(TypeError, match="in_type"):
        IIDBatchNorm1d([1, 2])
    bn2 = IIDBatchNorm2d(ft)
    with pytest.raises(FieldTypeMismatchError, match="H, W"):
        bn2(GeometricTensor(torch.randn(2, ft.size, 3), ft))
    bn1 = IIDBatchNorm1d(ft)
    with pytest.raises(FieldTypeMismatchError, match="L"):
        bn1(GeometricTensor(torch.randn(2, ft.size, 3, 3), ft))
    assert bn2.evaluate_output_shape((2, ft.size, 3, 3)) == (2, ft.size, 3, 3)
    with pytest.raises(FieldTypeMismatchError):
        bn1.evaluate_output_shape((2, ft.size, 3, 3))
