"""Cluster use end to end: DistributedDataParallel on a shared read-only bundle, and a sharded
compile (three shard processes, then ``e2c cache merge``) that equals a single compile.

Both are bounded in time: processes are joined with deadlines and killed when late.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import cli
from cache import Bundle
from runtime import bases
from tests import cluster_model

REPO = Path(__file__).resolve().parents[2]
MODEL = f"{Path(cluster_model.__file__).resolve()}:build_model"
DEADLINE = 300  # seconds for a whole group of processes (generous: CI machines may be loaded)


def e2c(root: Path, *args: str):
    result = CliRunner().invoke(cli.main, ["--cache-dir", str(root), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_ranks(blob: bytes, env: dict[str, str], out: Path) -> list[dict]:
    """Spawn the ranks, wait at most ``DEADLINE`` seconds, kill stragglers, read their results."""
    ctx = multiprocessing.get_context("spawn")
    # a file rendezvous: no TCP port to pick, so no other test can take it between pick and bind
    rendezvous = f"file://{out / 'rendezvous'}"
    procs = [
        ctx.Process(
            target=cluster_model.ddp_rank,
            # the model travels pickled by value: every rank owns its own copy of the tensors
            args=(rank, cluster_model.WORLD, rendezvous, env, pickle.loads(blob), str(out)),
            daemon=True,
        )
        for rank in range(cluster_model.WORLD)
    ]
    try:
        for p in procs:
            p.start()
        deadline = time.monotonic() + DEADLINE
        while any(p.is_alive() for p in procs) and time.monotonic() < deadline:
            if any(p.exitcode not in (None, 0) for p in procs):
                break  # one rank failed: the others would wait for it until the gloo timeout
            time.sleep(0.1)
    finally:
        late = [rank for rank, p in enumerate(procs) if p.is_alive()]
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join(5)
    paths = [out / f"rank{rank}.pt" for rank in range(len(procs))]
    results = [torch.load(path, weights_only=True) if path.is_file() else None for path in paths]
    for rank, result in enumerate(results):  # a rank's own traceback explains the most
        assert result is None or "error" not in result, f"rank {rank} failed:\n{result['error']}"
    died = {
        rank: p.exitcode
        for rank, (p, result) in enumerate(zip(procs, results))
        if rank not in late and p.exitcode != 0 and result is None
    }
    assert not died, f"rank(s) died without a result (exit codes {died}); killed {late}"
    assert not late, f"rank(s) {late} still running after {DEADLINE} s: killed"
    for rank, (p, result) in enumerate(zip(procs, results)):
        assert result is not None and p.exitcode == 0, f"rank {rank} exited with {p.exitcode}"
    return results


def test_ddp_on_a_shared_offline_bundle_equals_single_process_training(tmp_path, monkeypatch):
    bundle = tmp_path / "model-bases.h5"
    e2c(tmp_path / "ci-root", "compile", MODEL, "--bundle", str(bundle))
    bundle.chmod(0o444)
    digest = sha256(bundle)
    rank_root = tmp_path / "rank-root"  # every rank's writable root: must never come to exist
    env = {
        "E2C_OFFLINE": "1",
        "E2C_CACHE_PATH": str(bundle),
        "E2C_CACHE_DIR": str(rank_root),
        "GLOO_SOCKET_IFNAME": "lo",
        "OMP_NUM_THREADS": "1",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    bases.MEMO.clear()  # this process too reads every basis from the bundle
    model = cluster_model.build_model()
    blob = pickle.dumps(model)

    ranks = run_ranks(blob, env, tmp_path)

    reference = pickle.loads(blob)  # the same initial weights, one process, the global batch
    losses = cluster_model.train(reference, cluster_model.global_batches())
    for name, value in reference.state_dict().items():
        for rank, result in enumerate(ranks):
            torch.testing.assert_close(
                result["state"][name], value, rtol=1e-5, atol=1e-6, msg=f"rank {rank}: {name}"
            )
    mean_losses = torch.tensor([r["losses"] for r in ranks]).mean(dim=0)
    torch.testing.assert_close(mean_losses, torch.tensor(losses), rtol=1e-5, atol=1e-6)
    trained = reference.state_dict()
    assert all(not torch.equal(v, trained[k]) for k, v in model.state_dict().items()), "untrained"
    assert not rank_root.exists(), "a rank wrote to its store"
    assert sha256(bundle) == digest


def test_three_shard_processes_merge_to_the_single_compile(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("E2C_CACHE_PATH", None)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli",
                "--cache-dir",
                str(tmp_path / f"root-{i}"),
                "compile",
                MODEL,
                "--shard",
                f"{i}/3",
                "--bundle",
                str(tmp_path / f"part-{i}.h5"),
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for i in range(3)
    ]
    outputs = []
    try:
        for p in procs:
            outputs.append(p.communicate(timeout=DEADLINE)[0])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(5)
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    parts = [Bundle(tmp_path / f"part-{i}.h5").keys() for i in range(3)]
    assert all(parts), f"every shard compiles something: {parts}"
    assert not set(parts[0]) & set(parts[1]) and not set(parts[1]) & set(parts[2])

    merged, single = tmp_path / "merged.h5", tmp_path / "single.h5"
    part_files = [str(tmp_path / f"part-{i}.h5") for i in range(3)]
    e2c(tmp_path / "merge-root", "cache", "merge", *part_files, "-o", str(merged))
    e2c(tmp_path / "single-root", "compile", MODEL, "--bundle", str(single))
    a, b = Bundle(merged), Bundle(single)
    assert a.keys() == b.keys() == sorted(k for part in parts for k in part)
    for key in a.keys():
        (ra, ia), (rb, ib) = a.load(key), b.load(key)
        assert ra.meta == rb.meta
        assert ra.arrays.keys() == rb.arrays.keys()
        for name, array in ra.arrays.items():
            other = rb.arrays[name]
            assert (array.dtype, array.shape) == (other.dtype, other.shape), name
            assert array.tobytes() == other.tobytes(), f"{key[:12]}/{name} differs"
        assert ia.arrays == ib.arrays  # the stored checksums of every dataset


@pytest.mark.parametrize("shard", ["3/3", "a/3", "1/0"])
def test_bad_shard_is_a_usage_error(tmp_path, shard):
    result = CliRunner().invoke(
        cli.main, ["--cache-dir", str(tmp_path), "compile", MODEL, "--shard", shard]
    )
    assert result.exit_code == 2 and "i/n" in result.output
