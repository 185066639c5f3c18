"""Transfer learning, offline: pretrain on some digit classes, fine-tune on the others.

The slides' recipe: (1) train on a big dataset (ImageNet); (2) for a small dataset of C new
classes, replace the last layer, **freeze** the rest and train only the new layer; (3) with a
bigger dataset, train more layers. Use a **lower learning rate** when fine-tuning: a tenth of
the original is a good starting point.

Without internet there is no ImageNet, so the experiment here plays the same game inside
MNIST-5k: LeNet-5 is pretrained on the digits 0-4 (the "big" dataset), then adapted to the
digits 5-9 from only a few labelled images per class (the "small" one), and compared with
the same network trained from scratch on those few images::

    result = transfer_experiment()
    result.summary()        # test accuracies of the fine-tuned and scratch networks

:func:`transfer_comparison` repeats it over seeds and sizes of the small dataset, so that a
difference between fine-tuning and training from scratch can be read against its spread.

Building blocks: :func:`class_subset` (select classes, relabel 0..C-1), :func:`last_linear`,
:func:`few_per_class`, :func:`replace_head` and :func:`freeze` (which parameters train).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

import torch
from torch import nn

__all__ = [
    "TransferResult",
    "class_subset",
    "few_per_class",
    "freeze",
    "last_linear",
    "replace_head",
    "transfer_comparison",
    "transfer_experiment",
]


def class_subset(x: torch.Tensor, y: torch.Tensor, classes: Sequence[int]):
    """The examples whose label is in ``classes``, relabelled ``0..len(classes)-1`` in the
    order given (``classes=(5, 6)`` maps 5 -> 0 and 6 -> 1)."""
    classes = [int(c) for c in classes]
    if not classes:
        raise ValueError("classes must not be empty")
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes must be distinct, got {classes}")
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    y = torch.as_tensor(y)
    keep = torch.zeros(len(y), dtype=torch.bool)
    new_y = torch.full_like(y, -1)
    for new, old in enumerate(classes):
        mask = y == old
        if not bool(mask.any()):
            raise ValueError(f"class {old} does not occur in y")
        keep |= mask
        new_y[mask] = new
    return x[keep], new_y[keep]


def few_per_class(x: torch.Tensor, y: torch.Tensor, n: int, seed: int = 0):
    """``n`` examples of every label of ``y``, drawn at random (with ``seed``), in a random
    order."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a whole number >= 1, got {n!r}")
    generator = torch.Generator().manual_seed(seed)
    picks = []
    for label in torch.unique(y):
        where = torch.nonzero(y == label).flatten()
        if len(where) < n:
            raise ValueError(f"label {int(label)} has only {len(where)} examples, asked for {n}")
        picks.append(where[torch.randperm(len(where), generator=generator)[:n]])
    order = torch.cat(picks)
    order = order[torch.randperm(len(order), generator=generator)]
    return x[order], y[order]


def last_linear(model: nn.Module) -> str:
    """The qualified name of the model's last ``nn.Linear`` (its classifier head)."""
    names = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    if not names:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layer to replace")
    return names[-1]


class _FitArgs(TypedDict):
    """The arguments every train.fit call of one experiment shares."""

    device: str
    seed: int
    progress: bool


