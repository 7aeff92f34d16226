"""The eval-mode cache of expanded parameters (``modules/_expansion_cache.py``), the same for every
module that uses it: the convolutions, ``Linear`` and ``TensorProductModule``."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch

from e2compile import gspaces
from e2compile.group import cyclic_group
from e2compile.gspaces import no_base_space
from runtime import nn
from runtime.nn.modules._expansion_cache import ExpansionCache


def _conv(cls):
    def build():
        gs = gspaces.Rot2dOnR2(4)
        t_in = nn.FieldType(gs, [gs.regular_repr, gs.trivial_repr])
        t_out = nn.FieldType(gs, [gs.regular_repr, gs.trivial_repr])
        x = torch.randn(2, t_in.size, 7, 7, generator=torch.Generator().manual_seed(0))
        return cls(t_in, t_out, 3), nn.GeometricTensor(x, t_in)

    return build


def _linear():
    gs = no_base_space(cyclic_group(4))
    t_in = nn.FieldType(gs, [gs.regular_repr, gs.trivial_repr])
    t_out = nn.FieldType(gs, [gs.regular_repr, gs.trivial_repr])
    x = torch.randn(3, t_in.size, generator=torch.Generator().manual_seed(0))
    return nn.Linear(t_in, t_out), nn.GeometricTensor(x, t_in)


def _tensor_product():
    gs = no_base_space(cyclic_group(4))
    module = nn.TensorProductModule.construct(gs, 2, gs.regular_repr, gs.regular_repr)
    x = torch.randn(3, module.in_type.size, generator=torch.Generator().manual_seed(0))
    return module, nn.GeometricTensor(x, module.in_type)


USERS = {
    "R2Conv": _conv(nn.R2Conv),
    "R2ConvTransposed": _conv(nn.R2ConvTransposed),
    "R2Diffop": _conv(nn.R2Diffop),
    "Linear": _linear,
    "TensorProductModule": _tensor_product,
}


@pytest.fixture(params=sorted(USERS))
def user(request):
    module, x = USERS[request.param]()
    assert isinstance(module, ExpansionCache)
    return module, x


def _fresh(module, x):
    """The output with the cache dropped (expanded from the current parameters)."""
    other = copy.deepcopy(module)
    other._cache = None
    return other(x).tensor


def test_in_place_weight_change_in_eval_mode_reaches_the_output(user):
    module, x = user
    module.eval()
    assert module._cache is not None  # eval() builds it
    with torch.no_grad():
        before = module(x).tensor
        cached = module._cache
        assert module(x).tensor.equal(before) and module._cache is cached  # reused
        module.weights.data.mul_(-2.0)  # bypasses version counters
        after = module(x).tensor
        assert not torch.allclose(after, before)
        torch.testing.assert_close(after, _fresh(module, x), rtol=0, atol=0)


def test_eval_forward_with_gradients_expands_afresh(user):
    module, x = user
    module.eval()
    module(x).tensor.sum().backward()
    assert module.weights.grad is not None and module.weights.grad.abs().sum() > 0


def test_train_drops_pickle_drops_derived_buffers_drop(user):
    module, x = user
    module.eval()
    with torch.no_grad():
        y = module(x).tensor
    restored = pickle.loads(pickle.dumps(module))
    assert module._cache is not None and restored._cache is None
    with torch.no_grad():
        torch.testing.assert_close(restored(x).tensor, y, rtol=0, atol=0)
    module.double()  # ``_apply``: the bases the cache came from changed
    assert module._cache is None
    module.float().eval()
    assert module._cache is not None
    module.train()
    assert module._cache is None


def test_meta_parameters_are_expanded_without_caching(user):
    module, _ = user
    module.to("meta").eval()
    assert module._cache is None
    expanded = module._cached()
    tensors = expanded if isinstance(expanded, tuple) else (expanded,)
    assert all(t is None or t.is_meta for t in tensors)
    assert module._cache is None


def test_cached_conv_filters_are_contiguous():
    module, x = _conv(nn.R2ConvTransposed)()
    assert not module.expand_parameters()[0].is_contiguous()  # a transposed view
    assert module.eval().filter.is_contiguous()
