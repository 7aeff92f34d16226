"""``e2c compile`` with the real compiler, end to end: spec files, flags, ``--spec-json``, shards,
manifests, bundles, 8 racing processes, corruption recovery, offline round trip, key versioning."""

from __future__ import annotations

import collections
import json
import os
import shlex
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import cli
from cache import Bundle, CorruptArtifactWarning, OfflineMissError, Record, Store, compile_command
from e2compile.compiler import BasisArtifact
from e2compile.compiler import compile as compile_basis
from e2compile.gspaces import FlipRot2dOnR2, Rot2dOnR2, TrivialOnR2
from e2compile.kernels.kind import kernel_spec
from e2compile.specs import BasisSpec
from tests.cache.test_cache_record import flip_byte_mid_dataset, sha

REPO = Path(__file__).resolve().parents[2]

LAYERS = [
    {"gspace": "rot2d", "N": 4, "in": ["2*trivial"], "out": ["regular"], "kernel_size": 3},
    {"gspace": "rot2d", "N": 4, "in": "regular", "out": ["regular", "irrep_1"], "kernel_size": 3},
    {"gspace": "fliprot2d", "N": 2, "in": "regular", "out": "irrep_1,1", "kernel_size": 3},
    {"gspace": "trivial", "in": "trivial", "out": "trivial", "kernel_size": 3, "sigma": [0.5, 0.4]},
]


def expected_specs() -> list[BasisSpec]:
    """The specs of ``LAYERS``, built directly with the compiler's API."""
    r4, d2, t = Rot2dOnR2(4), FlipRot2dOnR2(2), TrivialOnR2()
    return [
        kernel_spec(r4, r4.trivial_repr + r4.trivial_repr, r4.regular_repr, 3),
        kernel_spec(r4, r4.regular_repr, r4.regular_repr + r4.irrep(1), 3),
        kernel_spec(d2, d2.regular_repr, d2.irrep(1, 1), 3),
        kernel_spec(t, t.trivial_repr, t.trivial_repr, 3, sigma=[0.5, 0.4]),
    ]


def e2c(root: Path, *args: str):
    return CliRunner().invoke(cli.main, ["--cache-dir", str(root), *args], catch_exceptions=False)


@pytest.fixture
def spec_file(tmp_path) -> Path:
    path = tmp_path / "layers.json"
    path.write_text(json.dumps(LAYERS))
    return path


def _env(root: Path) -> dict[str, str]:
    env = {**os.environ, "E2C_CACHE_DIR": str(root), "PYTHONPATH": str(REPO)}
    env.pop("E2C_CACHE_PATH", None)
    env.pop("E2C_OFFLINE", None)
    return env


def _e2c_command() -> list[str]:
    script = Path(sys.executable).parent / "e2c"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli"]


# ---------------------------------------------------------------------------- spec inputs


def test_spec_file_formats_and_flags_give_the_compiler_keys(tmp_path, spec_file):
    keys = sorted(s.key for s in expected_specs())
    listed = json.loads(e2c(tmp_path, "compile", str(spec_file), "--dry-run", "--json").stdout)
    assert sorted(listed["specs"]) == keys and listed["total"] == 4
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"layers": LAYERS}))
    toml = tmp_path / "layers.toml"
    toml.write_text(
        '[[layers]]\ngspace = "Rot2dOnR2"\nN = 4\nin = ["2*trivial"]\nout = "regular"\n'
        "kernel_size = 3\n"
    )
    both = json.loads(
        e2c(tmp_path, "compile", str(wrapped), str(toml), "--dry-run", "--json").stdout
    )
    assert sorted(both["specs"]) == keys  # duplicates across inputs collapse
    flags = ["--gspace", "fliprot2d", "-N", "2", "--in", "regular", "--out", "irrep_1,1"]
    one = json.loads(
        e2c(tmp_path, "compile", *flags, "--kernel-size", "3", "--dry-run", "--json").stdout
    )
    assert list(one["specs"]) == [expected_specs()[2].key]
    spec = expected_specs()[1]
    pretty = json.dumps(json.loads(spec.canonical_json()), indent=4)  # not canonical: normalised
    out = json.loads(e2c(tmp_path, "compile", "--spec-json", pretty, "--dry-run", "--json").stdout)
    assert out["specs"] == {spec.key: spec.canonical_json()}


