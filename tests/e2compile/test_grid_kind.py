"""The grid kind (:mod:`e2compile.grids`): specs keyed by what the Fourier matrices depend on,
escnn's sampling and ridge pseudo-inverse, deterministic artifacts through records and the
store."""

from __future__ import annotations

import math

import numpy as np
import pytest

from e2compile import gspaces
from e2compile.artifact import artifact_from_record
from e2compile.compiler import compile
from e2compile.grids import RIDGE, GridArtifact, grid_spec
from e2compile.layers import describe_spec
from e2compile.specs import BasisSpec


def _so2(L=2, N=6, **kwargs):
    gs = gspaces.rot2dOnR2(-1)
    G = gs.fibergroup
    return grid_spec(gs, G.bl_irreps(L), G.grid(N), **kwargs)


def test_regular_so2_matrix_is_escnns_closed_form():
    """SO(2), L=2: ``A[θ] = [1, √2 cos θ, √2 sin θ, √2 cos 2θ, √2 sin 2θ] / √5`` and on a
    regular grid ``AᵀA = (|grid|/size) I``, so ``Ainv = (AᵀA + 1e-8 I)⁻¹ Aᵀ``."""
    art = compile(_so2())
    thetas = art.grid[:, 0]
    r2 = math.sqrt(2)
    expected = np.stack(
        [np.ones(6), r2 * np.cos(thetas), r2 * np.sin(thetas),
         r2 * np.cos(2 * thetas), r2 * np.sin(2 * thetas)], axis=1,
    ) / math.sqrt(5)  # fmt: skip
    assert np.allclose(art.A, expected, atol=1e-14)
    assert np.allclose(art.A.T @ art.A, 1.2 * np.eye(5), atol=1e-13)
    assert np.allclose(art.Ainv, np.linalg.inv(1.2 * np.eye(5) + RIDGE * np.eye(5)) @ art.A.T)
    assert np.allclose(art.Ainv @ art.A, np.eye(5), atol=1e-7)


def test_o2_rows_follow_the_reflection():
    gs = gspaces.flipRot2dOnR2(-1)
    G = gs.fibergroup
    art = compile(grid_spec(gs, G.bl_irreps(1), G.grid(4), normalize=False))
    # (0,0): 1; (1,0): (-1)^f; (1,1): √2 ψ(θ)χ(f) columns 0 and 1
    for row, (f, theta) in zip(art.A, art.grid):
        c, s = math.cos(theta), math.sin(theta)
        sign = -1.0 if f else 1.0
        expected = [1.0, sign, math.sqrt(2) * c, math.sqrt(2) * s,
                    -sign * math.sqrt(2) * s, sign * math.sqrt(2) * c]  # fmt: skip
        assert np.allclose(row, expected, atol=1e-14)


def test_out_irreps_keep_the_first_rows_of_the_extended_inverse():
    gs = gspaces.rot2dOnR2(8)
    G = gs.fibergroup
    spec = grid_spec(gs, G.bl_irreps(3), G.grid("regular", 8), out_irreps=G.bl_irreps(1))
    art = compile(spec)
    assert art.A.shape == (8, 7) and art.Ainv.shape == (3, 8)
    # extended: out irreps then the missing input irreps; its inverse's first 3 rows
    ext = compile(grid_spec(gs, [(0,), (1,), (2,), (3,)], G.grid("regular", 8)))
    assert np.allclose(art.Ainv, ext.Ainv[:3], atol=1e-15)


def test_specs_key_everything_the_matrices_depend_on():
    base = _so2()
    assert base == _so2() and base.key == _so2().key
    assert BasisSpec.from_json(base.canonical_json()) == base
    others = [
        _so2(L=1), _so2(N=7), _so2(normalize=False), _so2(out_irreps=[(0,), (1,)]),
        _so2(subgroup_id=2),
    ]  # fmt: skip
    keys = {s.key for s in others} | {base.key}
    assert len(keys) == len(others) + 1
    gs = gspaces.rot2dOnR2(-1)
    rand = grid_spec(gs, [(0,), (1,)], gs.fibergroup.grid(5, "rand", seed=1))
    assert rand.key == grid_spec(gs, [(0,), (1,)], gs.fibergroup.grid(5, "rand", seed=1)).key
    assert rand.key != grid_spec(gs, [(0,), (1,)], gs.fibergroup.grid(5, "rand", seed=2)).key
    assert describe_spec(base)["grid"] == "6 elements"
    assert describe_spec(_so2(subgroup_id=2))["subgroup_id"] == 2


def test_bad_grid_specs_are_refused_naming_the_field():
    spec = _so2()
    with pytest.raises(ValueError, match="kernel_size and dilation must be 1"):
        spec.replace(kernel_size=3)
    with pytest.raises(ValueError, match="non-empty"):
        spec.replace(grid=())
    with pytest.raises((TypeError, ValueError), match=r"grid\[1\]"):
        spec.replace(grid=(0.0, "x"))
    with pytest.raises(ValueError, match="not a spectral quotient"):
        spec.replace(subgroup_id=2)  # the representation is the regular one's
    with pytest.raises(TypeError, match="normalize"):
        spec.replace(normalize=1)
    gs = gspaces.rot2dOnR2(4)
    with pytest.raises((TypeError, ValueError), match=r"grid\[0\]"):
        grid_spec(gs, [(0,)], [5])


def test_artifacts_are_deterministic_and_round_trip_through_records():
    spec = _so2(subgroup_id=3, L=6, N=9)
    first, second = compile(spec), compile(spec)
    assert isinstance(first, GridArtifact) and first == second
    arrays, meta = first.to_record()
    assert all(a.dtype == np.float64 for a in arrays.values())
    assert all(np.array_equal(arrays[n], second.to_record()[0][n]) for n in arrays)
    back = artifact_from_record(arrays, meta)
    assert isinstance(back, GridArtifact) and back == first and back.key == spec.key
    with pytest.raises(AttributeError):
        first.A = None


def test_the_grid_kind_goes_through_the_store_and_offline(tmp_path):
    from cache import Store
    from runtime import bases

    spec = grid_spec(gspaces.flipRot2dOnR2(4), dihedral_irreps(), [(0, 0), (1, 1), (0, 2)])
    bases.MEMO.clear()
    compiled = bases.load_basis(spec, store=Store(tmp_path))
    bases.MEMO.clear()
    offline = bases.load_basis(spec, store=Store(tmp_path, offline=True))
    assert isinstance(offline, GridArtifact) and offline == compiled
    bases.MEMO.clear()
    with pytest.raises(bases.OfflineBasisMissError):
        bases.load_basis(spec.replace(normalize=False), store=Store(tmp_path, offline=True))
    bases.MEMO.clear()


def dihedral_irreps():
    return gspaces.flipRot2dOnR2(4).fibergroup.bl_irreps(1)
