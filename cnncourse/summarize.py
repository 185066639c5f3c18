"""``summary(model, input_size)``: the per-layer table the slides draw for VGG-16.

One row per layer: its output volume written as the slides write it (``224x224x64``), the
number of activations in that volume (the slides' "memory"), its parameters with and
without biases, and its multiply-adds, for one input image. The first row is the input,
which the slides count in the memory total.

Counting conventions (the slides' and the papers'):

- A layer is what the slides call one: an activation function, dropout or batch norm that
  follows a layer is folded into that layer's row (``Conv2d+ReLU``): its parameters and
  multiply-adds are added, its output is not counted again (the slides treat ReLU as in
  place). So is an adaptive pool that leaves its input unchanged (VGG's 7x7 pool on a
  224x224 input). ``fold=False`` lists every module.
- Multiply-adds are those of the weight layers (convolutions and linear layers): each
  output number is a dot product of ``fan_in`` terms. Biases, pooling, normalization and
  activations are not counted, as the papers do; this is half the FLOPs that
  ``torch.utils.flop_counter.FlopCounterMode`` reports.
- ``depth=k`` groups the rows by the first ``k`` parts of their module names (the
  GoogLeNet table's per-module rows are ``depth=1``); a group's volume is its module's
  output and its activations are the sum of its layers'.

The model runs once in eval mode without gradients on a batch of one, on its own device
and dtype. A model built on the meta device (``with torch.device("meta"): ...``) is
summarized without allocating or computing anything.

:func:`model_summary` builds a zoo model by name and tabulates it: what ``cnncourse summary MODEL``
prints.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

__all__ = ["LayerRow", "Summary", "model_summary", "summary"]

# Modules that the slides count as part of the layer before them.
FOLDED = frozenset(
    {
        "ReLU",
        "ReLU6",
        "LeakyReLU",
        "PReLU",
        "ELU",
        "SELU",
        "CELU",
        "GELU",
        "SiLU",
        "Sigmoid",
        "Tanh",
        "Hardtanh",
        "Softmax",
        "LogSoftmax",
        "Dropout",
        "Dropout1d",
        "Dropout2d",
        "Dropout3d",
        "AlphaDropout",
        "BatchNorm1d",
        "BatchNorm2d",
        "BatchNorm3d",
        "Identity",
        "Flatten",
    }
)


COLUMNS = ("Layer", "Type", "Output", "Memory", "Params", "Params (no bias)", "Mult-adds")


@dataclass(frozen=True)
class LayerRow:
    """One row of the table; ``shape`` is the output of one image, without the batch."""

    name: str
    layer: str
    shape: tuple[int, ...]
    activations: int
    params: int
    params_no_bias: int
    mult_adds: int

    @property
    def volume(self) -> str:
        """The output as the slides write it: height x width x depth (``224x224x64``)."""
        if len(self.shape) == 3:
            channels, height, width = self.shape
            return f"{height}x{width}x{channels}"
        if len(self.shape) == 1:
            return f"1x1x{self.shape[0]}"
        return "x".join(map(str, self.shape)) or "scalar"


@dataclass
class Summary:
    model_name: str
    input_size: tuple[int, ...]
    rows: list[LayerRow]
    element_size: int = 4  # bytes per number, from the model's dtype
    uncounted_params: int = 0  # parameters of modules the forward pass did not run

    @property
    def total_params(self) -> int:
        return sum(row.params for row in self.rows)

    @property
    def total_params_no_bias(self) -> int:
        return sum(row.params_no_bias for row in self.rows)

    @property
    def total_activations(self) -> int:
        return sum(row.activations for row in self.rows)

    @property
    def total_mult_adds(self) -> int:
        return sum(row.mult_adds for row in self.rows)

    @property
    def activation_bytes(self) -> int:
        """Bytes the forward pass keeps for one image (the slides' "~93MB / image")."""
        return self.total_activations * self.element_size

    def _cells(self) -> list[list[str]]:
        body = [
            [
                row.name,
                row.layer,
                row.volume,
                f"{row.activations:,}",
                f"{row.params:,}",
                f"{row.params_no_bias:,}",
                f"{row.mult_adds:,}",
            ]
            for row in self.rows
        ]
        total = [
            "Total",
            "",
            "",
            f"{self.total_activations:,}",
            f"{self.total_params:,}",
            f"{self.total_params_no_bias:,}",
            f"{self.total_mult_adds:,}",
        ]
        return [*body, total]

    def _notes(self) -> list[str]:
        size = self.activation_bytes
        readable = f"{size / 1e6:,.1f} MB" if size >= 1e6 else f"{size / 1e3:,.1f} KB"
        notes = [
            f"Memory: {self.total_activations:,} numbers x {self.element_size} bytes = "
            f"{readable} per image (forward only; about twice that with backward)."
        ]
        if self.uncounted_params:
            notes.append(
                f"Not counted: {self.uncounted_params:,} parameters of modules this forward "
                "pass did not run (e.g. auxiliary classifiers, which only run in training)."
            )
        return notes

    def _title(self) -> str:
        return f"{self.model_name} on a {'x'.join(map(str, self.input_size))} input"

    def to_text(self) -> str:
        cells = self._cells()
        widths = [max(len(text) for text in column) for column in zip(COLUMNS, *cells, strict=True)]

        def line(texts: Sequence[str]) -> str:
            left = [text.ljust(width) for text, width in zip(texts[:3], widths[:3], strict=True)]
            right = [text.rjust(width) for text, width in zip(texts[3:], widths[3:], strict=True)]
            return "  ".join(left + right).rstrip()

        rule = "-" * len(line(COLUMNS))
        lines = [self._title(), line(COLUMNS), rule]
        lines += [line(row) for row in cells[:-1]]
        lines += [rule, line(cells[-1]), *self._notes()]
        return "\n".join(lines)

    def to_markdown(self) -> str:
        cells = self._cells()
        cells[-1] = [f"**{text}**" if text else "" for text in cells[-1]]
        header = "| " + " | ".join(COLUMNS) + " |"
        align = "|" + "|".join([":---"] * 3 + ["---:"] * 4) + "|"
        body = ["| " + " | ".join(text.replace("|", "\\|") for text in row) + " |" for row in cells]
        return "\n".join([header, align, *body, "", *self._notes()])

    def to_html(self) -> str:
        def tr(texts: Sequence[str], tag: str) -> str:
            tds = "".join(
                f'<{tag} style="text-align:{"left" if i < 3 else "right"}">'
                f"{html.escape(text)}</{tag}>"
                for i, text in enumerate(texts)
            )
            return f"<tr>{tds}</tr>"

        cells = self._cells()
        rows = "".join(tr(row, "td") for row in cells[:-1])
        notes = "".join(f"<p>{html.escape(note)}</p>" for note in self._notes())
        return (
            f'<div class="cnncourse-summary"><p><b>{html.escape(self._title())}</b></p><table>'
            f"<thead>{tr(COLUMNS, 'th')}</thead><tbody>{rows}</tbody>"
            f"<tfoot>{tr(cells[-1], 'th')}</tfoot></table>{notes}</div>"
        )

    def _repr_html_(self) -> str:  # Jupyter shows the table as HTML
        return self.to_html()

    def __str__(self) -> str:
        return self.to_text()


@dataclass
class _Call:
    name: str
    module: nn.Module
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    first_call: bool


def _first_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, list | tuple):
        for item in value:
            found = _first_tensor(item)
            if found is not None:
                return found
    return None


