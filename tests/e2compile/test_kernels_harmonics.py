"""The analytic irreps-pair solutions as pure functions of frequencies (no group objects)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from e2compile.kernels.harmonics import (
    aliased_offsets,
    flip_harmonics,
    flip_rotation_harmonics,
    rotation_harmonics,
    sample_harmonics,
)


@given(
    base=st.integers(-20, 20),
    period=st.integers(1, 17),
    max_frequency=st.one_of(st.none(), st.integers(0, 25)),
    max_offset=st.one_of(st.none(), st.integers(0, 4)),
    non_negative=st.booleans(),
)
def test_aliased_offsets_match_brute_force(base, period, max_frequency, max_offset, non_negative):
    if max_frequency is None and max_offset is None:
        max_offset = 2
    expected = []
    for t in range(-60, 61):
        mu = base + t * period
        if max_frequency is not None and abs(mu) > max_frequency:
            continue
        if non_negative and mu < 0:
            continue
        if max_offset is not None and abs(t) > max_offset:
            continue
        expected.append(t)
    assert list(aliased_offsets(base, period, max_frequency, max_offset, non_negative)) == expected


def test_cyclic_two_dim_block_frequencies():
    # C_4, irrep 1 -> irrep 1, |mu| <= 2: mu = 0 (s=0) and mu = 2 +- 4t in {-2, 2} (s=1), per phase
    h = rotation_harmonics(2, 1, 2, 1, 4, max_frequency=2)
    assert sorted(zip(h.gamma, h.s, h.frequency)) == sorted(
        (g, s, mu) for g in (0.0, math.pi / 2) for s, mu in ((0, 0), (1, -2), (1, 2))
    )


def test_scalar_block_skips_vanishing_sine():
    h = rotation_harmonics(1, 0, 1, 0, 1, max_frequency=3)
    assert list(zip(h.frequency, h.gamma)) == [
        (0, 0.0),
        (1, 0.0),
        (2, 0.0),
        (3, 0.0),
        (1, math.pi / 2),
        (2, math.pi / 2),
        (3, math.pi / 2),
    ]
    assert len(rotation_harmonics(1, 0, 1, 0, -1)) == 1  # SO(2): the constant only
    # O(2): trivial -> sign has no solution (an odd function of frequency 0 vanishes)
    assert len(flip_rotation_harmonics(1, 0, 0, 1, 0, 1, -1)) == 0
    assert flip_harmonics(0, 1, max_frequency=2).frequency == (1, 2)


def test_one_dimensional_irrep_frequency_is_checked():
    try:
        rotation_harmonics(1, 1, 2, 1, 4, max_frequency=2)
    except ValueError as error:
        assert "frequency" in str(error)
    else:
        raise AssertionError("expected a ValueError")


@given(n=st.integers(1, 5), m=st.integers(1, 5), axis=st.floats(-3.2, 3.2))
def test_two_dim_blocks_are_orthogonal_matrices_up_to_scale(n, m, axis):
    h = flip_rotation_harmonics(2, n, 1, 2, m, 1, -1)
    angles = np.linspace(-math.pi, math.pi, 11)
    k = sample_harmonics(h, 2, 2, angles, axis=axis)  # (2, 2, dim, P)
    kk = np.einsum("abdp,cbdp->acdp", k, k)
    assert np.allclose(kk, np.eye(2)[:, :, None, None])


def test_non_zero_frequencies_vanish_at_the_origin():
    h = rotation_harmonics(2, 1, 1, 0, 4, max_frequency=5)
    k = sample_harmonics(h, 1, 2, np.array([0.3, 0.0]), origin=np.array([False, True]))
    assert np.all(k[..., 1] == 0.0)
    assert np.any(k[..., 0] != 0.0)
