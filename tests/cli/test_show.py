"""``e2compile.show`` and ``e2c show``: an artifact's basis filters as an image grid."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner

import cli
from cache import Store
from e2compile import gspaces
from e2compile.compiler import compile as compile_basis
from e2compile.kernels.kind import kernel_spec
from e2compile.show import dense_filters, element_rows, irrep_tiles, render_tiles
from tests.cache.test_cache_record import flip_byte_mid_dataset

PNG = b"\x89PNG\r\n\x1a\n"


def artifact_of(space, in_repr, out_repr, k=5):
    return compile_basis(kernel_spec(space, in_repr, out_repr, k))


@pytest.mark.parametrize(
    "space", [gspaces.Rot2dOnR2(4), gspaces.FlipRot2dOnR2(3), gspaces.Rot2dOnR2(-1, 3)]
)
def test_tiles_are_the_whole_filter_in_the_irreps_basis(space):
    """Putting every tile back in its irreps block and redoing the changes of basis gives the
    stored filters exactly: nothing outside the blocks is lost."""
    regular = space.regular_repr if not space.fibergroup.continuous else space.irrep(1)
    art = artifact_of(space, regular, regular + space.trivial_repr, k=3)
    tiles = irrep_tiles(art)
    group, in_repr, out_repr = art.spec.build_representations()
    sizes_in = [group.irreps[n].size for n in in_repr.irreps]
    sizes_out = [group.irreps[n].size for n in out_repr.irreps]
    start_in, start_out = np.cumsum([0, *sizes_in]), np.cumsum([0, *sizes_out])
    blocks = np.zeros((art.dim, *art.shape, 3, 3))
    for t in tiles:
        o = start_out[art.attributes["out_irrep_position"][t.element]] + t.out_index
        i = start_in[art.attributes["in_irrep_position"][t.element]] + t.in_index
        blocks[t.element, o, i] = t.image
    q_in, q_out = art.spec.in_repr.matrix(), art.spec.out_repr.matrix()
    back = np.einsum("ab,nbcyx,cd->nadyx", q_out, blocks, np.linalg.inv(q_in))
    np.testing.assert_allclose(back, dense_filters(art), atol=1e-12)
    per_element = [
        sizes_out[art.attributes["out_irrep_position"][n]]
        * sizes_in[art.attributes["in_irrep_position"][n]]
        for n in range(art.dim)
    ]
    assert len(tiles) == sum(per_element)


@pytest.mark.extra("tools")
def test_titles_carry_ring_and_frequency_from_the_attributes(tmp_path):
    s = gspaces.Rot2dOnR2(8)
    art = artifact_of(s, s.trivial_repr, s.regular_repr)
    tiles = irrep_tiles(art, max_elements=3)
    assert {t.element for t in tiles} == {0, 1, 2}
    for t in tiles:
        r = art.attributes["radius"][t.element]
        f = art.attributes["frequency"][t.element]
        assert t.title.startswith(f"#{t.element} r={r:g} f={f}")
        assert f"{art.attributes['out_irrep'][t.element]} <- irrep_0" in t.title
    assert dense_filters(art).shape == (art.dim, 8, 1, 5, 5)
    path = tmp_path / "tiles.png"
    render_tiles(tiles, str(path), title="C8")
    assert path.read_bytes()[:8] == PNG


def test_any_kind_draws_through_the_same_path():
    """A PDO-like artifact (order and Laplacian power instead of a ring) and a factored one that
    gives its dense filters through ``dense_basis()``."""
    s = gspaces.Rot2dOnR2(4)
    art = artifact_of(s, s.trivial_repr, s.regular_repr, k=3)
    columns = {k: v for k, v in art.attributes.items() if k not in ("radius", "sigma")}
    columns |= {"order": np.arange(art.dim), "power": np.zeros(art.dim, dtype=int)}
    factored = SimpleNamespace(spec=art.spec, attributes=columns, dense_basis=lambda: art.basis)
    tiles = irrep_tiles(factored)
    assert tiles[1].title.startswith("#1 order=1 lap^=0 f=")
    assert " r=" not in tiles[1].title
    assert element_rows(factored)[2]["order"] == 2


def test_bad_input():
    with pytest.raises(ValueError, match="tiles"):
        render_tiles([], "never.png")
    s = gspaces.Rot2dOnR2(4)
    with pytest.raises(ValueError, match="max_elements"):
        irrep_tiles(artifact_of(s, s.trivial_repr, s.trivial_repr, k=3), max_elements=0)


def e2c(root: Path, *args: str):
    return CliRunner().invoke(cli.main, ["--cache-dir", str(root), *args])


def compiled_key(root: Path, *flags: str) -> str:
    result = e2c(root, "compile", "--gspace", "rot2d", "-N", "4", *flags, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["results"][0]["key"]


@pytest.mark.extra("tools")
def test_cli_lists_draws_and_is_pointed_at_by_cache_info(tmp_path):
    root = tmp_path / "root"
    key = compiled_key(root, "--in", "trivial", "--out", "regular", "--kernel-size", "5")
    png = tmp_path / "basis.png"
    result = e2c(root, "show", key[:10], "--png", str(png), "--max-elements", "2", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["key"] == key and data["drawn"] == 2 and len(data["elements"]) > 2
    assert {"radius", "frequency", "in_irrep"} <= set(data["elements"][0])
    assert png.read_bytes()[:8] == PNG
    result = e2c(root, "show", key)
    assert result.exit_code == 0 and "elements" in result.stdout.splitlines()[0]
    info = e2c(root, "cache", "info", key[:10])
    assert f"e2c show {key[:16]} --png" in info.stdout


def test_cli_refuses_missing_corrupt_and_empty_artifacts(tmp_path):
    root = tmp_path / "root"
    assert e2c(root, "show", "ab" * 32).exit_code == 1
    empty = compiled_key(root, "--in", "trivial", "--out", "irrep_1", "--kernel-size", "1")
    result = e2c(root, "show", empty, "--png", str(tmp_path / "e.png"))
    assert result.exit_code == 1 and "dim 0" in result.output
    key = compiled_key(root, "--in", "trivial", "--out", "regular", "--kernel-size", "3")
    flip_byte_mid_dataset(Store(root, layers=[]).root.path(key), "arrays/blocks")
    with pytest.warns(Warning):
        result = e2c(root, "show", key, "--png", str(tmp_path / "bad.png"))
    assert result.exit_code == 1 and not (tmp_path / "bad.png").exists()


def test_tile_is_an_immutable_value():
    s = gspaces.Rot2dOnR2(4)
    tile = irrep_tiles(artifact_of(s, s.trivial_repr, s.trivial_repr, k=3))[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        tile.title = "x"  # type: ignore[misc]


@pytest.mark.parametrize("name", ["x.txt", "x", "x.pdf"])
def test_png_names_a_png_file_not_a_matplotlib_traceback(tmp_path, name):
    root = tmp_path / "root"
    key = compiled_key(root, "--in", "trivial", "--out", "regular", "--kernel-size", "3")
    result = e2c(root, "show", key, "--png", str(tmp_path / name))
    assert result.exit_code == 2 and "expected a file name ending in .png" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / name).exists()
