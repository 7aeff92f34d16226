"""Non-convolutional modules: equivariance, output shapes, export, pickling, bad input."""

from __future__ import annotations

import io
import math
import multiprocessing as mp
import pickle
from collections import OrderedDict

import pytest
import torch

from e2compile import gspaces
from e2compile.group import change_basis
from runtime import nn
from tests.equivariance import assert_equivariant


def _c8():
    return gspaces.Rot2dOnR2(8)


def _d4():
    return gspaces.FlipRot2dOnR2(4)


def regular(gs, n=2):
    return nn.FieldType(gs, [gs.regular_repr] * n)


def mixed_permutation(gs):
    """Permutation fields of different sizes, interleaved (not contiguous by size)."""
    quotient = gs.quotient_repr((None, 2)) if gs.family == "fliprot2d" else gs.quotient_repr(2)
    return nn.FieldType(
        gs, [gs.regular_repr, gs.trivial_repr, quotient, gs.regular_repr, gs.trivial_repr]
    )


def norm_type(gs):
    irreps = [r for r in gs.fibergroup.irreps.values() if not r.is_trivial()]
    return nn.FieldType(gs, irreps[:3] * 2)


def gated_type(gs):
    irreps = [r for r in gs.fibergroup.irreps.values() if not r.is_trivial()][:2]
    gated = irreps + [gs.regular_repr]
    return nn.FieldType(gs, [gs.trivial_repr] * len(gated) + gated)


# name -> factory(gspace) -> module. Module-level functions: the table pickles.
def _relu(gs):
    return nn.ReLU(mixed_permutation(gs))


def _relu_inplace(gs):
    return nn.ReLU(regular(gs), inplace=True)


def _elu(gs):
    return nn.ELU(regular(gs), alpha=0.5, inplace=True)


def _pointwise(gs):
    return nn.PointwiseNonLinearity(regular(gs), "p_sigmoid")


def _ibn(gs):
    return nn.InnerBatchNorm(regular(gs, 3))


def _ibn_mixed(gs):
    return nn.InnerBatchNorm(mixed_permutation(gs), momentum=None)


def _maxpool(gs):
    return nn.PointwiseMaxPool(regular(gs), kernel_size=3, stride=2, padding=1)


def _maxpool_ceil(gs):
    return nn.PointwiseMaxPool(mixed_permutation(gs), kernel_size=2, ceil_mode=True)


def _avgpool(gs):
    return nn.PointwiseAvgPool(norm_type(gs), kernel_size=3, stride=2)


def _adaptive_avg(gs):
    return nn.PointwiseAdaptiveAvgPool(norm_type(gs), 3)


def _adaptive_max(gs):
    return nn.PointwiseAdaptiveMaxPool(regular(gs), (2, 2))


def _group_pool(gs):
    return nn.GroupPooling(regular(gs, 3))


def _group_pool_mixed(gs):
    return nn.GroupPooling(mixed_permutation(gs))


def _norm_pool(gs):
    return nn.NormPool(norm_type(gs))


def _norm_nonlin(gs):
    return nn.NormNonLinearity(norm_type(gs))


def _squash(gs):
    return nn.NormNonLinearity(norm_type(gs), "squash", bias=False)


def _gated(gs):
    return nn.GatedNonLinearity1(gated_type(gs))


def _gated_keep(gs):
    return nn.GatedNonLinearity1(gated_type(gs), drop_gates=False)


def _norm_bn(gs):
    return nn.NormBatchNorm(norm_type(gs))


def _identity(gs):
    return nn.IdentityModule(mixed_permutation(gs))


def _reshuffle(gs):
    return nn.ReshuffleModule(mixed_permutation(gs), [4, 2, 0, 1, 3])


def _mask(gs):
    return nn.MaskModule(regular(gs), 9, margin=10)


def _field_dropout(gs):
    return nn.FieldDropout(norm_type(gs), p=0.3)


def _pointwise_dropout(gs):
    return nn.PointwiseDropout(regular(gs), p=0.3)


def _upsample(gs):
    return nn.R2Upsampling(norm_type(gs), scale_factor=2)


def _maxpool_aa(gs):
    return nn.PointwiseMaxPoolAntialiased(regular(gs), 2, stride=2, padding=1, sigma=0.7)


