"""The case studies of the slides as ``torch.nn.Module``s.

Every builder takes ``layers="torch"`` (``torch.nn``, the default) or ``layers="course"``
(the course's own reference layers, ``cnncourse.nn``); both hold the same parameters under
the same names. Where torchvision has the model, the module names are torchvision's, so
its pretrained ``state_dict`` loads with ``strict=True``.

``get_model(name, **kwargs)`` builds a model by name (the ``cnncourse`` command uses it);
``MODELS`` lists the names and ``input_size(name)`` the input each model was designed for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from cnncourse.models.alexnet import AlexNet, AlexNetPaper, alexnet, alexnet_paper
from cnncourse.models.googlenet import GoogLeNet, GoogLeNetOutputs, googlenet
from cnncourse.models.lenet import LeNet5, lenet5
from cnncourse.models.resnet import ResNet, resnet18, resnet34, resnet50, resnet101, resnet152
from cnncourse.models.vgg import (
    CONFIGS,
    VGG,
    vgg,
    vgg11,
    vgg11_bn,
    vgg13,
    vgg13_bn,
    vgg16,
    vgg16_bn,
    vgg19,
    vgg19_bn,
)

__all__ = [
    "CONFIGS",
    "MODELS",
    "VGG",
    "AlexNet",
    "AlexNetPaper",
    "GoogLeNet",
    "GoogLeNetOutputs",
    "LeNet5",
    "ResNet",
    "alexnet",
    "alexnet_paper",
    "get_model",
    "googlenet",
    "input_size",
    "lenet5",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "vgg",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
]

MODELS: dict[str, Callable[..., nn.Module]] = {
    "lenet5": lenet5,
    "alexnet_paper": alexnet_paper,
    "alexnet": alexnet,
    "vgg": vgg,
    "vgg11": vgg11,
    "vgg11_bn": vgg11_bn,
    "vgg13": vgg13,
    "vgg13_bn": vgg13_bn,
    "vgg16": vgg16,
    "vgg16_bn": vgg16_bn,
    "vgg19": vgg19,
    "vgg19_bn": vgg19_bn,
    "googlenet": googlenet,
    "resnet18": resnet18,
    "resnet34": resnet34,
    "resnet50": resnet50,
    "resnet101": resnet101,
    "resnet152": resnet152,
}

_INPUT_SIZES = {"lenet5": (1, 32, 32), "alexnet_paper": (3, 227, 227)}


def _check_name(name: Any) -> str:
    if not isinstance(name, str):
        raise TypeError(f"model name must be a str, got {type(name).__name__}")
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; the models are {', '.join(MODELS)}")
    return name


def get_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the model called ``name`` (a key of ``MODELS``) with the builder's ``kwargs``."""
    return MODELS[_check_name(name)](**kwargs)


def input_size(name: str) -> tuple[int, int, int]:
    """The (channels, height, width) input the model was designed for."""
    return _INPUT_SIZES.get(_check_name(name), (3, 224, 224))
