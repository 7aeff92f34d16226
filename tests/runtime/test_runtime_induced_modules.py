"""Modules for induced representations and GNormBatchNorm: equivariance, shapes, bad input."""

from __future__ import annotations

import math
import pickle

import pytest
import torch

from e2compile import gspaces
from runtime import nn
from tests.equivariance import assert_equivariant


def _c8():
    return gspaces.Rot2dOnR2(8)


def _d4():
    return gspaces.FlipRot2dOnR2(4)


def _c8_induced(sub_id, irrep_id):
    gs = _c8()
    sub, _, _ = gs.fibergroup.subgroup(sub_id)
    return gs.induced_repr(sub_id, sub.irrep(irrep_id))


def induced_type(gs):
    """Induced fields with sub-fields of sizes 2 and 1, interleaved."""
    if gs.family == "fliprot2d":
        sub, _, _ = gs.fibergroup.subgroup((None, 4))
        a = gs.induced_repr((None, 4), sub.irrep(1))
        sub2, _, _ = gs.fibergroup.subgroup((0, 2))
        b = gs.induced_repr((0, 2), sub2.irrep(1, 0))
    else:
        a, b = _c8_induced(4, 1), _c8_induced(2, 1)
    return nn.FieldType(gs, [a, b, a])


def induced_gated_type(gs):
    """Gates (quotient fields) and gated induced fields, mixed order."""
    if gs.family == "fliprot2d":
        sid = (None, 4)
        sub, _, _ = gs.fibergroup.subgroup(sid)
        gated, gate = gs.induced_repr(sid, sub.irrep(1)), gs.quotient_repr(sid)
        reps = [gate, gated, gate, gated]
        return nn.FieldType(gs, reps), ["gate", "gated", "gate", "gated"]
    big = _c8_induced(4, 1)
    small = _c8_induced(2, 1)
    reps = [gs.quotient_repr(4), gs.quotient_repr(2), big, small]
    return nn.FieldType(gs, reps), None


def generic_type(gs):
    irreps = list(gs.fibergroup.irreps.values())
    return nn.FieldType(gs, [gs.regular_repr, irreps[1], gs.trivial_repr, irreps[-1]])


GSPACES = [_c8, _d4]


def _build(name, gs):
    if name == "norm_nl":
        return nn.InducedNormNonLinearity(induced_type(gs))
    if name == "norm_nl_sigmoid":
        return nn.InducedNormNonLinearity(induced_type(gs), function="n_sigmoid")
    if name == "norm_nl_squash":
        return nn.InducedNormNonLinearity(induced_type(gs), function="squash", bias=False)
    if name == "pool":
        return nn.InducedNormPool(induced_type(gs))
    if name == "gated":
        t, gates = induced_gated_type(gs)
        return nn.InducedGatedNonLinearity1(t, gates=gates)
    if name == "gated_keep":
        t, gates = induced_gated_type(gs)
        return nn.InducedGatedNonLinearity1(t, gates=gates, drop_gates=False)
    if name == "induced_bn":
        return nn.InducedNormBatchNorm(induced_type(gs))
    if name == "gnorm_bn":
        return nn.GNormBatchNorm(generic_type(gs))
    raise KeyError(name)


NAMES = [
    "norm_nl",
    "norm_nl_sigmoid",
    "norm_nl_squash",
    "pool",
    "gated",
    "gated_keep",
    "induced_bn",
    "gnorm_bn",
]


@pytest.mark.parametrize("gs_factory", GSPACES)
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("training", [True, False])
def test_equivariance_and_shape(name, gs_factory, training):
    torch.manual_seed(0)
    m = _build(name, gs_factory())
    if "bn" in name:
        m.train()
        with torch.no_grad():
            m(nn.GeometricTensor(3 * torch.randn(4, m.in_type.size, 7, 7) + 1, m.in_type))
    m.train(training)
    assert_equivariant(m, atol=1e-5, rtol=1e-4)
    # every group element (odd rotations of C8 permute the cosets of C4 and C2): per-pixel maps
    elements = m.in_type.testing_elements
    assert_equivariant(m, elements=elements, fibers_only=True, atol=1e-5, rtol=1e-4)
    x = torch.randn(3, m.in_type.size, 5, 6)
    y = m(nn.GeometricTensor(x, m.in_type))
    assert y.type == m.out_type
    assert tuple(y.tensor.shape) == m.evaluate_output_shape(tuple(x.shape))