def replace_head(model: nn.Module, num_classes: int, *, seed: int | None = None) -> str:
    """Replace the last linear layer by a fresh one with ``num_classes`` outputs (in place).

    Returns the layer's name. The new layer has torch's default initialization, drawn from
    ``seed`` when given.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a whole number >= 1, got {num_classes!r}")
    name = last_linear(model)
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    old = parent.get_submodule(child)
    if not isinstance(old, nn.Linear):
        raise TypeError(f"{name} is a {type(old).__name__}, not the nn.Linear it was")
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        new = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)
    new = new.to(device=old.weight.device, dtype=old.weight.dtype)
    # a numbered child (in an nn.Sequential or nn.ModuleList) is replaced in place too, as
    # their __setitem__ does
    setattr(parent, child, new)
    return name


def freeze(model: nn.Module, trainable: Iterable[str]) -> list[str]:
    """Train only the parameters whose names start with one of ``trainable``; freeze the rest
    (``requires_grad=False``). Returns the names of the trainable parameters."""
    prefixes = tuple(trainable)
    names = []
    for name, param in model.named_parameters():
        train = name.startswith(prefixes) if prefixes else False
        param.requires_grad_(train)
        if train:
            names.append(name)
    if prefixes and not names:
        raise ValueError(f"no parameter name starts with any of {list(prefixes)}")
    return names


@dataclass
class TransferResult:
    """Histories and test accuracies of the transfer experiment (accuracies in [0, 1])."""

    pretrain_classes: tuple[int, ...]
    finetune_classes: tuple[int, ...]
    per_class: int
    lr: float
    finetune_lr: float
    histories: dict[str, Any] = field(default_factory=dict)  # name -> train.History
    test_acc: dict[str, float] = field(default_factory=dict)
    trainable: dict[str, list[str]] = field(default_factory=dict)
    pretrained: nn.Module | None = field(default=None, repr=False)  # before any fine-tuning

    def summary(self) -> str:
        lines = [
            f"pretrained on digits {list(self.pretrain_classes)} (lr {self.lr:g}); "
            f"adapted to digits {list(self.finetune_classes)} from {self.per_class} images each",
        ]
        for name, acc in self.test_acc.items():
            lines.append(f"  {name:32s} test accuracy {acc:.1%}")
        return "\n".join(lines)


def _make_optimizer(kind: str, lr: float) -> Callable:
    from cnncourse import optim

    if kind == "adam":
        return lambda params: optim.Adam([p for p in params if p.requires_grad], lr=lr)
    if kind == "momentum":
        return lambda params: optim.SGDMomentum(
            [p for p in params if p.requires_grad], lr=lr, momentum=0.9, dampening=0.0
        )
    raise ValueError(f"optimizer must be 'adam' or 'momentum', got {kind!r}")


def transfer_experiment(
    pretrain_classes: Sequence[int] = (0, 1, 2, 3, 4),
    finetune_classes: Sequence[int] = (5, 6, 7, 8, 9),
    *,
    per_class: int = 20,
    pretrain_epochs: int = 3,
    finetune_epochs: int = 30,
    lr: float = 1e-3,
    lr_ratio: float = 0.1,
    optimizer: str = "adam",
    batch_size: int = 64,
    finetune_batch_size: int = 20,
    device: str = "cpu",
    seed: int = 0,
    progress: bool = False,
    data: Any = None,
    train_layers: Sequence[str] | None = None,
    model_kwargs: dict | None = None,
    pretrained: nn.Module | None = None,
    curves: bool = True,
) -> TransferResult:
    """Pretrain LeNet-5 on ``pretrain_classes`` of MNIST-5k, then adapt it to
    ``finetune_classes`` with ``per_class`` training images per class, three ways:

    - ``"fine-tune head (body frozen)"``: new last layer, everything else frozen, learning
      rate ``lr * lr_ratio`` (the slides' small-dataset recipe);
    - ``"fine-tune all layers"``: new last layer, every layer trained at ``lr * lr_ratio``
      (the slides' bigger-dataset recipe);
    - ``"from scratch"``: a freshly initialized LeNet-5 trained on the same few images at
      ``lr`` for the same number of epochs.

    Test accuracies are on all test images of ``finetune_classes`` (100 per class).
    ``data`` replaces MNIST-5k: ``((x_train, y_train), (x_test, y_test))`` of 32x32 images.
    ``train_layers``: name prefixes trained in the frozen-body run besides the new head (e.g.
    ``["classifier"]`` to train LeNet-5's fully connected layers and freeze its convolutions).
    ``model_kwargs`` go to :func:`cnncourse.models.lenet5` (e.g. ``activation="relu"``).
    ``pretrained``: a network already pretrained on ``pretrain_classes`` (the ``pretrained``
    of an earlier result) to adapt instead of pretraining again. ``curves=False`` measures the
    test accuracy of the final networks only, not after every epoch (faster).
    """
    from cnncourse import data as datasets
    from cnncourse import models, train

    pretrain_classes, finetune_classes = tuple(pretrain_classes), tuple(finetune_classes)
    if set(pretrain_classes) & set(finetune_classes):
        raise ValueError(
            f"pretrain and fine-tune classes must differ, both contain "
            f"{sorted(set(pretrain_classes) & set(finetune_classes))}"
        )
    if not 0 < lr_ratio <= 1:
        raise ValueError(f"lr_ratio must be in (0, 1], got {lr_ratio!r}")
    (x_train, y_train), (x_test, y_test) = (
        data if data is not None else datasets.mnist5k(pad_to_32=True)
    )
    pre_train = class_subset(x_train, y_train, pretrain_classes)
    pre_test = class_subset(x_test, y_test, pretrain_classes)
    new_x, new_y = class_subset(x_train, y_train, finetune_classes)
    small = few_per_class(new_x, new_y, per_class, seed=seed)
    new_test = class_subset(x_test, y_test, finetune_classes)
    fit_args = _FitArgs(device=device, seed=seed, progress=progress)
    result = TransferResult(pretrain_classes, finetune_classes, per_class, lr, lr * lr_ratio)

    base: nn.Module
    if pretrained is None:
        torch.manual_seed(seed)
        base = models.lenet5(num_classes=len(pretrain_classes), **(model_kwargs or {}))
        result.histories["pretrain"] = train.fit(
            base,
            pre_train,
            pre_test,
            _make_optimizer(optimizer, lr),
            pretrain_epochs,
            batch_size=batch_size,
            **fit_args,
        )
    else:
        base = copy.deepcopy(pretrained)
    result.pretrained = copy.deepcopy(base)
    result.test_acc["pretrained (on its own classes)"] = train.evaluate(base, pre_test).accuracy
    watch = new_test if curves else None

    def final_accuracy(name: str, model: nn.Module) -> float:
        if curves:
            return result.histories[name].val_acc[-1]
        return train.evaluate(model, new_test).accuracy

    runs = {
        "fine-tune head (body frozen)": ("head", lr * lr_ratio),
        "fine-tune all layers": ("all", lr * lr_ratio),
    }
    for name, (what, run_lr) in runs.items():
        model = copy.deepcopy(base)
        head = replace_head(model, len(finetune_classes), seed=seed)
        prefixes = [head, *(train_layers or [])] if what == "head" else [""]
        result.trainable[name] = freeze(model, prefixes)
        result.histories[name] = train.fit(
            model,
            small,
            watch,
            _make_optimizer(optimizer, run_lr),
            finetune_epochs,
            batch_size=finetune_batch_size,
            **fit_args,
        )
        result.test_acc[name] = final_accuracy(name, model)

    torch.manual_seed(seed + 1)
    scratch = models.lenet5(num_classes=len(finetune_classes), **(model_kwargs or {}))
    result.trainable["from scratch"] = [n for n, _ in scratch.named_parameters()]
    result.histories["from scratch"] = train.fit(
        scratch,
        small,
        watch,
        _make_optimizer(optimizer, lr),
        finetune_epochs,
        batch_size=finetune_batch_size,
        **fit_args,
    )
    result.test_acc["from scratch"] = final_accuracy("from scratch", scratch)
    return result


def transfer_comparison(
    per_class: Sequence[int] = (2, 20),
    seeds: Iterable[int] = range(5),
    *,
    batch_sizes: dict[int, int] | None = None,
    finetune_steps: int | None = None,
    **kwargs,
) -> dict[int, dict[str, list[float]]]:
    """:func:`transfer_experiment` for every number of images per class and every seed:
    ``{per_class: {run name: [test accuracy for each seed]}}``.

    Each seed pretrains once and adapts that network for every ``per_class``; the seed also
    draws the few training images and initializes the new layer and the scratch network.
    ``batch_sizes`` maps ``per_class`` to the fine-tuning batch size (default: the whole small
    set up to 20 images). ``finetune_steps`` trains every size for about the same number of
    optimizer steps (the epochs needed to make at least that many) instead of the same
    ``finetune_epochs``, so that two images per class get as many updates as fifty. Other
    arguments go to :func:`transfer_experiment`; the test accuracies are of the final
    networks (``curves=False``).
    """
    if finetune_steps is not None and finetune_steps < 1:
        raise ValueError(f"finetune_steps must be >= 1, got {finetune_steps!r}")
    per_class = [int(n) for n in per_class]
    if not per_class:
        raise ValueError("per_class must name at least one size, got none")
    kwargs.pop("curves", None)
    table: dict[int, dict[str, list[float]]] = {n: {} for n in per_class}
    for seed in seeds:
        pretrained = None
        for n in per_class:
            classes = len(tuple(kwargs.get("finetune_classes", (5, 6, 7, 8, 9))))
            batch = (batch_sizes or {}).get(n, min(20, n * classes))
            epochs = {}
            if finetune_steps is not None:
                epochs["finetune_epochs"] = math.ceil(
                    finetune_steps / math.ceil(n * classes / batch)
                )
            result = transfer_experiment(
                per_class=n,
                seed=seed,
                pretrained=pretrained,
                curves=False,
                finetune_batch_size=batch,
                **{**kwargs, **epochs},
            )
            pretrained = result.pretrained
            for name, acc in result.test_acc.items():
                table[n].setdefault(name, []).append(acc)
    return table
