"""The main job's networks (``scripts/main_job.py``): every one is invariant to 90° rotations of
its input at float32 round-off before any training, so the demo's invariance figures can only
come from the networks, never from a size that makes a strided pooling sample an off-centre grid."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "main_job.py"


def _main_job():
    spec = importlib.util.spec_from_file_location("main_job_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("entry", ["build_model", "build_pdo_model", "build_fourier_model"])
def test_each_network_is_invariant_to_quarter_turns(entry):
    job = _main_job()
    torch.manual_seed(0)
    model = getattr(job, entry)().eval()
    x = torch.randn(3, 1, job.IMAGE_SIZE, job.IMAGE_SIZE)
    with torch.no_grad():
        logits = model(x)
        for k in (1, 2, 3):
            turned = model(torch.rot90(x, k, dims=(2, 3)))
            assert (turned - logits).norm() / logits.norm() < 1e-5, (entry, k)
