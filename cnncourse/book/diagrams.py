"""Drawings of the networks, blocks and graphs the book explains, computed from the code.

Every picture here is derived from the object it shows, never typed in: the architecture
figures walk a model of :mod:`cnncourse.models` (layer types, kernel sizes, strides, channels)
and take every output volume from :func:`cnncourse.summary`'s forward pass; the convolution
figure's numbers come from :func:`cnncourse.layers.conv_forward`; the computational graphs'
values and gradients from torch autograd; the transfer-learning picture reads which
parameters :func:`cnncourse.book.transfer.freeze` left trainable. Change a model and its figure
changes with it.

Like :mod:`cnncourse.book.viz`, every function returns a ``matplotlib.figure.Figure`` made outside
pyplot. The figures are at most 6.8 inches wide at 100 dpi (they fit the book's 688 px column
without being scaled down), their text is at least 10 pt, and their colours are the
Okabe-Ito palette, which stays distinguishable with the common colour-vision deficiencies;
shapes and labels, not colour alone, tell the kinds apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Polygon, Rectangle
from torch import nn

from cnncourse.book import viz

__all__ = [
    "OKABE_ITO",
    "BlockPanel",
    "DepthEntry",
    "GraphNode",
    "LayerBox",
    "computation_graph",
    "conv_example",
    "depth_chart",
    "depth_chart_entries",
    "describe",
    "evaluate_graph",
    "inception_diagram",
    "layer_boxes",
    "layer_stack",
    "lenet_volumes",
    "residual_blocks",
    "transfer_diagram",
    "vgg_configs",
    "weight_depth",
]

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision
# deficiency.
OKABE_ITO = {
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "bluish green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
    "black": "#000000",
}
DPI = 100  # 1 figure pixel = 1 CSS pixel: a 6.8-inch figure is 680 px wide, under 688
MAX_WIDTH = 6.8  # inches
FONT = 10.0  # points: the smallest text in every figure
TITLE = 11.0


def _tint(color: str, amount: float = 0.55) -> tuple[float, float, float]:
    """The colour mixed with white (box fills light enough for black text)."""
    rgb = np.array([int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return tuple(rgb + (1 - rgb) * amount)


# Layer kinds: (edge colour, fill) of their boxes.
KIND_COLORS = {
    "input": ("#555555", "#eeeeee"),
    "conv": (OKABE_ITO["blue"], _tint(OKABE_ITO["sky blue"])),
    "reduce": (OKABE_ITO["orange"], _tint(OKABE_ITO["yellow"], 0.35)),
    "pool": (OKABE_ITO["vermillion"], _tint(OKABE_ITO["orange"])),
    "norm": (OKABE_ITO["bluish green"], _tint(OKABE_ITO["bluish green"], 0.65)),
    "fc": (OKABE_ITO["reddish purple"], _tint(OKABE_ITO["reddish purple"])),
    "other": ("#555555", "#ffffff"),
}


# ---------------------------------------------------------------------------------------
# What a model is made of


def weight_depth(module: nn.Module) -> int:
    """Weight layers (convolutions and linear layers) on the longest path through ``module``.

    The branches of an inception module run in parallel, so they count as their longest
    branch; ResNet's shortcut convolutions (``downsample``) and GoogLeNet's auxiliary
    classifiers (``aux1``, ``aux2``) are off the main path and do not count. This is the
    depth the papers quote: 8 for AlexNet, 16 for VGG-16, 22 for GoogLeNet, 152 for ResNet-152.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    if isinstance(module, nn.Conv2d | nn.Linear):
        return 1
    from cnncourse.models.googlenet import Inception

    if isinstance(module, Inception):
        branches = (module.branch1, module.branch2, module.branch3, module.branch4)
        return max(weight_depth(branch) for branch in branches)
    return sum(
        weight_depth(child)
        for name, child in module.named_children()
        if name not in {"downsample", "aux1", "aux2"}
    )


@dataclass(frozen=True)
class LayerBox:
    """One layer as the figures draw it: a row of :func:`cnncourse.summary` and its module."""

    name: str  # the module's qualified name ("features.0"), "input" for the input
    kind: str  # "input", "conv", "pool", "norm", "fc" or "other"
    label: str  # "conv 11x11, 96, stride 4"
    volume: str  # the output as the slides write it: "55x55x96"
    shape: tuple[int, ...]  # the output of one image, (C, H, W) or (N,)
    extras: tuple[str, ...]  # the layers folded into this one ("ReLU", "Dropout")


def _pair(value: Any) -> tuple[int, int]:
    return tuple(value) if isinstance(value, tuple | list) else (value, value)


def _kind(module: nn.Module | None) -> str:
    if module is None:
        return "input"
    if isinstance(module, nn.Conv2d):
        return "conv"
    if isinstance(module, nn.MaxPool2d | nn.AvgPool2d | nn.AdaptiveAvgPool2d):
        return "pool"
    if isinstance(module, nn.LocalResponseNorm | nn.BatchNorm2d):
        return "norm"
    if isinstance(module, nn.Linear):
        return "fc"
    return "other"


def describe(module: nn.Module) -> str:
    """A short label of a layer, from its attributes: ``conv 11x11, 96, stride 4``."""
    kind = _kind(module)
    if kind == "conv":
        kh, kw = _pair(module.kernel_size)
        text = f"conv {kh}x{kw}, {module.out_channels}"
        stride = _pair(module.stride)[0]
        return text + (f", stride {stride}" if stride != 1 else "")
    if isinstance(module, nn.MaxPool2d | nn.AvgPool2d):
        kh, kw = _pair(module.kernel_size)
        what = "max" if isinstance(module, nn.MaxPool2d) else "avg"
        return f"{what} pool {kh}x{kw}, stride {_pair(module.stride)[0]}"
    if isinstance(module, nn.AdaptiveAvgPool2d):
        return "global avg pool" if _pair(module.output_size) == (1, 1) else "adaptive avg pool"
    if isinstance(module, nn.LocalResponseNorm):
        return "local response norm"
    if isinstance(module, nn.BatchNorm2d):
        return "batch norm"
    if kind == "fc":
        return f"fc, {module.out_features}"
    return type(module).__name__


