"""``e2c cache ...`` commands (click's CliRunner) and the option parsers of ``cli``."""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
from cache import Bundle, Store, write_bundle
from tests.cache.test_cache_record import flip_byte_mid_dataset, make_record, sha

REPO = Path(__file__).resolve().parents[2]


def run(store_dir: Path, *args: str, layers: tuple[str, ...] = ()):
    opts = ["--cache-dir", str(store_dir)]
    for layer in layers:
        opts += ["--cache-path", layer]
    return CliRunner().invoke(cli.main, [*opts, *args], catch_exceptions=False)


@pytest.fixture
def filled(tmp_path):
    root = tmp_path / "store"
    store = Store(root, layers=[])
    records = [make_record(i) for i in range(3)]
    for r in records:
        store.put(r)
    return root, store, records


def test_version_and_help():
    result = CliRunner().invoke(cli.main, ["--version"])
    assert result.exit_code == 0 and "e2c, version" in result.output
    for args in (["--help"], ["cache", "--help"], ["compile", "--help"]):
        assert CliRunner().invoke(cli.main, args).exit_code == 0
    assert "kernel_size" in CliRunner().invoke(cli.main, ["compile", "--help"]).output


def test_path(tmp_path):
    bundle = tmp_path / "b.h5"
    write_bundle(bundle, [])
    result = run(tmp_path / "s", "cache", "path")
    assert result.output.strip() == str(tmp_path / "s")
    result = run(tmp_path / "s", "cache", "path", "--json", layers=(str(bundle),))
    data = json.loads(result.output)
    assert data["root"] == str(tmp_path / "s") and data["offline"] is False
    assert data["layers"] == [{"path": str(bundle), "kind": "bundle"}]
    all_layers = run(tmp_path / "s", "cache", "path", "--all", layers=(str(bundle),)).output
    assert all_layers.splitlines() == [f"{tmp_path / 's'}\twritable", f"{bundle}\tbundle"]


def test_ls_and_info(filled):
    root, store, records = filled
    result = run(root, "cache", "ls")
    assert result.exit_code == 0
    assert sorted(line[:16] for line in result.stdout.splitlines()) == sorted(
        r.key[:16] for r in records
    )
    assert "rot2d N=8 k=5" in result.stdout
    rows = json.loads(run(root, "cache", "ls", "--json").stdout)
    assert [r["key"] for r in rows] == store.keys()
    assert all(r["valid"] and r["spec"] == store.get(r["key"]).spec for r in rows)
    key = records[0].key
    info = json.loads(run(root, "cache", "info", key[:10], "--json").stdout)
    assert info["key"] == key and info["arrays"]["basis"]["shape"] == [3, 4, 2, 25]
    human = run(root, "cache", "info", key[:10]).stdout
    assert key in human and "attributes/in_irrep" in human
    # a missing key fails (1); a prefix that matches several is a usage error (2)
    assert run(root, "cache", "info", "f" * 64).exit_code == 1
    for i in range(3, 20):  # 17 keys: two share a first digit (pigeonhole)
        store.put(make_record(i))
    firsts = collections.Counter(k[0] for k in store.keys())
    shared = next(c for c, n in firsts.items() if n > 1)
    ambiguous = run(root, "cache", "info", shared)
    assert ambiguous.exit_code == 2 and "give more digits" in ambiguous.output


