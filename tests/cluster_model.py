"""A small C4-steerable classifier and the rank body of the DistributedDataParallel test.

Module-level classes and functions only: spawned processes import this module by name
(``tests.cluster_model``: pytest puts the repository root on ``sys.path`` and ``spawn`` passes
``sys.path`` to its children). Used by
``tests/cli/test_cluster.py`` and as an ``e2c compile tests/cluster_model.py:build_model`` target.
"""

from __future__ import annotations

import os
import traceback
from datetime import timedelta
from pathlib import Path

import torch

from e2compile import gspaces
from runtime import nn

#: Per-rank batch, ranks, steps: the global batch is ``WORLD * LOCAL_BATCH`` images.
WORLD = 2
LOCAL_BATCH = 4
STEPS = 3
IMAGE = 9


class TinyClassifier(torch.nn.Module):
    """Three R2Conv layers (three distinct bases), group pooling, a linear head; no batch norm
    (per-rank batch statistics would differ from those of the global batch)."""

    def __init__(self, width: int = 3, n_classes: int = 5) -> None:
        super().__init__()
        space = gspaces.Rot2dOnR2(4)
        self.in_type = nn.FieldType(space, [space.trivial_repr])
        hidden = nn.FieldType(space, [space.regular_repr] * width)
        out = nn.FieldType(space, [space.trivial_repr] * width)
        self.features = nn.SequentialModule(
            nn.R2Conv(self.in_type, hidden, 3, padding=1),
            nn.ReLU(hidden),
            nn.R2Conv(hidden, hidden, 3, padding=1),
            nn.ReLU(hidden),
            nn.R2Conv(hidden, out, 3, padding=1),
        )
        self.head = torch.nn.Linear(width, n_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.features(nn.GeometricTensor(images, self.in_type)).tensor
        return self.head(features.mean(dim=(2, 3)))


def build_model() -> TinyClassifier:
    """Entry point for ``e2c compile tests/cluster_model.py:build_model``."""
    torch.manual_seed(0)
    return TinyClassifier()


def global_batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``STEPS`` global batches (images, labels), the same in every process."""
    gen = torch.Generator().manual_seed(1)
    n = WORLD * LOCAL_BATCH
    return [
        (torch.randn(n, 1, IMAGE, IMAGE, generator=gen), torch.randint(0, 5, (n,), generator=gen))
        for _ in range(STEPS)
    ]


def train(model: torch.nn.Module, batches: list, rank: int = 0, world: int = 1) -> list[float]:
    """SGD with momentum on this rank's share of every global batch; returns the local losses."""
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    share = len(batches[0][1]) // world
    losses = []
    model.train()
    for images, labels in batches:
        part = slice(rank * share, (rank + 1) * share)
        loss = torch.nn.functional.cross_entropy(model(images[part]), labels[part])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return losses


def ddp_rank(
    rank: int,
    world: int,
    init_method: str,
    env: dict[str, str],
    model: torch.nn.Module,
    out: str,
) -> None:
    """One rank: check the pickled model against one built offline from the bundle, wrap the
    pickled one in DistributedDataParallel (gloo, loopback), train, save losses and weights."""
    result = Path(out) / f"rank{rank}.pt"
    try:
        os.environ.update(env)
        torch.set_num_threads(1)
        torch.distributed.init_process_group(
            "gloo",
            init_method=init_method,
            rank=rank,
            world_size=world,
            timeout=timedelta(seconds=180),
        )
        try:
            own = build_model()  # offline: every basis must come from the read-only bundle
            ours, theirs = dict(model.named_buffers()), dict(own.named_buffers())
            assert ours.keys() == theirs.keys(), "pickled and rebuilt models differ in buffers"
            for name, buf in ours.items():
                assert torch.equal(buf, theirs[name]), f"buffer {name} differs after pickling"
            ddp = torch.nn.parallel.DistributedDataParallel(model)
            losses = train(ddp, global_batches(), rank, world)
            torch.save({"losses": losses, "state": model.state_dict()}, result)
        finally:
            torch.distributed.destroy_process_group()
    except BaseException:  # noqa: BLE001 - reported to the parent through the result file
        torch.save({"error": traceback.format_exc()}, result)
        raise SystemExit(1) from None