def layer_boxes(model: nn.Module, input_size: Sequence[int]) -> list[LayerBox]:
    """The model's layers in the order they run, one per row of ``summary(model, input_size)``
    (activations, dropout and batch norm folded into the layer before them, as the slides
    count layers), labelled from the modules themselves."""
    from cnncourse.summarize import summary

    table = summary(model, input_size)
    boxes = []
    for row in table.rows:
        module = None if row.name == "input" else model.get_submodule(row.name)
        label = "input" if module is None else describe(module)
        extras = tuple(row.layer.split("+")[1:])
        boxes.append(LayerBox(row.name, _kind(module), label, row.volume, row.shape, extras))
    return boxes


def _short_extras(extras: Iterable[str]) -> list[str]:
    names = {"ReLU": "ReLU", "Tanh": "tanh", "Sigmoid": "sigmoid", "Dropout": "dropout"}
    return [names[e] for e in extras if e in names]


def _slide_names(boxes: Sequence[LayerBox]) -> list[str]:
    """The slides' names for AlexNet-like networks: CONV1, POOL1, NORM1, ..., FC6, FC7."""
    counts: dict[str, int] = {}
    convs = sum(box.kind == "conv" for box in boxes)
    names = []
    for box in boxes:
        if box.kind in ("input", "other"):
            names.append(box.kind.upper() if box.kind == "input" else "")
            continue
        counts[box.kind] = counts.get(box.kind, 0) + 1
        number = counts[box.kind] + (convs if box.kind == "fc" else 0)
        names.append(f"{box.kind.upper()}{number}")
    return names


def _lecun_names(boxes: Sequence[LayerBox]) -> list[str]:
    """LeCun's names: C for convolution, S for subsampling, F for full connection, numbered by
    position; the last layer is the output."""
    letters = {"conv": "C", "pool": "S", "fc": "F"}
    names = []
    for position, box in enumerate(boxes):
        if box.kind == "input":
            names.append("input")
        elif position == len(boxes) - 1:
            names.append("output")
        else:
            names.append(f"{letters.get(box.kind, '?')}{position}")
    return names


# ---------------------------------------------------------------------------------------
# Drawing primitives (coordinates in inches; y grows upwards)


def _canvas(width: float, height: float) -> tuple[Figure, Any]:
    if width > MAX_WIDTH + 1e-9:
        raise ValueError(f"a figure must be at most {MAX_WIDTH} inches wide, got {width}")
    fig = viz.new_figure(width, height, dpi=DPI, layout=None)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_axis_off()
    return fig, ax


def _box(ax, x: float, y: float, w: float, h: float, text: str, kind: str, **text_kw) -> None:
    """A rounded box centred at (x, y) with its text."""
    edge, fill = KIND_COLORS[kind]
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2),
            w,
            h,
            boxstyle="round,pad=0,rounding_size=0.06",
            fc=fill,
            ec=edge,
            lw=1.4,
            ls="--" if kind == "reduce" else "-",
        )
    )
    text_kw.setdefault("fontsize", FONT)
    ax.text(x, y, text, ha="center", va="center", **text_kw)


def _arrow(ax, start, end, color: str = "#333333", **kw) -> None:
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=11,
            color=color,
            lw=1.2,
            shrinkA=0,
            shrinkB=0,
            **kw,
        )
    )


def _legend(ax, x: float, y: float, kinds: Sequence[tuple[str, str]]) -> None:
    """Small boxes with the kind's colours and a word, left to right from (x, y)."""
    for kind, word in kinds:
        edge, fill = KIND_COLORS[kind]
        ax.add_patch(
            Rectangle(
                (x, y - 0.07),
                0.22,
                0.14,
                fc=fill,
                ec=edge,
                lw=1.2,
                ls="--" if kind == "reduce" else "-",
            )
        )
        ax.text(x + 0.28, y, word, va="center", fontsize=FONT)
        x += 0.28 + 0.075 * len(word) + 0.25


# ---------------------------------------------------------------------------------------
# LeNet-5: the volumes


def lenet_volumes(model: nn.Module, input_size: Sequence[int] = (1, 32, 32)) -> Figure:
    """The model's output volumes left to right, as LeCun et al. drew LeNet-5: each volume a
    block whose height grows with its spatial size and whose thickness with its depth, with
    the layer between two volumes written on the arrow that joins them."""
    boxes = layer_boxes(model, input_size)
    names = _lecun_names(boxes)
    width = MAX_WIDTH
    slot = width / len(boxes)
    largest = max(box.shape[-1] if len(box.shape) == 3 else 1 for box in boxes)
    fig, ax = _canvas(width, 3.0)
    base = 0.95  # the blocks' bottom edge
    for i, box in enumerate(boxes):
        channels, size = (box.shape[0], box.shape[-1]) if len(box.shape) == 3 else (box.shape[0], 1)
        h = 0.12 + 1.25 * size / largest  # front face: the spatial size
        t = 0.05 + 0.055 * math.log2(channels + 1)  # thickness: the depth, on a log scale
        d = 0.22 * h  # the receding side, drawn at 45 degrees
        x = (i + 0.5) * slot - (t + d) / 2
        edge, fill = KIND_COLORS[box.kind]
        ax.add_patch(Rectangle((x, base), t, h, fc=fill, ec=edge, lw=1.2))
        ax.add_patch(
            Polygon(
                [
                    (x, base + h),
                    (x + d, base + h + d),
                    (x + t + d, base + h + d),
                    (x + t, base + h),
                ],
                fc=fill,
                ec=edge,
                lw=1.2,
            )
        )
        ax.add_patch(
            Polygon(
                [
                    (x + t, base),
                    (x + t + d, base + d),
                    (x + t + d, base + h + d),
                    (x + t, base + h),
                ],
                fc=_tint(edge, 0.3) if box.kind != "input" else "#cccccc",
                ec=edge,
                lw=1.2,
            )
        )
        ax.text(
            (i + 0.5) * slot,
            base - 0.12,
            f"{names[i]}\n{_volume_lines(box)}",
            ha="center",
            va="top",
            fontsize=FONT,
        )
    for i in range(1, len(boxes)):
        y = base + 0.06
        x0, x1 = (i - 0.5) * slot + 0.16, (i + 0.5) * slot - 0.2
        _arrow(ax, (x0, y), (x1, y), color="#555555")
    for i, box in enumerate(boxes[1:], start=1):
        label = _op_lines(box)
        ax.text(
            i * slot,
            2.95,
            label,
            ha="center",
            va="top",
            fontsize=FONT,
            color=KIND_COLORS[box.kind][0] if box.kind != "fc" else "#8a3d6d",
        )
    return fig


