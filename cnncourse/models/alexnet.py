"""AlexNet (Krizhevsky, Sutskever and Hinton, 2012) in two layouts.

``alexnet_paper()`` is the slides' "full (simplified) AlexNet": one tower instead of the
paper's two GPUs, so the layer widths are the paper's totals (96, 256, 384, 384, 256) and
no layer is split in groups. Volumes on a 227x227x3 input:

    [55x55x96]   CONV1 96 11x11 stride 4 pad 0     [13x13x384] CONV3 384 3x3 pad 1
    [27x27x96]   POOL1 3x3 stride 2                [13x13x384] CONV4 384 3x3 pad 1
    [27x27x96]   NORM1                             [13x13x256] CONV5 256 3x3 pad 1
    [27x27x256]  CONV2 256 5x5 pad 2               [6x6x256]   POOL3 3x3 stride 2
    [13x13x256]  POOL2 3x3 stride 2                [4096] FC6, [4096] FC7, [1000] FC8
    [13x13x256]  NORM2

``alexnet()`` is torchvision's layout (the "one weird trick" variant: 64, 192, 384, 256,
256 filters, an adaptive 6x6 average pool before the classifier, no normalization layers),
with the same module names, so torchvision's pretrained ``state_dict`` loads into it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from cnncourse.models._common import (
    check_feature_map,
    check_input,
    check_positive_int,
    check_probability,
    resolve_layers,
)

__all__ = ["AlexNet", "AlexNetPaper", "alexnet", "alexnet_paper"]


def _classifier(L: Any, num_classes: int, dropout: float) -> nn.Sequential:
    # Indices 1, 4 and 6 hold the weights, as in torchvision.
    return nn.Sequential(
        L.Dropout(p=dropout),
        L.Linear(256 * 6 * 6, 4096),  # FC6
        L.ReLU(inplace=True),
        L.Dropout(p=dropout),
        L.Linear(4096, 4096),  # FC7
        L.ReLU(inplace=True),
        L.Linear(4096, num_classes),  # FC8
    )


def _local_response_norm(L: Any) -> nn.Module:
    # The paper's k=2, n=5, alpha=1e-4, beta=0.75. torch divides alpha by n, the paper does
    # not, so torch is given n * alpha.
    return L.LocalResponseNorm(size=5, alpha=5 * 1e-4, beta=0.75, k=2.0)


class AlexNetPaper(nn.Module):
    # POOL3 needs 3x3 <- POOL2 output 3 <- POOL1 output 7 <- CONV1 output 15 <- 11 + 14 * 4.
    min_size = 67

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5, layers: Any = "torch"):
        super().__init__()
        check_positive_int("num_classes", num_classes)
        check_probability("dropout", dropout)
        L = resolve_layers(layers)
        self.features = nn.Sequential(
            L.Conv2d(3, 96, kernel_size=11, stride=4, padding=0),  # CONV1 55x55x96
            L.ReLU(inplace=True),
            L.MaxPool2d(kernel_size=3, stride=2),  # POOL1 27x27x96
            _local_response_norm(L),  # NORM1
            L.Conv2d(96, 256, kernel_size=5, padding=2),  # CONV2 27x27x256
            L.ReLU(inplace=True),
            L.MaxPool2d(kernel_size=3, stride=2),  # POOL2 13x13x256
            _local_response_norm(L),  # NORM2
            L.Conv2d(256, 384, kernel_size=3, padding=1),  # CONV3 13x13x384
            L.ReLU(inplace=True),
            L.Conv2d(384, 384, kernel_size=3, padding=1),  # CONV4 13x13x384
            L.ReLU(inplace=True),
            L.Conv2d(384, 256, kernel_size=3, padding=1),  # CONV5 13x13x256
            L.ReLU(inplace=True),
            L.MaxPool2d(kernel_size=3, stride=2),  # POOL3 6x6x256
        )
        self.classifier = _classifier(L, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, model="alexnet_paper", channels=3, min_size=self.min_size)
        features = self.features(x)
        check_feature_map(features, x, model="alexnet_paper", expected=(6, 6), native=227)
        x = torch.flatten(features, 1)
        return self.classifier(x)


class AlexNet(nn.Module):
    # torchvision's published minimum: POOL3 needs 3x3 <- ... <- CONV1 output 15 <- 63 (pad 2).
    min_size = 63

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5, layers: Any = "torch"):
        super().__init__()
        check_positive_int("num_classes", num_classes)
        check_probability("dropout", dropout)
        L = resolve_layers(layers)
        self.features = nn.Sequential(
            L.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            L.ReLU(inplace=True),
            L.MaxPool2d(kernel_size=3, stride=2),
            L.Conv2d(64, 192, kernel_size=5, padding=2),
            L.ReLU(inplace=True),
            L.MaxPool2d(kernel_size=3, stride=2),
            L.Conv2d(192, 384, kernel_size=3, padding=1),
            L.ReLU(inplace=True),
            L.Conv2d(384, 256, kernel_size=3, padding=1),
            L.ReLU(inplace=True),
            L.Conv2d(256, 256, kernel_size=3, padding=1),
            L.ReLU(inplace=True),
            L.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = L.AdaptiveAvgPool2d((6, 6))
        self.classifier = _classifier(L, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, model="alexnet", channels=3, min_size=self.min_size)
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def alexnet_paper(
    *, num_classes: int = 1000, dropout: float = 0.5, layers: Any = "torch"
) -> AlexNetPaper:
    """The slides' single-tower AlexNet on 227x227x3 inputs (62,378,344 parameters)."""
    return AlexNetPaper(num_classes, dropout, layers)


def alexnet(*, num_classes: int = 1000, dropout: float = 0.5, layers: Any = "torch") -> AlexNet:
    """torchvision's AlexNet (61,100,840 parameters); takes inputs of 63x63 and up."""
    return AlexNet(num_classes, dropout, layers)
