"""VGG (Simonyan and Zisserman, 2014): the paper's configurations A to E, in torchvision's layout.

A configuration lists the feature extractor from input to output: an int is a 3x3
convolution (stride 1, pad 1) with that many filters, ``(n, 1)`` a 1x1 convolution (the
paper's configuration C), ``"M"`` a 2x2 max pool at stride 2 and ``"LRN"`` local response
normalization (configuration A-LRN). Every convolution is followed by a ReLU (and, with
``batch_norm=True``, preceded by batch norm, as torchvision's ``vgg*_bn``).

The module names are torchvision's (``features``, ``avgpool``, ``classifier``), so
``vgg11/13/16/19`` (configurations A, B, D, E) load torchvision's pretrained weights.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from cnncourse.models._common import (
    check_input,
    check_positive_int,
    check_probability,
    resolve_layers,
)

__all__ = [
    "CONFIGS",
    "VGG",
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

Item = int | tuple[int, int] | str


def _rows(*rows: list[Item]) -> list[Item]:
    """One configuration from its rows (a long column written over two lines)."""
    return [item for row in rows for item in row]


# Table 1 of the paper, column by column.
CONFIGS: dict[str, list[Item]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "A-LRN": [64, "LRN", "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "C": _rows(
        [64, 64, "M", 128, 128, "M"],
        [256, 256, (256, 1), "M", 512, 512, (512, 1), "M", 512, 512, (512, 1), "M"],
    ),
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": _rows(
        [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M"],
        [512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
    ),
}


def _conv_spec(item: Any) -> tuple[int, int] | None:
    """(filters, kernel size) for a convolution item, None for anything else."""
    if isinstance(item, int) and not isinstance(item, bool) and item > 0:
        return item, 3
    if (
        isinstance(item, tuple)
        and len(item) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in item)
        and item[1] in (1, 3)
    ):
        return item
    return None


def _check_config(config: Any) -> list[Item]:
    if isinstance(config, str):
        if config not in CONFIGS:
            raise ValueError(
                f"config must be one of {', '.join(map(repr, CONFIGS))} or a list, got {config!r}"
            )
        return CONFIGS[config]
    if not isinstance(config, list | tuple):
        raise TypeError(
            f"config must be a configuration name or a list, got {type(config).__name__}"
        )
    for position, item in enumerate(config):
        if item not in ("M", "LRN") and _conv_spec(item) is None:
            raise ValueError(
                f"config item {position} must be a positive int (3x3 conv), (filters, 1 or 3), "
                f"'M' or 'LRN', got {item!r}"
            )
    if not any(_conv_spec(item) for item in config):
        raise ValueError(f"config must hold at least one convolution, got {config!r}")
    return list(config)


def make_features(config: list[Item], batch_norm: bool, L: Any) -> nn.Sequential:
    modules: list[nn.Module] = []
    in_channels = 3
    for item in config:
        if item == "M":
            modules.append(L.MaxPool2d(kernel_size=2, stride=2))
        elif item == "LRN":  # as in AlexNet: k=2, n=5, alpha=1e-4 (torch divides by n)
            modules.append(L.LocalResponseNorm(size=5, alpha=5 * 1e-4, beta=0.75, k=2.0))
        else:
            spec = _conv_spec(item)
            if spec is None:
                raise ValueError(
                    f"config items must be 'M', 'LRN' or a convolution (see CONFIGS), got {item!r}"
                )
            filters, kernel = spec
            modules.append(L.Conv2d(in_channels, filters, kernel_size=kernel, padding=kernel // 2))
            if batch_norm:
                modules.append(L.BatchNorm2d(filters))
            modules.append(L.ReLU(inplace=True))
            in_channels = filters
    return nn.Sequential(*modules)


class VGG(nn.Module):
    def __init__(
        self,
        config: Any = "D",
        batch_norm: bool = False,
        num_classes: int = 1000,
        dropout: float = 0.5,
        init_weights: bool = True,
        layers: Any = "torch",
    ) -> None:
        super().__init__()
        items = _check_config(config)
        check_positive_int("num_classes", num_classes)
        check_probability("dropout", dropout)
        L = resolve_layers(layers)
        convolutions = [spec for item in items if (spec := _conv_spec(item)) is not None]
        channels = convolutions[-1][0]
        # Each 2x2 pool halves (rounding down), so the last one still needs 2x2 pixels.
        self.min_size = 2 ** items.count("M")

        self.features = make_features(items, batch_norm, L)
        self.avgpool = L.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            L.Linear(channels * 7 * 7, 4096),
            L.ReLU(inplace=True),
            L.Dropout(p=dropout),
            L.Linear(4096, 4096),
            L.ReLU(inplace=True),
            L.Dropout(p=dropout),
            L.Linear(4096, num_classes),
        )
        if init_weights:
            _init_weights(self, L)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, model="vgg", channels=3, min_size=self.min_size)
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def _init_weights(model: nn.Module, L: Any) -> None:
    # torchvision's initialization (the paper pre-trained A and copied its layers instead).
    for m in model.modules():
        if isinstance(m, L.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(m.bias)
        elif isinstance(m, L.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, L.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)


def vgg(
    config: Any = "D",
    *,
    batch_norm: bool = False,
    num_classes: int = 1000,
    dropout: float = 0.5,
    init_weights: bool = True,
    layers: Any = "torch",
) -> VGG:
    """VGG with a configuration of the paper ("A", "A-LRN", "B", "C", "D", "E") or a list."""
    return VGG(config, batch_norm, num_classes, dropout, init_weights, layers)


def vgg11(*, batch_norm: bool = False, **kwargs: Any) -> VGG:
    """Configuration A: 132,863,336 parameters (132,868,840 with batch norm)."""
    return vgg("A", batch_norm=batch_norm, **kwargs)


def vgg13(*, batch_norm: bool = False, **kwargs: Any) -> VGG:
    """Configuration B: 133,047,848 parameters (133,053,736 with batch norm)."""
    return vgg("B", batch_norm=batch_norm, **kwargs)


def vgg16(*, batch_norm: bool = False, **kwargs: Any) -> VGG:
    """Configuration D: 138,357,544 parameters (138,365,992 with batch norm)."""
    return vgg("D", batch_norm=batch_norm, **kwargs)


def vgg19(*, batch_norm: bool = False, **kwargs: Any) -> VGG:
    """Configuration E: 143,667,240 parameters (143,678,248 with batch norm)."""
    return vgg("E", batch_norm=batch_norm, **kwargs)


def vgg11_bn(**kwargs: Any) -> VGG:
    return vgg11(batch_norm=True, **kwargs)


def vgg13_bn(**kwargs: Any) -> VGG:
    return vgg13(batch_norm=True, **kwargs)


def vgg16_bn(**kwargs: Any) -> VGG:
    return vgg16(batch_norm=True, **kwargs)


def vgg19_bn(**kwargs: Any) -> VGG:
    return vgg19(batch_norm=True, **kwargs)