def _volume_lines(box: LayerBox) -> str:
    if len(box.shape) == 3:
        c, h, w = box.shape
        return f"{h}x{w}\nx{c}"
    return f"{box.shape[0]}"


def _op_lines(box: LayerBox) -> str:
    """A layer's label broken over two short lines, for the narrow gaps between volumes."""
    parts = box.label.split(", ")
    extras = _short_extras(box.extras)
    head = parts[0]
    rest = ", ".join(parts[1:])
    if box.kind == "pool":  # "avg pool 2x2, stride 2" -> "avg pool\n2x2 /2"
        what, _, size = head.rpartition(" ")
        return f"{what}\n{size} /{rest.split()[-1]}"
    if box.kind == "conv":  # "conv 5x5, 6" -> "conv\n5x5, 6"
        what, _, size = head.partition(" ")
        lines = [what, f"{size}, {rest}"]
    else:  # "fc, 84"
        lines = [head, rest]
    if extras:
        lines.append(extras[0])
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# AlexNet: the layer stack


def layer_stack(model: nn.Module, input_size: Sequence[int], *, title: str | None = None) -> Figure:
    """The layers top to bottom as boxes coloured by kind, each with its output volume on the
    right and the slides' name (CONV1, POOL1, ..., FC6) on the left."""
    boxes = layer_boxes(model, input_size)
    names = _slide_names(boxes)
    step, h = 0.36, 0.27
    top = 0.45 if title else 0.15
    height = top + step * len(boxes) + 0.45
    fig, ax = _canvas(MAX_WIDTH, height)
    if title:
        ax.text(MAX_WIDTH / 2, height - 0.12, title, ha="center", va="top", fontsize=TITLE)
    cx, w = 3.0, 3.2
    for i, box in enumerate(boxes):
        y = height - top - step * i - step / 2
        extras = _short_extras(box.extras)
        text = box.label + (f" + {', '.join(extras)}" if extras else "")
        _box(ax, cx, y, w, h, text, box.kind)
        ax.text(
            cx - w / 2 - 0.15,
            y,
            names[i],
            ha="right",
            va="center",
            fontsize=FONT,
            fontweight="bold",
        )
        ax.text(cx + w / 2 + 0.15, y, box.volume, ha="left", va="center", fontsize=FONT)
        if i:
            _arrow(ax, (cx, y + step - h / 2), (cx, y + h / 2))
    ax.text(
        cx + w / 2 + 0.15,
        height - top + 0.02,
        "output volume",
        ha="left",
        va="bottom",
        fontsize=FONT,
        color="#555555",
    )
    _legend(
        ax,
        0.25,
        0.22,
        [("conv", "conv"), ("pool", "pool"), ("norm", "normalization"), ("fc", "fully connected")],
    )
    return fig


# ---------------------------------------------------------------------------------------
# VGG: the configurations side by side


def _vgg_column(config: Any) -> tuple[list[list[str]], list[str], int, int]:
    """(convolution labels per stage, classifier labels, weight layers, parameters) of VGG
    ``config``, read from the model the package builds (on the meta device)."""
    from cnncourse.models import vgg

    with torch.device("meta"):
        model = vgg(config, init_weights=False)
    stages: list[list[str]] = [[]]
    for module in model.features:
        if isinstance(module, nn.Conv2d):
            k = _pair(module.kernel_size)[0]
            stages[-1].append(f"conv{k}-{module.out_channels}")
        elif isinstance(module, nn.LocalResponseNorm):
            stages[-1].append("LRN")
        elif isinstance(module, nn.MaxPool2d):
            stages.append([])
    stages = [stage for stage in stages if stage]
    fcs = [f"FC-{m.out_features}" for m in model.classifier if isinstance(m, nn.Linear)]
    params = sum(p.numel() for p in model.parameters())
    return stages, fcs, weight_depth(model), params