def _avgpool_aa(gs):
    return nn.PointwiseAvgPoolAntialiased(norm_type(gs), sigma=0.6, stride=2)


def _norm_maxpool(gs):
    return nn.NormMaxPool(norm_type(gs), 3, stride=2)


def _disentangle(gs):
    packed = mixed_permutation(gs).representation  # one field made of five blocks
    return nn.DisentangleModule(nn.FieldType(gs, [packed, gs.regular_repr]))


def _multiple(gs):
    perm, norm = regular(gs), norm_type(gs)
    reps, labels = [], []
    for i, r in enumerate(norm.representations):  # interleave: not contiguous per branch
        reps.append(r)
        labels.append("norm")
        if i < len(perm):
            reps.append(perm.representations[i])
            labels.append("perm")
    return nn.MultipleModule(
        nn.FieldType(gs, reps),
        labels,
        [(nn.ReLU(perm), "perm"), (nn.NormNonLinearity(norm), ["norm"])],
    )


def _sequential(gs):
    t = regular(gs, 3)
    return nn.SequentialModule(
        nn.InnerBatchNorm(t),
        nn.ReLU(t, inplace=True),
        nn.PointwiseMaxPool(t, kernel_size=3, stride=2, padding=1),
        nn.ELU(t),
        nn.GroupPooling(t),
    )


FACTORIES = {
    f.__name__[1:]: f
    for f in [
        _relu,
        _relu_inplace,
        _elu,
        _pointwise,
        _ibn,
        _ibn_mixed,
        _maxpool,
        _maxpool_ceil,
        _avgpool,
        _adaptive_avg,
        _adaptive_max,
        _group_pool,
        _group_pool_mixed,
        _norm_pool,
        _norm_nonlin,
        _squash,
        _gated,
        _gated_keep,
        _norm_bn,
        _identity,
        _reshuffle,
        _mask,
        _field_dropout,
        _pointwise_dropout,
        _upsample,
        _maxpool_aa,
        _avgpool_aa,
        _norm_maxpool,
        _disentangle,
        _multiple,
        _sequential,
    ]
}
EXPORTABLE = {
    "relu",
    "relu_inplace",
    "elu",
    "pointwise",
    "ibn",
    "ibn_mixed",
    "maxpool",
    "maxpool_ceil",
    "avgpool",
    "adaptive_avg",
    "adaptive_max",
    "group_pool",
    "norm_bn",
    "identity",
    "field_dropout",
    "pointwise_dropout",
    "upsample",
    "maxpool_aa",
    "avgpool_aa",
    "sequential",
}
GSPACE_FACTORIES = {"C8": _c8, "D4": _d4}


def _trained(module):
    """A few training steps so that batch-norm statistics and affine parameters are not trivial."""
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.3 * torch.randn_like(p))
        module.train()
        for _ in range(2):
            x = 2 * torch.randn(4, module.in_type.size, 9, 9) + 0.5
            module(nn.GeometricTensor(x, module.in_type))
    return module


@pytest.mark.parametrize("gs_name", sorted(GSPACE_FACTORIES))
@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_equivariance(name, gs_name):
    gs = GSPACE_FACTORIES[gs_name]()
    module = _trained(FACTORIES[name](gs)).eval()
    errors = assert_equivariant(module, atol=1e-5, rtol=1e-5)
    assert len(errors) == {"C8": 4, "D4": 8}[gs_name]