@pytest.mark.parametrize("name", NAMES)
def test_backward_and_pickle(name):
    m = _build(name, _c8())
    x = torch.randn(2, m.in_type.size, 4, 4, requires_grad=True)
    m(nn.GeometricTensor(x, m.in_type)).tensor.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    clone = pickle.loads(pickle.dumps(m))
    assert set(clone.state_dict()) == set(m.state_dict())


def _subfield_norms(x, sizes):
    """(B, n_sub, H, W) norms of consecutive chunks of the given sizes."""
    chunks = torch.split(x, sizes, dim=1)
    return torch.stack([c.norm(dim=1) for c in chunks], dim=1)


def test_induced_norm_values():
    t = induced_type(_c8())  # sub-field sizes: 2,2 | 1,1,1,1 | 2,2
    sub_sizes = [2, 2, 1, 1, 1, 1, 2, 2]
    owners = [0, 0, 1, 1, 1, 1, 2, 2]
    m = nn.InducedNormNonLinearity(t)
    with torch.no_grad():
        m.bias.copy_(torch.tensor([0.3, -0.2, 0.5]))
    x = torch.randn(2, t.size, 3, 3)
    y = m(nn.GeometricTensor(x, t)).tensor
    norms = _subfield_norms(x, sub_sizes)
    b = m.bias.detach()[owners].view(1, -1, 1, 1)
    scale = torch.relu(norms - b) / norms
    expected = x * torch.repeat_interleave(scale, torch.tensor(sub_sizes), dim=1)
    torch.testing.assert_close(y, expected)

    pool = nn.InducedNormPool(t)
    p = pool(nn.GeometricTensor(x, t)).tensor
    expected_pool = torch.stack(
        [norms[:, 0:2].amax(1), norms[:, 2:6].amax(1), norms[:, 6:8].amax(1)], dim=1
    )
    torch.testing.assert_close(p, expected_pool)
    assert all(r.is_trivial() for r in pool.out_type.representations)


def test_induced_gated_values():
    gs = _c8()
    t, _ = induced_gated_type(gs)  # gates of size 2 and 4, gated of size 4 (2x2) and 4 (4x1)
    m = nn.InducedGatedNonLinearity1(t)
    with torch.no_grad():
        m.bias.copy_(torch.tensor([0.5, -1.0]))
    x = torch.randn(2, t.size, 3, 3)
    y = m(nn.GeometricTensor(x, t)).tensor
    g0 = torch.sigmoid(x[:, 0:2] - 0.5)
    g1 = torch.sigmoid(x[:, 2:6] + 1.0)
    expected = torch.cat(
        [x[:, 6:10] * torch.repeat_interleave(g0, 2, dim=1), x[:, 10:14] * g1], dim=1
    )
    torch.testing.assert_close(y, expected)
    assert m.out_type == t.index_select([2, 3])


def test_induced_bn_export_and_stats():
    torch.manual_seed(0)
    t = induced_type(_c8())
    m = nn.InducedNormBatchNorm(t)
    m.train()
    x = 2 * torch.randn(8, t.size, 5, 5)
    m(nn.GeometricTensor(x, t))
    m.eval()
    with torch.no_grad():
        m.weight.copy_(torch.tensor([0.5, 2.0, 1.5]))
    xe = torch.randn(2, t.size, 5, 5)
    ref = m(nn.GeometricTensor(xe, t)).tensor
    bn = m.export()
    assert isinstance(bn, torch.nn.BatchNorm2d)
    torch.testing.assert_close(bn(xe), ref)


def test_gnorm_matches_norm_batchnorm_on_irreps():
    gs = _d4()
    irreps = [r for r in gs.fibergroup.irreps.values() if not r.is_trivial()]
    t = nn.FieldType(gs, irreps * 2)
    g, n = nn.GNormBatchNorm(t), nn.NormBatchNorm(t)
    x = torch.randn(4, t.size, 5, 5)
    torch.testing.assert_close(
        g(nn.GeometricTensor(x, t)).tensor, n(nn.GeometricTensor(x, t)).tensor
    )
    torch.testing.assert_close(g.running_var, n.running_var)


