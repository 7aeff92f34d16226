"""R2Conv / R2ConvTransposed as modules: repr, export, state_dict, eval cache, pickling, options,
parameter counts against the reference library, initialisation and bad input."""

from __future__ import annotations

import copy
import io
import json
import pickle
from pathlib import Path

import pytest
import torch

from e2compile import gspaces
from runtime import nn

DATA = Path(__file__).parents[1] / "data" / "basis_dims.json"


def c8():
    return gspaces.Rot2dOnR2(8)


def irrep1(gs):
    return gs.irrep(1, 1) if gs.family == "fliprot2d" else gs.irrep(1)


def mixed(gs):
    return nn.FieldType(gs, [gs.regular_repr, gs.trivial_repr, irrep1(gs), gs.regular_repr])


def _run(module, x):
    return module(nn.GeometricTensor(x, module.in_type)).tensor


# ------------------------------------------------------------------------------------- printing


def test_repr_matches_documentation():
    gs = c8()
    c_in = nn.FieldType(gs, [gs.trivial_repr] * 3)
    c_hid = nn.FieldType(gs, [gs.regular_repr] * 3)
    assert repr(nn.R2Conv(c_in, c_hid, 5, bias=False)) == (
        "R2Conv([8-Rotations: {irrep_0, irrep_0, irrep_0}], [8-Rotations: {regular, regular, "
        "regular}], kernel_size=5, stride=1, bias=False)"
    )
    conv = nn.R2Conv(c_hid, c_hid, 3, padding=2, dilation=2, padding_mode="circular", groups=3)
    assert repr(conv).endswith(
        "kernel_size=3, stride=1, padding=2, dilation=2, padding_mode='circular', groups=3)"
    )
    up = nn.R2ConvTransposed(c_hid, c_in, 3, stride=2, output_padding=1)
    assert repr(up).startswith("R2ConvTransposed([8-Rotations: {regular, regular, regular}]")
    assert repr(up).endswith("kernel_size=3, stride=2, output_padding=1)")


# --------------------------------------------------------------------------------------- export


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("groups", [1, 2])
def test_export_conv2d(padding_mode, groups):
    gs = c8()
    t = nn.FieldType(gs, [gs.regular_repr, gs.trivial_repr] * 2)
    conv = nn.R2Conv(t, t, 3, padding=1, stride=2, padding_mode=padding_mode, groups=groups)
    with torch.no_grad():
        conv.bias.normal_()
    exported = conv.export()
    assert isinstance(exported, torch.nn.Conv2d) and not exported.training
    assert exported.padding_mode == padding_mode and exported.groups == groups
    x = torch.randn(2, t.size, 13, 13)
    with torch.no_grad():
        torch.testing.assert_close(exported(x), _run(conv, x))


@pytest.mark.parametrize("bias", [True, False])
def test_export_conv_transpose2d_keeps_output_padding(bias):
    gs = gspaces.FlipRot2dOnR2(4)
    t_in, t_out = mixed(gs), nn.FieldType(gs, [gs.irrep(1, 1), gs.regular_repr])
    conv = nn.R2ConvTransposed(t_in, t_out, 5, padding=1, output_padding=1, stride=2, bias=bias)
    exported = conv.export()
    assert isinstance(exported, torch.nn.ConvTranspose2d)
    assert exported.output_padding == (1, 1) and (exported.bias is not None) == bias
    x = torch.randn(2, t_in.size, 7, 7)
    with torch.no_grad():
        y = _run(conv, x)
        torch.testing.assert_close(exported(x), y)
    assert y.shape == conv.evaluate_output_shape(x.shape) == (2, t_out.size, 16, 16)


def test_evaluate_output_shape():
    gs = c8()
    t = mixed(gs)
    for kwargs in (dict(), dict(stride=2, padding=1), dict(dilation=2, padding=3, stride=3)):
        conv = nn.R2Conv(t, t, 3, **kwargs)
        x = torch.randn(1, t.size, 12, 17)
        with torch.no_grad():
            assert tuple(_run(conv, x).shape) == conv.evaluate_output_shape(tuple(x.shape))
    with pytest.raises(ValueError, match="does not match in_type"):
        conv.evaluate_output_shape((1, t.size + 1, 5, 5))


# ----------------------------------------------------------------------- state_dict, eval cache