@pytest.mark.parametrize(
    "layer, message",
    [
        ({**LAYERS[0], "kernal_size": 3}, "unknown field"),
        ({"gspace": "rot2d", "N": 4, "in": "regular", "kernel_size": 3}, "missing field"),
        ({**LAYERS[0], "gspace": "so3"}, "unknown gspace"),
        ({**LAYERS[0], "in": "regulr"}, "unknown representation"),
        ({**LAYERS[0], "kind": "wavelet"}, "kind must be one of"),
        ({**LAYERS[3], "N": 4}, "takes no N"),
    ],
)
def test_bad_layer_descriptions_are_usage_errors(tmp_path, layer, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([layer]))
    result = e2c(tmp_path, "compile", str(path))
    assert result.exit_code == 2 and message in result.output
    bad_json = e2c(tmp_path, "compile", "--spec-json", "{not json")
    assert bad_json.exit_code == 2


def test_shards_partition_the_specs(tmp_path, spec_file):
    shares = [
        json.loads(
            e2c(
                tmp_path, "compile", str(spec_file), "--shard", f"{i}/3", "--dry-run", "--json"
            ).stdout
        )["specs"]
        for i in range(3)
    ]
    keys = [k for share in shares for k in share]
    assert sorted(keys) == sorted(s.key for s in expected_specs()) and len(set(keys)) == 4


# ---------------------------------------------------------------------------- compiling


def test_compile_manifest_bundle_and_artifacts(tmp_path, spec_file):
    root = tmp_path / "store"
    manifest, bundle = tmp_path / "m.json", tmp_path / "b.h5"
    result = e2c(
        root, "compile", str(spec_file), "--manifest", str(manifest), "--bundle", str(bundle)
    )
    assert result.exit_code == 0 and "4 compiled, 0 cached, 0 failed" in result.stdout
    specs = expected_specs()
    data = json.loads(manifest.read_text())
    assert data["keys"] == sorted(s.key for s in specs) == Bundle(bundle).keys()
    assert data["specs"] == {s.key: s.canonical_json() for s in specs} and data["failed"] == []
    store = Store(root, layers=[])
    for spec in specs:
        record = store.get(spec.key)
        assert record.meta["spec"] == spec.canonical_json()
        artifact = BasisArtifact.from_record(record.arrays, record.meta)
        direct = compile_basis(spec)
        np.testing.assert_array_equal(artifact.basis, direct.basis)
        assert artifact == direct
        assert Bundle(bundle).get(spec.key) == record
    again = json.loads(e2c(root, "compile", str(spec_file), "--json").stdout)
    assert again["ok"] and again["cached"] == 4 and again["compiled"] == 0


