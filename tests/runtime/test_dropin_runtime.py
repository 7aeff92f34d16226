"""Drop-in behaviour of the runtime for e2cnn users: the eval filter cache is never stale, meta
device initialisation, ``check_equivariance`` defaults, restriction checks, field dropout."""

from __future__ import annotations

import copy

import pytest
import torch

from e2compile import gspaces
from runtime import nn
from runtime.nn.grid import grid_exact_elements


def _conv_pair(cls=None, **kwargs):
    cls = cls or nn.R2Conv
    gs = gspaces.FlipRot2dOnR2(4)
    t_in = nn.FieldType(gs, [gs.regular_repr, gs.trivial_repr])
    t_out = nn.FieldType(gs, [gs.regular_repr, gs.trivial_repr, gs.irrep(1, 1)])
    return cls(t_in, t_out, 3, **kwargs), t_in


def _x(t_in, size=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    return nn.GeometricTensor(torch.randn(2, t_in.size, size, size, generator=g), t_in)


# ------------------------------------------------------------------------- item 1: stale cache


def _data_mul(conv):
    conv.weights.data.mul_(2)


def _data_copy(conv):
    conv.weights.data.copy_(torch.randn_like(conv.weights))


def _bias_data_add(conv):
    conv.bias.data.add_(1)


def _no_grad_inplace(conv):
    with torch.no_grad():
        conv.weights.mul_(-1.5)


def _nn_init(conv):
    torch.nn.init.normal_(conv.weights)


def _load_state_dict(conv):
    other = copy.deepcopy(conv)
    with torch.no_grad():
        other.weights.add_(1.0)
        other.bias.sub_(0.5)
    conv.load_state_dict(other.state_dict())


def _optimizer(conv):
    opt = torch.optim.SGD(conv.parameters(), lr=0.5)
    for p in conv.parameters():
        p.grad = torch.ones_like(p)
    opt.step()


def _set_data(conv):
    conv.weights.data = conv.weights.data * 3


@pytest.mark.parametrize(
    "change",
    [
        _data_mul,
        _data_copy,
        _bias_data_add,
        _no_grad_inplace,
        _nn_init,
        _load_state_dict,
        _optimizer,
        _set_data,
    ],
)
@pytest.mark.parametrize("cls", ["R2Conv", "R2ConvTransposed"])
def test_eval_cache_follows_every_weight_change(change, cls):
    conv, t_in = _conv_pair(getattr(nn, cls))
    conv.eval()
    x = _x(t_in)
    with torch.no_grad():
        before = conv(x).tensor
        change(conv)
        after = conv(x).tensor
        fresh = copy.deepcopy(conv)
        fresh._cache = None
        expected = fresh(x).tensor
        expanded, _ = conv.expand_parameters()
    assert not torch.allclose(before, expected)
    torch.testing.assert_close(after, expected, rtol=0, atol=0)
    torch.testing.assert_close(conv.filter, expanded, rtol=0, atol=0)


def test_eval_cache_is_reused_while_weights_are_unchanged():
    conv, t_in = _conv_pair()
    conv.eval()
    with torch.no_grad():
        conv(_x(t_in))
        filt = conv.filter
        conv(_x(t_in, seed=1))
    assert conv.filter is filt


# ----------------------------------------------------------------------- item 2: meta devices


def _model():
    gs = gspaces.Rot2dOnR2(8)
    t0 = nn.FieldType(gs, [gs.trivial_repr] * 2)
    t1 = nn.FieldType(gs, [gs.regular_repr] * 2 + [gs.irrep(1)])
    t2 = nn.FieldType(gs, [gs.regular_repr] * 2)
    norm = nn.FieldType(gs, [gs.irrep(1), gs.irrep(2)])
    return nn.SequentialModule(
        nn.R2Conv(t0, t1, 5, padding=2),
        nn.MultipleModule(
            t1,
            ["r", "r", "n"],
            [
                (nn.InnerBatchNorm(t2), "r"),
                (nn.NormBatchNorm(nn.FieldType(gs, [gs.irrep(1)])), "n"),
            ],
        ),
        nn.R2Conv(t1, t2, 3, padding=1),
        nn.ReLU(t2),
        nn.R2ConvTransposed(t2, t2, 3, stride=2),
        nn.GNormBatchNorm(t2),
        nn.R2Conv(t2, norm, 3),
        nn.NormNonLinearity(norm),
        nn.MaskModule(norm, 15, margin=10),
        nn.PointwiseAvgPoolAntialiased(norm, sigma=0.6, stride=2),
    )


def _trained_state(model):
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
        model.train()
        x = torch.randn(3, model.in_type.size, 8, 8)
        model(nn.GeometricTensor(x, model.in_type))
    return model.eval().state_dict()


def _same_outputs(a, b):
    x = torch.randn(2, a.in_type.size, 8, 8)
    with torch.no_grad():
        ya = a.eval()(nn.GeometricTensor(x, a.in_type)).tensor
        yb = b.eval()(nn.GeometricTensor(x, b.in_type)).tensor
    torch.testing.assert_close(ya, yb, rtol=0, atol=0)


def test_to_meta_then_to_empty_then_load_state_dict():
    torch.manual_seed(0)
    model = _model()
    sd = _trained_state(model)
    fresh = copy.deepcopy(model).to("meta").to_empty(device="cpu")
    result = fresh.load_state_dict(sd)
    assert not result.missing_keys and not result.unexpected_keys
    _same_outputs(model, fresh)


def test_build_under_meta_device_then_materialise():
    torch.manual_seed(0)
    model = _model()
    sd = _trained_state(model)
    with torch.device("meta"):
        meta = _model()
    assert all(p.is_meta for p in meta.parameters())
    meta.to_empty(device="cpu")
    meta.load_state_dict(sd)
    _same_outputs(model, meta)


def test_double_uses_float64_bases():
    conv, _ = _conv_pair()
    double = copy.deepcopy(conv).double()
    block = double.basisexpansion.blocks[0]
    from runtime.bases import load_basis

    exact = torch.from_numpy(load_basis(block.spec).basis)
    assert block.sampled_basis.dtype == torch.float64
    torch.testing.assert_close(block.sampled_basis, exact, rtol=0, atol=0)


# -------------------------------------------------------------- item 3: check_equivariance


def _check_catalog():
    from tests.runtime.test_runtime_modules import FACTORIES

    return FACTORIES


@pytest.mark.parametrize("kwargs", [{}, {"stride": 2, "padding": 1}, {"groups": 1, "bias": False}])
@pytest.mark.parametrize("cls", ["R2Conv", "R2ConvTransposed"])
@pytest.mark.parametrize(
    "gs",
    [
        gspaces.Rot2dOnR2(8),
        gspaces.FlipRot2dOnR2(4),
        gspaces.Rot2dOnR2(-1, maximum_frequency=4),
        gspaces.FlipRot2dOnR2(-1, maximum_frequency=4),
        gspaces.Flip2dOnR2(),
        gspaces.TrivialOnR2(),
    ],
    ids=lambda g: g.name,
)
def test_conv_check_equivariance_passes_with_its_defaults(gs, cls, kwargs):
    if gs.fibergroup.order() > 0:
        t = nn.FieldType(gs, [gs.regular_repr] * 3)
    else:
        t = nn.FieldType(gs, list(gs.fibergroup.irreps.values())[:3] * 2)
    if cls == "R2ConvTransposed" and "stride" in kwargs:
        kwargs = {}
    conv = getattr(nn, cls)(t, t, 5, **kwargs)
    weights = conv.weights.detach().clone()
    errors = conv.check_equivariance()
    assert [g for g, _ in errors] == list(grid_exact_elements(gs))
    assert all(isinstance(e, float) and e < 1e-10 for _, e in errors)
    assert conv.weights.dtype == torch.float32 and torch.equal(conv.weights, weights)


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_every_catalog_module_passes_check_equivariance(mode):
    catalog = _check_catalog()
    for name, factory in sorted(catalog.items()):
        module = factory(gspaces.FlipRot2dOnR2(4)).train(mode == "train")
        assert len(module.check_equivariance()) == 8, name


def test_check_equivariance_does_not_touch_running_stats():
    gs = gspaces.Rot2dOnR2(4)
    bn = nn.InnerBatchNorm(nn.FieldType(gs, [gs.regular_repr] * 2)).train()
    bn.check_equivariance()
    inner = getattr(bn, "batch_norm_[4]")
    assert torch.equal(inner.running_mean, torch.zeros_like(inner.running_mean))
    assert int(inner.num_batches_tracked) == 0


class _Broken(nn.R2Conv):
    """A convolution whose forward adds a term that does not rotate with the input."""

    def forward(self, input):
        y = super().forward(input)
        bump = torch.zeros_like(y.tensor)
        bump[..., 0, 0] = 1e-4
        return nn.GeometricTensor(y.tensor + bump, y.type)


def test_check_equivariance_fails_on_a_broken_module():
    conv, _ = _conv_pair(_Broken)
    with pytest.raises(AssertionError, match="equivariance error for element"):
        conv.check_equivariance()


def test_check_equivariance_fails_on_a_perturbed_basis():
    # a float64 module keeps its own buffers in the check (only a dtype change re-derives them)
    conv, _ = _conv_pair()
    conv.double()
    with torch.no_grad():
        block = conv.basisexpansion.blocks[0]
        block.sampled_basis.add_(1e-3 * torch.randn_like(block.sampled_basis))
    with pytest.raises(AssertionError):
        conv.check_equivariance()


# ----------------------------------------------------------- item 10: RestrictionModule check


@pytest.mark.parametrize(
    "gs, id",
    [
        (gspaces.FlipRot2dOnR2(8), (None, 4)),
        (gspaces.FlipRot2dOnR2(8), (0, 2)),
        (gspaces.Rot2dOnR2(8), 4),
        (gspaces.Rot2dOnR2(8), 1),
    ],
)
def test_restriction_module_check_equivariance_on_the_subgroup(gs, id):
    module = nn.RestrictionModule(nn.FieldType(gs, [gs.regular_repr] * 2), id)
    errors = module.check_equivariance()
    sub = module.out_type.gspace.fibergroup
    assert len(errors) >= 1 and all(sub.is_element(g) for g, _ in errors)
    assert all(e < 1e-12 for _, e in errors)


def test_restriction_check_fails_on_a_broken_module():
    gs = gspaces.Rot2dOnR2(8)
    module = nn.RestrictionModule(nn.FieldType(gs, [gs.regular_repr]), 4)

    class Broken(type(module)):
        def forward(self, input):
            y = super().forward(input)
            scale = torch.ones(y.tensor.shape[1], dtype=y.tensor.dtype)
            scale[0] = 2.0  # one channel of a regular field scaled: not equivariant
            return nn.GeometricTensor(y.tensor * scale[:, None, None], y.type)

    module.__class__ = Broken
    with pytest.raises(AssertionError):
        module.check_equivariance()


# ------------------------------------------------------------------ item 12: field dropout


def test_field_dropout_draws_one_mask_per_field_and_pixel():
    gs = gspaces.Rot2dOnR2(4)
    t = nn.FieldType(gs, [gs.regular_repr] * 3)
    drop = nn.FieldDropout(t, p=0.5).train()
    torch.manual_seed(0)
    y = drop(nn.GeometricTensor(torch.ones(8, t.size, 6, 6), t)).tensor
    fields = y.reshape(8, 3, 4, 6, 6)
    # the four channels of a field are kept or dropped together at each pixel ...
    assert torch.equal(fields.amin(dim=2), fields.amax(dim=2))
    # ... but pixels of one field are dropped independently
    kept = fields[:, :, 0] > 0
    assert kept.float().mean(dim=(2, 3)).std() > 0
    assert not torch.all(kept.all(dim=(2, 3)) | (~kept).all(dim=(2, 3)))


def test_field_dropout_train_and_eval_channel_means_agree():
    gs = gspaces.Rot2dOnR2(4)
    t = nn.FieldType(gs, [gs.regular_repr] * 2)
    drop = nn.FieldDropout(t, p=0.5)
    torch.manual_seed(1)
    x = torch.rand(3000, t.size, 20, 20) + 1.0
    with torch.no_grad():
        train = drop.train()(nn.GeometricTensor(x, t)).tensor.mean(dim=(0, 2, 3))
        eval_ = drop.eval()(nn.GeometricTensor(x, t)).tensor.mean(dim=(0, 2, 3))
    assert torch.max((train - eval_).abs() / eval_) < 0.005


# --------------------------------------------------------- item 11: batch-norm reset methods


def _batch_norms():
    gs = gspaces.FlipRot2dOnR2(4)
    reg = nn.FieldType(gs, [gs.regular_repr] * 2)
    norm = nn.FieldType(gs, [gs.irrep(1, 1), gs.irrep(1, 2)])
    induced = nn.FieldType(gs, [gs.induced_repr((None, 4), gs.restrict((None, 4))[0].irrep(1))])
    mixed = nn.FieldType(gs, [gs.regular_repr, gs.irrep(1, 1), gs.trivial_repr])
    return [
        nn.InnerBatchNorm(reg),
        nn.NormBatchNorm(norm),
        nn.InducedNormBatchNorm(induced),
        nn.GNormBatchNorm(mixed),
    ]


@pytest.mark.parametrize("index", range(4))
def test_every_batch_norm_resets_stats_and_parameters(index):
    bn = _batch_norms()[index]
    fresh = copy.deepcopy(bn)
    with torch.no_grad():
        for p in bn.parameters():
            p.add_(torch.rand_like(p) + 0.5)
    bn.train()(nn.GeometricTensor(3 * torch.randn(4, bn.in_type.size, 5, 5) + 1, bn.in_type))
    changed = {k: v.clone() for k, v in bn.state_dict().items()}
    bn.reset_running_stats()
    after_stats = {k: v.clone() for k, v in bn.state_dict().items()}
    for key, value in fresh.state_dict().items():
        if "running" in key or "num_batches" in key:
            assert torch.equal(after_stats[key], value), key
            assert not torch.equal(changed[key], value), key
        else:
            assert torch.equal(after_stats[key], changed[key]), key  # parameters kept
    bn.reset_parameters()
    for key, value in fresh.state_dict().items():
        assert torch.equal(bn.state_dict()[key], value), key