def test_gnorm_centres_trivial_and_tracks_stats():
    gs = _c8()
    t = nn.FieldType(gs, [gs.trivial_repr, gs.regular_repr])
    m = nn.GNormBatchNorm(t, momentum=None)
    assert m.running_mean.shape == (2,)  # one trivial irrep in each field
    assert m.running_var.shape == (1 + len(gs.regular_repr.irreps),)
    x = torch.randn(16, t.size, 6, 6) + 3.0
    y = m(nn.GeometricTensor(x, t)).tensor.detach()
    # the invariant part of every field (its mean over channels) is centred
    assert abs(float(y[:, 0].mean())) < 1e-5
    assert abs(float(y[:, 1:].mean())) < 1e-5
    assert float(m.num_batches_tracked) == 1
    # the regular field's trivial irrep is the channel sum over sqrt(8)
    expected = torch.tensor([3.0, 3.0 * math.sqrt(8)])
    assert torch.allclose(m.running_mean, expected, atol=0.2)
    m.eval()
    y2 = m(nn.GeometricTensor(x, t)).tensor
    assert torch.isfinite(y2).all()


def test_bad_input():
    gs = _c8()
    ind = induced_type(gs)
    plain = nn.FieldType(gs, [gs.irrep(1)])
    with pytest.raises(TypeError, match="in_type"):
        nn.InducedNormNonLinearity("not a type")
    with pytest.raises(ValueError, match="induced_norm"):
        nn.InducedNormNonLinearity(plain)
    with pytest.raises(ValueError, match="induced_norm"):
        nn.InducedNormPool(plain)
    with pytest.raises(ValueError, match="function"):
        nn.InducedNormNonLinearity(ind, function="p_relu")
    with pytest.raises(ValueError, match="squash"):
        nn.InducedNormNonLinearity(ind, function="squash")
    with pytest.raises(ValueError, match="induced_norm"):
        nn.InducedNormBatchNorm(plain)
    with pytest.raises(ValueError, match="trivial"):
        nn.InducedNormBatchNorm(nn.FieldType(gs, [gs.quotient_repr(4)]))
    with pytest.raises(TypeError, match="in_type"):
        nn.GNormBatchNorm(None)

    gated, _ = induced_gated_type(gs)
    with pytest.raises(ValueError, match="gates"):
        nn.InducedGatedNonLinearity1(gated, gates=["gate", "gated"])
    with pytest.raises(ValueError, match="gates"):
        nn.InducedGatedNonLinearity1(gated, gates=["gate", "gate", "gated", "bad"])
    with pytest.raises(ValueError, match="must match"):
        nn.InducedGatedNonLinearity1(gated, gates=["gate", "gate", "gate", "gated"])
    with pytest.raises(ValueError, match="even number"):
        nn.InducedGatedNonLinearity1(gated.index_select([0, 1, 2]))
    with pytest.raises(ValueError, match="induced_gate"):
        nn.InducedGatedNonLinearity1(nn.FieldType(gs, [gs.irrep(1), _c8_induced(4, 1)]))
    with pytest.raises(ValueError, match="sub-fields"):
        # gate with 4 cosets for a gated field with 2 sub-fields
        nn.InducedGatedNonLinearity1(nn.FieldType(gs, [gs.quotient_repr(2), _c8_induced(4, 1)]))

    d4 = _d4()
    sub, _, _ = d4.fibergroup.subgroup((0, 2))
    other = d4.induced_repr((0, 2), sub.irrep(1, 0))  # 2 sub-fields, like the gate below
    with pytest.raises(ValueError, match="subgroup"):
        nn.InducedGatedNonLinearity1(nn.FieldType(d4, [d4.quotient_repr((None, 4)), other]))

    m = nn.InducedNormNonLinearity(ind)
    with pytest.raises((TypeError, ValueError), match="input"):
        m(torch.randn(1, ind.size, 3, 3))
    with pytest.raises((TypeError, ValueError), match="input"):
        m(nn.GeometricTensor(torch.randn(1, 2, 3, 3), nn.FieldType(gs, [gs.irrep(1)])))
