"""compile(): determinism, normalisation, band-limiting, records, filters and bias."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest

from e2compile import gspaces, kernels
from e2compile.compiler import BasisArtifact, basis_filter_mask, compile
from e2compile.group import directsum
from e2compile.kernels import EmptyBasisException
from e2compile.kernels.kind import COLUMNS, kernel_spec
from e2compile.kernels.sampling import PolicyCutoff


@pytest.fixture(scope="module")
def d8():
    return gspaces.FlipRot2dOnR2(8)


@pytest.fixture(scope="module")
def artifact(d8):
    return compile(kernel_spec(d8, d8.regular_repr, d8.regular_repr, 5))


def test_shapes_and_columns(artifact):
    assert artifact.basis.dtype == np.float64
    assert artifact.basis.shape == (176, 16, 16, 25)
    assert artifact.dim == 176 and artifact.shape == (16, 16)
    assert set(artifact.attributes) == set(COLUMNS)
    for name, column in artifact.attributes.items():
        assert column.shape == (artifact.dim,), name
    assert artifact.attributes["in_irrep"].dtype.kind == "U"
    assert not artifact.blocks.flags.writeable and not artifact.q_out.flags.writeable


def test_compile_is_deterministic(d8):
    spec = kernel_spec(d8, d8.regular_repr, d8.irrep(1, 2), 5, dilation=2)
    a, b = compile(spec), compile(spec)
    assert a.basis.tobytes() == b.basis.tobytes()
    assert a.bias_basis.tobytes() == b.bias_basis.tobytes()
    for name in COLUMNS:
        assert a.attributes[name].tobytes() == b.attributes[name].tobytes()
    assert a == b


def test_elements_are_normalised(artifact, d8):
    group = d8.fibergroup
    sizes = np.array([group.irreps[n].size for n in artifact.attributes["out_irrep"]])
    norms = np.einsum("boip,boip->b", artifact.basis, artifact.basis)
    assert np.allclose(norms, sizes)  # the regular representation's change of basis is orthogonal


def test_band_limit_in_grid_units(d8):
    rep = d8.regular_repr
    plain = compile(kernel_spec(d8, rep, rep, 5))
    dilated = compile(kernel_spec(d8, rep, rep, 5, dilation=2))
    policy = PolicyCutoff("fco1", 2)
    for art in (plain, dilated):
        limits = np.array([policy(r) for r in art.attributes["radius"]])
        assert np.all(np.abs(art.attributes["frequency"]) <= limits)
    # the dilated kernel carries exactly the frequencies of the undilated one
    assert np.abs(dilated.attributes["frequency"]).max() == 2
    assert dilated.dim == plain.dim
    for name in ("radius", "frequency", "gamma", "s", "in_irrep_position", "out_irrep_position"):
        assert np.array_equal(dilated.attributes[name], plain.attributes[name])


def test_maximum_offset_limits_aliasing():
    c4 = gspaces.Rot2dOnR2(4)
    spec = kernel_spec(c4, c4.irrep(1), c4.irrep(1), 7, frequencies_cutoff=3.0)
    free, bounded = compile(spec), compile(spec.replace(maximum_offset=0))
    assert np.abs(free.attributes["offset"]).max() >= 1
    assert np.all(bounded.attributes["offset"] == 0) and bounded.dim < free.dim


def test_record_round_trip(artifact):
    arrays, meta = artifact.to_record()
    assert hashlib.sha256(meta["spec"].encode()).hexdigest() == artifact.spec.key
    assert meta["compiler_version"]
    for value in arrays.values():
        assert isinstance(value, np.ndarray) and value.dtype.kind in "fiU"
    again = BasisArtifact.from_record(arrays, meta)
    assert again == artifact
    # strings coming back as bytes (HDF5) are decoded
    arrays = dict(arrays)
    arrays["attr.in_irrep"] = np.char.encode(arrays["attr.in_irrep"], "utf-8")
    assert BasisArtifact.from_record(arrays, meta) == artifact


def test_artifact_pickles(artifact):
    import pickle

    assert pickle.loads(pickle.dumps(artifact)) == artifact


def test_a_callable_cutoff_compiles_to_the_artifact_of_its_canonical_values(d8):
    """A basis depends on the cutoff only through its values on the rings: the callable's
    artifact is the one of those values, and it records (and keys) like any other."""
    rep = d8.regular_repr
    spec = kernel_spec(d8, d8.trivial_repr, rep, 5, frequencies_cutoff=lambda r: 1.5 * r)
    art = compile(spec)
    canonical = compile(kernel_spec(d8, d8.trivial_repr, rep, 5, frequencies_cutoff=(0, 1.5, 3)))
    linear = compile(kernel_spec(d8, d8.trivial_repr, rep, 5, frequencies_cutoff=1.5))
    assert art == canonical and art.dim > 0
    # the factor 1.5 gives the same numbers under another key (its own spec)
    assert np.array_equal(art.blocks, linear.blocks) and art.key != linear.key
    assert BasisArtifact.from_record(*art.to_record()) == art


def test_basis_filter_mask(artifact):
    assert basis_filter_mask(artifact, None).all()
    mask = basis_filter_mask(artifact, lambda a: a["radius"] > 0 and abs(a["frequency"]) < 2)
    assert mask.dtype == bool and 0 < mask.sum() < artifact.dim
    assert np.array_equal(
        mask,
        (artifact.attributes["radius"] > 0) & (np.abs(artifact.attributes["frequency"]) < 2),
    )
    # the reference library's attribute names work too
    first = basis_filter_mask(artifact, lambda a: a["in_irrep_idx"] == 0 and a["inner_idx"] == 0)
    assert first.sum() == np.sum(
        (artifact.attributes["in_irrep_position"] == 0) & (artifact.attributes["inner_index"] == 0)
    )
    with pytest.raises(ValueError):
        basis_filter_mask(artifact, np.ones(3, dtype=bool))


def test_bias_basis_is_invariant(d8):
    out = directsum([d8.regular_repr, d8.irrep(1, 1), d8.trivial_repr])
    art = compile(kernel_spec(d8, d8.trivial_repr, out, 3))
    assert art.bias_basis.shape == (out.size, 2)
    for g in d8.testing_elements:
        assert np.allclose(out(g) @ art.bias_basis, art.bias_basis)
    none = compile(kernel_spec(d8, d8.trivial_repr, d8.irrep(1, 1), 3))
    assert none.bias_basis.shape == (2, 0)


def test_empty_basis_compiles_to_an_artifact_with_no_element():
    o2 = gspaces.FlipRot2dOnR2(-1, maximum_frequency=3)
    with pytest.raises(EmptyBasisException):
        kernels.kernels_O2_act_R2(o2.trivial_repr, o2.irrep(1, 0), [0.0, 1.0], 0.6)
    spec = kernel_spec(o2, o2.trivial_repr, o2.irrep(1, 0), 3)
    art = compile(spec)
    assert art.dim == 0 and art.basis.shape == (0, 1, 1, 9)
    assert all(column.shape == (0,) for column in art.attributes.values())
    assert BasisArtifact.from_record(*art.to_record()) == art
    assert basis_filter_mask(art, lambda attr: True).shape == (0,)


def test_dilation_bug_is_not_copied():
    # the reference evaluates fco1 on dilated radii: k=5, d=2 would allow frequency 7
    c16 = gspaces.Rot2dOnR2(16)
    art = compile(kernel_spec(c16, c16.trivial_repr, c16.regular_repr, 5, dilation=2))
    assert np.abs(art.attributes["frequency"]).max() <= 2
    assert math.isclose(art.attributes["radius"].max(), 2.0)
