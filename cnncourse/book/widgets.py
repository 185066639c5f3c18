"""Interactive demos for the book, live in Jupyter and interactive in the static site.

A static web page has no Python kernel to recompute a picture when a slider moves. So each
demo computes every picture it can show *when the notebook runs* (at book build time) and
puts them, as PNG images, into nested :class:`ipywidgets.Stack` containers: one level of
stacks per control. Each control's ``index`` is tied to the ``selected_index`` of every stack
of its level with :func:`ipywidgets.jslink`, a link that lives in the browser. The embedded
widget state of the built page holds the images and the links, so moving a slider in the
static page switches pictures without a kernel; in Jupyter the same links work as well.

Every demo returns a :class:`StaticDemo` (an ``ipywidgets.VBox`` with the CSS class
``cnn-demo``) that also records, for tests and for the curious, its ``controls``, the
``links``, the ``stacks`` and the PNG bytes of every option (``pngs``, keyed by the tuple
of option indices).

Demos: :func:`conv_demo`, :func:`activation_demo`, :func:`optimizer_race`,
:func:`lr_schedule_demo`, :func:`dropout_demo`, :func:`batchnorm_demo`. What they compute
(and what the chapters compute with them) is in :mod:`cnncourse.book.computations`; this
module only draws and wires the controls.
"""

from __future__ import annotations

import functools
import html
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
from ipywidgets.widgets.widget_link import Link

from cnncourse.book import viz
from cnncourse.book.computations import (
    ACTIVATIONS,
    RACERS,
    activation_curves,
    batchnorm_trace,
    noisy_regression_run,
    race,
    ravine,
    square_photo,
)

__all__ = [
    "CONV_FILTERS",
    "Control",
    "StaticDemo",
    "activation_demo",
    "batchnorm_demo",
    "conv_demo",
    "dropout_demo",
    "lr_schedule_demo",
    "optimizer_race",
    "static_demo",
]


@dataclass(frozen=True)
class Control:
    """One control of a demo: a label, the option labels and values, and its kind.

    ``kind`` is ``"slider"`` (an ``ipywidgets.SelectionSlider``, for ordered values) or
    ``"dropdown"`` (an ``ipywidgets.Dropdown``, for named choices).
    """

    description: str
    labels: Sequence[str]
    values: Sequence
    kind: str = "slider"
    initial: int = 0

    def __post_init__(self):
        if len(self.labels) != len(self.values) or not self.labels:
            raise ValueError(f"{self.description}: need as many labels as values (at least one)")
        if len(set(self.labels)) != len(self.labels):
            raise ValueError(f"{self.description}: option labels must be distinct")
        if self.kind not in ("slider", "dropdown"):
            raise ValueError(f"kind must be 'slider' or 'dropdown', got {self.kind!r}")
        if not 0 <= self.initial < len(self.labels):
            raise ValueError(f"{self.description}: initial index {self.initial} out of range")

    def widget(self) -> widgets.ValueWidget:
        """The control itself, without a ``description``.

        The label is a separate HTML widget (see :func:`static_demo`): the embedded widget
        manager typesets descriptions with the MathJax 2 API, which throws under the book's
        MathJax 3.
        """
        options = list(self.labels)
        if self.kind == "slider":
            return widgets.SelectionSlider(
                options=options,
                index=self.initial,
                continuous_update=True,
                layout=widgets.Layout(width="260px"),
            )
        return widgets.Dropdown(
            options=options, index=self.initial, layout=widgets.Layout(width="max-content")
        )


class StaticDemo(widgets.VBox):
    """A VBox holding a title, the controls and the nested stacks of pre-rendered images."""

    def __init__(self, title, controls, widgets_, root, links, stacks, pngs, alt="", **kwargs):
        # The description of the pictures travels in the header, hidden: in the static page
        # book/_vendor/cnncourse.js makes it the alt text of every picture of the demo. (An
        # Image's `tooltip` would be the natural place, but the widget manager's ImageView
        # fails to render an image that has one: it reads a `description` images lack.)
        self.alt = f"{title}: {alt}" if alt else title
        header = widgets.HTML(
            f"<b>{html.escape(title)}</b>"
            f'<span class="cnn-demo-alt" hidden>{html.escape(self.alt)}</span>'
        )
        row = []
        for spec, control in zip(controls, widgets_, strict=True):
            label = widgets.HTML(
                f"{html.escape(spec.description)}&nbsp;", layout=widgets.Layout(margin="0 0 0 12px")
            )
            row.append(widgets.HBox([label, control], layout=widgets.Layout(align_items="center")))
        super().__init__(
            children=[header, widgets.HBox(row, layout=widgets.Layout(flex_flow="row wrap")), root],
            **kwargs,
        )
        self.add_class("cnn-demo")
        self.spec = controls
        self.controls = widgets_
        self.links = links
        self.stacks = stacks
        self.pngs = pngs

    def png(self, *labels) -> bytes:
        """The PNG shown for the given option labels (one per control)."""
        idx = tuple(c.labels.index(lab) for c, lab in zip(self.spec, labels, strict=True))
        return self.pngs[idx]


