"""GoogLeNet / Inception v1 (Szegedy et al., 2014), in two variants of one builder.

``variant="torchvision"`` (the default) is torchvision's GoogLeNet, with its module names,
so its pretrained ``state_dict`` loads: every convolution is followed by batch norm (and
has no bias), the "5x5" branch of each inception module uses a 3x3 kernel (a known
torchvision bug kept for its weights, pytorch/vision#906) and the last max pool is 2x2.

``variant="paper"`` is the network of the paper's Table 1, which the slides show: 5x5
kernels in the 5x5 branch, convolutions with biases and no batch norm, local response
normalization after the first max pool and after the second convolution, 3x3 max pools
and 40% dropout before the classifier.

Both end with an adaptive average pool, which is the paper's 7x7 average pool on a
224x224 input. ``aux_logits=True`` adds the two auxiliary classifiers; in training mode
the model then returns ``GoogLeNetOutputs(logits, aux_logits2, aux_logits1)``.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any, TypedDict

import torch
from torch import nn

from cnncourse.models._common import (
    check_choice,
    check_input,
    check_positive_int,
    check_probability,
    resolve_layers,
)

__all__ = ["BasicConv2d", "GoogLeNet", "GoogLeNetOutputs", "Inception", "InceptionAux", "googlenet"]

GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])

VARIANTS = ("torchvision", "paper")


class _ConvOptions(TypedDict):
    """What every BasicConv2d of one network shares."""

    batch_norm: bool
    L: Any


class _InceptionOptions(TypedDict):
    """What every Inception and InceptionAux of one network shares."""

    variant: str
    L: Any


class BasicConv2d(nn.Module):
    """Convolution, batch norm (torchvision) or bias (paper), ReLU."""

    def __init__(self, in_channels: int, out_channels: int, *, batch_norm: bool, L: Any, **kw):
        super().__init__()
        self.conv = L.Conv2d(in_channels, out_channels, bias=not batch_norm, **kw)
        self.bn = L.BatchNorm2d(out_channels, eps=0.001) if batch_norm else L.Identity()
        self.relu = L.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    """Four branches concatenated: 1x1; 1x1 then 3x3; 1x1 then 5x5; 3x3 max pool then 1x1."""

    def __init__(
        self,
        in_channels: int,
        ch1x1: int,
        ch3x3red: int,
        ch3x3: int,
        ch5x5red: int,
        ch5x5: int,
        pool_proj: int,
        *,
        variant: str,
        L: Any,
    ) -> None:
        super().__init__()
        bn = variant == "torchvision"
        k5 = 3 if variant == "torchvision" else 5
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1, batch_norm=bn, L=L)
        self.branch2 = nn.Sequential(
            BasicConv2d(in_channels, ch3x3red, kernel_size=1, batch_norm=bn, L=L),
            BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1, batch_norm=bn, L=L),
        )
        self.branch3 = nn.Sequential(
            BasicConv2d(in_channels, ch5x5red, kernel_size=1, batch_norm=bn, L=L),
            BasicConv2d(ch5x5red, ch5x5, kernel_size=k5, padding=k5 // 2, batch_norm=bn, L=L),
        )
        self.branch4 = nn.Sequential(
            L.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            BasicConv2d(in_channels, pool_proj, kernel_size=1, batch_norm=bn, L=L),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)]
        return torch.cat(branches, 1)


class InceptionAux(nn.Module):
    """Auxiliary classifier: 4x4 average pool, 1x1 conv 128, FC 1024, 70% dropout, FC."""

    def __init__(self, in_channels: int, num_classes: int, *, variant: str, L: Any) -> None:
        super().__init__()
        self.avgpool = L.AdaptiveAvgPool2d((4, 4))  # the paper's 5x5/3 pool on a 14x14 map
        self.conv = BasicConv2d(
            in_channels, 128, kernel_size=1, batch_norm=variant == "torchvision", L=L
        )
        self.fc1 = L.Linear(128 * 4 * 4, 1024)
        self.relu = L.ReLU(inplace=True)
        self.dropout = L.Dropout(p=0.7)
        self.fc2 = L.Linear(1024, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(self.avgpool(x))
        x = torch.flatten(x, 1)
        x = self.dropout(self.relu(self.fc1(x)))
        return self.fc2(x)


class GoogLeNet(nn.Module):
    def __init__(
        self,
        num_classes: int = 1000,
        aux_logits: bool = False,
        variant: str = "torchvision",
        transform_input: bool = False,
        dropout: float | None = None,
        init_weights: bool = True,
        layers: Any = "torch",
    ) -> None:
        super().__init__()
        check_positive_int("num_classes", num_classes)
        check_choice("variant", variant, VARIANTS)
        paper = variant == "paper"
        dropout = check_probability(
            "dropout", (0.4 if paper else 0.2) if dropout is None else dropout
        )
        L = resolve_layers(layers)
        self.aux_logits = aux_logits
        self.transform_input = transform_input
        self.variant = variant
        # The smallest inputs every layer fits: torchvision publishes 15 for its variant; the
        # paper's 3x3 last max pool needs 2x2 where torchvision's 2x2 pool takes 1x1, 31 at
        # the input. The tests check both edges.
        self.min_size = 31 if paper else 15
        conv = _ConvOptions(batch_norm=not paper, L=L)
        inception = _InceptionOptions(variant=variant, L=L)

        self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3, **conv)
        self.maxpool1 = L.MaxPool2d(3, stride=2, ceil_mode=True)
        self.lrn1 = _local_response_norm(L) if paper else L.Identity()
        self.conv2 = BasicConv2d(64, 64, kernel_size=1, **conv)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1, **conv)
        self.lrn2 = _local_response_norm(L) if paper else L.Identity()
        self.maxpool2 = L.MaxPool2d(3, stride=2, ceil_mode=True)

        # (in, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj): the paper's Table 1
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32, **inception)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64, **inception)
        self.maxpool3 = L.MaxPool2d(3, stride=2, ceil_mode=True)

        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64, **inception)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64, **inception)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64, **inception)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64, **inception)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128, **inception)
        self.maxpool4 = L.MaxPool2d(3 if paper else 2, stride=2, ceil_mode=True)

        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128, **inception)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128, **inception)

        self.aux1 = InceptionAux(512, num_classes, **inception) if aux_logits else None
        self.aux2 = InceptionAux(528, num_classes, **inception) if aux_logits else None

        self.avgpool = L.AdaptiveAvgPool2d((1, 1))
        self.dropout = L.Dropout(p=dropout)
        self.fc = L.Linear(1024, num_classes)

        if init_weights:
            _init_weights(self, L)

    def _transform_input(self, x: torch.Tensor) -> torch.Tensor:
        # torchvision's pretrained weights expect inputs normalized to [-1, 1], not with the
        # ImageNet mean and std; this converts the second into the first.
        mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
        channels = [x[:, c : c + 1] * (std[c] / 0.5) + (mean[c] - 0.5) / 0.5 for c in range(3)]
        return torch.cat(channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor | GoogLeNetOutputs:
        check_input(x, model="googlenet", channels=3, min_size=self.min_size)
        if self.transform_input:
            x = self._transform_input(x)
        x = self.maxpool1(self.conv1(x))
        x = self.lrn1(x)
        x = self.conv3(self.conv2(x))
        x = self.lrn2(x)
        x = self.maxpool2(x)

        x = self.inception3b(self.inception3a(x))
        x = self.maxpool3(x)
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.inception4e(x)
        x = self.maxpool4(x)
        x = self.inception5b(self.inception5a(x))

        x = torch.flatten(self.avgpool(x), 1)
        x = self.fc(self.dropout(x))
        if self.training and self.aux_logits:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x


def _local_response_norm(L: Any) -> nn.Module:
    # AlexNet's k=2, n=5, alpha=1e-4, beta=0.75 (torch divides alpha by n, so it gets n * alpha).
    return L.LocalResponseNorm(size=5, alpha=5 * 1e-4, beta=0.75, k=2.0)


def _init_weights(model: nn.Module, L: Any) -> None:
    # torchvision's: truncated normal (std 0.01) weights, batch norm at identity, zero biases.
    for m in model.modules():
        if isinstance(m, L.Conv2d | L.Linear):
            nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, L.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def googlenet(
    *,
    num_classes: int = 1000,
    aux_logits: bool = False,
    variant: str = "torchvision",
    transform_input: bool = False,
    dropout: float | None = None,
    init_weights: bool = True,
    layers: Any = "torch",
) -> GoogLeNet:
    """GoogLeNet: ``variant="torchvision"`` (6,624,904 parameters without the auxiliary
    classifiers, loads torchvision's weights) or ``"paper"`` (the slides' table, 6,998,552).

    ``dropout`` defaults to 0.2 (torchvision) or 0.4 (paper). Set ``transform_input=True``
    with torchvision's pretrained weights, as torchvision does.
    """
    return GoogLeNet(
        num_classes, aux_logits, variant, transform_input, dropout, init_weights, layers
    )