def vgg_configs(
    configs: Sequence[Any] = ("A", "A-LRN", "B", "C", "D", "E"),
    *,
    highlight: Any = "D",
    input_size: Sequence[int] = (3, 224, 224),
) -> Figure:
    """The paper's Table 1 drawn from the models: one column per configuration, one box per
    layer, stages aligned; the spatial size of each stage (from a forward pass) on the left,
    and each column's weight layers and parameters counted from its model."""
    from cnncourse.models import vgg
    from cnncourse.summarize import summary

    columns = [_vgg_column(config) for config in configs]
    n_stages = max(len(stages) for stages, *_ in columns)
    rows_per_stage = [
        max(len(stages[s]) if s < len(stages) else 0 for stages, *_ in columns)
        for s in range(n_stages)
    ]
    n_fc = max(len(fcs) for _, fcs, *_ in columns)
    # Spatial size of each stage: the output of the convolution before each pool.
    with torch.device("meta"):
        table = summary(vgg(configs[0], init_weights=False), input_size)
    sizes, last = [], None
    for row in table.rows[1:]:
        if row.layer.startswith("Conv2d"):
            last = row.shape
        elif row.layer.startswith("MaxPool2d") and last is not None:
            sizes.append(f"{last[1]}x{last[2]}")
    step, h = 0.205, 0.17
    left = 0.75
    col_w = (MAX_WIDTH - left) / len(configs)
    n_rows = 1 + sum(rows_per_stage) + n_stages + n_fc
    height = 0.75 + step * n_rows + 0.1
    fig, ax = _canvas(MAX_WIDTH, height)
    y0 = height - 0.72
    for c, (config, (stages, fcs, depth, params)) in enumerate(zip(configs, columns, strict=True)):
        cx = left + (c + 0.5) * col_w
        bold = "bold" if config == highlight else "normal"
        ax.text(
            cx, height - 0.05, f"{config}", ha="center", va="top", fontsize=TITLE, fontweight=bold
        )
        ax.text(
            cx,
            height - 0.28,
            f"{depth}\n{params / 1e6:.0f}M",
            ha="center",
            va="top",
            fontsize=FONT,
            linespacing=1.0,
            fontweight=bold,
        )
        if config == highlight:
            ax.add_patch(
                Rectangle(
                    (cx - col_w / 2 + 0.02, 0.02),
                    col_w - 0.04,
                    height - 0.04,
                    fill=False,
                    ec="#000000",
                    lw=1.6,
                )
            )
        y = y0
        _box(ax, cx, y - step / 2, col_w - 0.12, h, "input", "input")
        y -= step
        for s in range(n_stages):
            labels = stages[s] if s < len(stages) else []
            for r in range(rows_per_stage[s]):
                if r < len(labels):
                    kind = "norm" if labels[r] == "LRN" else "conv"
                    kind = "reduce" if labels[r].startswith("conv1-") else kind
                    _box(ax, cx, y - step / 2, col_w - 0.12, h, labels[r], kind)
                y -= step
            _box(ax, cx, y - step / 2, col_w - 0.12, h, "maxpool", "pool")
            y -= step
        for label in fcs:
            _box(ax, cx, y - step / 2, col_w - 0.12, h, label, "fc")
            y -= step
    ax.text(
        left - 0.1,
        height - 0.28,
        "layers\nparams",
        ha="right",
        va="top",
        fontsize=FONT,
        linespacing=1.0,
    )
    # The spatial size of each stage, on the left.
    y = y0 - step
    for s in range(n_stages):
        span = rows_per_stage[s] * step
        if s < len(sizes):
            ax.text(left - 0.1, y - span / 2, sizes[s], ha="right", va="center", fontsize=FONT)
        y -= span + step
    ax.text(
        left - 0.1,
        y0 - step / 2,
        "x".join(map(str, input_size[1:])),
        ha="right",
        va="center",
        fontsize=FONT,
    )
    return fig


# ---------------------------------------------------------------------------------------
# GoogLeNet: the inception module


def _submodule(model: nn.Module, name: str) -> nn.Module:
    try:
        return model.get_submodule(name)
    except AttributeError:
        raise ValueError(f"the model has no module {name!r}") from None


def _rows_under(model: nn.Module, input_size: Sequence[int], prefix: str):
    """(rows of the unfolded summary inside module ``prefix``, the row just before them)."""
    from cnncourse.summarize import summary

    rows = summary(model, input_size, fold=False).rows
    inside = [i for i, row in enumerate(rows) if row.name.startswith(prefix + ".")]
    if not inside:
        raise ValueError(f"the model has no module {prefix!r} that runs on this input")
    return [rows[i] for i in inside], rows[inside[0] - 1]


def _hw_c(shape: tuple[int, ...]) -> str:
    c, h, w = shape
    return f"{h}x{w}x{c}"


def inception_diagram(
    model: nn.Module, name: str = "inception3a", input_size: Sequence[int] = (3, 224, 224)
) -> Figure:
    """One inception module of a GoogLeNet: its four branches side by side, the 1x1 reductions
    (a 1x1 convolution followed by a bigger one) marked, each branch's output volume and the
    concatenation, all from the module and a forward pass of the model."""
    module = _submodule(model, name)
    if not all(hasattr(module, f"branch{i}") for i in range(1, 5)):
        raise ValueError(f"{name!r} is a {type(module).__name__}, not an inception module")
    rows, before = _rows_under(model, input_size, name)
    branches = [getattr(module, f"branch{i}") for i in range(1, 5)]
    fig, ax = _canvas(MAX_WIDTH, 3.6)
    col = MAX_WIDTH / 4
    _box(ax, MAX_WIDTH / 2, 3.3, 3.4, 0.32, f"previous layer: {_hw_c(before.shape)}", "input")
    total = 0
    for b, branch in enumerate(branches):
        cx = (b + 0.5) * col
        steps = list(branch.children()) if isinstance(branch, nn.Sequential) else [branch]
        _arrow(ax, (MAX_WIDTH / 2 + (cx - MAX_WIDTH / 2) * 0.45, 3.14), (cx, 2.85))
        y = 2.6
        for k, step in enumerate(steps):
            conv = getattr(step, "conv", step)
            kind = _kind(conv)
            text = describe(conv)
            if kind == "conv" and _pair(conv.kernel_size) == (1, 1) and k < len(steps) - 1:
                kind, text = "reduce", text + "\n(reduce)"
            elif kind == "conv" and k == len(steps) - 1 and len(steps) > 1 and b == 3:
                text += "\n(pool proj)"
            elif kind == "pool":
                text = text.replace(", stride 1", "")
            _box(ax, cx, y, col - 0.22, 0.5, text, kind)
            if k < len(steps) - 1:
                _arrow(ax, (cx, y - 0.25), (cx, y - 0.45))
            y -= 0.7
        prefix = f"{name}.branch{b + 1}."
        shape = [row.shape for row in rows if row.name.startswith(prefix)][-1]
        total += shape[0]
        _arrow(ax, (cx, y + 0.45), (cx, 0.78))
        ax.text(
            cx + 0.06, y + 0.3, _hw_c(shape), ha="left", va="center", fontsize=FONT, color="#333333"
        )
    out_shape = (total, *rows[-1].shape[1:])
    _box(
        ax,
        MAX_WIDTH / 2,
        0.55,
        MAX_WIDTH - 0.3,
        0.42,
        f"filter concatenation: {_hw_c(out_shape)}",
        "input",
    )
    return fig


# ---------------------------------------------------------------------------------------
# ResNet: plain, residual and bottleneck blocks


@dataclass(frozen=True)
class BlockPanel:
    """One block to draw: ``name`` of a residual block in ``model``; ``shortcut=False`` draws
    the same layers without the identity shortcut (the plain net)."""

    title: str
    model: nn.Module
    name: str
    shortcut: bool = True


