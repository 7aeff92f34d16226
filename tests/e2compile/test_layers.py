"""Layer descriptions (``e2compile.layers``): plain data to ``BasisSpec``, spec files, errors."""

from __future__ import annotations

import json
import math

import pytest

from e2compile.gspaces import Flip2dOnR2, FlipRot2dOnR2, Rot2dOnR2, TrivialOnR2
from e2compile.kernels.kind import kernel_spec
from e2compile.kinds import get_kind
from e2compile.layers import (
    LAYER_FIELDS,
    LayerError,
    read_layer_file,
    spec_from_layer,
    specs_from_layer_file,
)

GOOD = {"gspace": "rot2d", "N": 4, "in": "regular", "out": ["regular", "irrep_1"], "kernel_size": 5}


def test_a_good_layer_gives_the_spec_of_the_compiler_api():
    r4 = Rot2dOnR2(4)
    assert spec_from_layer(GOOD) == kernel_spec(
        r4, r4.regular_repr, r4.regular_repr + r4.irrep(1), 5
    )


def test_every_field_reaches_the_spec():
    layer = {
        "gspace": "FlipRot2dOnR2",  # a class name works too
        "N": 2,
        "axis": 0.5,
        "in": ["2*trivial"],
        "out": " 1 * irrep_1,1 ",
        "kernel_size": 5,
        "dilation": 2,
        "rings": "0, 1,2",
        "sigma": [0.5, 0.5, 0.4],
        "frequencies_cutoff": "1.5",
        "maximum_offset": 1,
        "kind": "kernel",
    }
    pdo_only = set(get_kind("pdo").layer_fields) - set(get_kind("kernel").layer_fields)
    assert set(layer) == set(LAYER_FIELDS) - {"maximum_frequency"} - pdo_only
    d2 = FlipRot2dOnR2(2, axis=0.5)
    expected = kernel_spec(
        d2,
        d2.trivial_repr + d2.trivial_repr,
        d2.irrep(1, 1),
        5,
        dilation=2,
        rings=[0.0, 1.0, 2.0],
        sigma=[0.5, 0.5, 0.4],
        frequencies_cutoff=1.5,
        maximum_offset=1,
    )
    assert spec_from_layer(layer) == expected


@pytest.mark.parametrize(
    "layer, expected",
    [
        (
            {"gspace": "trivial", "in": "trivial", "out": "trivial", "kernel_size": 3, "sigma": 1},
            lambda: kernel_spec(TrivialOnR2(), *[TrivialOnR2().trivial_repr] * 2, 3, sigma=1.0),
        ),
        (
            {"gspace": "flip2d", "in": "regular", "out": "regular", "kernel_size": 3},
            lambda: kernel_spec(Flip2dOnR2(), *[Flip2dOnR2().regular_repr] * 2, 3),
        ),
        (
            {"gspace": "rot2d", "N": -1, "maximum_frequency": 3, "in": "irrep_0"}
            | {"out": "irrep_2", "kernel_size": 5, "frequencies_cutoff": "fco2"},
            lambda: kernel_spec(
                Rot2dOnR2(-1, maximum_frequency=3),
                Rot2dOnR2(-1, maximum_frequency=3).irrep(0),
                Rot2dOnR2(-1, maximum_frequency=3).irrep(2),
                5,
                frequencies_cutoff="fco2",
            ),
        ),
    ],
    ids=["trivial", "flip2d", "so2"],
)
def test_every_family(layer, expected):
    assert spec_from_layer(layer) == expected()


@pytest.mark.parametrize(
    "change, pattern",
    [
        ({"kernal_size": 3}, r"unknown field\(s\) \['kernal_size'\]"),
        ({"out": None}, r"missing field\(s\) \['out'\]"),
        ({"kind": "wavelet"}, r"kind must be one of \('kernel', 'pdo', 'grid'\), got 'wavelet'"),
        ({"kind": "pdo", "rings": [0, 1]}, r"field\(s\) \['rings'\] do not apply to kind 'pdo'"),
        ({"method": "fd"}, r"field\(s\) \['method'\] do not apply to kind 'kernel'"),
        ({"gspace": "so3"}, r"unknown gspace 'so3'"),
        ({"N": None}, r"gspace rot2d needs N"),
        ({"N": "eight"}, r"'N' must be an integer, got 'eight'"),
        ({"N": 0}, r"N: must be an int"),
        ({"maximum_frequency": "x"}, r"'maximum_frequency' must be an integer"),
        ({"axis": 1.0}, r"gspace rot2d takes no axis"),
        ({"in": "regulr"}, r"'in': unknown representation 'regulr'"),
        ({"out": []}, r"'out' must be a representation name or a non-empty list"),
        ({"out": 5}, r"'out' must be a representation name"),
        ({"in": ["0*regular"]}, r"'in': multiplicity must be positive"),
        ({"kernel_size": "five"}, r"'kernel_size' must be an integer, got 'five'"),
        ({"kernel_size": 0}, r"kernel_size must be >= 1, got 0"),
        ({"kernel_size": 2.5}, r"'kernel_size' must be an integer, got 2.5"),
        ({"kernel_size": True}, r"'kernel_size' must be an integer, got True"),
        ({"dilation": [2]}, r"'dilation' must be an integer"),
        ({"rings": "0,a"}, r"'rings' must be a number or a list of numbers"),
        ({"rings": [0, 1, 9]}, r"rings must lie between 0 and"),
        ({"sigma": ["wide"]}, r"'sigma' must be a number or a list of numbers"),
        ({"sigma": [0.5] * 7}, r"sigma needs one width per ring"),
        ({"frequencies_cutoff": "fco9"}, r"frequencies_cutoff must be one of"),
        ({"maximum_offset": "z"}, r"'maximum_offset' must be an integer"),
    ],
)
def test_a_bad_layer_is_a_layer_error_naming_the_field(change, pattern):
    layer = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(LayerError, match=pattern):
        spec_from_layer(layer)