@pytest.mark.parametrize("name", ["ibn", "ibn_mixed", "norm_bn", "gated", "sequential"])
def test_equivariance_in_train_mode(name):
    module = FACTORIES[name](_d4()).train()
    assert_equivariant(module, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", sorted(FACTORIES))
@pytest.mark.parametrize("spatial", [(9, 9), (10, 7)])
def test_evaluate_output_shape(name, spatial):
    module = FACTORIES[name](_c8()).eval()
    if name == "mask" and spatial != (9, 9):
        pytest.skip("the mask needs S x S inputs")
    x = torch.randn(3, module.in_type.size, *spatial)
    y = module(nn.GeometricTensor(x, module.in_type))
    assert y.type == module.out_type
    assert tuple(module.evaluate_output_shape(tuple(x.shape))) == tuple(y.shape)
    with pytest.raises(ValueError, match="input_shape"):
        module.evaluate_output_shape((3, module.in_type.size + 1, *spatial))


@pytest.mark.parametrize("name", sorted(EXPORTABLE))
def test_export_is_equivalent_and_pure_torch(name):
    module = _trained(FACTORIES[name](_d4()))
    exported = module.export()
    assert not module.training and not exported.training
    for m in exported.modules():
        origin = type(m).__module__
        assert origin.startswith("torch.") or type(m) is nn.MaxPoolChannels, origin
    x = torch.randn(5, module.in_type.size, 11, 11)
    y1 = module(nn.GeometricTensor(x.clone(), module.in_type)).tensor
    y2 = exported(x.clone())
    torch.testing.assert_close(y1, y2, atol=1e-6, rtol=1e-5)


def test_export_keeps_pooling_options():
    t = regular(_c8())
    exported = nn.PointwiseMaxPool(t, 3, stride=2, padding=1, dilation=2, ceil_mode=True).export()
    assert exported.ceil_mode is True and exported.dilation == (2, 2)
    assert exported.padding == (1, 1) and exported.stride == (2, 2)
    assert nn.PointwiseAvgPool(t, 2, ceil_mode=True).export().ceil_mode is True
    up = nn.R2Upsampling(t, scale_factor=2, align_corners=True).export()
    assert up.align_corners is True and up.mode == "bilinear"


def test_exports_that_cannot_be_expressed_say_why():
    gs = _c8()
    with pytest.raises(NotImplementedError, match="same size"):
        nn.GroupPooling(mixed_permutation(gs)).export()
    with pytest.raises(NotImplementedError, match="track_running_stats"):
        nn.InnerBatchNorm(regular(gs), track_running_stats=False).export()
    with pytest.raises(NotImplementedError):
        nn.NormPool(norm_type(gs)).export()


def test_seed_example_reprs_and_export():
    s = gspaces.Rot2dOnR2(8)
    c_hid = nn.FieldType(s, [s.regular_repr] * 3)
    net = nn.SequentialModule(
        nn.InnerBatchNorm(c_hid),
        nn.ReLU(c_hid, inplace=True),
        nn.PointwiseMaxPool(c_hid, kernel_size=3, stride=2, padding=1),
        nn.ELU(c_hid, inplace=True),
        nn.GroupPooling(c_hid),
    )
    net.eval()
    exported = net.export()
    assert str(net) == (
        "SequentialModule(\n"
        "  (0): InnerBatchNorm([8-Rotations: {regular, regular, regular}], eps=1e-05, "
        "momentum=0.1, affine=True, track_running_stats=True)\n"
        "  (1): ReLU(inplace=True, type=[8-Rotations: {regular, regular, regular}])\n"
        "  (2): PointwiseMaxPool()\n"
        "  (3): ELU(alpha=1.0, inplace=True, type=[8-Rotations: {regular, regular, regular}])\n"
        "  (4): GroupPooling([8-Rotations: {regular, regular, regular}])\n"
        ")"
    )
    # the exported network prints as the equivalent plain torch layers (their repr is torch's)
    plain = torch.nn.Sequential(
        torch.nn.BatchNorm2d(24),
        torch.nn.ReLU(inplace=True),
        torch.nn.MaxPool2d((3, 3), (2, 2), (1, 1), (1, 1), ceil_mode=False),
        torch.nn.ELU(alpha=1.0, inplace=True),
        nn.MaxPoolChannels(8),
    )
    assert str(exported) == str(plain)
    assert str(exported).splitlines()[-2] == "  (4): MaxPoolChannels(kernel_size=8)"
    x = nn.GeometricTensor(torch.randn(10, c_hid.size, 31, 31), c_hid)
    y1 = net(x).tensor
    y2 = exported(x.tensor)
    assert torch.allclose(y1, y2)


def test_containers():
    gs = _c8()
    t = regular(gs)
    seq = nn.SequentialModule(OrderedDict([("bn", nn.InnerBatchNorm(t)), ("relu", nn.ReLU(t))]))
    assert list(dict(seq.named_children())) == ["bn", "relu"] and len(seq) == 2
    assert isinstance(seq[1], nn.ReLU) and seq.in_type == t and seq.out_type == t
    seq.add_module("pool", nn.GroupPooling(t))
    assert seq.out_type.size == 2
    with pytest.raises(ValueError, match="in_type"):
        seq.add_module("bad", nn.ReLU(t))
    with pytest.raises(TypeError, match="EquivariantModule"):
        nn.SequentialModule(torch.nn.ReLU())
    ml = nn.ModuleList([nn.ReLU(t), nn.ELU(t)])
    ml.append(nn.IdentityModule(t))
    with pytest.raises(TypeError, match="EquivariantModule"):
        ml.append(torch.nn.ReLU())
    with pytest.raises(TypeError, match="EquivariantModule"):
        nn.ModuleList([torch.nn.ReLU()])
    exported = ml.export()
    assert type(exported) is torch.nn.ModuleList
    assert [type(m).__name__ for m in exported] == ["ReLU", "ELU", "Identity"]
    with pytest.raises(NotImplementedError):
        nn.NormNonLinearity(norm_type(gs)).export()


def test_bad_input_is_named():
    gs = _c8()
    t = regular(gs)
    relu = nn.ReLU(t)
    with pytest.raises(TypeError, match="'input' must be a GeometricTensor"):
        relu(torch.randn(1, t.size, 3, 3))
    other = nn.FieldType(gs, [gs.regular_repr] * 3)
    with pytest.raises(ValueError, match="in_type"):
        relu(nn.GeometricTensor(torch.randn(1, other.size, 3, 3), other))
    irreps = nn.FieldType(gs, [gs.irrep(1)])
    for cls in (nn.ReLU, nn.ELU, nn.InnerBatchNorm, nn.GroupPooling, nn.PointwiseDropout):
        with pytest.raises(ValueError, match="'pointwise'.*irrep_1|irrep_1.*'pointwise'"):
            cls(irreps)
    skewed = change_basis(gs.irrep(1), [[1.0, 0.5], [0.0, 1.0]], "skewed")
    with pytest.raises(ValueError, match="'norm'.*skewed|skewed.*'norm'"):
        nn.NormNonLinearity(t + nn.FieldType(gs, [skewed]))
    with pytest.raises(ValueError, match="trivial"):
        nn.NormBatchNorm(nn.FieldType(gs, [gs.trivial_repr]))
    with pytest.raises(ValueError, match="function"):
        nn.PointwiseNonLinearity(t, "p_nope")
    with pytest.raises(ValueError, match="bias"):
        nn.NormNonLinearity(irreps, "squash")
    with pytest.raises(ValueError, match="gate"):
        nn.GatedNonLinearity1(nn.FieldType(gs, [gs.irrep(1), gs.irrep(1)]))
    with pytest.raises(ValueError, match="'mode'"):
        nn.R2Upsampling(t, scale_factor=2, mode="bicubic")
    with pytest.raises(TypeError, match="'in_type'"):
        nn.ReLU([gs.regular_repr])
    with pytest.raises(ValueError, match="permutation"):
        nn.ReshuffleModule(t, [0, 0])
    with pytest.raises(ValueError, match="'pointwise'"):
        nn.PointwiseMaxPoolAntialiased(irreps, 2)
    with pytest.raises(ValueError, match="'sigma'"):
        nn.PointwiseAvgPoolAntialiased(t, sigma=0.0, stride=2)
    with pytest.raises(ValueError, match="'norm'"):
        nn.NormMaxPool(nn.FieldType(gs, [skewed]), 2)
    with pytest.raises(ValueError, match="'labels'"):
        nn.MultipleModule(t, ["a"], [(nn.ReLU(t), "a")])
    with pytest.raises(ValueError, match=r"modules\[0\] expects in_type"):
        nn.MultipleModule(t, ["a", "b"], [(nn.ReLU(t), "a"), (nn.ReLU(t), "b")])
    with pytest.raises(ValueError, match="no module"):
        nn.MultipleModule(t, ["a", "b"], [(nn.ReLU(t.index_select([0])), "a")])
    with pytest.raises(ValueError, match="pair|match"):
        nn.GatedNonLinearity2((nn.FieldType(gs, [gs.trivial_repr]), t))


def test_check_equivariance_method():
    errors = _sequential(_d4()).eval().check_equivariance(atol=1e-6)
    assert len(errors) == 8 and all(e < 1e-6 for _, e in errors)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_torch_save_round_trip(name):
    module = _trained(FACTORIES[name](_d4())).eval()
    buf = io.BytesIO()
    torch.save(module, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=False)
    assert loaded.in_type == module.in_type and loaded.out_type == module.out_type
    x = torch.randn(2, module.in_type.size, 9, 9)
    torch.testing.assert_close(
        loaded(nn.GeometricTensor(x.clone(), loaded.in_type)).tensor,
        module(nn.GeometricTensor(x.clone(), module.in_type)).tensor,
    )
    state = module.state_dict()
    assert not any(k.startswith("_") for k in state), list(state)


def _apply_in_child(blob: bytes) -> list:
    module, x = pickle.loads(blob)
    return module(x).tensor.tolist()


def test_spawned_worker_runs_a_pickled_model():
    module = _sequential(_d4()).eval()
    x = nn.GeometricTensor(torch.randn(1, module.in_type.size, 5, 5), module.in_type)
    expected = module(nn.GeometricTensor(x.tensor.clone(), x.type)).tensor
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        # a child that cannot unpickle its task would leave pool.apply waiting forever
        out = pool.apply_async(_apply_in_child, (pickle.dumps((module, x)),)).get(timeout=300)
    torch.testing.assert_close(torch.tensor(out), expected)


def test_disentangle_splits_a_packed_field():
    gs = _d4()
    mixed = mixed_permutation(gs)
    module = nn.DisentangleModule(nn.FieldType(gs, [mixed.representation]))
    assert module.out_type.size == mixed.size
    assert len(module.out_type) >= len(mixed)


@pytest.mark.parametrize(
    "gs",
    [gspaces.Rot2dOnR2(n) for n in (2, 3, 4, 8)] + [gspaces.Flip2dOnR2()],
    ids=["C2", "C3", "C4", "C8", "flip"],
)
def test_vector_field_nonlinearity(gs):
    n = gs.fibergroup.order()
    module = nn.VectorFieldNonLinearity(regular(gs, 3))
    d = 1 if n == 2 else 2  # C2's frequency-1 irrep is the sign irrep
    assert module.out_type == nn.FieldType(gs, [gs.irrep(1)] * 3)
    assert module.out_type.size == 3 * d
    assert module.evaluate_output_shape((2, 3 * n, 5, 7)) == (2, 3 * d, 5, 7)
    if n % 2 == 0:  # C3 has no grid-exact element but the identity: the fibre check covers it
        assert_equivariant(module)
    # The map acts per pixel, so every element of the fiber group can be checked on the fibers.
    errors = assert_equivariant(module, elements=gs.fibergroup.elements, fibers_only=True)
    assert len(errors) == n
    x = torch.zeros(1, 3 * n, 1, 1)
    x[0, 1, 0, 0] = 2.0  # field 0 peaks at rotation 1
    x[0, n, 0, 0] = -1.0  # field 1 peaks (at 0) at rotation 1
    x[0, 2 * n :, 0, 0] = -1.0 - torch.arange(n)  # field 2 is all negative: clamped to 0
    y = module(nn.GeometricTensor(x, module.in_type)).tensor[0, :, 0, 0]
    assert y.shape == (3 * d,)
    angle = 2 * math.pi / n
    expected = [2.0 * math.cos(angle), 2.0 * math.sin(angle)][:d] + [0.0] * (2 * d)
    torch.testing.assert_close(y, torch.tensor(expected), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="vectorfield"):
        nn.VectorFieldNonLinearity(norm_type(gs))


def test_vector_field_nonlinearity_refuses_trivial_group():
    gs = gspaces.TrivialOnR2()
    with pytest.raises(ValueError, match="'in_type'.*N >= 2"):
        nn.VectorFieldNonLinearity(regular(gs, 2))


def test_gated_nonlinearity2():
    gs = _d4()
    gated = norm_type(gs)
    gates = nn.FieldType(gs, [gs.trivial_repr] * len(gated))
    module = nn.GatedNonLinearity2((gates, gated))
    assert module.out_type == gated
    assert len(module.check_equivariance(atol=1e-6)) == 8
    g = torch.randn(2, gates.size, 5, 5)
    x = torch.randn(2, gated.size, 5, 5)
    y = module(nn.GeometricTensor(g, gates), nn.GeometricTensor(x, gated))
    assert module.evaluate_output_shape(g.shape, x.shape) == tuple(y.shape)
    with pytest.raises(ValueError, match="'input'"):
        module(nn.GeometricTensor(g, gates), nn.GeometricTensor(g, gates))