def residual_blocks(
    panels: Sequence[BlockPanel | tuple], input_size: Sequence[int] = (3, 224, 224)
) -> Figure:
    """ResNet blocks side by side, top to bottom as in the paper: each weight layer with its
    kernel and filters, the ReLUs, the addition and the shortcut, with the volumes of the
    forward pass written beside the arrows."""
    blocks = [p if isinstance(p, BlockPanel) else BlockPanel(*p) for p in panels]
    if not blocks:
        raise ValueError("residual_blocks needs at least one panel")
    n_layers = [len(_block_convs(_submodule(p.model, p.name))) for p in blocks]
    height = 1.5 + 1.0 * max(n_layers) + 0.2
    fig, ax = _canvas(MAX_WIDTH, height)
    col = MAX_WIDTH / len(blocks)
    for k, panel in enumerate(blocks):
        _draw_block(ax, panel, (k + 0.5) * col, height, col, input_size)
    return fig


def _block_convs(block: nn.Module) -> list[nn.Module]:
    return [m for n, m in block.named_children() if n.startswith("conv")]


def _draw_block(ax, panel: BlockPanel, cx: float, height: float, col: float, input_size) -> None:
    block = _submodule(panel.model, panel.name)
    rows, before = _rows_under(panel.model, input_size, panel.name)
    shape_of = {row.name.removeprefix(panel.name + "."): row.shape for row in rows}
    convs = _block_convs(block)
    ax.text(cx, height - 0.05, panel.title, ha="center", va="top", fontsize=TITLE)
    y = height - 0.55
    x_in = f"x: {_hw_c(before.shape)}"
    ax.text(cx, y, x_in, ha="center", va="center", fontsize=FONT)
    top = y - 0.15
    w = min(col - 0.7, 1.9)
    y -= 0.6
    _arrow(ax, (cx, top), (cx, y + 0.17))
    for i, conv in enumerate(convs, start=1):
        _box(
            ax,
            cx,
            y,
            w,
            0.34,
            describe(conv),
            "reduce" if _pair(conv.kernel_size) == (1, 1) else "conv",
        )
        last = i == len(convs)
        if not last:
            ax.text(
                cx + 0.08,
                y - 0.5,
                f"ReLU  {_hw_c(shape_of[f'bn{i}'])}",
                ha="left",
                va="center",
                fontsize=FONT,
            )
            _arrow(ax, (cx, y - 0.17), (cx, y - 0.83))
        y -= 1.0
    # The output of the last weight layer: F(x), or H(x) for the plain block.
    y_sum = y + 0.25
    if panel.shortcut:  # the plain block's H(x) comes after its last ReLU
        ax.text(cx + 0.08, y + 0.55, "F(x)", ha="left", va="center", fontsize=FONT, style="italic")
    if panel.shortcut:
        ax.add_patch(_circle(cx, y_sum, 0.13))
        ax.text(cx, y_sum, "+", ha="center", va="center", fontsize=TITLE, fontweight="bold")
        _arrow(ax, (cx, y + 1.0 - 0.17), (cx, y_sum + 0.13))
        side = cx - w / 2 - 0.25
        shortcut = "identity x" if block.downsample is None else "1x1 conv (projection)"
        ax.plot([cx, side, side], [top + 0.02, top + 0.02, y_sum], color="#333333", lw=1.2)
        _arrow(ax, (side, y_sum), (cx - 0.13, y_sum))
        ax.text(
            side - 0.05,
            (top + y_sum) / 2,
            shortcut,
            ha="right",
            va="center",
            fontsize=FONT,
            rotation=90,
        )
        _arrow(ax, (cx, y_sum - 0.13), (cx, y_sum - 0.45))
        ax.text(cx + 0.08, y_sum - 0.3, "ReLU", ha="left", va="center", fontsize=FONT)
        label = f"F(x) + x: {_hw_c(rows[-1].shape)}"
    else:
        _arrow(ax, (cx, y + 1.0 - 0.17), (cx, y_sum - 0.45))
        ax.text(cx + 0.08, y_sum - 0.1, "ReLU", ha="left", va="center", fontsize=FONT)
        label = f"H(x): {_hw_c(rows[-1].shape)}"
    ax.text(cx, y_sum - 0.58, label, ha="center", va="center", fontsize=FONT)


def _circle(x: float, y: float, r: float):
    from matplotlib.patches import Circle

    return Circle((x, y), r, fc="#ffffff", ec="#333333", lw=1.2)


# ---------------------------------------------------------------------------------------
# The revolution of depth


@dataclass(frozen=True)
class DepthEntry:
    """One ILSVRC classification entry of the depth chart.

    ``model`` builds the network (its depth is then counted by :func:`weight_depth`);
    ``published_depth`` is used where the package has no model (None: not a ConvNet).
    """

    year: int
    name: str
    top5_error: float  # %
    model: Callable[[], nn.Module] | None = None
    published_depth: int | None = None


def depth_chart_entries() -> list[DepthEntry]:
    from cnncourse.models import alexnet_paper, googlenet, resnet152, vgg19

    errors = viz.ILSVRC_TOP5_ERROR
    return [
        DepthEntry(2010, "NEC-UIUC", errors[2010][1]),
        DepthEntry(2011, "XRCE", errors[2011][1]),
        DepthEntry(2012, "AlexNet", errors[2012][1], alexnet_paper),
        # Zeiler and Fergus (2014): five convolutions and three fully connected layers.
        DepthEntry(2013, "ZFNet", errors[2013][1], published_depth=8),
        # Simonyan and Zisserman (2015): VGG's ILSVRC-2014 submission, 7.3% top-5 (2nd place).
        DepthEntry(2014, "VGG", 7.3, vgg19),
        DepthEntry(2014, "GoogLeNet", errors[2014][1], lambda: googlenet(variant="paper")),
        DepthEntry(2015, "ResNet", errors[2015][1], resnet152),
    ]