@pytest.mark.parametrize(
    "layer, pattern",
    [
        ([GOOD], r"a layer description is a table/object, not list"),
        ({"gspace": "trivial", "N": 4, "in": "trivial", "out": "trivial", "kernel_size": 3},
         r"gspace trivial takes no N"),
        ({**GOOD, "N": -1, "maximum_frequency": 2}, r"'in': regular_representation"),
        ({**GOOD, "gspace": "fliprot2d", "axis": "pi"}, r"'axis' must be a number, got 'pi'"),
        ({**GOOD, "gspace": "fliprot2d", "axis": math.inf}, r"axis: must be finite"),
    ],
)  # fmt: skip
def test_more_bad_layers(layer, pattern):
    with pytest.raises(LayerError, match=pattern):
        spec_from_layer(layer)


def test_a_cutoff_per_ring_is_a_layer_field_too():
    """The canonical form of a callable cutoff (one maximum frequency per ring) can be written in
    a layer description, as a list or as comma-separated text (the command line's flag)."""
    r4 = Rot2dOnR2(4)
    expected = kernel_spec(r4, r4.regular_repr, r4.regular_repr + r4.irrep(1), 5,
                           frequencies_cutoff=lambda r: 1.5 * r)  # fmt: skip
    assert spec_from_layer({**GOOD, "frequencies_cutoff": [0, 1.5, 3]}) == expected
    assert spec_from_layer({**GOOD, "frequencies_cutoff": "0, 1.5, 3"}) == expected
    with pytest.raises(LayerError, match="one value per ring: got 2 for 3 rings"):
        spec_from_layer({**GOOD, "frequencies_cutoff": [0, 1.5]})


def test_layer_error_is_a_value_error():
    assert issubclass(LayerError, ValueError)


# ------------------------------------------------------------------------------ spec files


@pytest.mark.parametrize(
    "name, text",
    [
        ("list.json", json.dumps([GOOD, {**GOOD, "kernel_size": 3}])),
        ("wrapped.json", json.dumps({"layers": [GOOD, {**GOOD, "kernel_size": 3}]})),
        (
            "layers.toml",
            '[[layers]]\ngspace = "rot2d"\nN = 4\nin = "regular"\nout = ["regular", "irrep_1"]\n'
            "kernel_size = 5\n\n"
            '[[layers]]\ngspace = "rot2d"\nN = 4\nin = "regular"\nout = ["regular", "irrep_1"]\n'
            "kernel_size = 3\n",
        ),
    ],
)
def test_spec_files(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    assert read_layer_file(path) == [GOOD, {**GOOD, "kernel_size": 3}]
    assert specs_from_layer_file(path) == [
        spec_from_layer(GOOD),
        spec_from_layer({**GOOD, "kernel_size": 3}),
    ]


def test_one_object_is_one_layer(tmp_path):
    path = tmp_path / "one.json"
    path.write_text(json.dumps(GOOD))
    assert read_layer_file(path) == [GOOD]


@pytest.mark.parametrize(
    "name, text, pattern",
    [
        ("bad.json", "{not json", r"bad\.json: Expecting property name"),
        ("bad.toml", "[[layers]\n", r"bad\.toml: "),
        ("scalar.json", "3", r"scalar\.json: expected a list of layer descriptions"),
        ("layer1.json", json.dumps([GOOD, {**GOOD, "dilation": "x"}]),
         r"layer1\.json: layer 1: 'dilation' must be an integer"),
        ("notlayer.json", json.dumps([GOOD, "regular"]),
         r"notlayer\.json: layer 1: a layer description is a table/object, not str"),
    ],
)  # fmt: skip
def test_bad_spec_files_name_the_file_and_the_layer(tmp_path, name, text, pattern):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(LayerError, match=pattern):
        specs_from_layer_file(path)


def test_undecodable_file_is_a_layer_error(tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes(b"\xff\xfe[]")
    with pytest.raises(LayerError, match=r"latin1\.json: .*codec"):
        read_layer_file(path)


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(OSError):
        read_layer_file(tmp_path / "absent.json")
