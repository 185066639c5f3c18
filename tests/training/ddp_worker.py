"""Trains a small float64 CNN with cnncourse.train.fit; run by test_ddp.py under torchrun.

Usage: ``ddp_worker.py OUT_FILE [DEVICE]``. Every process trains on DEVICE (default
``cpu``; ``auto`` under torchrun on GPUs: this process's GPU, over NCCL); the first saves the
final weights and history to OUT_FILE. Run without torchrun, it is the single-process
baseline. scripts/gpu-check.sh runs it on GPUs.
"""

from __future__ import annotations

import sys

import torch
from torch import nn

from cnncourse import optim, train

N_TRAIN, N_VAL, BATCH, EPOCHS = 101, 37, 20, 3  # 101 = 5 * 20 + 1: a last batch of one


def data(n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 6, 6, generator=g, dtype=torch.float64)
    y = (x[:, 0, :3].sum(dim=(1, 2)) > x[:, 0, 3:].sum(dim=(1, 2))).long()
    return x, y


def model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 2)
    ).double()


def main(out: str, device: str = "cpu") -> None:
    torch.set_num_threads(1)
    net = model()
    opt = optim.Adam(net.parameters(), lr=0.01)
    sched = optim.CosineDecayLR(opt, total_epochs=EPOCHS)
    seen = []

    def count(x, generator):  # an identity "augmentation" that counts the samples seen
        seen.append(len(x))
        return x

    history = train.fit(
        net,
        data(N_TRAIN, 1),
        data(N_VAL, 2),
        opt,
        EPOCHS,
        batch_size=BATCH,
        device=device,
        scheduler=sched,
        seed=5,
        progress=False,
        transform=count,
    )
    distributed = torch.distributed.is_initialized()
    rank = torch.distributed.get_rank() if distributed else 0
    world = torch.distributed.get_world_size() if distributed else 1
    per_rank = [None] * world
    if distributed:
        torch.distributed.all_gather_object(per_rank, sum(seen))
    else:
        per_rank = [sum(seen)]
    if rank == 0:
        result = {"state": net.state_dict(), "history": history.to_dict(), "seen": per_rank}
        torch.save(result, out)
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:3])