def depth_chart(entries: Sequence[DepthEntry] | None = None) -> Figure:
    """Top-5 error of the ImageNet entries by year (published results), each bar labelled with
    the network's depth in weight layers, counted from the package's model where it has one."""
    entries = list(entries) if entries is not None else depth_chart_entries()
    fig = viz.new_figure(MAX_WIDTH, 3.8, dpi=DPI)
    ax = fig.subplots()
    for i, entry in enumerate(entries):
        if entry.model is not None:
            with torch.device("meta"):
                depth: int | None = weight_depth(entry.model())
            note = f"{depth} layers"
        elif entry.published_depth is not None:
            depth, note = entry.published_depth, f"{entry.published_depth} layers*"
        else:
            depth, note = None, "shallow"
        edge, fill = KIND_COLORS["conv"] if depth else KIND_COLORS["input"]
        ax.bar(
            i, entry.top5_error, color=fill, edgecolor=edge, lw=1.2, hatch=None if depth else "//"
        )
        ax.text(
            i,
            entry.top5_error + 0.5,
            f"{note}\n{entry.top5_error:g}%",
            ha="center",
            va="bottom",
            fontsize=FONT,
        )
    ax.set_xticks(range(len(entries)))
    ax.set_xticklabels([f"{e.year}\n{e.name}" for e in entries], fontsize=FONT)
    ax.tick_params(axis="y", labelsize=FONT)
    ax.set_ylabel("top-5 error (%)", fontsize=FONT)
    ax.set_xlabel("ILSVRC year and entry", fontsize=FONT)
    ax.set_ylim(0, max(e.top5_error for e in entries) * 1.35)
    ax.set_title("ImageNet classification: deeper networks, lower error", fontsize=TITLE)
    ax.spines[["top", "right"]].set_visible(False)
    if any(e.model is None and e.published_depth for e in entries):
        ax.text(
            0.99,
            0.97,
            "depth counted from the package's models;\n* published depth",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=FONT,
            color="#444444",
        )
    return fig


# ---------------------------------------------------------------------------------------
# A convolution with numbers


def conv_example(
    x, w, b: float = 0.0, *, stride: int = 1, pad: int = 0, position: tuple[int, int] = (0, 0)
) -> Figure:
    """A small convolution drawn with its numbers: the input (one channel, ``x`` of shape
    (H, W)) with the filter ``w`` (HH, WW) over the window of output ``position``, the filter,
    and the output map computed by :func:`cnncourse.layers.conv_forward`, the one value that
    window produces highlighted and its dot product written out."""
    from cnncourse.layers import conv_forward

    x, w = np.asarray(viz.to_numpy(x), dtype=float), np.asarray(viz.to_numpy(w), dtype=float)
    if x.ndim != 2 or w.ndim != 2:
        raise ValueError(f"x and w must be 2-D (one channel), got shapes {x.shape} and {w.shape}")
    out = np.asarray(
        conv_forward(
            x[None, None], w[None, None], np.array([float(b)]), {"stride": stride, "pad": pad}
        )[0]
    )[0, 0]
    i, j = position
    if not (0 <= i < out.shape[0] and 0 <= j < out.shape[1]):
        raise ValueError(f"position must index the {out.shape} output, got {position}")
    xp = np.pad(x, pad)
    r0, c0 = i * stride, j * stride
    window = xp[r0 : r0 + w.shape[0], c0 : c0 + w.shape[1]]

    cell = 0.42
    gap = 0.55
    grids_w = (xp.shape[1] + w.shape[1] + out.shape[1]) * cell + 2 * gap
    n_lines = w.shape[0] + 1
    height = max(xp.shape[0], w.shape[0], out.shape[0]) * cell + 0.55 + 0.23 * n_lines
    fig, ax = _canvas(MAX_WIDTH, height)
    x0 = (MAX_WIDTH - grids_w) / 2
    top = height - 0.45
    hl = OKABE_ITO["vermillion"]

    def grid(left, values, title, highlight=None, strong=None, pad_width=0):
        rows, cols = values.shape
        for (r, c), v in np.ndenumerate(values):
            padded = (
                r < pad_width or c < pad_width or r >= rows - pad_width or (c >= cols - pad_width)
            )
            fc = "#e8e8e8" if padded else "#ffffff"
            if strong == (r, c):
                fc = _tint(hl, 0.6)
            ax.add_patch(
                Rectangle(
                    (left + c * cell, top - (r + 1) * cell), cell, cell, fc=fc, ec="#888888", lw=0.8
                )
            )
            ax.text(
                left + (c + 0.5) * cell,
                top - (r + 0.5) * cell,
                _num(v),
                ha="center",
                va="center",
                fontsize=FONT,
                fontweight="bold" if strong == (r, c) else "normal",
            )
        if highlight is not None:
            (r, c), (hh, ww) = highlight
            ax.add_patch(
                Rectangle(
                    (left + c * cell, top - (r + hh) * cell),
                    ww * cell,
                    hh * cell,
                    fill=False,
                    ec=hl,
                    lw=2.6,
                )
            )
        ax.text(left + cols * cell / 2, top + 0.08, title, ha="center", va="bottom", fontsize=FONT)

    grid(
        x0,
        xp,
        f"input {x.shape[0]}x{x.shape[1]}" + (f", pad {pad}" if pad else ""),
        highlight=((r0, c0), w.shape),
        pad_width=pad,
    )
    fx = x0 + xp.shape[1] * cell + gap
    grid(fx, w, f"filter {w.shape[0]}x{w.shape[1]}", highlight=((0, 0), w.shape))
    ox = fx + w.shape[1] * cell + gap
    grid(ox, out, f"output {out.shape[0]}x{out.shape[1]}", strong=(i, j))
    lines = [
        " + ".join(f"{_num(a)}·{_num(c, paren=True)}" for a, c in zip(xr, wr, strict=True))
        for xr, wr in zip(window, w, strict=True)
    ]
    lines[-1] += f"  + {_num(b)} (bias)"
    text = "\n+ ".join(lines) + f"\n= {_num(out[i, j])}"
    ax.text(
        MAX_WIDTH / 2,
        0.1,
        text,
        ha="center",
        va="bottom",
        fontsize=FONT,
        color="#222222",
        linespacing=1.35,
    )
    return fig