def test_state_dict_holds_only_parameters_in_both_modes():
    gs = c8()
    conv = nn.R2Conv(mixed(gs), mixed(gs), 5)
    train_keys = list(conv.state_dict())
    conv.eval()
    assert list(conv.state_dict()) == train_keys == ["weights", "bias"]
    state_bytes = sum(v.numel() * v.element_size() for v in conv.state_dict().values())
    param_bytes = sum(p.numel() * p.element_size() for p in conv.parameters())
    assert state_bytes == param_bytes
    buffer = io.BytesIO()
    torch.save(conv.state_dict(), buffer)
    assert buffer.tell() < param_bytes + 4096  # no basis, no filter inside


@pytest.mark.parametrize("save_mode, load_mode", [(True, False), (False, True), (False, False)])
def test_state_dict_round_trip_across_modes(save_mode, load_mode):
    gs = gspaces.FlipRot2dOnR2(4)
    t = mixed(gs)
    src = nn.R2Conv(t, t, 3, padding=1).train(save_mode)
    with torch.no_grad():
        src.bias.normal_()
    dst = nn.R2Conv(t, t, 3, padding=1).train(load_mode)
    x = torch.randn(2, t.size, 9, 9)
    dst.eval()  # the eval cache exists before loading: it must not go stale
    with torch.no_grad():
        _run(dst, x)
    dst.train(load_mode)
    dst.load_state_dict(src.state_dict())
    src.eval()
    dst.eval()
    with torch.no_grad():
        torch.testing.assert_close(_run(dst, x), _run(src, x))
        torch.testing.assert_close(dst.filter, src.filter)


def test_eval_cache_used_without_grad_and_refreshed_after_updates():
    gs = c8()
    t = mixed(gs)
    conv = nn.R2Conv(t, t, 3)
    assert conv.filter is None and conv.expanded_bias is None
    calls = []
    conv.basisexpansion.register_forward_hook(lambda *args: calls.append(1))
    conv.eval()
    built = len(calls)
    assert built == 1 and conv.filter is not None
    x = torch.randn(1, t.size, 7, 7)
    with torch.no_grad():
        y0 = _run(conv, x)
        _run(conv, x)
    assert len(calls) == built  # served from the cache
    # an optimiser step while in eval mode invalidates the cache
    with torch.no_grad():
        conv.weights.add_(0.1)
        y1 = _run(conv, x)
    assert len(calls) == built + 1 and not torch.allclose(y0, y1)
    # in eval mode, a forward that needs gradients expands afresh: gradients reach the weights
    _run(conv, x).sum().backward()
    assert conv.weights.grad is not None and conv.weights.grad.abs().sum() > 0
    conv.train()
    assert conv.filter is None


def test_dtype_and_device_moves():
    gs = c8()
    t = mixed(gs)
    conv = nn.R2Conv(t, t, 3).eval()
    x = torch.randn(1, t.size, 7, 7)
    with torch.no_grad():
        y = _run(conv, x)
        conv.double()
        y64 = _run(conv, x.double())
    assert y64.dtype == torch.float64 and conv.filter.dtype == torch.float64
    torch.testing.assert_close(y64.float(), y, rtol=1e-4, atol=1e-5)


def test_pickle_and_deepcopy():
    gs = gspaces.FlipRot2dOnR2(4)
    t = mixed(gs)
    conv = nn.R2Conv(t, t, 3).eval()
    x = torch.randn(1, t.size, 7, 7)
    with torch.no_grad():
        y = _run(conv, x)
        buffer = io.BytesIO()
        torch.save(conv, buffer)
        buffer.seek(0)
        loaded = torch.load(buffer, weights_only=False)
        torch.testing.assert_close(_run(loaded, x), y)
        torch.testing.assert_close(_run(pickle.loads(pickle.dumps(conv)), x), y)
        torch.testing.assert_close(_run(copy.deepcopy(conv), x), y)


# ------------------------------------------------------------------------------------- options


def test_transposed_uses_the_same_basis_as_conv():
    """Same spec, same artifact: the maximum radius and cutoff come from the shared spec."""
    gs = gspaces.FlipRot2dOnR2(4)
    t_in, t_out = mixed(gs), nn.FieldType(gs, [gs.regular_repr])
    for k, d in ((3, 1), (5, 2), (4, 1)):
        conv = nn.R2Conv(t_in, t_out, k, dilation=d)
        up = nn.R2ConvTransposed(t_in, t_out, k, dilation=d)
        assert conv.weights.numel() == up.weights.numel()
        for a, b in zip(conv.basisexpansion.blocks, up.basisexpansion.blocks):
            assert a.spec.key == b.spec.key
            torch.testing.assert_close(a.dense_basis(), b.dense_basis())
        with torch.no_grad():
            up.weights.copy_(conv.weights)
        f_conv, _ = conv.expand_parameters()
        f_up, _ = up.expand_parameters()
        torch.testing.assert_close(f_up, f_conv.transpose(0, 1))