def test_a_pair_without_kernels_compiles_to_an_empty_artifact(tmp_path):
    flags = ["--gspace", "rot2d", "-N", "4", "--in", "trivial", "--out", "irrep_1"]
    result = e2c(tmp_path, "compile", *flags, "--kernel-size", "1", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ok"] and data["compiled"] == 1
    store = Store(tmp_path, layers=[])
    (key,) = store.keys()
    record = store.get(key)
    assert BasisArtifact.from_record(record.arrays, record.meta).dim == 0


def test_compile_failure_exits_1(tmp_path, monkeypatch):
    from e2compile import compiler

    def broken(spec):
        raise RuntimeError("compiler exploded")

    monkeypatch.setattr(compiler, "compile", broken)
    flags = ["--gspace", "rot2d", "-N", "4", "--in", "regular", "--out", "regular"]
    result = e2c(tmp_path, "compile", *flags, "--kernel-size", "3", "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert not data["ok"] and data["failed"] == 1
    assert "compiler exploded" in data["results"][0]["error"]
    assert Store(tmp_path, layers=[]).keys() == []


def test_corrupted_artifact_is_recompiled(tmp_path, spec_file):
    root = tmp_path / "store"
    e2c(root, "compile", str(spec_file))
    store = Store(root, layers=[])
    spec = expected_specs()[1]
    good = sha(store.root.path(spec.key))
    flip_byte_mid_dataset(store.root.path(spec.key), "arrays/blocks")
    with pytest.warns(CorruptArtifactWarning):
        result = e2c(root, "compile", str(spec_file), "--json")
    statuses = {r["key"]: r["status"] for r in json.loads(result.stdout)["results"]}
    assert statuses[spec.key] == "compiled" and list(statuses.values()).count("cached") == 3
    assert len(list(store.root.quarantine_dir.glob("*.h5"))) == 1
    restored = store.get(spec.key)
    assert restored == Record(spec.key, *compile_basis(spec).to_record())
    assert sha(store.root.path(spec.key)) != good  # a fresh file (new creation time) ...
    assert all(r.ok for r in store.verify())  # ... and a valid one


def test_eight_processes_compile_the_same_specs(tmp_path, spec_file):
    """8 processes compile one spec list into one empty store at once: each key compiled once."""
    root = tmp_path / "store"
    cmd = [sys.executable, "-m", "cli", "compile", str(spec_file), "--json"]
    procs = [
        subprocess.Popen(
            cmd, env=_env(root), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(8)
    ]
    compiled: collections.Counter[str] = collections.Counter()
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
        for r in json.loads(out)["results"]:
            assert r["status"] in ("compiled", "cached")
            compiled[r["key"]] += r["status"] == "compiled"
    keys = sorted(s.key for s in expected_specs())
    assert sorted(compiled) == keys and set(compiled.values()) == {1}, compiled
    store = Store(root, layers=[])
    assert store.keys() == keys
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert all(r.ok for r in store.verify())
    assert list(root.rglob("*.tmp")) == []


def test_end_to_end_in_a_subprocess(tmp_path, spec_file):
    """The installed `e2c` in real processes: compile --jobs 2, then ls, verify, gc."""
    root = tmp_path / "store"
    env = _env(root)

    def e2c_proc(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*_e2c_command(), *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    result = e2c_proc("compile", str(spec_file), "--jobs", "2", "--manifest", "m.json")
    assert result.returncode == 0, result.stderr
    assert "4 compiled, 0 cached, 0 failed" in result.stdout
    listing = e2c_proc("cache", "ls", "--json")
    assert listing.returncode == 0
    rows = json.loads(listing.stdout)
    assert sorted(r["key"] for r in rows) == sorted(s.key for s in expected_specs())
    assert all(r["valid"] and r["layer_kind"] == "writable" for r in rows)
    assert e2c_proc("cache", "ls").stdout.count("rot2d N=4") == 2
    verify = e2c_proc("cache", "verify")
    assert verify.returncode == 0 and "4 artifacts checked, 0 invalid" in verify.stdout
    keep = json.loads((tmp_path / "m.json").read_text())["keys"][:1]
    (tmp_path / "keep.json").write_text(json.dumps(keep))
    gc = e2c_proc("cache", "gc", "--max-size", "0", "--keep-manifest", "keep.json", "--json")
    assert gc.returncode == 0 and len(json.loads(gc.stdout)["removed"]) == 3
    assert Store(root, layers=[]).keys() == keep
    assert e2c_proc("cache", "path").stdout.strip() == str(root)
    assert e2c_proc("cache", "info", "nope").returncode == 1
    assert e2c_proc("compile", "--shard", "1/1").returncode == 2


# ---------------------------------------------------------------------- offline and versions


def test_offline_error_command_compiles_the_missing_spec(tmp_path):
    spec = expected_specs()[2]
    store = Store(tmp_path, layers=[], offline=True)
    with pytest.raises(OfflineMissError) as info:
        store.get_or_create(spec.key, lambda: pytest.fail("offline"), spec=spec.canonical_json())
    command = f"e2c compile {shlex.quote(info.value.spec_file)}"
    assert str(info.value).endswith(command)
    runtime_bases = pytest.importorskip("runtime.bases")
    error = runtime_bases.OfflineBasisMissError(spec, info.value.spec_file)
    assert error.command == command  # one command, two errors
    assert shlex.split(compile_command(spec.canonical_json()))[2] == "--spec-json"  # still works
    argv = shlex.split(command)
    assert argv[:2] == ["e2c", "compile"]
    result = e2c(tmp_path, *argv[1:])
    assert result.exit_code == 0 and "1 compiled" in result.stdout
    record = store.get_or_create(spec.key, lambda: pytest.fail("now stored"))
    assert BasisArtifact.from_record(record.arrays, record.meta) == compile_basis(spec)


def test_a_spec_of_another_compiler_version_is_refused(tmp_path):
    spec = expected_specs()[0]
    bumped = spec.canonical_json().replace(
        f'"algorithm_version":{spec.algorithm_version}',
        f'"algorithm_version":{spec.algorithm_version + 1}',
    )
    with pytest.raises(ValueError, match="algorithm_version"):
        BasisSpec.from_json(bumped)
    result = e2c(tmp_path, "compile", "--spec-json", bumped)
    assert result.exit_code != 0 and "algorithm_version" in result.output
    store = Store(tmp_path, layers=[])
    record = Record(spec.key, *compile_basis(spec).to_record())
    store.put(record)
    assert store.root.info(spec.key).compiler_version == record.meta["compiler_version"] != ""
