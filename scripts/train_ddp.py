"""Train the main job's C8 digit classifier on several ranks with DistributedDataParallel.

Launch with ``torchrun`` (which sets ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``...), every rank
reading the bases from one read-only bundle in offline mode (docs/cluster.md)::

    export E2C_CACHE_PATH=$PWD/model-bases.h5 E2C_OFFLINE=1
    torchrun --standalone --nproc_per_node 2 scripts/train_ddp.py --epochs 2 --out model.pt

Backend: NCCL when CUDA is available, else gloo. Each rank trains on its share of the training
set (``DistributedSampler``); rank 0 reports the test accuracy and saves the weights
(``state_dict``: learnable weights only, the bases stay in the bundle). Batch norm uses per-rank
batch statistics, as usual with DDP.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

from scripts.main_job import accuracy, build_model, load_digits  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch", type=int, default=64, help="per-rank batch size")
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--out", type=Path, default=None, help="where rank 0 saves the weights")
    args = parser.parse_args()

    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if cuda else None
    if device is not None:
        torch.cuda.set_device(device)
    try:
        torch.manual_seed(0)  # the same initial weights on every rank (DDP also broadcasts them)
        start = time.perf_counter()
        model = build_model().to(device)  # offline: every basis comes from the bundle
        built = time.perf_counter() - start
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        x_train, y_train, x_test, y_test = load_digits()
        data = torch.utils.data.TensorDataset(x_train, y_train)
        sampler = torch.utils.data.distributed.DistributedSampler(data, world, rank, seed=1)
        loader = torch.utils.data.DataLoader(data, batch_size=args.batch, sampler=sampler)
        optimiser = torch.optim.Adam(ddp.parameters(), lr=args.lr)
        for epoch in range(args.epochs):
            sampler.set_epoch(epoch)
            ddp.train()
            for images, labels in loader:
                images, labels = images.to(device), labels.to(device)
                loss = torch.nn.functional.cross_entropy(ddp(images), labels)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
            if rank == 0:
                print(f"epoch {epoch + 1}: last batch loss {loss.item():.4f}", flush=True)
        if rank == 0:
            model.cpu()
            print(
                f"{world} ranks; model built offline in {built * 1e3:.0f} ms; "
                f"test accuracy {accuracy(model, x_test, y_test):.3f}"
            )
            if args.out is not None:
                torch.save(model.state_dict(), args.out)
                print(f"weights saved to {args.out}")
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
