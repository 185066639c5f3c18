"""DistributedDataParallel through torchrun: 2 CPU processes (gloo) equal 1 process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import ddp_worker  # noqa: E402

pytestmark = [
    pytest.mark.slow,  # starts two torch processes
    pytest.mark.skipif(
        not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
        reason="torch was built without the gloo backend",
    ),
]


def torchrun(out: Path, processes: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={processes}",
        str(HERE / "ddp_worker.py"),
        str(out),
    ]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, f"torchrun failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
    return torch.load(out, weights_only=True)


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    return torchrun(tmp_path_factory.mktemp("ddp") / "two.pt", 2)


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp") / "one.pt"
    threads = torch.get_num_threads()
    ddp_worker.main(str(out))
    torch.set_num_threads(threads)
    return torch.load(out, weights_only=True)


def test_each_process_trains_on_its_half_of_every_batch(two_processes, one_process):
    epochs, n = ddp_worker.EPOCHS, ddp_worker.N_TRAIN
    assert one_process["seen"] == [epochs * n]
    # 5 batches of 20 split 10/10, then a last batch of 1 that only the first process gets.
    assert two_processes["seen"] == [epochs * 51, epochs * 50]


def test_two_process_weights_equal_single_process_weights(two_processes, one_process):
    for name, single in one_process["state"].items():
        distributed = two_processes["state"][name]
        err = (distributed - single).abs().max().item()
        assert err < 1e-10, f"{name}: 2 processes differ from 1 by {err:.3e}"


def test_two_process_history_equals_single_process_history(two_processes, one_process):
    for key in ("train_loss", "train_acc", "val_loss", "val_acc", "lr"):
        single, distributed = one_process["history"][key], two_processes["history"][key]
        assert distributed == pytest.approx(single, abs=1e-10), f"{key}: {distributed} vs {single}"