def palette_png(png: bytes, colors: int = 64) -> bytes:
    """``png`` re-encoded with a palette of at most ``colors`` colours (2-256).

    A demo embeds every picture it can show in the page, so their size is the page's weight:
    plots need few colours (64 keep the anti-aliasing smooth, at about a third of the bytes of
    matplotlib's RGBA PNG); a photo needs 128 to 256.
    """
    from PIL import Image

    if not isinstance(colors, int) or not 2 <= colors <= 256:
        raise ValueError(f"colors must be an int from 2 to 256, got {colors!r}")
    image = Image.open(io.BytesIO(png)).convert("RGB")
    out = io.BytesIO()
    image.quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(out, "png", optimize=True)
    return out.getvalue()


def static_demo(
    title: str,
    controls: Sequence[Control],
    render: Callable[..., bytes],
    alt: str = "",
    colors: int = 64,
) -> StaticDemo:
    """Build a demo: ``render(*values)`` -> PNG bytes is called for every combination.

    The first control selects among the outermost stacks, the last among the images. Each
    picture is stored with a palette of ``colors`` colours (:func:`palette_png`) and described
    for screen readers by ``title`` and ``alt`` (what the pictures show).
    """
    if not controls:
        raise ValueError("a demo needs at least one control")
    ctrl_widgets = [c.widget() for c in controls]
    links: list[Link] = []
    stacks: list[list[widgets.Stack]] = [[] for _ in controls]
    pngs: dict[tuple, bytes] = {}

    def build(level: int, prefix: tuple) -> widgets.Widget:
        if level == len(controls):
            values = [c.values[i] for c, i in zip(controls, prefix, strict=True)]
            png = render(*values)
            if not isinstance(png, bytes | bytearray) or not png.startswith(b"\x89PNG"):
                raise TypeError("render must return PNG bytes (see cnncourse.book.viz.fig_to_png)")
            pngs[prefix] = png = palette_png(bytes(png), colors)
            return widgets.Image(
                value=png, format="png", layout=widgets.Layout(max_width="100%", height="auto")
            )
        children = [build(level + 1, (*prefix, i)) for i in range(len(controls[level].labels))]
        stack = widgets.Stack(children=children, selected_index=controls[level].initial)
        stacks[level].append(stack)
        links.append(widgets.jslink((ctrl_widgets[level], "index"), (stack, "selected_index")))
        return stack

    root = build(0, ())
    return StaticDemo(title, list(controls), ctrl_widgets, root, links, stacks, pngs, alt=alt)


def _single_threaded(demo: Callable[..., StaticDemo]) -> Callable[..., StaticDemo]:
    """Run a demo's pre-rendering with one torch thread.

    A demo makes thousands of tiny layer calls; on a busy machine torch's intra-op thread
    pool costs more than it saves (measured: 16x slower with 2 threads under load).
    """

    @functools.wraps(demo)
    def wrapper(*args, **kwargs):
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return demo(*args, **kwargs)
        finally:
            torch.set_num_threads(before)

    return wrapper


def _png(fig) -> bytes:
    return viz.fig_to_png(fig)


def _figure(
    width: float,
    height: float,
    top: float = 0.84,
    bottom: float = 0.12,
    wspace: float = 0.25,
    left: float = 0.07,
):
    """A figure with fixed margins: constrained layout would triple the rendering time of
    the dozens of pictures a demo pre-renders."""
    fig = viz.new_figure(width, height, dpi=72, layout=None)
    fig.subplots_adjust(left=left, right=0.98, top=top, bottom=bottom, wspace=wspace)
    return fig


# ----------------------------------------------------------------------------- convolution

