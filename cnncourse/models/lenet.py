"""LeNet-5 (LeCun, Bottou, Bengio and Haffner, 1998), as drawn on the slides.

CONV-POOL-CONV-POOL-CONV-FC on a 32x32 input: 5x5 convolutions at stride 1 and 2x2
subsampling at stride 2. This is the usual modern reading of the paper: C3 connects to all
six S2 maps (the paper wires each C3 map to a subset of them), subsampling is plain
averaging (the paper's has a trainable gain and bias per map) and the output layer is a
linear layer (the paper's is a Euclidean RBF). That gives 61,706 parameters against the
paper's 60,840:

    C1  6 maps 5x5 on 1 map       (5*5*1 + 1) * 6    =    156
    C3 16 maps 5x5 on 6 maps      (5*5*6 + 1) * 16   =  2,416
    C5 120 maps 5x5 on 16 maps    (5*5*16 + 1) * 120 = 48,120
    F6 84 units                   (120 + 1) * 84     = 10,164
    output 10 units               (84 + 1) * 10      =    850
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from cnncourse.models._common import (
    check_choice,
    check_feature_map,
    check_input,
    check_positive_int,
    resolve_layers,
)

__all__ = ["LeNet5", "lenet5"]


class LeNet5(nn.Module):
    # Each 5x5 convolution takes 4 pixels off and each 2x2 subsampling halves:
    # 32 -> 28 -> 14 -> 10 -> 5 -> 1, so C5's output is 1x1 only for inputs of 32 to 35.
    min_size = 32

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        activation: str = "tanh",
        pool: str = "avg",
        layers: Any = "torch",
    ) -> None:
        super().__init__()
        check_positive_int("num_classes", num_classes)
        self.in_channels = check_positive_int("in_channels", in_channels)
        L = resolve_layers(layers)
        check_choice("activation", activation, ("tanh", "relu"))
        check_choice("pool", pool, ("avg", "max"))
        act = L.Tanh if activation == "tanh" else L.ReLU
        Pool = L.AvgPool2d if pool == "avg" else L.MaxPool2d

        self.features = nn.Sequential(
            L.Conv2d(in_channels, 6, kernel_size=5),  # C1: 28x28x6
            act(),
            Pool(kernel_size=2, stride=2),  # S2: 14x14x6
            L.Conv2d(6, 16, kernel_size=5),  # C3: 10x10x16
            act(),
            Pool(kernel_size=2, stride=2),  # S4: 5x5x16
            L.Conv2d(16, 120, kernel_size=5),  # C5: 1x1x120
            act(),
        )
        self.classifier = nn.Sequential(
            L.Linear(120, 84),  # F6
            act(),
            L.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, model="lenet5", channels=self.in_channels, min_size=self.min_size)
        features = self.features(x)
        check_feature_map(features, x, model="lenet5", expected=(1, 1), native=32)
        x = torch.flatten(features, 1)
        return self.classifier(x)


def lenet5(
    *,
    num_classes: int = 10,
    in_channels: int = 1,
    activation: str = "tanh",
    pool: str = "avg",
    layers: Any = "torch",
) -> LeNet5:
    """LeNet-5 for 32x32 inputs (pad 28x28 MNIST digits by 2), 61,706 parameters.

    ``activation`` is ``"tanh"`` (the paper's squashing function) or ``"relu"``; ``pool``
    is ``"avg"`` (the paper's subsampling) or ``"max"``; ``layers`` is ``"torch"`` or
    ``"course"``.
    """
    return LeNet5(num_classes, in_channels, activation, pool, layers)
