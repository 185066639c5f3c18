"""The training loop: mini-batch SGD as on the slides, from a laptop CPU to several GPUs.

::

    from cnncourse import data, models, optim, train

    (x, y), test = data.mnist5k(pad_to_32=True)
    model = models.lenet5()
    history = train.fit(model, (x, y), test, optim.Adam(model.parameters()), epochs=10)
    history.plot()

:func:`fit` picks the device (CUDA, then Apple's MPS, then the CPU), shows a progress bar
with the running loss and accuracy, returns a :class:`History` (per epoch: train and
validation loss and accuracy, learning rate, seconds), saves a checkpoint after every epoch
and resumes from it, and is reproducible: each epoch's data order and random numbers derive
from ``(seed, epoch)`` only, so the same seed gives the same history on the CPU, and a
resumed run the same as an uninterrupted one.

Launched by ``torchrun --nproc_per_node K script.py`` it trains with
``DistributedDataParallel`` (NCCL on GPUs, gloo on CPUs): ``batch_size`` stays the global
batch, each process takes its slice of every batch, and the gradients are averaged so that
the result equals one process training on the same batches (up to float rounding), for
models without dropout or batch normalization (their randomness and batch statistics are per
process).

:func:`train_zoo` trains a model of the zoo on a course dataset by name: what
``cnncourse train MODEL --epochs N`` runs.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterator, Sized
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset
from tqdm import tqdm

__all__ = [
    "DATASETS",
    "OPTIMIZERS",
    "History",
    "Metrics",
    "evaluate",
    "fit",
    "is_reporting_process",
    "select_device",
    "train_zoo",
]

CHECKPOINT_FORMAT = 1
PROGRESS_REFRESH_S = 0.5  # how often the bar's loss/accuracy are read back from the device


# --------------------------------------------------------------------------- results


@dataclass
class History:
    """What :func:`fit` measured, one entry per epoch (``val_*`` are NaN without val data)."""

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    time: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.epoch)

    def to_dict(self) -> dict[str, list]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, list]) -> History:
        return cls(**{k: list(v) for k, v in values.items()})

    def plot(self, axes=None):
        """Loss and accuracy against the epoch, train and validation; returns the figure."""
        import matplotlib.pyplot as plt

        if axes is None:
            fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
        else:
            fig = axes[0].figure
        for ax, key, label in ((axes[0], "loss", "loss"), (axes[1], "acc", "accuracy")):
            ax.plot(self.epoch, getattr(self, f"train_{key}"), "o-", label="train")
            if any(not math.isnan(v) for v in getattr(self, f"val_{key}")):
                ax.plot(self.epoch, getattr(self, f"val_{key}"), "s-", label="validation")
            ax.set_xlabel("epoch")
            ax.set_ylabel(label)
            ax.grid(alpha=0.3)
            ax.legend()
        fig.tight_layout()
        return fig


class Metrics(NamedTuple):
    loss: float
    accuracy: float


# --------------------------------------------------------------------------- devices


def select_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"``: CUDA if present (this process's GPU under torchrun), else MPS, else CPU."""
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise TypeError(f"device must be a str or torch.device, got {type(device).__name__}")
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        mps = getattr(torch.backends, "mps", None)
        return torch.device("mps" if mps is not None and mps.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError:
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda[:N]' or 'mps', got {device!r}"
        ) from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for but CUDA is not available here")
    if chosen.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {device!r} was asked for but MPS is not available here")
    return chosen


