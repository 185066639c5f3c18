"""Every family built from the course's layers (``layers="course"``) computes what the
``torch.nn`` build computes, given the same weights: float64, small inputs, tight tolerance.

The course build is made on the meta device and then takes the torch build's tensors
(``load_state_dict(assign=True)``), so a big model is held in memory once.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import cnncourse.nn as course_nn
from cnncourse.models import get_model

COURSE_CLASSES = tuple(getattr(course_nn, name) for name in ("Conv2d", "Linear", "BatchNorm2d"))

# (name, builder kwargs, input (C, H, W)): every family, its variants, at small sizes.
CASES = [
    ("lenet5", {}, (1, 32, 32)),
    ("lenet5", {"activation": "relu", "pool": "max"}, (1, 32, 32)),
    ("alexnet_paper", {}, (3, 227, 227)),
    ("alexnet", {}, (3, 63, 63)),
    # every kind of configuration item (3x3, 1x1, LRN, pool) and batch norm, in one small VGG
    ("vgg", {"config": [16, "LRN", "M", 32, (32, 1), "M"], "batch_norm": True}, (3, 16, 16)),
    ("googlenet", {}, (3, 32, 32)),
    ("googlenet", {"variant": "paper"}, (3, 32, 32)),
    ("resnet18", {}, (3, 32, 32)),
    ("resnet50", {}, (3, 32, 32)),
    ("resnet50", {"variant": "paper"}, (3, 32, 32)),
]
IDS = [
    "lenet5",
    "lenet5-relu-max",
    "alexnet_paper",
    "alexnet",
    "vgg-small-bn",
    "googlenet",
    "googlenet-paper",
    "resnet18",
    "resnet50",
    "resnet50-paper",
]


def twins(name: str, kwargs: dict) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    reference = get_model(name, **kwargs).double()
    for module in reference.modules():  # move batch norm away from the identity
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.5, 0.5)
    with torch.device("meta"):
        model = get_model(name, layers="course", **kwargs)
    model.load_state_dict(reference.state_dict(), strict=True, assign=True)
    return model, reference


@pytest.mark.parametrize(("name", "kwargs", "size"), CASES, ids=IDS)
def test_course_build_uses_the_course_layers(name, kwargs, size):
    with torch.device("meta"):
        model = get_model(name, layers="course", **kwargs)
    torch_only = [
        n
        for n, m in model.named_modules()
        if isinstance(m, nn.Conv2d | nn.Linear | nn.BatchNorm2d)
        and not isinstance(m, COURSE_CLASSES)
    ]
    assert not torch_only, f"{name}: torch.nn layers in the course build: {torch_only[:5]}"


@pytest.mark.parametrize(("name", "kwargs", "size"), CASES, ids=IDS)
def test_course_build_gives_the_torch_builds_output(name, kwargs, size):
    model, reference = twins(name, kwargs)
    x = torch.randn(2, *size, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        got, want = model.eval()(x), reference.eval()(x)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("name", "kwargs", "size"),
    [("lenet5", {}, (1, 32, 32)), ("resnet18", {}, (3, 32, 32))],
    ids=["lenet5", "resnet18"],
)
def test_course_build_gives_the_torch_builds_gradients_in_training(name, kwargs, size):
    model, reference = twins(name, kwargs)
    # assign=True shares the tensors; give the course build its own copies for the gradients
    model.load_state_dict({k: v.clone() for k, v in reference.state_dict().items()}, assign=True)
    x = torch.randn(3, *size, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    for net in (model.train(), reference.train()):
        net(x).square().sum().backward()
    for (key, got), (_, want) in zip(
        model.named_parameters(), reference.named_parameters(), strict=True
    ):
        # relative to the largest gradient: batch norm on small batches amplifies rounding
        error = (got.grad - want.grad).abs().max().item()
        scale = want.grad.abs().max().item()
        assert error <= 1e-9 * scale, (
            f"{key}: max |course - torch| = {error:.3g}, max |torch| = {scale:.3g}"
        )


@pytest.mark.parametrize(
    ("name", "size"),
    [("lenet5", (1, 32, 32)), ("resnet18", (3, 32, 32))],
    ids=["lenet5", "resnet18"],
)
def test_summary_of_the_course_build_is_the_torch_builds(name, size):
    from cnncourse import summary

    model, reference = twins(name, {})
    got, want = summary(model, size), summary(reference, size)
    assert got.rows == want.rows