def _sample_shape(value: Any) -> tuple[int, ...]:
    tensor = _first_tensor(value)
    return tuple(tensor.shape[1:]) if tensor is not None else ()


def _own_params(module: nn.Module) -> tuple[int, int]:
    """(all parameters, parameters that are not biases) held by the module itself."""
    total = no_bias = 0
    for name, param in module.named_parameters(recurse=False):
        total += param.numel()
        if name != "bias":
            no_bias += param.numel()
    return total, no_bias


def _mult_adds(call: _Call) -> int:
    """Multiply-adds of one image through a weight layer, 0 for other layers.

    A convolution or linear layer computes each output number as a dot product over its
    fan-in, ``weight.numel() / out_channels`` terms (transposed convolutions spread each
    input number over that many outputs instead).
    """
    weight = getattr(call.module, "weight", None)
    if not isinstance(weight, torch.Tensor) or weight.dim() < 2:
        return 0
    fan = weight.numel() // weight.shape[0]
    if getattr(call.module, "transposed", False):
        return math.prod(call.in_shape) * fan
    return math.prod(call.out_shape) * fan


def _folds(call: _Call) -> bool:
    kind = type(call.module).__name__
    if kind in FOLDED:
        return True
    return kind.startswith("Adaptive") and call.in_shape == call.out_shape


def _row(call: _Call) -> LayerRow:
    params, no_bias = _own_params(call.module) if call.first_call else (0, 0)
    return LayerRow(
        name=call.name,
        layer=type(call.module).__name__,
        shape=call.out_shape,
        activations=math.prod(call.out_shape),
        params=params,
        params_no_bias=no_bias,
        mult_adds=_mult_adds(call),
    )


def _fold(rows: list[LayerRow], call: _Call) -> None:
    extra = _row(call)
    rows[-1] = replace(
        rows[-1],
        layer=f"{rows[-1].layer}+{extra.layer}",
        params=rows[-1].params + extra.params,
        params_no_bias=rows[-1].params_no_bias + extra.params_no_bias,
        mult_adds=rows[-1].mult_adds + extra.mult_adds,
    )