def _distributed(device: torch.device) -> tuple[int, int]:
    """``(rank, world_size)``; starts the process group when torchrun launched us."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    if int(os.environ.get("WORLD_SIZE", 1)) > 1:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


# --------------------------------------------------------------------------- data


class _Source:
    """Training or validation data: a pair of tensors, a Dataset or a DataLoader."""

    def __init__(self, data: Any, name: str):
        self.name = name
        self.tensors: tuple[torch.Tensor, torch.Tensor] | None = None  # (inputs, targets)
        self.dataset: Dataset | None = None
        self.loader: DataLoader | None = None
        if isinstance(data, DataLoader):
            self.loader = data
        elif isinstance(data, TensorDataset) and len(data.tensors) == 2:
            self.tensors = (data.tensors[0], data.tensors[1])
        elif isinstance(data, (tuple, list)):
            if len(data) != 2 or not all(isinstance(t, torch.Tensor) for t in data):
                raise TypeError(f"{name} as a tuple must be (inputs, targets) tensors")
            if len(data[0]) != len(data[1]):
                raise ValueError(f"{name} has {len(data[0])} inputs but {len(data[1])} targets")
            self.tensors = (data[0], data[1])
        elif isinstance(data, Dataset):
            self.dataset = data
        else:
            raise TypeError(
                f"{name} must be an (inputs, targets) tuple of tensors, a Dataset or a "
                f"DataLoader, got {type(data).__name__}"
            )
        if self.loader is None and len(self) == 0:
            raise ValueError(f"{name} is empty")

    def __len__(self) -> int:
        if self.tensors is not None:
            return len(self.tensors[0])
        dataset = self.loader.dataset if self.loader is not None else self.dataset
        if not isinstance(dataset, Sized):
            raise TypeError(
                f"{self.name}'s dataset must have a length (__len__), got {type(dataset).__name__}"
            )
        return len(dataset)

    def to(self, device: torch.device) -> _Source:
        if self.tensors is not None:
            x, y = self.tensors
            self.tensors = (x.to(device), y.to(device))
        return self

    def num_batches(self, batch_size: int) -> int:
        return len(self.loader) if self.loader is not None else math.ceil(len(self) / batch_size)

    def batches(
        self, batch_size: int, order: torch.Tensor | None, rank: int, world: int
    ) -> Iterator[tuple[Any, Any, float]]:
        """``(x, y, share)``: this process's part of each global batch, and its share of it.

        ``order`` is the permutation of the epoch (None: file order). ``share`` is
        ``local size * world / global size``, 1 when the batch splits evenly.
        """
        if self.loader is not None:  # the caller's loader (its sampler shards under DDP)
            for x, y in self.loader:
                yield x, y, 1.0
            return
        n = len(self)
        order = torch.arange(n) if order is None else order
        if self.tensors is not None:
            order = order.to(self.tensors[0].device)
        for start in range(0, n, batch_size):
            index = order[start : start + batch_size]
            local = index.tensor_split(world)[rank] if world > 1 else index
            share = len(local) * world / len(index)
            if self.tensors is not None:
                inputs, targets = self.tensors
                yield inputs[local], targets[local], share
            else:
                x, y = self._collate(local.tolist())
                yield x, y, share

    def _collate(self, indices: list[int]) -> Any:
        """The batch of the Dataset's items at ``indices`` (for a source made from a Dataset)."""
        if self.dataset is None:
            raise RuntimeError(f"{self.name} holds tensors or a DataLoader, not a Dataset")
        return torch.utils.data.default_collate([self.dataset[i] for i in indices])


# --------------------------------------------------------------------------- one epoch


def _seeds(seed: int, epoch: int, rank: int) -> tuple[int, int]:
    """(data-order seed, shared by all processes; model/augmentation seed, per process)."""
    order = np.random.SeedSequence([seed, epoch]).generate_state(1)[0]
    local = np.random.SeedSequence([seed, epoch, rank, 1]).generate_state(1)[0]
    return int(order), int(local)


def _correct(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor | None:
    if out.dim() == 2 and not y.is_floating_point() and y.dim() == 1:
        return (out.argmax(dim=1) == y).sum()
    return None


def _autocast(device: torch.device, amp: bool):
    if not amp:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.float16)