def test_verify_quarantines_and_fails(filled):
    root, store, records = filled
    result = run(root, "cache", "verify")
    assert result.exit_code == 0 and "3 artifacts checked, 0 invalid" in result.stdout
    flip_byte_mid_dataset(store.root.path(records[1].key))
    listing = json.loads(run(root, "cache", "ls", "--json").stdout)
    assert {r["key"]: r["valid"] for r in listing} == {r.key: r is not records[1] for r in records}
    assert "INVALID" in run(root, "cache", "ls").stdout
    result = run(root, "cache", "verify", "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert not data["ok"] and data["checked"] == 3
    assert [x["key"] for x in data["invalid"]] == [records[1].key]
    assert Path(data["invalid"][0]["quarantined_to"]).exists()
    assert run(root, "cache", "verify").exit_code == 0


def test_info_of_invalid_artifact_fails(filled):
    root, store, records = filled
    flip_byte_mid_dataset(store.root.path(records[0].key))
    result = run(root, "cache", "info", records[0].key)
    assert result.exit_code == 1 and "INVALID" in result.stdout
    assert store.root.path(records[0].key).exists()  # info has no side effect


def test_gc(filled):
    root, store, records = filled
    old = time.time() - 40 * 86400
    os.utime(store.root.path(records[0].key), (old, old))
    os.utime(store.root.path(records[1].key), (old, old))
    manifest = root.parent / "keep.json"
    manifest.write_text(json.dumps({"keys": [records[1].key]}))
    dry = json.loads(run(root, "cache", "gc", "--older-than", "30d", "--dry-run", "--json").stdout)
    assert dry["removed"] == sorted([records[0].key, records[1].key]) and len(store.keys()) == 3
    result = run(root, "cache", "gc", "--older-than", "30d", "--keep-manifest", str(manifest))
    assert result.exit_code == 0 and "removed 1 artifacts" in result.stdout
    assert store.keys() == sorted([records[1].key, records[2].key])
    result = run(root, "cache", "gc", "--max-size", "1", "--json")
    assert set(json.loads(result.stdout)["removed"]) == {records[1].key, records[2].key}
    assert store.keys() == []


@pytest.mark.parametrize(
    "args",
    [
        ["cache", "gc", "--older-than", "soon"],
        ["cache", "gc", "--max-size", "lots"],
        ["cache", "gc", "--keep-manifest", "/nonexistent.json"],
        ["cache", "frobnicate"],
        ["compile"],
        ["compile", "--shard", "4/4", "--spec-json", "{}"],
        ["compile", "--shard", "x", "--spec-json", "{}"],
        ["compile", "--jobs", "0", "--spec-json", "{}"],
        ["compile", "/no/such/specs.json"],
    ],
)
def test_usage_errors_exit_2(tmp_path, args):
    assert run(tmp_path, *args).exit_code == 2


def test_parsers():
    assert cli.parse_size("500M") == 500 * 2**20 and cli.parse_size("1.5GiB") == 3 * 2**29
    assert cli.parse_size("123") == 123 and cli.parse_size("2kb") == 2048
    assert cli.parse_duration("90s") == 90 and cli.parse_duration("2w") == 14 * 86400
    assert cli.parse_duration("30") == 30 * 86400
    keys = [f"{i:064x}" for i in range(10)]
    shards = [cli.select_shard(keys[::-1], (i, 3)) for i in range(3)]
    assert sorted(sum(shards, [])) == keys and all(len(s) in (3, 4) for s in shards)
    assert cli.select_shard(keys, None) == keys


def test_pack_unpack_merge_round_trip_bitwise(filled, tmp_path):
    root, store, records = filled
    bundle = tmp_path / "all.h5"
    result = run(root, "cache", "pack", str(bundle), "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["ok"]
    assert Bundle(bundle).keys() == store.keys()
    # a fresh process reads the bundle as a layer, with an empty root
    code = (
        "import sys, cache\n"
        "s = cache.Store()\n"
        "assert s.root.keys() == [] and len(s.keys()) == 3\n"
        "print(sorted(s.get(k).arrays['basis'].sum() for k in s.keys()))\n"
    )
    env = {
        **os.environ,
        "E2C_CACHE_DIR": str(tmp_path / "fresh"),
        "E2C_CACHE_PATH": str(bundle),
        "PYTHONPATH": str(REPO),
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == str(sorted(r.arrays["basis"].sum() for r in records))
    # unpack into an empty store: identical files (creation times carried over)
    unpacked = tmp_path / "unpacked"
    result = run(unpacked, "cache", "unpack", str(bundle))
    assert result.exit_code == 0 and "3 copied" in result.stdout
    target = Store(unpacked, layers=[])
    for r in records:
        assert sha(target.root.path(r.key)) == sha(store.root.path(r.key))
        assert target.get(r.key) == r
    assert "3 present" in run(unpacked, "cache", "unpack", str(bundle)).stdout
    # pack a subset by key prefix and by manifest
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"keys": [records[2].key]}))
    part = tmp_path / "part.h5"
    assert (
        run(
            root, "cache", "pack", str(part), records[0].key[:12], "--manifest", str(manifest)
        ).exit_code
        == 0
    )
    assert Bundle(part).keys() == sorted([records[0].key, records[2].key])
    # merge a directory and a bundle into a new bundle, then into a store
    extra = make_record(9)
    other = Store(tmp_path / "other", layers=[])
    other.put(extra)
    merged = tmp_path / "merged.h5"
    result = run(
        tmp_path / "unused", "cache", "merge", str(part), str(other.root.root), "-o", str(merged)
    )
    assert result.exit_code == 0
    assert Bundle(merged).keys() == sorted([records[0].key, records[2].key, extra.key])
    result = run(tmp_path / "m", "cache", "merge", str(merged), str(bundle), "--json")
    data = json.loads(result.stdout)
    assert data["ok"] and len(data["merge"]) == 4
    m = Store(tmp_path / "m", layers=[])
    for r in [*records, extra]:
        assert m.get(r.key) == r
    for r in records:
        assert sha(m.root.path(r.key)) == sha(store.root.path(r.key))
    # repacking the merged store reproduces the bundle's artifacts bit for bit
    again = tmp_path / "again.h5"
    run(tmp_path / "m", "cache", "pack", str(again))
    for key in Bundle(again).keys():
        assert (
            Bundle(again).load(key)[0]
            == Bundle(merged if key != records[1].key else bundle).load(key)[0]
        )


def test_pack_refuses_invalid_or_missing(filled, tmp_path):
    root, store, records = filled
    flip_byte_mid_dataset(store.root.path(records[0].key))
    out = tmp_path / "x.h5"
    result = run(root, "cache", "pack", str(out))
    assert result.exit_code == 1 and not out.exists()
    result = run(root, "cache", "pack", str(out), "0" * 64)
    assert result.exit_code == 1 and not out.exists()