CONV_FILTERS = {
    "vertical edges (Sobel x)": np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]),
    "horizontal edges (Sobel y)": np.array([[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]]),
    "blur (5x5 box)": np.full((5, 5), 1.0 / 25.0),
    "sharpen": np.array([[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0], [0.0, -1.0, 0.0]]),
    "outline (Laplacian)": np.array([[-1.0, -1.0, -1.0], [-1.0, 8.0, -1.0], [-1.0, -1.0, -1.0]]),
}


@_single_threaded
def conv_demo(
    image="chelsea",
    size: int = 96,
    filters: Sequence[str] | None = None,
    strides: Sequence[int] = (1, 2, 3),
    pads: Sequence[int] = (0, 2),
) -> StaticDemo:
    """Convolve a real photo with a chosen filter, stride and zero padding.

    The filter is applied to all three colour channels (a filter extends the full depth of
    the input: its weights are the 2-D kernel divided by 3 in each channel), with
    :func:`cnncourse.layers.conv_forward`. When ``(H - HH + 2 pad)`` is not a multiple of
    the stride, the photo is cropped to the largest size that fits, and the title says so.
    """
    from cnncourse.layers import conv_forward, conv_output_size

    x = square_photo(image, size)[None]
    names = list(filters or CONV_FILTERS)

    def render(name, stride, pad):
        k = CONV_FILTERS[name]
        HH = k.shape[0]
        # largest H <= size with (H - HH + 2 pad) divisible by the stride
        H = size - ((size - HH + 2 * pad) % stride)
        w = np.repeat(k[None, None] / 3.0, 3, axis=1)
        out, _ = conv_forward(x[..., :H, :H], w, np.zeros(1), {"stride": stride, "pad": pad})
        H_out = conv_output_size(H, HH, stride, pad)
        fig = _figure(7.2, 3.5, top=0.8, bottom=0.03)
        ax_in, ax_out = fig.subplots(1, 2)
        shown = np.pad(x[0, :, :H, :H], ((0, 0), (pad, pad), (pad, pad)))
        ax_in.imshow(np.moveaxis(shown, 0, -1), interpolation="nearest")
        crop = f" (cropped from {size}x{size})" if size != H else ""
        ax_in.set_title(f"input {H}x{H}x3{crop}\npad {pad}")
        ax_out.imshow(out[0, 0], cmap="gray", interpolation="nearest")
        ax_out.set_title(f"activation map {H_out}x{H_out}\n({H}-{HH}+2*{pad})/{stride}+1 = {H_out}")
        for ax in (ax_in, ax_out):
            ax.set_xticks([])
            ax.set_yticks([])
        fig.suptitle(f"{name}, {HH}x{HH}x3 filter, stride {stride}")
        return _png(fig)

    return static_demo(
        "Convolution on a photo",
        [
            Control("filter", names, names, "dropdown"),
            Control("stride", [str(s) for s in strides], list(strides)),
            Control("pad", [str(p) for p in pads], list(pads)),
        ],
        render,
        alt="the photo beside the activation map that the filter produces from it",
        colors=128,
    )


# ------------------------------------------------------------------------------ activations