def _num(v: float, paren: bool = False) -> str:
    """A number as the figures print it, with a true minus sign (in brackets when asked)."""
    text = f"{float(v):g}".replace("-", "−")
    return f"({text})" if paren and v < 0 else text


# ---------------------------------------------------------------------------------------
# Computational graphs


@dataclass(frozen=True)
class GraphNode:
    """A node of a computational graph: an input (``op=None``, with its ``value``) or a gate
    ``op`` (a key of ``GATES``) applied to the named ``inputs``."""

    name: str
    op: str | None = None
    inputs: tuple[str, ...] = ()
    value: float | None = None


GATES: dict[str, tuple[str, Callable[..., torch.Tensor]]] = {
    "+": ("+", lambda *a: sum(a[1:], a[0])),
    "*": ("*", lambda a, b: a * b),
    "max": ("max", torch.maximum),
    "exp": ("exp", torch.exp),
    "neg": ("*-1", lambda a: -a),
    "+1": ("+1", lambda a: a + 1),
    "1/x": ("1/x", lambda a: 1 / a),
    "sigmoid": ("σ", torch.sigmoid),
}


@dataclass
class GraphResult:
    """Forward values of every node, and the gradient of the output along every edge."""

    values: dict[str, float]
    grads: dict[str, float]  # d output / d node
    edge_grads: dict[tuple[str, str, int], float]  # (from, to, slot) -> gradient on the edge
    output: str


def evaluate_graph(nodes: Sequence[GraphNode]) -> GraphResult:
    """Run the graph forward in float64 with torch and back-propagate from the last node with
    autograd. Each edge gets its own copy of its source value, so the gradient that flows
    along each edge is recorded as well as each node's total."""
    tensors: dict[str, torch.Tensor] = {}
    edges: dict[tuple[str, str, int], torch.Tensor] = {}
    for node in nodes:
        if node.op is None:
            if node.value is None:
                raise ValueError(f"input node {node.name!r} needs a value")
            tensors[node.name] = torch.tensor(
                float(node.value), dtype=torch.float64, requires_grad=True
            )
            continue
        if node.op not in GATES:
            raise ValueError(
                f"node {node.name!r}: op must be one of {list(GATES)}, got {node.op!r}"
            )
        args = []
        for slot, source in enumerate(node.inputs):
            if source not in tensors:
                raise ValueError(f"node {node.name!r} uses {source!r} before it is defined")
            copy = tensors[source].clone()
            copy.retain_grad()
            edges[(source, node.name, slot)] = copy
            args.append(copy)
        result = GATES[node.op][1](*args)
        result.retain_grad()
        tensors[node.name] = result
    output = nodes[-1].name
    tensors[output].backward()
    return GraphResult(
        values={name: t.item() for name, t in tensors.items()},
        grads={name: (t.grad.item() if t.grad is not None else 0.0) for name, t in tensors.items()},
        edge_grads={key: _edge_grad(key, t) for key, t in edges.items()},
        output=output,
    )


def _edge_grad(edge: tuple[str, str, int], copy: torch.Tensor) -> float:
    """The gradient that flowed along ``edge`` (its copy of the source retains it)."""
    if copy.grad is None:
        raise RuntimeError(f"no gradient reached the edge {edge}: the output does not use it")
    return copy.grad.item()


def _layout(nodes: Sequence[GraphNode]) -> dict[str, tuple[float, float]]:
    """Column: the longest path from an input; row: inputs in order, a gate at the mean row of
    its inputs."""
    column: dict[str, int] = {}
    row: dict[str, float] = {}
    n_inputs = 0
    for node in nodes:
        if node.op is None:
            column[node.name], row[node.name] = 0, n_inputs
            n_inputs += 1
        else:
            column[node.name] = 1 + max(column[s] for s in node.inputs)
            row[node.name] = float(np.mean([row[s] for s in node.inputs]))
    return {name: (column[name], row[name]) for name in column}