def _reduce(values: list[torch.Tensor | float], device: torch.device, world: int) -> list[float]:
    total = torch.stack([torch.as_tensor(v, dtype=torch.float64, device=device) for v in values])
    if world > 1:
        if dist.get_backend() == "nccl":
            total = total.cuda()
        dist.all_reduce(total)
    return total.tolist()


@torch.no_grad()
def _evaluate(model, source: _Source, loss_fn, batch_size, device, amp, rank, world) -> Metrics:
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.float64, device=device)
    count, has_acc = 0, True
    for x, y, _ in source.batches(batch_size, None, rank, world):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if len(x) == 0:
            continue
        with _autocast(device, amp):
            out = model(x)
            loss = loss_fn(out, y)
        loss_sum += loss.detach().double() * len(x)
        hits = _correct(out, y)
        has_acc = has_acc and hits is not None
        if hits is not None:
            correct += hits
        count += len(x)
    model.train(was_training)
    total_loss, total_correct, total = _reduce([loss_sum, correct, count], device, world)
    return Metrics(total_loss / total, total_correct / total if has_acc else math.nan)


def evaluate(
    model: nn.Module,
    data: Any,
    *,
    loss_fn: Callable | None = None,
    batch_size: int = 1000,
    device: str | torch.device | None = None,
) -> Metrics:
    """Mean loss and accuracy of ``model`` on ``data`` (as :func:`fit` takes it).

    Runs on ``device`` (default: where the model's parameters are) in eval mode, without
    gradients. Accuracy is NaN when the outputs are not class scores.
    """
    loss_fn = nn.CrossEntropyLoss() if loss_fn is None else loss_fn
    _check_int("batch_size", batch_size)
    if device is None:
        first = next(model.parameters(), None)
        device = first.device if first is not None else torch.device("cpu")
    else:
        device = select_device(device)
        model.to(device)
    source = _Source(data, "data").to(device)
    return _evaluate(model, source, loss_fn, batch_size, device, False, 0, 1)


class _Progress:
    """The tqdm bar of one epoch, with the running loss and accuracy."""

    def __init__(self, total: int, desc: str, enabled: bool):
        self.bar = tqdm(total=total, desc=desc, unit="batch", disable=not enabled, leave=True)
        self.enabled, self.last = enabled, 0.0
        self.postfix: dict[str, str] = {}

    def update(self, loss_sum, correct, count: int, has_acc: bool, *, final: bool = False):
        if not final:
            self.bar.update()
        now = time.monotonic()
        if self.enabled and count and (final or now - self.last > PROGRESS_REFRESH_S):
            self.last = now  # reading the sums back waits for the device: not every batch
            self.postfix["loss"] = f"{float(loss_sum) / count:.4f}"
            if has_acc:
                self.postfix["acc"] = f"{float(correct) / count:.4f}"
            self.bar.set_postfix(self.postfix, refresh=False)

    def close(self, val: Metrics | None):
        if self.enabled and val is not None:
            self.postfix["val_loss"] = f"{val.loss:.4f}"
            if not math.isnan(val.accuracy):
                self.postfix["val_acc"] = f"{val.accuracy:.4f}"
            self.bar.set_postfix(self.postfix, refresh=False)
        self.bar.close()