@_single_threaded
def activation_demo(points: Sequence[float] = (-5, -2, -0.5, 0.5, 2, 5)) -> StaticDemo:
    """An activation function and its gradient, with the tangent at a chosen input.

    Regions where the gradient is below 0.01 in magnitude (saturation, or the dead half of
    ReLU) are shaded: a neuron sitting there learns (almost) nothing.
    """
    curves = {name: activation_curves(name) for name in ACTIVATIONS}

    def render(name, x0):
        x, y, dy = curves[name]
        _, y0, g0 = activation_curves(name, [x0])
        y0, g0 = float(y0[0]), float(g0[0])
        fig = _figure(7.2, 3.1, top=0.86, bottom=0.16, left=0.08, wspace=0.3)
        ax_f, ax_g = fig.subplots(1, 2)
        dead = np.abs(dy) < 0.01
        for ax in (ax_f, ax_g):
            ax.fill_between(
                x,
                0,
                1,
                where=dead,
                color=viz.VERMILLION,
                alpha=0.12,
                transform=ax.get_xaxis_transform(),
                lw=0,
            )
            ax.axhline(0, color=viz.GREY, lw=0.6)
            ax.axvline(0, color=viz.GREY, lw=0.6)
            ax.axvline(x0, color=viz.GREEN, lw=0.8, ls=":")
        ax_f.plot(x, y, lw=2)
        ax_f.plot(x, y0 + g0 * (x - x0), color=viz.GREEN, lw=1)
        ax_f.plot([x0], [y0], "o", color=viz.GREEN)
        ax_f.set_ylim(min(y.min(), -1.2) - 0.2, max(y.max(), 1.2) + 0.2)
        ax_f.set_title(f"{name}: f({x0:g}) = {y0:.3f}")
        ax_f.set_xlabel("input x")
        ax_f.set_ylabel("f(x)")
        ax_g.plot(x, dy, color=viz.ORANGE, lw=2)
        ax_g.plot([x0], [g0], "o", color=viz.GREEN)
        ax_g.set_ylim(min(dy.min(), 0) - 0.1, max(dy.max(), 1) + 0.15)
        ax_g.set_title(f"gradient f'({x0:g}) = {g0:.3f}")
        ax_g.set_xlabel("input x (shaded: |f'(x)| < 0.01)")
        ax_g.set_ylabel("f'(x)")
        return _png(fig)

    return static_demo(
        "Activation functions and their gradients",
        [
            Control("activation", list(ACTIVATIONS), list(ACTIVATIONS), "dropdown"),
            Control("input x", [f"{p:g}" for p in points], list(points), initial=len(points) // 2),
        ],
        render,
        alt="the activation function with its tangent at the chosen input, beside its gradient",
    )


# --------------------------------------------------------------------------- optimizer race


@_single_threaded
def optimizer_race(
    learning_rates: Sequence[float] = (0.05, 0.3, 0.9),
    frames: Sequence[int] = (0, 5, 10, 25, 50, 100),
) -> StaticDemo:
    """SGD, momentum, RMSprop and Adam racing down :func:`ravine` from the same start."""
    g = np.linspace(-10, 10, 201)
    G0, G1 = np.meshgrid(g, np.linspace(-3, 3, 121))
    Z, _ = ravine(np.stack([G0, G1], axis=-1))
    runs = {lr: race(lr, max(frames)) for lr in learning_rates}
    colors = dict(zip(RACERS, [viz.BLUE, viz.ORANGE, viz.GREEN, viz.VERMILLION], strict=True))

    def render(lr, k):
        fig = _figure(7.6, 3.4, top=0.9, bottom=0.15, left=0.08, wspace=0.3)
        ax, ax_l = fig.subplots(1, 2, width_ratios=[1.5, 1])
        ax.contour(G0, G1, Z, levels=np.geomspace(0.02, 14, 12), colors="#bbbbbb", linewidths=0.7)
        for name, path in runs[lr].items():
            p = np.clip(path[: k + 1], [-10, -3], [10, 3])
            ax.plot(p[:, 0], p[:, 1], "-", color=colors[name], lw=1.3, label=name)
            ax.plot(p[-1:, 0], p[-1:, 1], "o", color=colors[name], ms=5)
            losses, _ = ravine(path[: k + 1])
            ax_l.semilogy(np.arange(k + 1), np.maximum(losses, 1e-8), color=colors[name])
        ax.plot([0], [0], "k*", ms=9)
        ax.set_xlim(-10, 10)
        ax.set_ylim(-3, 3)
        ax.set_title(f"learning rate {lr:g}, after {k} steps")
        ax.set_xlabel("w0")
        ax.set_ylabel("w1")
        ax.legend(loc="lower right", ncols=2, fontsize=viz.MIN_FONT_PT, handlelength=1.2)
        ax_l.set_xlim(0, max(frames))
        ax_l.set_ylim(1e-8, 100)
        ax_l.set_xlabel("step")
        ax_l.set_ylabel("loss f(w) (log scale)")
        return _png(fig)

    return static_demo(
        "Optimizer race on f(w) = w0²/20 + w1²",
        [
            Control(
                "learning rate",
                [f"{lr:g}" for lr in learning_rates],
                list(learning_rates),
                "dropdown",
                initial=min(1, len(learning_rates) - 1),
            ),
            Control("step", [str(k) for k in frames], list(frames), initial=len(frames) - 1),
        ],
        render,
        alt="the paths of SGD, momentum, RMSprop and Adam on the loss contours, "
        "beside their losses per step",
    )


# --------------------------------------------------------------------- learning-rate schedules


def _schedules(total: int) -> dict[str, Callable[[float, int], float]]:
    from cnncourse import optim

    return {
        "constant": lambda lr, e: lr,
        "step (x0.1 every 10)": lambda lr, e: optim.step_decay(lr, e, step_size=10, gamma=0.1),
        "exponential (0.95^epoch)": lambda lr, e: optim.exponential_decay(lr, e, gamma=0.95),
        "1/t (1 + 0.2 epoch)": lambda lr, e: optim.inverse_time_decay(lr, e, decay_rate=0.2),
        "1/sqrt(epoch)": optim.inverse_sqrt_decay,
        "cosine": lambda lr, e: optim.cosine_decay(lr, e, total_epochs=total),
    }


@_single_threaded
def lr_schedule_demo(
    learning_rates: Sequence[float] = (0.02, 0.1, 0.4), epochs: int = 40
) -> StaticDemo:
    """Learning-rate schedules from :mod:`cnncourse.optim` and what they do to training."""
    schedules = _schedules(epochs)
    names = list(schedules)
    epochs_axis = np.arange(epochs)
    runs = {
        (n, lr): noisy_regression_run(schedules[n], lr, epochs)
        for n in names
        for lr in learning_rates
    }

    def render(name, lr):
        fig = _figure(7.2, 3.1, top=0.9, bottom=0.16, left=0.1, wspace=0.35)
        ax_s, ax_l = fig.subplots(1, 2)
        for other in names:
            rates = [schedules[other](lr, int(e)) for e in epochs_axis]
            bold = other == name
            ax_s.plot(
                epochs_axis,
                rates,
                lw=2.2 if bold else 0.8,
                alpha=1 if bold else 0.35,
                label=other if bold else None,
            )
            ax_l.semilogy(
                epochs_axis, runs[(other, lr)], lw=2.2 if bold else 0.8, alpha=1 if bold else 0.35
            )
        ax_s.set_title(f"{name}, initial rate {lr:g}")
        ax_s.set_xlabel("epoch")
        ax_s.set_ylabel("learning rate")
        ax_l.set_title(f"at the end: {runs[(name, lr)][-1]:.1e}")
        ax_l.set_xlabel("epoch")
        ax_l.set_ylabel("loss above its minimum")
        return _png(fig)

    return static_demo(
        "Learning-rate schedules",
        [
            Control("schedule", names, names, "dropdown", initial=1),
            Control(
                "initial rate",
                [f"{lr:g}" for lr in learning_rates],
                list(learning_rates),
                initial=len(learning_rates) // 2,
            ),
        ],
        render,
        alt="the learning rate per epoch under each schedule, "
        "beside the training loss above its minimum",
    )


# --------------------------------------------------------------------------------- dropout


@_single_threaded
def dropout_demo(
    image="astronaut",
    size: int = 64,
    keep_probs: Sequence[float] = (0.9, 0.75, 0.5, 0.25),
    seeds: Sequence[int] = (1, 2, 3),
) -> StaticDemo:
    """Inverted dropout (:func:`cnncourse.layers.dropout_forward`) on a photo's pixels.

    Training mode keeps each unit with probability ``keep_prob`` and divides the kept ones by
    ``keep_prob``, so the expected value is unchanged; test mode is the identity.
    """
    from cnncourse.layers import dropout_forward

    x = square_photo(image, size).mean(axis=0)[None]

    def render(keep_prob, seed):
        out, _ = dropout_forward(x, {"keep_prob": keep_prob, "mode": "train", "seed": seed})
        out = viz.to_numpy(out)[0]
        test, _ = dropout_forward(x, {"keep_prob": keep_prob, "mode": "test", "seed": seed})
        test = viz.to_numpy(test)[0]
        # the same seed on an input of ones shows the mask itself (1/keep_prob where kept)
        ones, _ = dropout_forward(
            np.ones_like(x), {"keep_prob": keep_prob, "mode": "train", "seed": seed}
        )
        mask = viz.to_numpy(ones)[0] != 0
        fig = _figure(7.2, 2.7, top=0.8, bottom=0.03)
        axes = fig.subplots(1, 3)
        axes[0].imshow(mask, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        axes[0].set_title(f"mask: kept {mask.mean():.1%} (p = {keep_prob:g})")
        axes[1].imshow(out, cmap="gray", vmin=0, vmax=1.0 / keep_prob, interpolation="nearest")
        axes[1].set_title(f"train: mean {out.mean():.3f}")
        axes[2].imshow(test, cmap="gray", vmin=0, vmax=1.0, interpolation="nearest")
        axes[2].set_title(f"test (identity): mean {test.mean():.3f}")
        for ax in axes:
            ax.set_axis_off()
        fig.suptitle(f"inverted dropout, seed {seed}: kept units are scaled by 1/{keep_prob:g}")
        return _png(fig)

    return static_demo(
        "Dropout masks",
        [
            Control("keep_prob", [f"{p:g}" for p in keep_probs], list(keep_probs)),
            Control("seed", [str(s) for s in seeds], list(seeds), "dropdown"),
        ],
        render,
        alt="the dropout mask, the photo after dropout in training, and the photo at test time",
        colors=256,
    )


# ------------------------------------------------------------------------------- batchnorm


@_single_threaded
def batchnorm_demo(
    momenta: Sequence[float] = (0.5, 0.9, 0.99), frames: Sequence[int] = (1, 2, 5, 20, 100, 400)
) -> StaticDemo:
    """Batch normalization statistics: training batches vs. the running averages used at test.

    Left: one feature of the last training batch before and after normalisation. Middle: the
    running mean of each feature approaching the true mean (dashed). Right: a test batch
    normalised with the running statistics (test mode); it is only close to N(0, 1) once
    the running averages have caught up.
    """
    from cnncourse.layers import batchnorm_forward

    traces = {m: batchnorm_trace(m, max(frames)) for m in momenta}
    rng = np.random.default_rng(123)

    def render(momentum, k):
        mu, sd, means, variances, _, _, _ = traces[momentum]
        train = batchnorm_trace(momentum, k)
        x_last, out_last = train[4], train[5]
        x_test = mu + sd * rng.normal(size=(2000, 4))
        bn_test = {
            "mode": "test",
            "momentum": momentum,
            "eps": 1e-5,
            "running_mean": means[k].copy(),
            "running_var": variances[k].copy(),
        }
        y_test, _ = batchnorm_forward(x_test, np.ones(4), np.zeros(4), bn_test)
        y_test = viz.to_numpy(y_test)
        fig = _figure(7.8, 3.3, top=0.84, bottom=0.16, left=0.07, wspace=0.4)
        ax_b, ax_m, ax_t = fig.subplots(1, 3)
        ax_b.hist(x_last[:, 3], bins=8, alpha=0.6, label="input")
        ax_b.hist(out_last[:, 3], bins=8, alpha=0.6, label="normalised")
        ax_b.set_title("feature 3, last batch")
        ax_b.set_xlabel("value")
        ax_b.set_ylabel("count")
        ax_b.legend()
        steps = np.arange(k + 1)
        for j in range(4):
            (line,) = ax_m.plot(steps, means[: k + 1, j], lw=1.3)
            ax_m.axhline(mu[j], color=line.get_color(), ls="--", lw=0.7)
        ax_m.set_xlim(0, max(max(frames), 1))
        ax_m.set_title(f"momentum {momentum:g}")
        ax_m.set_xlabel("training step")
        ax_m.set_ylabel("running mean")
        ax_m.set_xscale("symlog", linthresh=1)
        ax_t.hist(y_test.ravel(), bins=np.linspace(-6, 6, 49), density=True, color=viz.PURPLE)
        grid = np.linspace(-6, 6, 200)
        ax_t.plot(grid, np.exp(-(grid**2) / 2) / np.sqrt(2 * np.pi), "k--", lw=0.8)
        ax_t.set_title(f"test: mean {y_test.mean():+.2f}, std {y_test.std():.2f}")
        ax_t.set_xlabel("normalised test value")
        ax_t.set_ylabel("density")
        fig.suptitle(f"after {k} training steps (dashed: true means; N(0, 1))")
        return _png(fig)

    return static_demo(
        "Batch normalization statistics",
        [
            Control("momentum", [f"{m:g}" for m in momenta], list(momenta), "dropdown", initial=1),
            Control("training steps", [str(k) for k in frames], list(frames), initial=2),
        ],
        render,
        alt="a feature before and after normalisation, the running means approaching "
        "the true means, and a test batch normalised with them",
    )


def all_demos() -> dict[str, Callable[[], StaticDemo]]:
    """Every demo by name, with its default arguments (used by the tests and docs/book.md)."""
    return {
        "conv": conv_demo,
        "activations": activation_demo,
        "optimizer_race": optimizer_race,
        "lr_schedules": lr_schedule_demo,
        "dropout": dropout_demo,
        "batchnorm": batchnorm_demo,
    }
