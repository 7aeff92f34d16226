"""The basis-kind registry is the compiler's extension point: a third kind is one module (this
one defines ``KIND``) plus one registration, and specs, compile, artifacts, layer descriptions,
the store bridge and the runtime handle it like the built-in kinds."""

from __future__ import annotations

import numpy as np
import pytest

from e2compile import gspaces, kinds
from e2compile.artifact import BasisArtifact
from e2compile.assembly import bias_basis
from e2compile.compiler import compile
from e2compile.families import FAMILIES, family
from e2compile.layer_fields import read_field
from e2compile.layers import spec_from_layer
from e2compile.specs import BasisSpec, gspace_fields


def _compile(spec):
    """The identity at the grid's centre, on every matching pair of channels."""
    group, _, out_repr = spec.build_representations()
    o, i = spec.out_repr.size, spec.in_repr.size
    basis = np.zeros((1, o, i, spec.kernel_size**2))
    basis[0, :, :, spec.kernel_size**2 // 2] = np.eye(o, i)
    return BasisArtifact(spec, basis, {"weight": np.ones(1)}, bias_basis(spec, group, out_repr))


def _from_layer(desc, gspace, in_repr, out_repr):
    """A layer description of the kind: the common fields only (``kernel_size`` default 3)."""
    size = read_field(desc, "kernel_size", int, default=3)
    return BasisSpec(**gspace_fields(gspace, in_repr, out_repr), kind="point", kernel_size=size)


BUILT: list[str] = []  # keys the runtime reported built (the kind's after_build)

KIND = kinds.BasisKind(name="point", columns={"weight": "f"}, compile=_compile,
                       spec_from_layer=_from_layer,
                       after_build=lambda spec: BUILT.append(spec.key))  # fmt: skip


@pytest.fixture
def point_kind(monkeypatch):
    """The kind registered (one registration) for the test only."""
    monkeypatch.setitem(kinds._MODULES, "point", __name__)
    monkeypatch.delitem(kinds._LOADED, "point", raising=False)
    yield
    kinds._LOADED.pop("point", None)


def _point_spec(gs):
    return BasisSpec(**gspace_fields(gs, gs.trivial_repr, gs.trivial_repr), kind="point",
                     kernel_size=3)  # fmt: skip


def test_a_third_kind_is_one_module_plus_one_registration(point_kind):
    gs = gspaces.Rot2dOnR2(4)
    spec = _point_spec(gs)
    artifact = compile(spec)
    assert artifact.dim == 1 and artifact.basis[0, 0, 0, 4] == 1.0
    again = BasisArtifact.from_record(*artifact.to_record())
    assert again == artifact and BasisSpec.from_json(spec.canonical_json()) == spec
    # the spec is neutral about kinds: no other kind's option exists for a point spec
    assert spec.options == kinds.KindOptions() and '"options":{}' in spec.canonical_json()
    with pytest.raises(
        ValueError, match=r"unknown option\(s\) \['rings', 'sigma'\] of a point spec"
    ):
        BasisSpec(**gspace_fields(gs, gs.trivial_repr, gs.trivial_repr), kind="point",
                  options={"rings": (1.0,), "sigma": (0.5,)})  # fmt: skip
    with pytest.raises(ValueError, match="unknown option"):
        spec.replace(frequencies_cutoff="fco1")
    layer = {"gspace": "rot2d", "N": 4, "in": "trivial", "out": "trivial", "kind": "point"}
    assert spec_from_layer(layer) == spec


def test_a_third_kind_goes_through_the_store_and_the_runtime(point_kind, tmp_path):
    from cache import Store
    from runtime import bases

    gs = gspaces.FlipRot2dOnR2(3)
    spec = _point_spec(gs)
    BUILT.clear()
    bases.MEMO.clear()
    compiled = bases.load_basis(spec, store=Store(tmp_path))
    bases.MEMO.clear()
    offline = bases.load_basis(spec, store=Store(tmp_path, offline=True))  # read back, no compile
    assert offline == compiled and Store(tmp_path).contains(spec.key)
    assert BUILT == [spec.key, spec.key]
    bases.MEMO.clear()


def test_unknown_kinds_and_families_are_named():
    with pytest.raises(ValueError, match="kind must be one of"):
        kinds.get_kind("wavelet")
    with pytest.raises(ValueError, match="family must be one of"):
        family("rot3d")
    assert set(FAMILIES) == {"rot2d", "fliprot2d", "flip2d", "trivial"}
    for fam in FAMILIES.values():  # every family's facts agree with its gspace class
        assert fam.gspace_class().family == fam.name


@pytest.mark.parametrize("n", [2, 3, 4, 5, 8])
def test_family_facts_agree_with_the_groups_they_describe(n):
    """The per-family facts the compiler uses before building a group (irreps counts, the spec's
    N) agree with the groups and gspaces themselves."""
    from e2compile.layers import _size_of

    spaces = {
        "rot2d": [gspaces.Rot2dOnR2(n), gspaces.Rot2dOnR2(-1, maximum_frequency=n)],
        "fliprot2d": [gspaces.FlipRot2dOnR2(n), gspaces.FlipRot2dOnR2(-1, maximum_frequency=n)],
        "flip2d": [gspaces.Flip2dOnR2()],
        "trivial": [gspaces.TrivialOnR2()],
    }
    assert set(spaces) == set(FAMILIES)
    for name, fam in FAMILIES.items():
        for gs in spaces[name]:
            N = fam.spec_N(gs)
            group = fam.build_group(N, gs.maximum_frequency)
            assert group == gs.fibergroup
            count = fam.irreps_count(N, gs.maximum_frequency)
            assert len(group.irreps) <= count <= len(group.irreps) + 1  # a tight upper bound
            if N != -1:
                size, irreps = _size_of(group, "regular")
                assert (size, irreps) == (gs.regular_repr.size, len(gs.regular_repr.irreps))
                assert fam.period(N) == (gs.N if fam.rotations else 1)