def _train_epoch(state: _Run, epoch: int) -> tuple[float, float, _Progress]:
    order_seed, local_seed = _seeds(state.seed, epoch, state.rank)
    torch.manual_seed(local_seed)  # dropout and other randomness inside the model
    order = torch.randperm(len(state.train), generator=torch.Generator().manual_seed(order_seed))
    augment_gen = torch.Generator().manual_seed(local_seed)
    if state.train.loader is not None and hasattr(state.train.loader.sampler, "set_epoch"):
        state.train.loader.sampler.set_epoch(epoch)

    model, optimizer, device = state.ddp_model, state.optimizer, state.device
    model.train()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.float64, device=device)
    count, has_acc = 0, True
    desc = f"epoch {epoch + 1}/{state.epochs}"
    progress = _Progress(state.train.num_batches(state.batch_size), desc, state.progress)
    for x, y, share in state.train.batches(state.batch_size, order, state.rank, state.world):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if state.transform is not None:
            x = state.transform(x, augment_gen)
        optimizer.zero_grad(set_to_none=True)
        with _autocast(device, state.amp):
            out = model(x)
            loss = state.loss_fn(out, y)
        # share = 0 for an empty slice (a last batch smaller than the world): its gradient
        # is zero, but the process still joins DDP's gradient averaging.
        scaled = loss * share if share != 1.0 else loss
        if state.scaler is not None:
            state.scaler.scale(scaled).backward()
            state.scaler.step(optimizer)
            state.scaler.update()
        else:
            scaled.backward()
            optimizer.step()
        if len(x) == 0:
            continue
        loss_sum += loss.detach().double() * len(x)
        hits = _correct(out.detach(), y)
        has_acc = has_acc and hits is not None
        if hits is not None:
            correct += hits
        count += len(x)
        progress.update(loss_sum, correct, count, has_acc)
    progress.update(loss_sum, correct, count, has_acc, final=True)
    total_loss, total_correct, total = _reduce([loss_sum, correct, count], device, state.world)
    return total_loss / total, (total_correct / total if has_acc else math.nan), progress


# --------------------------------------------------------------------------- fit


@dataclass
class _Run:
    model: nn.Module
    ddp_model: nn.Module
    train: _Source
    val: _Source | None
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: Any
    loss_fn: Callable
    transform: Callable | None
    device: torch.device
    epochs: int
    batch_size: int
    seed: int
    amp: bool
    progress: bool
    rank: int
    world: int


def _check_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return int(value)


