"""R2Conv, R2ConvTransposed and R2Diffop over one base: their documented signatures (the e2cnn
0.2.3 API contract), the argument handling they share, and no method borrowed between them."""

from __future__ import annotations

import inspect
import traceback
from pathlib import Path
from typing import Any

import pytest

from e2compile import gspaces
from runtime import nn
from runtime.nn.modules.conv.base import _PlainConvBase, _RdConvBase

LAYERS = [nn.R2Conv, nn.R2ConvTransposed, nn.R2Diffop]

# names, order and defaults as documented for e2cnn 0.2.3
SIGNATURES = {
    nn.R2Conv: (
        "in_type, out_type, kernel_size, padding=0, stride=1, dilation=1, padding_mode='zeros', "
        "groups=1, bias=True, basisexpansion='blocks', sigma=None, frequencies_cutoff=None, "
        "rings=None, maximum_offset=None, recompute=False, basis_filter=None, initialize=True"
    ),
    nn.R2ConvTransposed: (
        "in_type, out_type, kernel_size, padding=0, output_padding=0, stride=1, dilation=1, "
        "groups=1, bias=True, basisexpansion='blocks', sigma=None, frequencies_cutoff=None, "
        "rings=None, maximum_offset=None, recompute=False, basis_filter=None, initialize=True"
    ),
    nn.R2Diffop: (
        "in_type, out_type, kernel_size=None, accuracy=None, padding=0, stride=1, dilation=1, "
        "padding_mode='zeros', groups=1, bias=True, basisexpansion='blocks', maximum_order=None, "
        "maximum_power=None, maximum_offset=None, recompute=False, angle_offset=None, "
        "basis_filter=None, initialize=True, cache=False, rbffd=False, "
        "radial_basis_function='ga', smoothing=None"
    ),
}


@pytest.mark.parametrize("layer", LAYERS, ids=lambda c: c.__name__)
def test_signatures_are_the_documented_ones(layer):
    params = list(inspect.signature(layer).parameters.values())
    spelled = ", ".join(
        p.name if p.default is p.empty else f"{p.name}={p.default!r}" for p in params
    )
    assert spelled == SIGNATURES[layer]
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params)


# -------------------------------------------------------------------- shared argument handling

GS = gspaces.Rot2dOnR2(4)
T = nn.FieldType(GS, [GS.regular_repr] * 2)
OTHER = nn.FieldType(gspaces.Rot2dOnR2(8), [gspaces.Rot2dOnR2(8).regular_repr])

BAD = {
    "stride": (dict(stride=0), ValueError),
    "dilation": (dict(dilation=1.5), ValueError),
    "groups-zero": (dict(groups=0), ValueError),
    "groups-split": (dict(groups=3), ValueError),
    "padding-negative": (dict(padding=-1), ValueError),
    "padding-triple": (dict(padding=(1, 2, 3)), ValueError),
    "basisexpansion": (dict(basisexpansion="single"), ValueError),
    "in_type": (dict(in_type=[GS.regular_repr]), TypeError),
    "out_type": (dict(out_type="regular"), TypeError),
    "gspaces": (dict(out_type=OTHER), ValueError),
    "padding_mode": (dict(padding_mode="mirror"), ValueError),  # R2ConvTransposed has none
}

_LAYER_FILES = {"r2conv.py", "r2conv_transposed.py", "r2diffop.py"}


def _error(layer: type, kwargs: dict[str, Any], error: type[Exception]) -> tuple[str, str]:
    """The message (layer name blanked) and the file of the frame that raised it."""
    args = {"in_type": T, "out_type": T, "kernel_size": 3, **kwargs}
    with pytest.raises(error) as info:
        layer(**args)
    raised_in = Path(traceback.extract_tb(info.value.__traceback__)[-1].filename).name
    return str(info.value).replace(layer.__name__, "<layer>"), raised_in


@pytest.mark.parametrize("case", BAD)
def test_bad_common_arguments_get_the_same_error_from_the_base(case):
    kwargs, error = BAD[case]
    layers = [c for c in LAYERS if set(kwargs) <= set(inspect.signature(c).parameters)]
    assert len(layers) >= 2
    found = [_error(layer, kwargs, error) for layer in layers]
    messages = {message for message, _ in found}
    assert len(messages) == 1, messages
    (message,) = messages
    assert message.startswith("<layer>: ") and next(iter(kwargs)) in message
    # raised by the shared base (or its helpers), never re-validated in a layer's own file
    assert not {raised_in for _, raised_in in found} & _LAYER_FILES


# ------------------------------------------------------------------------- no borrowed methods


def _functions(cls: type) -> dict[str, Any]:
    out = {}
    for name, value in vars(cls).items():
        value = value.fget if isinstance(value, property) else getattr(value, "__func__", value)
        if inspect.isfunction(value):
            out[name] = value
    return out


@pytest.mark.parametrize("layer", LAYERS, ids=lambda c: c.__name__)
def test_every_method_of_a_layer_is_its_own_or_inherited(layer):
    for name, function in _functions(layer).items():
        assert function.__qualname__ == f"{layer.__qualname__}.{name}", (
            f"{layer.__name__}.{name} is {function.__qualname__}"
        )


def test_r2diffop_has_no_attribute_borrowed_from_r2conv():
    conv = _functions(nn.R2Conv)
    assert not [n for n, f in _functions(nn.R2Diffop).items() if f in conv.values()]
    assert not issubclass(nn.R2Diffop, nn.R2Conv) and not issubclass(nn.R2Conv, nn.R2Diffop)
    # what they share, they inherit from one class
    for name in ("forward", "_conv_forward", "evaluate_output_shape", "_grid_symmetric", "export"):
        assert getattr(nn.R2Diffop, name) is getattr(nn.R2Conv, name), name
    assert nn.R2ConvTransposed.forward is nn.R2Conv.forward
    assert nn.R2ConvTransposed._conv_forward is not nn.R2Conv._conv_forward
    assert {c.__mro__[1] for c in (nn.R2Conv, nn.R2Diffop)} == {_PlainConvBase}
    assert all(issubclass(c, _RdConvBase) for c in LAYERS)
