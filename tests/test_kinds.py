"""The basis-kind registry is the compiler's extension point: a third kind is one module (this
one defines ``KIND``) plus one registration, and specs, compile, artifacts and the store bridge
handle it like the built-in kinds."""

from __future__ import annotations

import numpy as np
import pytest

from e2compile import gspaces, kinds
from e2compile.compiler import BasisArtifact, bias_basis, compile
from e2compile.families import FAMILIES, family
from e2compile.specs import BasisSpec, gspace_fields


def _validate(spec, put):
    if spec.options or spec.rings or spec.frequencies_cutoff is not None:
        raise ValueError("a point spec has no options, rings or cutoff")


def _compile(spec):
    """The identity at the grid's centre, on every matching pair of channels."""
    group, _, out_repr = spec.build_representations()
    o, i = spec.out_repr.size, spec.in_repr.size
    basis = np.zeros((1, o, i, spec.kernel_size**2))
    basis[0, :, :, spec.kernel_size**2 // 2] = np.eye(o, i)
    return BasisArtifact(spec, basis, {"weight": np.ones(1)}, bias_basis(spec, group, out_repr))


KIND = kinds.BasisKind(name="point", columns={"weight": "f"}, validate=_validate,
                       compile=_compile)  # fmt: skip


def test_a_third_kind_is_one_module_plus_one_registration(monkeypatch):
    monkeypatch.setitem(kinds._MODULES, "point", __name__)
    monkeypatch.delitem(kinds._LOADED, "point", raising=False)
    gs = gspaces.Rot2dOnR2(4)
    spec = BasisSpec(**gspace_fields(gs, gs.trivial_repr, gs.trivial_repr), kind="point",
                     kernel_size=3, frequencies_cutoff=None)  # fmt: skip
    artifact = compile(spec)
    assert artifact.dim == 1 and artifact.basis[0, 0, 0, 4] == 1.0
    again = BasisArtifact.from_record(*artifact.to_record())
    assert again == artifact and BasisSpec.from_json(spec.canonical_json()) == spec
    with pytest.raises(ValueError, match="a point spec has no options"):
        spec.replace(rings=(1.0,), sigma=(0.5,))


def test_unknown_kinds_and_families_are_named():
    with pytest.raises(ValueError, match="kind must be one of"):
        kinds.get_kind("wavelet")
    with pytest.raises(ValueError, match="family must be one of"):
        family("rot3d")
    assert set(FAMILIES) == {"rot2d", "fliprot2d", "flip2d", "trivial"}
    for fam in FAMILIES.values():  # every family's facts agree with its gspace class
        assert fam.gspace_class().family == fam.name
