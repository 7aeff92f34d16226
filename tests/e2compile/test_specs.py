"""BasisSpec: defaults, canonical JSON, content keys, validation."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from e2compile import gspaces
from e2compile.compiler import compile
from e2compile.group import directsum
from e2compile.kernels.kind import KernelOptions, kernel_spec
from e2compile.specs import ALGORITHM_VERSION, BasisSpec, RepresentationSpec


@pytest.fixture(scope="module")
def c8():
    return gspaces.Rot2dOnR2(8)


@pytest.fixture(scope="module")
def d4():
    return gspaces.FlipRot2dOnR2(4)


def test_defaults_are_resolved(c8):
    spec = kernel_spec(c8, c8.regular_repr, c8.regular_repr, 5)
    assert spec.family == "rot2d" and spec.N == 8 and spec.axis is None
    assert spec.maximum_frequency is None
    assert spec.options == KernelOptions(
        rings=(0.0, 1.0, 2.0), sigma=(0.005, 0.6, 0.4), frequencies_cutoff="fco1"
    )
    assert spec.options.maximum_offset is None
    assert spec.dilation == 1 and spec.kind == "kernel"
    assert spec.algorithm_version == ALGORITHM_VERSION
    assert spec.in_repr.irreps == ((0,), (1,), (2,), (3,), (4,))
    assert kernel_spec(c8, c8.trivial_repr, c8.trivial_repr, 1).options.sigma == (0.005,)
    assert kernel_spec(c8, c8.trivial_repr, c8.trivial_repr, 4).options.rings == (0.0, 1.0)


def test_continuous_and_flip_families():
    o2 = gspaces.FlipRot2dOnR2(-1, axis=0.25, maximum_frequency=6)
    spec = kernel_spec(o2, o2.trivial_repr, o2.irrep(1, 2), 3)
    assert (spec.family, spec.N, spec.axis, spec.maximum_frequency) == ("fliprot2d", -1, 0.25, 6)
    assert spec.in_repr.irreps == ((0, 0),) and spec.out_repr.irreps == ((1, 2),)
    flips = gspaces.Flip2dOnR2(axis=math.pi / 4)
    spec = kernel_spec(flips, flips.regular_repr, flips.trivial_repr, 3)
    assert (spec.family, spec.N, spec.axis) == ("flip2d", 2, math.pi / 4)
    trivial = gspaces.TrivialOnR2()
    spec = kernel_spec(trivial, trivial.trivial_repr, trivial.trivial_repr, 3)
    assert (spec.family, spec.N, spec.axis) == ("trivial", 1, None)


def test_cutoff_forms(c8):
    r = c8.regular_repr

    def cutoff(value):
        return kernel_spec(c8, r, r, 3, frequencies_cutoff=value).options.frequencies_cutoff

    assert cutoff(-2) == "fco2"
    assert cutoff(-3.0) == "fco3"
    assert cutoff("fco2") == "fco2"
    assert cutoff(3) == 3.0
    assert cutoff(lambda radius: 3 * radius) == (0.0, 3.0)  # its values on the rings 0 and 1
    assert kernel_spec(c8, r, r, 3, sigma=0.5).options.sigma == (0.5, 0.5)


# Frozen once computed; a change here means every stored artifact would be recompiled (changed
# with ALGORITHM_VERSION 3: the kernel's fields became its options, a callable cutoff its values).
GOLDEN_KEYS = {
    "c8_regular_5": "6cceee774836bca1e1085699bf63e3389f71ff2ffe14511a7db53273f8c314b5",
    "d4_regular_to_irrep_3_d2": "cf913be4b28eb32bf866fcce2dd2d62a4f725cb9cf12ead3f89cc67953c3f5a8",
    "so2_irreps_7": "3dae63ea4c2d196bee6dc96d9196b4a0658b06bc0ae1155fff0bce64b444eaf7",
    "direct_d4": "136f6c5a780ce395a78f46fec0729e2a8f837637ebf0dcbb0502d03fb46f5455",
}


def _golden_specs():
    c8 = gspaces.Rot2dOnR2(8)
    d4 = gspaces.FlipRot2dOnR2(4)
    so2 = gspaces.Rot2dOnR2(-1, maximum_frequency=10)
    return {
        "c8_regular_5": kernel_spec(c8, c8.regular_repr, c8.regular_repr, 5),
        "d4_regular_to_irrep_3_d2": kernel_spec(
            d4, d4.regular_repr, d4.irrep(1, 1), 3, dilation=2, maximum_offset=1
        ),
        "so2_irreps_7": kernel_spec(
            so2, directsum([so2.irrep(0), so2.irrep(2)]), so2.irrep(1), 7, frequencies_cutoff=1.5
        ),
        # built field by field: independent of how the group core builds its representations
        "direct_d4": BasisSpec(
            family="fliprot2d",
            N=4,
            axis=0.0,
            maximum_frequency=None,
            in_repr=RepresentationSpec(((1, 1),), np.eye(2)),
            out_repr=RepresentationSpec(((0, 0), (1, 0)), [[0.6, 0.8], [-0.8, 0.6]]),
            kernel_size=5,
            options={
                "rings": (0.0, 1.0, 2.0),
                "sigma": (0.005, 0.6, 0.4),
                "frequencies_cutoff": "fco2",
            },
        ),
    }


def test_golden_keys():
    for name, spec in _golden_specs().items():
        assert spec.key == GOLDEN_KEYS[name], name
        assert spec.key == hashlib.sha256(spec.canonical_json().encode()).hexdigest()


def test_canonical_json_is_compact_sorted_and_round_trips(d4):
    spec = kernel_spec(d4, d4.regular_repr, d4.irrep(1, 1), 5, sigma=[0.1, 0.2, 0.3])
    text = spec.canonical_json()
    assert " " not in text
    obj = json.loads(text)
    assert list(obj) == sorted(obj)
    again = BasisSpec.from_json(text)
    assert again == spec and again.key == spec.key and again.canonical_json() == text


@pytest.mark.parametrize(
    "change",
    [
        {"axis": math.pi / 2 + 1e-9},
        {"sigma": (0.005, 0.6, 0.41)},
        {"rings": (0.0, 1.0, 1.9)},
        {"frequencies_cutoff": "fco2"},
        {"frequencies_cutoff": 2.0},
        {"dilation": 2},
        {"maximum_offset": 1},
        {"kernel_size": 7},
    ],
)
def test_keys_differ_when_sampling_relevant_fields_differ(d4, change):
    spec = kernel_spec(d4, d4.regular_repr, d4.regular_repr, 5)
    assert spec.replace(**change).key != spec.key


def test_keys_differ_for_representations_by_content(c8):
    a = kernel_spec(c8, c8.regular_repr, c8.regular_repr, 3)
    b = kernel_spec(c8, c8.regular_repr, c8.irrep(1), 3)
    q = c8.quotient_repr(2)
    c = kernel_spec(c8, c8.regular_repr, q, 3)
    assert len({a.key, b.key, c.key}) == 3


def test_change_of_basis_is_rounded_and_negative_zero_normalised(c8):
    spec = kernel_spec(c8, c8.regular_repr, c8.regular_repr, 3)
    q = spec.in_repr.matrix()
    nudged = RepresentationSpec(spec.in_repr.irreps, q + 1e-15)
    assert spec.replace(in_repr=nudged).key == spec.key
    zero = RepresentationSpec(((0,),), [[-0.0]])
    assert zero.change_of_basis == ((0.0,),) and "-0.0" not in json.dumps(zero.to_json_obj())


def test_a_callable_cutoff_is_keyed_by_its_values_on_the_rings(c8):
    def spec(cutoff, **kwargs):
        return kernel_spec(c8, c8.trivial_repr, c8.regular_repr, 5, frequencies_cutoff=cutoff,
                           **kwargs)  # fmt: skip

    doubled = spec(lambda r: 2 * r)
    assert doubled.options.frequencies_cutoff == (0.0, 2.0, 4.0)
    # another callable that agrees on the rings (0, 1, 2): the same spec, the same key
    assert spec(lambda r: r * r + r * (2 - r)).key == doubled.key
    assert spec(lambda r: 2 * r + 1e-14).key == doubled.key  # rounded to 12 decimals
    assert spec(lambda r: 2 * r + 0.5).key != doubled.key
    # the canonical values are a cutoff too, and give the same spec
    assert spec((0.0, 2.0, 4.0)) == doubled
    assert BasisSpec.from_json(doubled.canonical_json()) == doubled
    # evaluated on the spec's own rings (grid units), whatever the dilation
    assert spec(lambda r: r, rings=[0.5, 1.5], sigma=0.6).options.frequencies_cutoff == (0.5, 1.5)
    assert spec(lambda r: r, dilation=3).options.frequencies_cutoff == (0.0, 1.0, 2.0)
    assert compile(doubled).dim > 0


@pytest.mark.parametrize(
    "cutoff, words",
    [
        (lambda r: 1.0 / r, "ZeroDivisionError: float division by zero on ring 0 .radius 0 "),
        (
            lambda r: math.inf if r > 1 else r,
            "returned inf on ring 2 .radius 2 grid units.: it must be finite",
        ),
        (lambda r: math.nan, "returned nan on ring 0"),
        (lambda r: "two", "returned 'two' on ring 0 .radius 0 grid units.: expected a number"),
        (lambda r: None, "returned None on ring 0"),
        (lambda: 1.0, "TypeError.* on ring 0"),
    ],
)
def test_a_bad_callable_cutoff_is_an_error_naming_the_ring(c8, cutoff, words):
    with pytest.raises(ValueError, match=words) as info:
        kernel_spec(c8, c8.regular_repr, c8.regular_repr, 5, frequencies_cutoff=cutoff)
    assert str(info.value).startswith("frequencies_cutoff ")  # names the argument


def test_a_callable_cutoff_is_only_called_on_valid_rings(c8):
    calls = []
    with pytest.raises(ValueError, match="rings must lie between"):
        kernel_spec(c8, c8.regular_repr, c8.regular_repr, 3, rings=[0.0, 5.0], sigma=0.6,
                    frequencies_cutoff=lambda r: calls.append(r) or r)  # fmt: skip
    assert calls == []


def test_per_ring_cutoff_values_are_checked(c8):
    base = kernel_spec(c8, c8.regular_repr, c8.regular_repr, 5)
    with pytest.raises(ValueError, match="one value per ring: got 2 for 3 rings"):
        base.replace(frequencies_cutoff=(1.0, 2.0))
    with pytest.raises(ValueError, match="frequencies_cutoff must be finite"):
        base.replace(frequencies_cutoff=(1.0, 2.0, math.inf))
    assert base.replace(frequencies_cutoff=[0.0, 1.0 + 1e-14, 2.0]).options.frequencies_cutoff == (
        0.0, 1.0, 2.0,
    )  # fmt: skip


def test_repr_evaluates_back_and_specs_pickle(d4):
    import pickle

    spec = kernel_spec(d4, d4.regular_repr, d4.irrep(1, 1), 5, maximum_offset=2)
    namespace = {
        "BasisSpec": BasisSpec,
        "RepresentationSpec": RepresentationSpec,
        "KernelOptions": KernelOptions,
    }
    assert eval(repr(spec), namespace) == spec
    assert pickle.loads(pickle.dumps(spec)) == spec


def test_build_representations(d4):
    rep = directsum([d4.regular_repr, d4.irrep(1, 1)])
    spec = kernel_spec(d4, rep, d4.trivial_repr, 3)
    group, in_repr, out_repr = BasisSpec.from_json(spec.canonical_json()).build_representations()
    assert group == d4.fibergroup
    assert in_repr == rep and out_repr == d4.trivial_repr


@pytest.mark.parametrize(
    "args, error, words",
    [
        ({"kernel_size": 0}, ValueError, "kernel_size"),
        ({"kernel_size": -3}, ValueError, "kernel_size"),
        ({"kernel_size": 2.5}, TypeError, "kernel_size"),
        ({"dilation": 0}, ValueError, "dilation"),
        ({"sigma": -0.5}, ValueError, "sigma"),
        ({"sigma": [0.6, -0.1, 0.4]}, ValueError, "sigma"),
        ({"sigma": [0.6, 0.4]}, ValueError, "sigma"),
        ({"rings": [0.0, -1.0]}, ValueError, "rings"),
        ({"rings": [0.0, 9.0]}, ValueError, "rings"),
        ({"frequencies_cutoff": -0.5}, ValueError, "frequencies_cutoff"),
        ({"frequencies_cutoff": "fco9"}, ValueError, "frequencies_cutoff"),
        ({"maximum_offset": -1}, ValueError, "maximum_offset"),
    ],
)
def test_bad_arguments(c8, args, error, words):
    base = {"kernel_size": 5}
    base.update(args)
    with pytest.raises(error, match=words):
        kernel_spec(c8, c8.regular_repr, c8.regular_repr, **base)


def test_representations_of_other_groups_are_rejected(c8, d4):
    with pytest.raises(ValueError, match="in_repr"):
        kernel_spec(c8, d4.regular_repr, c8.regular_repr, 3)
    with pytest.raises(ValueError, match="out_repr"):
        kernel_spec(c8, c8.regular_repr, gspaces.Rot2dOnR2(4).regular_repr, 3)
    with pytest.raises(TypeError, match="in_repr"):
        kernel_spec(c8, "regular", c8.regular_repr, 3)


spec_fields = st.fixed_dictionaries(
    {
        "kernel_size": st.integers(1, 9),
        "dilation": st.integers(1, 3),
        "sigma": st.floats(1e-3, 5.0),
        "frequencies_cutoff": st.one_of(
            st.sampled_from(["fco1", "fco2", "fco3"]), st.floats(0.0, 10.0)
        ),
        "maximum_offset": st.one_of(st.none(), st.integers(0, 5)),
        "axis": st.floats(-10.0, 10.0),
        "n": st.integers(2, 6),
    }
)


@given(spec_fields)
def test_json_round_trip_and_key_stability(fields):
    gspace = gspaces.FlipRot2dOnR2(fields.pop("n"), axis=fields.pop("axis"))
    spec = kernel_spec(gspace, gspace.regular_repr, gspace.trivial_repr, **fields)
    text = spec.canonical_json()
    again = BasisSpec.from_json(text)
    assert again == spec and hash(again) == hash(spec)
    assert again.canonical_json() == text and again.key == spec.key
    for value in json.loads(text)["options"]["sigma"]:
        assert isinstance(value, float)
    assert np.array_equal(again.in_repr.matrix(), spec.in_repr.matrix())


def test_a_spec_of_another_algorithm_version_is_refused(d4):
    spec = kernel_spec(d4, d4.regular_repr, d4.regular_repr, 5)
    with pytest.raises(
        ValueError, match=f"algorithm_version {ALGORITHM_VERSION + 1} is not this compiler.s"
    ):
        spec.replace(algorithm_version=ALGORITHM_VERSION + 1)
    text = spec.canonical_json().replace(
        f'"algorithm_version":{ALGORITHM_VERSION}', f'"algorithm_version":{ALGORITHM_VERSION + 1}'
    )
    with pytest.raises(ValueError, match="algorithm_version"):
        BasisSpec.from_json(text)


def test_a_non_orthogonal_change_of_basis_is_refused(d4):
    spec = kernel_spec(d4, d4.irrep(1, 1), d4.irrep(1, 1), 3)
    skewed = RepresentationSpec(spec.in_repr.irreps, [[1.0, 0.5], [0.0, 1.0]])
    for name in ("in_repr", "out_repr"):
        with pytest.raises(ValueError, match=f"{name}: change_of_basis must be orthogonal"):
            spec.replace(**{name: skewed})
    scaled = RepresentationSpec(spec.in_repr.irreps, [[2.0, 0.0], [0.0, 2.0]])
    with pytest.raises(ValueError, match="orthogonal"):
        spec.replace(in_repr=scaled)


def test_a_spec_of_the_previous_layout_is_refused_by_its_version(d4):
    """Version 2 specs held the kernel's options as top-level fields: they are refused for their
    version (with the way out), not for their fields."""
    obj = json.loads(kernel_spec(d4, d4.regular_repr, d4.regular_repr, 5).canonical_json())
    obj.update(obj.pop("options"), algorithm_version=2)
    with pytest.raises(ValueError, match="algorithm_version 2 is not this compiler.s .*rebuild"):
        BasisSpec.from_json(json.dumps(obj))
