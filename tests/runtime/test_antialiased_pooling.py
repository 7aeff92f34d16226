"""Anti-aliased pooling uses the reference library's blur filters.

``PointwiseAvgPoolAntialiased``: a Gaussian of ``2 round(3 sigma) + 1`` pixels a side;
``PointwiseMaxPoolAntialiased``: ``2 round(4 sigma) + 1``, applied after a stride-1 max pooling
with padding ``padding + half the filter``. Both keep one copy of the filter per channel,
``(C, 1, s, s)``. The filters and outputs are checked against ones written out here from the
formula, with plain loops.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from e2compile import gspaces
from runtime import nn
from tests.equivariance import assert_equivariant

GS = gspaces.Rot2dOnR2(4)
TYPE = nn.FieldType(GS, [GS.regular_repr, GS.regular_repr])  # 8 channels


def gaussian(sigma: float, extent: int) -> np.ndarray:
    size = 2 * int(round(extent * sigma)) + 1
    centre = (size - 1) / 2
    y, x = np.mgrid[:size, :size]
    g = np.exp(-((x - centre) ** 2 + (y - centre) ** 2) / (2 * sigma**2))
    return g / g.sum()


def blur(x: np.ndarray, g: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """Every channel of ``x`` (B, C, H, W) correlated with ``g``, zero padding, one loop."""
    s = g.shape[0]
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    h, w = (x.shape[2] - s) // stride + 1, (x.shape[3] - s) // stride + 1
    out = np.zeros((*x.shape[:2], h, w))
    for i in range(h):
        for j in range(w):
            window = x[:, :, i * stride : i * stride + s, j * stride : j * stride + s]
            out[:, :, i, j] = (window * g).sum(axis=(2, 3))
    return out


def max_pool(x: np.ndarray, k: int, pad: int) -> np.ndarray:
    """Stride-1 max pooling with ``-inf`` padding."""
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=-np.inf)
    h, w = x.shape[2] - k + 1, x.shape[3] - k + 1
    out = np.empty((*x.shape[:2], h, w))
    for i in range(h):
        for j in range(w):
            out[:, :, i, j] = x[:, :, i : i + k, j : j + k].max(axis=(2, 3))
    return out


@given(sigma=st.floats(0.15, 2.2))
def test_filters_follow_the_reference_formula(sigma):
    avg = nn.PointwiseAvgPoolAntialiased(TYPE, sigma=sigma, stride=2)
    mx = nn.PointwiseMaxPoolAntialiased(TYPE, 2, sigma=sigma)
    for module, extent in ((avg, 3), (mx, 4)):
        g = gaussian(sigma, extent)
        assert module.filter.shape == (TYPE.size, 1, *g.shape)
        expected = torch.from_numpy(g).float().expand(TYPE.size, 1, *g.shape)
        torch.testing.assert_close(module.filter, expected, atol=1e-6, rtol=1e-5)
    assert avg.kernel_size == (avg.filter.shape[-1],) * 2


def test_avg_filter_at_sigma_066_is_five_pixels_and_fits_a_5x5_map_without_padding():
    pool = nn.PointwiseAvgPoolAntialiased(TYPE, sigma=0.66, stride=2, padding=0)
    assert pool.filter.shape == (8, 1, 5, 5)
    x = torch.randn(3, 8, 5, 5)
    y = pool(nn.GeometricTensor(x, TYPE)).tensor
    assert y.shape == (3, 8, 1, 1) == pool.evaluate_output_shape((3, 8, 5, 5))
    expected = (x.double().numpy() * gaussian(0.66, 3)).sum(axis=(2, 3))
    np.testing.assert_allclose(y[..., 0, 0].numpy(), expected, atol=1e-6)


@pytest.mark.parametrize(
    "sigma, stride, padding, size",
    [
        (0.6, 2, None, 11),
        (1.3, 1, None, 9),
        (0.66, 3, 1, 10),
        (0.4, 2, 0, 3),
        (0.66, None, None, 12),
    ],
)
def test_avg_pool_numbers(sigma, stride, padding, size):
    pool = nn.PointwiseAvgPoolAntialiased(TYPE, sigma=sigma, stride=stride, padding=padding)
    g = gaussian(sigma, 3)
    stride = g.shape[0] if stride is None else stride  # the reference's default: the filter size
    padding = (g.shape[0] - 1) // 2 if padding is None else padding
    x = torch.randn(2, 8, size, size)
    y = pool(nn.GeometricTensor(x, TYPE)).tensor
    expected = blur(x.double().numpy(), g, stride, padding)
    assert y.shape == expected.shape == pool.evaluate_output_shape(tuple(x.shape))
    np.testing.assert_allclose(y.numpy(), expected, atol=1e-6)
    torch.testing.assert_close(pool.export()(x), y)


@pytest.mark.parametrize(
    "kernel, stride, padding, sigma, size",
    [
        (2, 2, 0, 0.6, 5),
        (2, 2, 1, 0.7, 9),
        (3, 3, 1, 0.6, 10),
        (2, 2, 0, 1.1, 11),
        (3, 1, 0, 0.5, 6),
    ],
)
def test_max_pool_numbers(kernel, stride, padding, sigma, size):
    pool = nn.PointwiseMaxPoolAntialiased(TYPE, kernel, stride=stride, padding=padding, sigma=sigma)
    g = gaussian(sigma, 4)
    x = torch.randn(2, 8, size, size)
    y = pool(nn.GeometricTensor(x, TYPE)).tensor
    pooled = max_pool(x.double().numpy(), kernel, padding)
    expected = blur(pooled, g, stride, padding + (g.shape[0] - 1) // 2)
    assert y.shape == expected.shape == pool.evaluate_output_shape(tuple(x.shape))
    np.testing.assert_allclose(y.numpy(), expected, atol=1e-6)
    torch.testing.assert_close(pool.export()(x), y)


@given(
    size=st.integers(3, 14),
    kernel=st.integers(1, 3),
    stride=st.integers(1, 3),
    padding=st.integers(0, 1),
    sigma=st.floats(0.3, 1.0),
)
def test_output_shapes_on_small_maps(size, kernel, stride, padding, sigma):
    padding = min(padding, kernel // 2)  # torch's max pooling limit
    x = torch.randn(1, 8, size, size)
    pools = [nn.PointwiseMaxPoolAntialiased(TYPE, kernel, stride, padding, sigma=sigma)]
    pools.append(nn.PointwiseAvgPoolAntialiased(TYPE, sigma, stride, padding))
    for pool in pools:
        expected = pool.evaluate_output_shape(tuple(x.shape))
        if min(expected[2:]) < 1:
            with pytest.raises(RuntimeError):
                pool(nn.GeometricTensor(x, TYPE))
            continue
        assert pool(nn.GeometricTensor(x, TYPE)).tensor.shape == expected


def test_pools_stay_equivariant_with_padding():
    gs = gspaces.FlipRot2dOnR2(4)
    t = nn.FieldType(gs, [gs.regular_repr] * 2)
    assert_equivariant(nn.PointwiseMaxPoolAntialiased(t, 3, stride=2, padding=1, sigma=0.6))
    assert_equivariant(nn.PointwiseAvgPoolAntialiased(t, sigma=0.66, stride=2, padding=0))


def test_filter_follows_the_module_to_float64():
    pool = nn.PointwiseAvgPoolAntialiased(TYPE, sigma=0.66, stride=1).double()
    assert pool.filter.dtype == torch.float64
    x = torch.randn(1, 8, 7, 7, dtype=torch.float64)
    expected = blur(x.numpy(), gaussian(0.66, 3), 1, 2)
    np.testing.assert_allclose(
        pool(nn.GeometricTensor(x, TYPE)).tensor.numpy(), expected, atol=1e-12
    )