def test_sampling_options_change_the_basis():
    gs = c8()
    t_in, t_out = nn.FieldType(gs, [gs.regular_repr]), nn.FieldType(gs, [gs.regular_repr])
    default = nn.R2Conv(t_in, t_out, 5)
    keys = {default.basisexpansion.blocks[0].spec.key}
    for kwargs in (
        dict(sigma=0.5),
        dict(rings=[0.0, 1.0, 1.8]),
        dict(frequencies_cutoff=1.0),
        dict(maximum_offset=0),
    ):
        conv = nn.R2Conv(t_in, t_out, 5, **kwargs)
        keys.add(conv.basisexpansion.blocks[0].spec.key)
    assert len(keys) == 5
    narrow = nn.R2Conv(t_in, t_out, 5, frequencies_cutoff=1.0)
    assert narrow.weights.numel() < default.weights.numel()


def test_callable_cutoff_goes_through_the_store(tmp_path, monkeypatch):
    from cache import Store
    from runtime.bases import MEMO

    monkeypatch.setenv("E2C_CACHE_DIR", str(tmp_path))
    MEMO.clear()
    gs = c8()
    t = nn.FieldType(gs, [gs.regular_repr])
    conv = nn.R2Conv(t, t, 5, frequencies_cutoff=lambda r: 2 * r)
    spec = conv.basisexpansion.blocks[0].spec
    assert spec.options.frequencies_cutoff == (0.0, 2.0, 4.0)
    assert Store(tmp_path).keys() == [spec.key]
    same = nn.R2Conv(t, t, 5, frequencies_cutoff=2.0)  # the same numbers under another key
    assert conv.weights.numel() == same.weights.numel()
    MEMO.clear()
    monkeypatch.setenv("E2C_OFFLINE", "1")  # a lambda that agrees on the rings: a store hit
    again = nn.R2Conv(t, t, 5, frequencies_cutoff=lambda radius: radius + radius)
    assert again.basisexpansion.blocks[0].spec.key == spec.key
    MEMO.clear()


def test_basis_filter_drops_elements_and_keeps_equivariance():
    from tests.equivariance import assert_equivariant

    gs = gspaces.FlipRot2dOnR2(4)
    t = mixed(gs)
    full = nn.R2Conv(t, t, 5, padding=2)
    inner = nn.R2Conv(t, t, 5, padding=2, basis_filter=lambda attr: attr["radius"] < 1.5)
    assert 0 < inner.weights.numel() < full.weights.numel()
    radii = inner.basisexpansion.basis_columns(["radius"])["radius"]
    assert radii.max() < 1.5
    assert_equivariant(inner, atol=1e-5, rtol=1e-5)


def test_basis_descriptions():
    gs = c8()
    t_in = nn.FieldType(gs, [gs.regular_repr, gs.trivial_repr])
    t_out = nn.FieldType(gs, [gs.irrep(1), gs.regular_repr])
    conv = nn.R2Conv(t_in, t_out, 3)
    expansion = conv.basisexpansion
    names = expansion.get_basis_names()
    assert len(names) == len(set(names)) == conv.weights.numel() == expansion.dimension()
    info = list(expansion.get_basis_info())
    assert {"radius", "frequency", "in_irreps_position", "out_irreps_position", "id"} <= set(
        info[0]
    )
    assert expansion.get_element_info(names[5]) == info[5]
    assert expansion(conv.weights).shape == (t_out.size, t_in.size, 9)