def _save_checkpoint(path: Path, run: _Run, epoch: int, history: History) -> None:
    payload = {
        "format": CHECKPOINT_FORMAT,
        "epoch": epoch,
        "seed": run.seed,
        "model": run.model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "scheduler": None if run.scheduler is None else run.scheduler.state_dict(),
        "scaler": None if run.scaler is None else run.scaler.state_dict(),
        "history": history.to_dict(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save(payload, partial)
    os.replace(partial, path)  # atomic: a crash mid-save leaves the previous checkpoint


def _load_checkpoint(path: Path, run: _Run) -> tuple[int, History]:
    payload = torch.load(path, map_location=run.device, weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a cnncourse.train checkpoint")
    if payload["seed"] != run.seed:
        raise ValueError(f"{path} was trained with seed {payload['seed']}, not {run.seed}")
    if (run.scheduler is None) != (payload["scheduler"] is None):
        raise ValueError(
            f"{path} was saved {'with' if payload['scheduler'] is not None else 'without'} "
            "a scheduler; resume with the same setup"
        )
    run.model.load_state_dict(payload["model"])
    run.optimizer.load_state_dict(payload["optimizer"])
    if run.scheduler is not None:
        run.scheduler.load_state_dict(payload["scheduler"])
    if run.scaler is not None and payload["scaler"] is not None:
        run.scaler.load_state_dict(payload["scaler"])
    return int(payload["epoch"]), History.from_dict(payload["history"])


def fit(
    model: nn.Module,
    train: Any,
    val: Any,
    optimizer: torch.optim.Optimizer | Callable[..., torch.optim.Optimizer],
    epochs: int,
    *,
    loss_fn: Callable | None = None,
    batch_size: int = 64,
    device: str | torch.device = "auto",
    scheduler: Any = None,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    seed: int = 0,
    amp: bool = False,
    progress: bool = True,
    transform: Callable | None = None,
) -> History:
    """Train ``model`` for ``epochs`` epochs of mini-batch SGD and return its :class:`History`.

    Arguments
        train, val: ``(inputs, targets)`` tensors, a ``Dataset`` or a ``DataLoader`` (used
            as given); ``val`` may be None. Tensors move to the device once.
        optimizer: a ``torch.optim.Optimizer`` over ``model``'s parameters, or a function
            ``params -> Optimizer``.
        loss_fn: returns the batch *mean* (default ``nn.CrossEntropyLoss()``).
        batch_size: the global batch (split across processes under torchrun).
        device: ``"auto"`` (CUDA, MPS, CPU), ``"cpu"``, ``"cuda:1"``...
        scheduler: an LR scheduler (or ``optimizer -> scheduler``), stepped once per epoch.
        checkpoint, resume: save model, optimizer, scheduler, scaler, epoch and history to
            this file after every epoch; with ``resume=True`` continue from it if it exists
            (a fresh start otherwise, so the same command survives being interrupted).
        seed: seeds each epoch's shuffling, augmentation and torch's RNG (dropout) from
            ``(seed, epoch)``. Initialize the model under a seed too for full repeatability.
        amp: mixed precision (float16 autocast and gradient scaling) on CUDA.
        progress: show a progress bar per epoch (only the first process under torchrun).
        transform: augmentation ``transform(x, generator)`` applied to each training batch
            on the device, e.g. :class:`cnncourse.data.Compose`.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    epochs = _check_int("epochs", epochs, minimum=0)
    batch_size = _check_int("batch_size", batch_size)
    seed = _check_int("seed", seed, minimum=0)
    if resume and checkpoint is None:
        raise ValueError("resume=True needs a checkpoint path")
    train_source = _Source(train, "train")
    val_source = None if val is None else _Source(val, "val")
    device = select_device(device)
    if amp and device.type != "cuda":
        raise ValueError(f"amp=True needs a CUDA device, got {device}; use amp=False here")

    model.to(device)
    if not isinstance(optimizer, torch.optim.Optimizer):
        if not callable(optimizer):
            raise TypeError(
                f"optimizer must be a torch.optim.Optimizer or a function of the parameters, "
                f"got {type(optimizer).__name__}"
            )
        optimizer = optimizer(model.parameters())
    if scheduler is not None and not hasattr(scheduler, "step"):
        scheduler = scheduler(optimizer)
    rank, world = _distributed(device)
    run = _Run(
        model=model,
        ddp_model=model,
        train=train_source.to(device),
        val=None if val_source is None else val_source.to(device),
        optimizer=optimizer,
        scheduler=scheduler,
        scaler=torch.amp.GradScaler("cuda") if amp else None,
        loss_fn=nn.CrossEntropyLoss() if loss_fn is None else loss_fn,
        transform=transform,
        device=device,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        amp=amp,
        progress=progress and rank == 0,
        rank=rank,
        world=world,
    )

    path = None if checkpoint is None else Path(checkpoint)
    start, history = 0, History()
    if resume and path is not None and path.exists():
        start, history = _load_checkpoint(path, run)
    if world > 1:  # after loading: DDP starts every process from the first one's weights
        ids = [device.index] if device.type == "cuda" else None
        run.ddp_model = nn.parallel.DistributedDataParallel(model, device_ids=ids)
    for epoch in range(start, epochs):
        began = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        train_loss, train_acc, bar = _train_epoch(run, epoch)
        val_metrics = None
        if run.val is not None:
            val_metrics = _evaluate(
                model, run.val, run.loss_fn, max(batch_size, 256), device, amp, rank, world
            )
        bar.close(val_metrics)
        if scheduler is not None:
            scheduler.step()
        history.epoch.append(epoch + 1)
        history.train_loss.append(train_loss)
        history.train_acc.append(train_acc)
        history.val_loss.append(math.nan if val_metrics is None else val_metrics.loss)
        history.val_acc.append(math.nan if val_metrics is None else val_metrics.accuracy)
        history.lr.append(lr)
        history.time.append(time.perf_counter() - began)
        if path is not None and rank == 0:
            _save_checkpoint(path, run, epoch + 1, history)
        if path is not None and world > 1:
            dist.barrier()
    return history


# --------------------------------------------------------------------------- the zoo on a dataset

DATASETS = ("mnist5k", "digits", "mnist", "cifar10")
OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")


def _load_dataset(name: str, size: tuple[int, int, int], root: str | None):
    from cnncourse import data

    if name == "mnist5k":
        return data.mnist5k(pad_to_32=size[1:] == (32, 32))
    if name == "digits":
        return data.digits()
    if name == "mnist":
        return data.mnist(root)
    return data.cifar10(root)


class _InputAdapter(nn.Module):
    """Repeats a gray channel and resizes each batch to the input a zoo model expects."""

    def __init__(self, channels: int, size: tuple[int, int]):
        super().__init__()
        self.channels, self.size = channels, size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.channels:
            x = x.expand(-1, self.channels, -1, -1)
        if tuple(x.shape[2:]) != self.size:
            x = nn.functional.interpolate(x, size=self.size, mode="bilinear", align_corners=False)
        return x


def _zoo_model(name: str, x: torch.Tensor) -> nn.Module:
    """The zoo model for 10 classes, behind an adapter when the images do not fit it."""
    from cnncourse import models

    channels, height, width = models.input_size(name)
    if name == "lenet5":  # LeNet-5 takes any number of channels
        channels = x.shape[1]
        model = models.get_model(name, num_classes=10, in_channels=channels)
    else:
        model = models.get_model(name, num_classes=10)
    if x.shape[1] not in (1, channels):
        raise ValueError(f"{name} takes {channels} channels, the images have {x.shape[1]}")
    if tuple(x.shape[1:]) == (channels, height, width):
        return model
    return nn.Sequential(_InputAdapter(channels, (height, width)), model)


def _optimizer(name: str, params, lr: float):
    from cnncourse import optim

    if name == "sgd":
        return optim.SGD(params, lr=lr)
    if name == "momentum":
        return optim.SGDMomentum(params, lr=lr, momentum=0.9, dampening=0.0)
    if name == "rmsprop":
        return optim.RMSprop(params, lr=lr)
    return optim.Adam(params, lr=lr)


def is_reporting_process() -> bool:
    """False in the processes of a torchrun job other than the first (they print nothing)."""
    return not (dist.is_available() and dist.is_initialized() and dist.get_rank() != 0)


def train_zoo(
    model: str,
    *,
    dataset: str = "mnist5k",
    epochs: int = 10,
    optimizer: str = "adam",
    lr: float = 1e-3,
    batch_size: int = 64,
    seed: int = 0,
    device: str = "auto",
    data_root: str | os.PathLike | None = None,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    amp: bool = False,
    progress: bool = True,
    threads: int | None = None,
) -> History:
    """Train the zoo model ``model`` for 10 classes on a course dataset with :func:`fit`.

    What ``cnncourse train`` runs. The images are resized (and a gray channel repeated) to the
    input the model was designed for when they do not fit it; ``optimizer`` is one of
    ``OPTIMIZERS`` from :mod:`cnncourse.optim`, ``dataset`` one of ``DATASETS``
    (``mnist`` and ``cifar10`` are downloaded into ``data_root``). ``threads`` sets torch's CPU
    threads (1 is fastest on a busy machine). Returns the history of the run.
    """
    from cnncourse import models

    size = models.input_size(model)  # raises ValueError naming the models for an unknown one
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    if threads is not None:
        torch.set_num_threads(_check_int("threads", threads))
    seed = _check_int("seed", seed, minimum=0)
    torch.manual_seed(seed)
    root = None if data_root is None else str(data_root)
    (x_train, y_train), (x_test, y_test) = _load_dataset(dataset, size, root)
    network = _zoo_model(model, x_train)
    return fit(
        network,
        (x_train, y_train),
        (x_test, y_test),
        _optimizer(optimizer, network.parameters(), lr),
        epochs,
        batch_size=batch_size,
        device=device,
        checkpoint=checkpoint,
        resume=resume,
        seed=seed,
        amp=amp,
        progress=progress,
    )