def _group(rows: list[LayerRow], depth: int, outputs: dict[str, tuple], kinds: dict[str, str]):
    grouped: list[LayerRow] = [rows[0]]
    for row in rows[1:]:
        prefix = ".".join(row.name.split(".")[:depth])
        last = grouped[-1]
        if len(grouped) > 1 and last.name == prefix and prefix != row.name:
            grouped[-1] = replace(
                last,
                activations=last.activations + row.activations,
                params=last.params + row.params,
                params_no_bias=last.params_no_bias + row.params_no_bias,
                mult_adds=last.mult_adds + row.mult_adds,
            )
        elif prefix != row.name:
            grouped.append(
                replace(row, name=prefix, layer=kinds[prefix], shape=outputs.get(prefix, row.shape))
            )
        else:
            grouped.append(row)
    return grouped


def _check_input_size(input_size: Any) -> tuple[int, ...]:
    if isinstance(input_size, int) and not isinstance(input_size, bool):
        input_size = (input_size,)
    if not isinstance(input_size, Sequence) or isinstance(input_size, str):
        raise TypeError(
            f"input_size must be a tuple of ints such as (3, 224, 224), got {input_size!r}"
        )
    if not input_size or any(
        isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in input_size
    ):
        raise ValueError(
            "input_size must be a non-empty tuple of positive ints such as (3, 224, 224) "
            f"(one image, no batch dimension), got {tuple(input_size)!r}"
        )
    return tuple(input_size)


def _trace(model: nn.Module, x: torch.Tensor) -> tuple[list[_Call], dict, dict]:
    """Run the model once in eval mode and record every leaf module's call, in order, plus
    every module's output shape and class name (for ``depth`` grouping)."""
    calls: list[_Call] = []
    outputs: dict[str, tuple[int, ...]] = {}
    kinds: dict[str, str] = {}
    seen: set[int] = set()

    def hook_for(name: str, leaf: bool):
        def hook(module: nn.Module, args: tuple, output: Any) -> None:
            outputs[name] = _sample_shape(output)
            if leaf:
                first = id(module) not in seen
                seen.add(id(module))
                calls.append(_Call(name, module, _sample_shape(args), outputs[name], first))

        return hook

    handles = []
    for name, module in model.named_modules():
        if name:
            kinds[name] = type(module).__name__
            leaf = next(module.children(), None) is None
            handles.append(module.register_forward_hook(hook_for(name, leaf)))
    modes = {module: module.training for module in model.modules()}
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    except RuntimeError as err:
        size = tuple(x.shape[1:])
        raise ValueError(
            f"{type(model).__name__} cannot run on an input of size {size}: {err}"
        ) from err
    finally:
        for module, training in modes.items():  # as it was, module by module
            module.training = training
        for handle in handles:
            handle.remove()
    return calls, outputs, kinds


def summary(
    model: nn.Module,
    input_size: Sequence[int],
    *,
    fold: bool = True,
    depth: int | None = None,
) -> Summary:
    """Run ``model`` on one zero image of ``input_size`` (C, H, W) and tabulate its layers."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    size = _check_input_size(input_size)
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 1):
        raise ValueError(f"depth must be None or a positive int, got {depth!r}")

    reference = next(iter(model.parameters()), None)
    device = reference.device if reference is not None else torch.device("cpu")
    dtype = reference.dtype if reference is not None and reference.is_floating_point() else None
    x = torch.zeros((1, *size), device=device, dtype=dtype or torch.get_default_dtype())
    calls, outputs, kinds = _trace(model, x)

    rows = [LayerRow("input", "Input", size, math.prod(size), 0, 0, 0)]
    for call in calls:
        if fold and len(rows) > 1 and _folds(call):
            _fold(rows, call)
        else:
            rows.append(_row(call))
    if depth is not None:
        rows = _group(rows, depth, outputs, kinds)

    counted = {id(p) for call in calls if call.first_call for p in call.module.parameters(False)}
    uncounted = sum(p.numel() for p in model.parameters() if id(p) not in counted)
    element_size = x.element_size()
    return Summary(type(model).__name__, size, rows, element_size, uncounted)


def model_summary(
    name: str,
    input_size: Sequence[int] | None = None,
    *,
    fold: bool = True,
    depth: int | None = None,
    **options: Any,
) -> Summary:
    """The :func:`summary` of the zoo model ``name``, built with the builder's ``options``.

    ``input_size`` defaults to the size the model was designed for. The model is built on
    torch's meta device (nothing allocated or computed, only shapes flow) unless it runs
    the course's own layers (``layers="course"``), which need real numbers.
    What ``cnncourse summary MODEL`` prints.
    """
    from cnncourse.models import get_model
    from cnncourse.models import input_size as designed_size

    device = "meta" if options.get("layers", "torch") == "torch" else "cpu"
    with torch.device(device):
        model = get_model(name, **options)
    table = summary(model, input_size or designed_size(name), fold=fold, depth=depth)
    table.model_name = name
    return table