@pytest.mark.parametrize(
    "group, pair, k",
    [
        ("C4", "regular->regular", 5),
        ("C8", "trivial->regular", 7),
        ("C16", "irrep1->irrep1", 3),
        ("D4", "trivial->irrep1", 3),
        ("D8", "regular->regular", 3),
        ("D4", "irrep1->irrep1", 7),
        ("SO2_maxf10", "irrep1->irrep1", 5),
        ("O2_maxf10", "trivial->irrep1", 3),
        ("O2_maxf10", "trivial->trivial", 7),
    ],
)
def test_parameter_counts_match_reference(group, pair, k):
    expected = json.loads(DATA.read_text())["groups"][group][pair][str(k)]
    if group.startswith("SO2"):
        gs = gspaces.Rot2dOnR2(-1, maximum_frequency=10)
    elif group.startswith("O2"):
        gs = gspaces.FlipRot2dOnR2(-1, maximum_frequency=10)
    elif group[0] == "C":
        gs = gspaces.Rot2dOnR2(int(group[1:]))
    else:
        gs = gspaces.FlipRot2dOnR2(int(group[1:]))
    reps = {
        "regular": lambda: gs.regular_repr,
        "trivial": lambda: gs.trivial_repr,
        "irrep1": lambda: irrep1(gs),
    }
    a, b = pair.split("->")
    conv = nn.R2Conv(nn.FieldType(gs, [reps[a]()]), nn.FieldType(gs, [reps[b]()]), k)
    assert conv.weights.numel() == expected


# ---------------------------------------------------------------------------------------- init


def test_initialize_false_and_reset_parameters():
    gs = c8()
    t = mixed(gs)
    conv = nn.R2Conv(t, t, 3, initialize=False)
    assert not conv.weights.any()
    torch.manual_seed(1)
    conv.reset_parameters()
    first = conv.weights.detach().clone()
    assert first.abs().sum() > 0 and not conv.bias.any()
    torch.manual_seed(1)
    conv.reset_parameters()
    torch.testing.assert_close(conv.weights.detach(), first)


def test_he_init_preserves_the_output_scale():
    """Generalized He: the output's second moment matches the input's for wide layers."""
    gs = c8()
    t = nn.FieldType(gs, [gs.regular_repr] * 16)
    torch.manual_seed(0)
    x = torch.randn(4, t.size, 15, 15)
    ratios = []
    for _ in range(3):
        conv = nn.R2Conv(t, t, 3, bias=False)
        with torch.no_grad():
            ratios.append((_run(conv, x).pow(2).mean() / x.pow(2).mean()).item())
    assert 0.5 < sum(ratios) / len(ratios) < 2.0


@pytest.mark.parametrize(
    "space",
    [lambda: gspaces.Rot2dOnR2(8), lambda: gspaces.FlipRot2dOnR2(4)],
)
def test_deltaorthonormal_gives_an_orthogonal_centre_tap(space):
    gs = space()
    t = nn.FieldType(gs, [gs.regular_repr] * 3)
    conv = nn.R2Conv(t, t, 3, bias=False, initialize=False)
    nn.init.deltaorthonormal_init(conv.weights.data, conv.basisexpansion)
    filt, _ = conv.expand_parameters()
    centre = filt[:, :, 1, 1].double()
    torch.testing.assert_close(centre @ centre.T, torch.eye(t.size, dtype=torch.float64))
    off_centre = filt.clone()
    off_centre[:, :, 1, 1] = 0
    assert off_centre.abs().max() < 1e-6


# ----------------------------------------------------------------------------------- bad input


def test_bad_input_is_rejected_clearly():
    gs = c8()
    t = mixed(gs)
    conv = nn.R2Conv(t, t, 3)
    other = nn.FieldType(gs, [gs.regular_repr] * 2 + [gs.trivial_repr, gs.irrep(1)])
    with pytest.raises(ValueError, match="field type"):
        conv(nn.GeometricTensor(torch.randn(1, other.size, 7, 7), other))
    with pytest.raises(TypeError, match="GeometricTensor"):
        conv(torch.randn(1, t.size, 7, 7))
    with pytest.raises(ValueError, match="different gspaces"):
        nn.R2Conv(t, nn.FieldType(gspaces.Rot2dOnR2(4), [gspaces.Rot2dOnR2(4).regular_repr]), 3)
    with pytest.raises(TypeError, match="FieldType"):
        nn.R2Conv([gs.regular_repr], t, 3)
    with pytest.raises(ValueError, match="kernel_size"):
        nn.R2Conv(t, t, 0)
    with pytest.raises(ValueError, match="padding_mode"):
        nn.R2Conv(t, t, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="basisexpansion"):
        nn.R2Conv(t, t, 3, basisexpansion="single")
    with pytest.raises(ValueError, match="groups"):
        nn.R2Conv(t, t, 3, groups=3)
    with pytest.raises(ValueError, match="same representations"):
        nn.R2Conv(t, t, 3, groups=2)
    with pytest.raises(ValueError, match="output_padding"):
        nn.R2ConvTransposed(t, t, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="padding"):
        nn.R2Conv(t, t, 3, padding=-1)
