"""API of the reference library that ported code relies on: representations from matrices,
ConcatenatedNonLinearity, BranchingModule/MergeModule, ``G.representations['regular']``, the
``vectorfield`` support of C_N's regular representation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from e2compile import gspaces
from e2compile.group import (
    build_from_discrete_group_representation,
    cyclic_group,
    dihedral_group,
    directsum,
)
from runtime import nn
from tests.equivariance import assert_equivariant

# ------------------------------------------------------- item 5: representation from matrices


@settings(max_examples=12, deadline=None)
@given(kind=st.sampled_from(["C", "D"]), n=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_build_from_matrices_reproduces_the_matrices(kind, n, seed):
    group = cyclic_group(n) if kind == "C" else dihedral_group(n)
    rng = np.random.default_rng(seed)
    irreps = list(group.irreps.values())
    picked = [irreps[i] for i in rng.integers(0, len(irreps), size=3)] + [
        group.regular_representation
    ]
    source = directsum(picked)
    q, _ = np.linalg.qr(rng.standard_normal((source.size, source.size)))
    matrices = {g: q @ source(g) @ q.T for g in group.elements}
    name = f"test_from_matrices_{kind}{n}_{seed}"
    rep = build_from_discrete_group_representation(matrices, name, group, ["norm"])
    assert rep.size == source.size and rep.name == name
    assert sorted(rep.irreps) == sorted(source.irreps)
    assert rep.supported_nonlinearities == frozenset({"norm"})
    for g in group.elements:
        np.testing.assert_allclose(rep(g), matrices[g], atol=1e-9)
    assert group.representations[name] is rep


def test_build_from_matrices_rejects_bad_input():
    group = cyclic_group(4)
    regular = group.regular_representation
    good = {g: regular(g) for g in group.elements}
    with pytest.raises(ValueError, match="not a representation"):
        bad = dict(good)
        bad[1] = regular(2)
        build_from_discrete_group_representation(bad, "bad_hom", group, [])
    with pytest.raises(ValueError, match="no matrix for the element"):
        build_from_discrete_group_representation({0: np.eye(4)}, "bad_missing", group, [])
    with pytest.raises(ValueError, match="not orthogonal"):
        build_from_discrete_group_representation(
            {g: 2 * m for g, m in good.items()}, "bad_orth", group, []
        )
    with pytest.raises(ValueError, match="finite group"):
        from e2compile.group import so2_group

        build_from_discrete_group_representation(good, "x", so2_group(3), [])
    with pytest.raises(TypeError, match="representation"):
        build_from_discrete_group_representation([1], "x", group, [])


@pytest.mark.parametrize(
    "gs", [gspaces.Rot2dOnR2(4), gspaces.FlipRot2dOnR2(3), gspaces.Flip2dOnR2()], ids=str
)
@pytest.mark.parametrize("function", ["c_relu", "c_sigmoid", "c_tanh"])
def test_concatenated_nonlinearity(gs, function):
    t = nn.FieldType(gs, [gs.regular_repr, gs.trivial_repr, gs.regular_repr])
    module = nn.ConcatenatedNonLinearity(t, function=function)
    assert module.out_type.size == 2 * t.size
    assert [r.name for r in module.out_type.representations] == [
        "concatenated_regular",
        "concatenated_irrep_0" if gs.family != "fliprot2d" else "concatenated_irrep_0,0",
        "concatenated_regular",
    ]
    x = torch.randn(2, t.size, 7, 7)
    y = module(nn.GeometricTensor(x, t)).tensor
    f = {"c_relu": torch.relu, "c_sigmoid": torch.sigmoid, "c_tanh": torch.tanh}[function]
    torch.testing.assert_close(y[:, 0::2], f(x))
    torch.testing.assert_close(y[:, 1::2], f(-x))
    assert module.evaluate_output_shape(tuple(x.shape)) == tuple(y.shape)
    assert_equivariant(module)
    assert module.check_equivariance()
    assert "pointwise" in module.out_type.representations[0].supported_nonlinearities


def test_concatenated_nonlinearity_bad_input():
    gs = gspaces.Rot2dOnR2(4)
    with pytest.raises(ValueError, match="'concatenated'"):
        nn.ConcatenatedNonLinearity(nn.FieldType(gs, [gs.irrep(1)]))
    with pytest.raises(ValueError, match="'function'"):
        nn.ConcatenatedNonLinearity(nn.FieldType(gs, [gs.regular_repr]), function="relu")
    so2 = gspaces.Rot2dOnR2(-1, maximum_frequency=2)
    with pytest.raises(ValueError):
        nn.ConcatenatedNonLinearity(nn.FieldType(so2, [so2.trivial_repr]))


# -------------------------------------------------------- item 6: BranchingModule/MergeModule


def test_branching_and_merge_modules():
    gs = gspaces.FlipRot2dOnR2(4)
    t = nn.FieldType(gs, [gs.regular_repr, gs.irrep(1, 1), gs.regular_repr, gs.trivial_repr])
    labels = ["p", "n", "p", "t"]
    branching = nn.BranchingModule(t, labels)
    assert list(branching.out_type) == ["p", "n", "t"]
    x = torch.randn(2, t.size, 9, 9)
    parts = branching(nn.GeometricTensor(x, t))
    torch.testing.assert_close(parts["n"].tensor, x[:, 8:10])
    torch.testing.assert_close(parts["p"].tensor, torch.cat([x[:, :8], x[:, 10:18]], 1))
    assert branching.check_equivariance()
    merge = nn.MergeModule(
        [
            (nn.ReLU(branching.out_type["p"]), "p"),
            (nn.NormNonLinearity(branching.out_type["n"]), "n"),
            (nn.IdentityModule(branching.out_type["t"]), "t"),
        ]
    )
    y = merge(parts)
    assert y.type == merge.out_type and y.tensor.shape[1] == t.size
    multiple = nn.MultipleModule(
        t,
        labels,
        [
            (m, lab)
            for m, lab in [
                (merge.submodule_0, "p"),
                (merge.submodule_1, "n"),
                (merge.submodule_2, "t"),
            ]
        ],
    )
    torch.testing.assert_close(multiple(nn.GeometricTensor(x, t)).tensor, y.tensor)
    assert {k.split(".")[0] for k in multiple.state_dict()} <= {"merging"}
    assert any(k.startswith("merging.submodule_1.") for k in multiple.state_dict())
    with pytest.raises(TypeError, match="dict"):
        merge(nn.GeometricTensor(x, t))
    with pytest.raises(ValueError, match="labels"):
        nn.BranchingModule(t, ["p"])


# ----------------------------------------------------------- item 7 and 13: representations


@pytest.mark.parametrize("factory", [cyclic_group, dihedral_group])
@pytest.mark.parametrize("n", [1, 2, 5, 12])
def test_regular_is_registered_right_after_construction(factory, n):
    group = factory(n)
    regular = group.representations["regular"]
    assert regular is group.regular_representation
    assert list(group.representations)[: len(group.irreps)] == list(group.irreps)


@pytest.mark.parametrize("n", [3, 4, 8])
def test_cyclic_regular_supports_vectorfield(n):
    gs = gspaces.Rot2dOnR2(n)
    t = nn.FieldType(gs, [gs.regular_repr] * 2 + [gs.trivial_repr])
    chosen = [r for r in t.representations if "vectorfield" in r.supported_nonlinearities]
    assert len(chosen) == 2
    assert "vectorfield" in cyclic_group(n).representations["regular"].supported_nonlinearities
    module = nn.VectorFieldNonLinearity(nn.FieldType(gs, chosen))
    assert module.check_equivariance()


# ------------------------------------------------------------- item 8: kernel-basis methods


def _bases():
    from e2compile import kernels

    g = cyclic_group(4)
    polar = kernels.kernels_CN_act_R2(
        g.regular_representation, g.irrep(1), [0.0, 1.0, 2.0], 0.6, max_frequency=3
    )
    return polar, polar.angular, polar.radial


def test_kernel_basis_sample_fills_out():
    import inspect

    polar, angular, radial = _bases()
    rng = np.random.default_rng(0)
    points = rng.standard_normal((2, 7))
    for basis in (polar, angular, radial):
        assert "out" in inspect.signature(basis.sample).parameters
        expected = basis.sample(points)
        assert expected.shape == (*basis.shape, basis.dim, 7)
        out = np.full(expected.shape, np.nan)
        assert basis.sample(points, out=out) is out
        np.testing.assert_array_equal(out, expected)
        mask = np.arange(basis.dim) % 2 == 0
        masked = np.empty((*basis.shape, int(mask.sum()), 7))
        assert basis.sample_masked(points, mask, out=masked) is masked
        np.testing.assert_allclose(masked, expected[:, :, mask], atol=1e-12)
        with pytest.raises(ValueError, match="out"):
            basis.sample(points, out=np.empty((1, 2, 3)))
        with pytest.raises(TypeError, match="out"):
            basis.sample(points, out=np.empty(expected.shape, dtype=np.int64))
        with pytest.raises(ValueError, match="points"):
            basis.sample(np.zeros((3, 4)))


def test_kernel_basis_reference_arguments_and_attributes():
    polar, angular, radial = _bases()
    points = np.array([[1.0, 0.0, -2.0], [0.0, 1.0, 0.5]])
    angles = np.arctan2(points[1], points[0])[None, :]
    radii = np.hypot(points[0], points[1])[None, :]
    np.testing.assert_allclose(angular.sample(angles), angular.sample(points), atol=1e-12)
    np.testing.assert_allclose(radial.sample(radii), radial.sample(points), atol=1e-12)
    for basis in (polar, angular, radial):
        rows = list(basis)
        assert len(rows) == len(basis) == basis.dim
        assert all(isinstance(r, dict) for r in rows)
        assert rows[0] == basis[0]
        assert isinstance(basis.shape, tuple) and len(basis.shape) == 2
    assert polar.shape == (2, 4) and {"radius", "frequency"} <= set(polar[0])


# ------------------------------------------------ item 9: disentangle of restricted regulars


def _disentangle_cases():
    import json
    from pathlib import Path

    data = json.loads((Path(__file__).parents[1] / "data" / "e2cnn_disentangle.json").read_text())
    return data["results"]


@pytest.mark.parametrize("case", _disentangle_cases(), ids=lambda c: str(c["case"]))
def test_disentangle_restricted_regular_matches_the_reference(case):
    from e2compile.group import disentangle

    kind, n, sid = case["case"]
    group = cyclic_group(n) if kind == "C" else dihedral_group(n)
    sid = tuple(sid) if isinstance(sid, list) else sid
    restricted = group.restrict_representation(sid, group.regular_representation)
    perm, blocks = disentangle(restricted)
    assert [[b.size, list(b.irreps)] for b in blocks] == case["blocks"]
    direct = directsum(blocks)
    sub = restricted.group
    for g in sub.elements:
        np.testing.assert_allclose(perm @ restricted(g) @ perm.T, direct(g), atol=1e-9)
