"""ResNet (He, Zhang, Ren and Sun, 2015): 18, 34, 50, 101 and 152 layers.

ResNet-18 and -34 stack basic blocks (two 3x3 convolutions), the deeper ones bottleneck
blocks (1x1 reduce, 3x3, 1x1 expand by 4). The stage depths are Table 1 of the paper:

    resnet18 [2, 2, 2, 2]   resnet50  [3, 4, 6, 3]   resnet152 [3, 8, 36, 3]
    resnet34 [3, 4, 6, 3]   resnet101 [3, 4, 23, 3]

A bottleneck that halves the resolution can do it in either of its first two convolutions.
``variant="torchvision"`` (the default, "ResNet v1.5") strides in the 3x3 convolution, which
is what torchvision's pretrained weights were trained with (ResNet-50: 4.09e9 multiply-adds).
``variant="paper"`` strides in the first 1x1 convolution, as the original network, whose
multiply-adds are the slide's FLOPs (1.8, 3.6, 3.8, 7.6, 11.3 x 10^9). Basic blocks are the
same in both. Shortcuts are identities, or a strided 1x1 convolution and batch norm where
the shape changes (the paper's option B). Module names are torchvision's.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from cnncourse.models._common import check_choice, check_input, check_positive_int, resolve_layers

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
]

VARIANTS = ("torchvision", "paper")


def conv3x3(in_channels: int, out_channels: int, stride: int, L: Any) -> nn.Module:
    return L.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int, L: Any) -> nn.Module:
    return L.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(
        self,
        in_channels: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        *,
        variant: str = "torchvision",
        L: Any,
    ) -> None:
        super().__init__()
        self.conv1 = conv3x3(in_channels, planes, stride, L)
        self.bn1 = L.BatchNorm2d(planes)
        self.relu = L.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes, 1, L)
        self.bn2 = L.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(
        self,
        in_channels: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        *,
        variant: str = "torchvision",
        L: Any,
    ) -> None:
        super().__init__()
        stride1x1, stride3x3 = (stride, 1) if variant == "paper" else (1, stride)
        self.conv1 = conv1x1(in_channels, planes, stride1x1, L)
        self.bn1 = L.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride3x3, L)
        self.bn2 = L.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion, 1, L)
        self.bn3 = L.BatchNorm2d(planes * self.expansion)
        self.relu = L.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


def make_stage(
    block: type[BasicBlock | Bottleneck],
    in_channels: int,
    planes: int,
    depth: int,
    stride: int,
    variant: str,
    L: Any,
) -> nn.Sequential:
    """``depth`` blocks; the first changes the resolution (``stride``) and the width."""
    out_channels = planes * block.expansion
    downsample = None
    if stride != 1 or in_channels != out_channels:
        downsample = nn.Sequential(
            conv1x1(in_channels, out_channels, stride, L), L.BatchNorm2d(out_channels)
        )
    blocks = [block(in_channels, planes, stride, downsample, variant=variant, L=L)]
    blocks += [block(out_channels, planes, variant=variant, L=L) for _ in range(depth - 1)]
    return nn.Sequential(*blocks)


class ResNet(nn.Module):
    min_size = 1  # every stride-2 layer pads, so even a 1x1 input keeps one position

    def __init__(
        self,
        block: type[BasicBlock | Bottleneck],
        depths: list[int],
        num_classes: int = 1000,
        variant: str = "torchvision",
        zero_init_residual: bool = False,
        layers: Any = "torch",
    ) -> None:
        super().__init__()
        if len(depths) != 4:
            raise ValueError(f"depths must list 4 stage depths, got {depths!r}")
        for depth in depths:
            check_positive_int("each stage depth", depth)
        check_positive_int("num_classes", num_classes)
        check_choice("variant", variant, VARIANTS)
        L = resolve_layers(layers)
        e = block.expansion

        self.conv1 = L.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = L.BatchNorm2d(64)
        self.relu = L.ReLU(inplace=True)
        self.maxpool = L.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = make_stage(block, 64, 64, depths[0], 1, variant, L)  # conv2_x
        self.layer2 = make_stage(block, 64 * e, 128, depths[1], 2, variant, L)  # conv3_x
        self.layer3 = make_stage(block, 128 * e, 256, depths[2], 2, variant, L)  # conv4_x
        self.layer4 = make_stage(block, 256 * e, 512, depths[3], 2, variant, L)  # conv5_x
        self.avgpool = L.AdaptiveAvgPool2d((1, 1))
        self.fc = L.Linear(512 * e, num_classes)

        _init_weights(self, L, zero_init_residual)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, model="resnet", channels=3, min_size=self.min_size)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


def _init_weights(model: nn.Module, L: Any, zero_init_residual: bool) -> None:
    # torchvision's: He initialization for convolutions, batch norm at identity.
    for m in model.modules():
        if isinstance(m, L.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, L.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    # Optionally start each residual branch at zero, so every block begins as the identity
    # (Goyal et al., 2017).
    if zero_init_residual:
        for m in model.modules():
            if isinstance(m, Bottleneck):
                nn.init.zeros_(m.bn3.weight)
            elif isinstance(m, BasicBlock):
                nn.init.zeros_(m.bn2.weight)


def _resnet(
    block: type[BasicBlock | Bottleneck],
    depths: list[int],
    *,
    num_classes: int = 1000,
    variant: str = "torchvision",
    zero_init_residual: bool = False,
    layers: Any = "torch",
) -> ResNet:
    return ResNet(block, depths, num_classes, variant, zero_init_residual, layers)


def resnet18(**kwargs: Any) -> ResNet:
    """ResNet-18: 11,689,512 parameters, 1.8e9 multiply-adds at 224x224."""
    return _resnet(BasicBlock, [2, 2, 2, 2], **kwargs)


def resnet34(**kwargs: Any) -> ResNet:
    """ResNet-34: 21,797,672 parameters, 3.6e9 multiply-adds at 224x224."""
    return _resnet(BasicBlock, [3, 4, 6, 3], **kwargs)


def resnet50(**kwargs: Any) -> ResNet:
    """ResNet-50: 25,557,032 parameters; 4.1e9 multiply-adds (3.8e9 with variant="paper")."""
    return _resnet(Bottleneck, [3, 4, 6, 3], **kwargs)


def resnet101(**kwargs: Any) -> ResNet:
    """ResNet-101: 44,549,160 parameters; 7.8e9 multiply-adds (7.6e9 with variant="paper")."""
    return _resnet(Bottleneck, [3, 4, 23, 3], **kwargs)


def resnet152(**kwargs: Any) -> ResNet:
    """ResNet-152: 60,192,808 parameters; 11.5e9 multiply-adds (11.3e9 with variant="paper")."""
    return _resnet(Bottleneck, [3, 8, 36, 3], **kwargs)
