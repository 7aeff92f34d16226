"""Batched rotation/reflection matrices of ``e2compile.kernels.utils`` (psi, chi, psichi)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import e2compile.kernels as kernels
from e2compile import group
from e2compile.kernels import chi, psi, psichi

angles = st.floats(-10, 10, allow_nan=False)


def test_reachable_as_the_reference_module():
    from e2compile.kernels import utils

    assert utils is kernels.utils
    assert (utils.psi, utils.chi, utils.psichi) == (psi, chi, psichi)
    assert {"psi", "chi", "psichi"} <= set(kernels.__all__)


@settings(max_examples=30, deadline=None)
@given(theta=angles, k=st.integers(-6, 6), gamma=angles, s=st.integers(0, 1))
def test_scalars_agree_with_the_group_matrices(theta, k, gamma, s):
    assert psi(theta, k, gamma).shape == (2, 2, 1, 1)
    np.testing.assert_allclose(psi(theta, k, gamma)[..., 0, 0], group.psi(theta, k, gamma),
                               atol=1e-12)  # fmt: skip
    np.testing.assert_allclose(psichi(theta, s, k, gamma)[..., 0, 0],
                               group.psichi(theta, s, k, gamma), atol=1e-12)  # fmt: skip
    np.testing.assert_array_equal(chi(s)[..., 0, 0], group.chi(s))


@settings(max_examples=30, deadline=None)
@given(
    n_angles=st.integers(1, 7),
    n_rows=st.integers(1, 5),
    seed=st.integers(0, 2**16),
)
def test_batched_shapes_and_entries(n_angles, n_rows, seed):
    rng = np.random.default_rng(seed)
    theta = rng.uniform(-7, 7, n_angles)
    k = rng.integers(-5, 6, n_rows)
    gamma = rng.uniform(-3, 3, n_rows)
    s = rng.integers(0, 2, n_rows)
    p, c, pc = psi(theta, k, gamma), chi(s), psichi(theta, s, k, gamma)
    assert p.shape == pc.shape == (2, 2, n_rows, n_angles)
    assert c.shape == (2, 2, n_rows, 1)
    for i in range(n_rows):
        for j in range(n_angles):
            np.testing.assert_allclose(p[:, :, i, j], group.psi(theta[j], k[i], gamma[i]),
                                       atol=1e-12)  # fmt: skip
            # psichi is the matrix product psi @ chi over the first two axes
            np.testing.assert_allclose(pc[:, :, i, j], p[:, :, i, j] @ c[:, :, i, 0], atol=1e-12)
    # a scalar k or gamma is shared by every row
    np.testing.assert_allclose(psi(theta, 2, gamma), psi(theta, np.full(n_rows, 2), gamma))


def test_out_is_written_and_returned():
    theta = np.linspace(0, 3, 4)
    k = np.array([1, 2, 3])
    buffer = np.full((2, 2, 3, 4), np.nan)
    assert psi(theta, k, out=buffer) is buffer
    np.testing.assert_allclose(buffer, psi(theta, k))
    assert psichi(theta, 1, k, out=buffer) is buffer
    np.testing.assert_allclose(buffer, psichi(theta, 1, k))
    flips = np.full((2, 2, 2, 1), np.nan)
    assert chi([0, 1], out=flips) is flips
    np.testing.assert_array_equal(flips[:, :, 1, 0], [[1, 0], [0, -1]])


def test_rotation_matrices_are_orthogonal_and_compose():
    theta = np.linspace(-4, 4, 9)
    a, b = psi(theta, 1), psi(2 * theta, 1)
    for j in range(theta.size):
        np.testing.assert_allclose(a[:, :, 0, j] @ a[:, :, 0, j], b[:, :, 0, j], atol=1e-12)
        np.testing.assert_allclose(a[:, :, 0, j] @ a[:, :, 0, j].T, np.eye(2), atol=1e-12)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: psi("a"), TypeError, "theta must be real"),
        (lambda: psi(np.nan), ValueError, "theta must be finite"),
        (lambda: psi(0.0, k=[]), ValueError, "k must not be empty"),
        (lambda: psi(0.0, k=[1, 2], gamma=[0, 1, 2]), ValueError, "same length"),
        (lambda: psi(0.0, out=np.empty((2, 2))), ValueError, r"out must be an array of shape"),
        (lambda: chi(2), ValueError, "flip flags 0 or 1"),
        (lambda: chi(True), TypeError, "flip flags 0 or 1"),
        (lambda: chi(0.5), TypeError, "flip flags 0 or 1"),
        (lambda: psichi(0.0, [0, 1, 1], k=[1, 2]), ValueError, "one per row"),
        (lambda: chi(1, out=np.empty((2, 2, 2, 1))), ValueError, "out must be"),
    ],
)
def test_bad_input_is_refused(call, error, match):
    with pytest.raises(error, match=match):
        call()