def computation_graph(
    nodes: Sequence[GraphNode],
    *,
    title: str | None = None,
    fmt: str = "{:.2f}",
    positions: Mapping[str, tuple[float, float]] | None = None,
) -> Figure:
    """The graph in the slides' style: gates as circles, and on every edge the forward value
    above the line (green) and the gradient of the output flowing back along it below (red),
    both computed by :func:`evaluate_graph`."""
    result = evaluate_graph(nodes)
    layout = dict(positions) if positions is not None else _layout(nodes)
    n_rows = max(r for _, r in layout.values()) + 1
    dy, r = 0.8, 0.17

    def number(v):
        return fmt.format(v).replace("-", "\u2212")

    # Each column is as far from the one before as its widest edge label needs (0.09 inch
    # per character at 10 pt), scaled to the width available (up to 1.7 times).
    last = max(math.ceil(c) for c, _ in layout.values()) + 1  # the output edge's end
    need = [0.0] * (last + 1)
    for node in nodes:
        for source in node.inputs:
            col = math.ceil(layout[node.name][0])
            width = max(len(number(result.values[source])), len(number(result.grads[source])))
            need[col] = max(need[col], 0.09 * width + 2 * r + 0.12)
    need[last] = 0.09 * max(len(number(result.values[result.output])), 4) + r + 0.15
    left = 0.12 + 0.11 * max(len(n.name) for n in nodes if n.op is None)
    right = 0.1 + 0.11 * len(result.output)
    cum = np.cumsum([0.0, *[max(n, 0.5) for n in need[1:]]])
    scale = min(1.7, (MAX_WIDTH - left - right) / cum[-1])
    x0 = left + (MAX_WIDTH - left - right - cum[-1] * scale) / 2
    head = 0.75 if title else 0.35
    height = head + (n_rows - 1) * dy + 0.4
    fig, ax = _canvas(MAX_WIDTH, height)

    def x_of(column: float) -> float:
        whole = math.floor(column)
        frac = column - whole
        nxt = cum[min(whole + 1, last)]
        return x0 + scale * (cum[whole] + frac * (nxt - cum[whole]))

    def pos(name):
        c, row = layout[name]
        return x_of(c), height - head - row * dy

    value_color, grad_color = "#007a5a", OKABE_ITO["vermillion"]

    def edge(p, q, value, grad):
        ax.annotate(
            "",
            xy=q,
            xytext=p,
            arrowprops={
                "arrowstyle": "-|>",
                "color": "#444444",
                "lw": 1.1,
                "shrinkA": 0,
                "shrinkB": 0,
            },
        )
        # nearer the source, where edges into one gate are still apart
        mx, my = p[0] + 0.42 * (q[0] - p[0]), p[1] + 0.42 * (q[1] - p[1])
        behind = {"fc": "white", "ec": "none", "pad": 0.3, "alpha": 0.85}
        ax.text(
            mx,
            my + 0.04,
            number(value),
            ha="center",
            va="bottom",
            fontsize=FONT,
            color=value_color,
            bbox=behind,
        )
        ax.text(
            mx,
            my - 0.05,
            number(grad),
            ha="center",
            va="top",
            fontsize=FONT,
            color=grad_color,
            bbox=behind,
        )

    for node in nodes:
        if node.op is None:
            continue
        qx, qy = pos(node.name)
        for slot, source in enumerate(node.inputs):
            px, py = pos(source)
            length = math.hypot(qx - px, qy - py)
            ux, uy = (qx - px) / length, (qy - py) / length
            start_r = 0.0 if _is_input(nodes, source) else r
            edge(
                (px + ux * start_r, py + uy * start_r),
                (qx - ux * r, qy - uy * r),
                result.values[source],
                result.edge_grads[(source, node.name, slot)],
            )
    for node in nodes:
        x, y = pos(node.name)
        if node.op is None:
            ax.text(x - 0.06, y, node.name, ha="right", va="center", fontsize=TITLE, style="italic")
        else:
            ax.add_patch(_circle(x, y, r))
            ax.text(x, y, GATES[node.op][0], ha="center", va="center", fontsize=FONT)
    ox, oy = pos(result.output)
    end = x_of(last)
    edge((ox + r, oy), (end, oy), result.values[result.output], 1.0)
    ax.text(end + 0.05, oy, nodes[-1].name, ha="left", va="center", fontsize=TITLE, style="italic")
    if title:
        ax.text(0.1, height - 0.1, title, ha="left", va="top", fontsize=TITLE)
        ax.text(
            MAX_WIDTH - 0.1,
            height - 0.1,
            "forward value (above)",
            ha="right",
            va="top",
            fontsize=FONT,
            color=value_color,
        )
        ax.text(
            MAX_WIDTH - 0.1,
            height - 0.32,
            "gradient (below)",
            ha="right",
            va="top",
            fontsize=FONT,
            color=grad_color,
        )
    return fig


def _is_input(nodes: Sequence[GraphNode], name: str) -> bool:
    return any(n.name == name and n.op is None for n in nodes)


# ---------------------------------------------------------------------------------------
# Transfer learning: freeze these, train these


def transfer_diagram(
    panels: Sequence[tuple[str, nn.Module, Iterable[str]]],
    input_size: Sequence[int],
) -> Figure:
    """One layer stack per panel (title, model, names of new layers): a layer is drawn as
    *trained* when its parameters have ``requires_grad`` (as :func:`cnncourse.book.transfer.freeze`
    left them), *frozen* when they do not, and as *new* when it was replaced."""
    panels = list(panels)
    if not panels:
        raise ValueError("transfer_diagram needs at least one panel")
    stacks = [layer_boxes(model, input_size) for _, model, _ in panels]
    n = max(len(s) for s in stacks)
    step, h = 0.37, 0.29
    height = 0.55 + step * n + 0.5
    fig, ax = _canvas(MAX_WIDTH, height)
    col = MAX_WIDTH / len(panels)
    train_edge, train_fill = OKABE_ITO["vermillion"], _tint(OKABE_ITO["orange"], 0.45)
    frozen_edge, frozen_fill = OKABE_ITO["blue"], _tint(OKABE_ITO["sky blue"], 0.7)
    for k, ((title, model, new), boxes) in enumerate(zip(panels, stacks, strict=True)):
        new = set(new)
        cx = (k + 0.5) * col
        ax.text(cx, height - 0.08, title, ha="center", va="top", fontsize=TITLE)
        w = col - 0.3
        for i, box in enumerate(boxes):
            y = height - 0.55 - step * i - step / 2
            params = [] if box.name == "input" else list(model.get_submodule(box.name).parameters())
            text = box.label + (" (new)" if box.name in new else "")
            if not params:
                _box(ax, cx, y, w, h, text, "input" if box.kind == "input" else "other")
            else:
                trained = all(p.requires_grad for p in params)
                edge, fill = (train_edge, train_fill) if trained else (frozen_edge, frozen_fill)
                ax.add_patch(
                    FancyBboxPatch(
                        (cx - w / 2, y - h / 2),
                        w,
                        h,
                        boxstyle="round,pad=0,rounding_size=0.06",
                        fc=fill,
                        ec=edge,
                        lw=2.0 if trained else 1.2,
                        ls="-" if trained else "--",
                        hatch=None if trained else "///",
                        hatchcolor=_tint(frozen_edge, 0.5),
                    )
                )
                ax.text(
                    cx,
                    y,
                    text,
                    ha="center",
                    va="center",
                    fontsize=FONT,
                    fontweight="bold" if trained else "normal",
                    bbox={"fc": fill, "ec": "none", "pad": 0.5},
                )
            if i:
                _arrow(ax, (cx, y + step - h / 2), (cx, y + h / 2))
    # Legend.
    y = 0.25
    for x, (edge, fill, word, hatch, ls) in zip(
        (0.4, 2.6),
        [
            (train_edge, train_fill, "trained", None, "-"),
            (frozen_edge, frozen_fill, "frozen (requires_grad=False)", "///", "--"),
        ],
        strict=True,
    ):
        ax.add_patch(
            Rectangle(
                (x, y - 0.08),
                0.3,
                0.16,
                fc=fill,
                ec=edge,
                hatch=hatch,
                ls=ls,
                hatchcolor=_tint(edge, 0.5),
            )
        )
        ax.text(x + 0.38, y, word, va="center", fontsize=FONT)
    return fig
