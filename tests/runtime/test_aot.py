"""``runtime.aot``: the library behind ``e2c compile`` (specs in, compiled artifacts stored)."""

from __future__ import annotations

import json

import pytest

from cache import Bundle, Store
from e2compile.gspaces import Rot2dOnR2
from e2compile.kernels.kind import kernel_spec
from runtime import aot


def _specs():
    gs = Rot2dOnR2(4)
    return [kernel_spec(gs, gs.trivial_repr, gs.regular_repr, k) for k in (3, 5)]


def test_compile_many_stores_basis_specs_and_reports_each_once(tmp_path):
    store = Store(tmp_path, layers=[])
    a, b = _specs()
    results = aot.compile_many([a, b, a], store)
    assert [(r.key, r.status) for r in results] == [(a.key, "compiled"), (b.key, "compiled")]
    assert store.keys() == sorted([a.key, b.key])
    ticks = []
    again = aot.compile_many([a.canonical_json(), b], store, progress=ticks.append)
    assert [r.status for r in again] == ["cached", "cached"] and ticks == [1, 1]


def test_compile_job_writes_manifest_and_bundle_of_what_reached_the_store(tmp_path):
    store = Store(tmp_path / "s", layers=[])
    job = aot.plan(_specs() * 2, shard=(0, 1))
    assert job.total == 2 and list(job.specs) == sorted(job.specs)
    report = aot.compile_job(
        job, store, manifest=tmp_path / "m" / "m.json", bundle=tmp_path / "b.h5"
    )
    assert report.ok and report.counts == {"compiled": 2, "cached": 0, "failed": 0}
    manifest = json.loads((tmp_path / "m" / "m.json").read_text())
    assert manifest["keys"] == list(job.specs) and manifest["specs"] == job.specs
    assert Bundle(tmp_path / "b.h5").keys() == list(job.specs)
    # a manifest is a spec source: the same specs come back
    assert [s.key for s in aot.specs_from_files([tmp_path / "m" / "m.json"])] == list(job.specs)


def test_compile_job_checks_outputs_first(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setattr(aot, "compile_many", lambda *a, **k: pytest.fail("compiled first"))
    with pytest.raises(aot.OutputError, match="cannot write the bundle"):
        aot.compile_job(aot.plan(_specs()), Store(tmp_path, layers=[]), bundle=blocker / "b.h5")


def test_sources_name_what_is_wrong(tmp_path):
    with pytest.raises(aot.SourceError, match="no such spec file"):
        aot.specs_from_files([tmp_path / "none.json"])
    with pytest.raises(aot.SourceError, match="lacks the field 'in_repr'"):
        aot.specs_from_json(["{}"])
    bad = tmp_path / "m.json"
    bad.write_text(json.dumps({"format": "e2compile-manifest", "keys": [], "specs": {"x": "{}"}}))
    with pytest.raises(aot.SourceError, match="specs"):
        aot.specs_from_files([bad])
    with pytest.raises(aot.SourceError, match="no callable"):
        aot.load_builder("json:not_there")
