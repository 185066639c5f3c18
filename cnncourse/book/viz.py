"""Plotting helpers used by the book and the demos.

Every function draws onto a ``matplotlib.figure.Figure`` it creates (or an ``Axes`` it is
given) and returns it, so the same code serves a notebook cell (the figure displays itself),
a widget (:func:`fig_to_png` turns it into PNG bytes) and a test (which inspects the data).
Figures made here never go through ``pyplot``'s global state, so nothing is displayed twice.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, Literal

import matplotlib
import numpy as np
from cycler import cycler
from matplotlib.figure import Figure

from cnncourse.book.computations import to_numpy

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

# Okabe & Ito, "Color Universal Design" (2008): colours that stay distinct for the common forms
# of colour blindness (and in greyscale, by lightness). Ordered so that the first ones have the
# most contrast on white; yellow is last.
OKABE_ITO = {
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "bluish green": "#009E73",
    "orange": "#E69F00",
    "reddish purple": "#CC79A7",
    "sky blue": "#56B4E9",
    "black": "#000000",
    "yellow": "#F0E442",
}
BLUE, VERMILLION, GREEN, ORANGE, PURPLE, SKY = (
    OKABE_ITO[name]
    for name in ("blue", "vermillion", "bluish green", "orange", "reddish purple", "sky blue")
)
GREY = "#777777"
MIN_FONT_PT = 10  # the smallest text in any figure: legible when a page is read on a phone

# Set once, when the module is imported (every chapter imports it after `%matplotlib inline`):
# every figure of the book, through these helpers or pyplot, uses the palette and the sizes.
STYLE: dict[RcKeyType, Any] = {
    "axes.prop_cycle": cycler(color=list(OKABE_ITO.values())),
    "font.size": MIN_FONT_PT,
    "axes.titlesize": MIN_FONT_PT,
    "axes.labelsize": MIN_FONT_PT,
    "xtick.labelsize": MIN_FONT_PT,
    "ytick.labelsize": MIN_FONT_PT,
    "legend.fontsize": MIN_FONT_PT,
    "legend.title_fontsize": MIN_FONT_PT,
    "figure.titlesize": MIN_FONT_PT + 1,
    "image.cmap": "viridis",
}
matplotlib.rcParams.update(STYLE)

# ImageNet Large Scale Visual Recognition Challenge, classification task: top-5 error of the
# winning entry each year (Russakovsky et al., "ImageNet Large Scale Visual Recognition
# Challenge", IJCV 2015, Fig. 9 and Table 6; He et al. 2015 for the 2015 ResNet entry), to the
# precision the slides quote where they do: AlexNet's 16.4% and GoogLeNet's 6.67% ("6.67% (vs.
# 16.4%)"). 2013 is the best entry trained on the challenge's data alone; the VGG slide's
# "11.2% in ILSVRC 2013" is a Clarifai entry that used extra training data.
ILSVRC_TOP5_ERROR = {
    2010: ("NEC-UIUC (SIFT + SVM)", 28.2, "shallow"),
    2011: ("XRCE (Fisher vectors)", 25.8, "shallow"),
    2012: ("AlexNet (SuperVision)", 16.4, "ConvNet, 8 layers"),
    2013: ("Clarifai (ZFNet)", 11.7, "ConvNet, 8 layers"),
    2014: ("GoogLeNet", 6.67, "ConvNet, 22 layers"),
    2015: ("ResNet (MSRA)", 3.57, "ConvNet, 152 layers"),
}
# Andrej Karpathy's own top-5 error on a 1500-image test sample (Russakovsky et al. 2015).
HUMAN_TOP5_ERROR = 5.1


def new_figure(
    width: float = 6.0,
    height: float = 4.0,
    dpi: int = 80,
    layout: Literal["constrained", "compressed", "tight"] | None = "constrained",
) -> Figure:
    """A figure outside pyplot (constrained layout by default), ready for ``fig.subplots``."""
    return Figure(figsize=(width, height), dpi=dpi, layout=layout)


def fig_to_png(fig: Figure, dpi: int | None = None) -> bytes:
    """The figure rendered as PNG bytes (for ``ipywidgets.Image``)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi or fig.dpi)
    return buf.getvalue()


def legibility_problems(fig: Figure) -> list[str]:
    """What keeps ``fig`` from the book's standard: visible text under :data:`MIN_FONT_PT`, and
    plotting axes (ticks on both axes) without both axis titles. Empty when it meets it."""
    from matplotlib.text import Text

    problems = [
        f"{t.get_text()!r} is {t.get_fontsize():g} pt (minimum {MIN_FONT_PT})"
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip() and float(t.get_fontsize()) < MIN_FONT_PT
    ]
    plots = [ax for ax in fig.axes if ax.axison and len(ax.get_xticks()) and len(ax.get_yticks())]
    problems += [
        f"axes {ax.get_title()!r}: no {'x' if not ax.get_xlabel() else 'y'}-axis title"
        for ax in plots
        if not (ax.get_xlabel() and ax.get_ylabel())
    ]
    return problems


def show_images(
    images,
    titles=None,
    ncols: int | None = None,
    cmap: str = "gray",
    size: float = 1.6,
    vmin=None,
    vmax=None,
    suptitle: str | None = None,
    colorbar: bool = False,
) -> Figure:
    """A grid of images: 2-D arrays (with ``cmap``) or H x W x 3 colour images."""
    images = [to_numpy(im) for im in images]
    n = len(images)
    if n == 0:
        raise ValueError("show_images needs at least one image")
    ncols = ncols or min(n, 8)
    nrows = -(-n // ncols)
    fig = new_figure(size * ncols, size * nrows + (0.35 if suptitle else 0.0))
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for k, ax in enumerate(axes):
        ax.set_axis_off()
        if k >= n:
            continue
        im = ax.imshow(
            images[k],
            cmap=None if images[k].ndim == 3 else cmap,
            vmin=vmin,
            vmax=vmax,
            interpolation="nearest",
        )
        if titles is not None:
            ax.set_title(str(titles[k]))
        if colorbar:
            fig.colorbar(im, ax=ax, shrink=0.8)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def to_display(img) -> np.ndarray:
    """An image as H x W (grey) or H x W x 3 in [0, 1], from (C, H, W) or (H, W, C)."""
    a = to_numpy(img).astype(float)
    if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[-1] not in (1, 3):
        a = np.moveaxis(a, 0, -1)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    lo, hi = a.min(), a.max()
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


def plot_imagenet_errors(ax=None) -> Figure:
    """Bar chart of the ILSVRC winners' top-5 error, 2010-2015, with the human baseline."""
    fig = None
    if ax is None:
        fig = new_figure(7.0, 3.8)
        ax = fig.subplots()
    years = sorted(ILSVRC_TOP5_ERROR)
    errors = [ILSVRC_TOP5_ERROR[y][1] for y in years]
    colors = [GREY if ILSVRC_TOP5_ERROR[y][2] == "shallow" else BLUE for y in years]
    bars = ax.bar([str(y) for y in years], errors, color=colors)
    for bar, y in zip(bars, years, strict=True):
        name, err, _ = ILSVRC_TOP5_ERROR[y]
        ax.annotate(
            f"{err:g}%\n{name}",
            (bar.get_x() + bar.get_width() / 2, err),
            ha="center",
            va="bottom",
            xytext=(0, 2),
            textcoords="offset points",
        )
    ax.axhline(HUMAN_TOP5_ERROR, color=VERMILLION, ls="--", lw=1)
    ax.text(-0.4, HUMAN_TOP5_ERROR + 0.6, f"human ({HUMAN_TOP5_ERROR}%)", color=VERMILLION)
    ax.set_xlabel("year of the challenge")
    ax.set_ylabel("top-5 error (%)")
    ax.set_ylim(0, max(errors) * 1.3)
    ax.set_title("ImageNet classification: winning entries (grey: no ConvNet)")
    return fig if fig is not None else ax.figure


def annotate_matrix(
    ax, M, fmt: str = "{:g}", cmap: str = "Blues", title: str | None = None, labels=None
):
    """Draw a small matrix as coloured cells with its numbers (or ``labels``) written in."""
    M = to_numpy(M)
    if M.ndim == 1:
        M = M[None]
    ax.imshow(M, cmap=cmap, vmin=min(M.min(), 0), vmax=max(M.max(), 1e-12))
    for (i, j), v in np.ndenumerate(M):
        text = labels[i][j] if labels is not None else fmt.format(v)
        ax.text(
            j,
            i,
            text,
            ha="center",
            va="center",
            color="white" if v > 0.6 * M.max() and M.max() > 0 else "black",
        )
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


def plot_windows(H: int, HH: int, stride: int, pad: int = 0, ax=None) -> Figure:
    """The input grid (with its zero padding) and where an HH x HH filter lands along a row.

    Windows that fit are drawn in colour; when ``(H - HH + 2*pad)`` is not a multiple of
    ``stride`` the last, overhanging window is drawn dashed in red.
    """
    fig = None
    if ax is None:
        fig = new_figure(3.2, 3.2)
        ax = fig.subplots()
    from matplotlib.patches import Rectangle

    P = H + 2 * pad
    for i in range(P):
        for j in range(P):
            inside = pad <= i < pad + H and pad <= j < pad + H
            ax.add_patch(
                Rectangle(
                    (j, i),
                    1,
                    1,
                    fill=True,
                    lw=0.5,
                    ec="#888888",
                    fc="#f4f4f4" if inside else "#dddddd",
                )
            )
            if not inside:
                ax.text(j + 0.5, i + 0.5, "0", ha="center", va="center", color=GREY)
    starts = list(range(0, P - HH + 1, stride))
    colors = [BLUE, ORANGE, GREEN, PURPLE, SKY, VERMILLION]
    for k, s in enumerate(starts):
        ax.add_patch(
            Rectangle(
                (s + 0.08 * k, 0.08 * k), HH, HH, fill=False, lw=2, ec=colors[k % len(colors)]
            )
        )
    overhang = starts[-1] + stride if starts else 0
    if (P - HH) % stride and overhang < P:
        ax.add_patch(Rectangle((overhang, 0), HH, HH, fill=False, lw=2, ls="--", ec=VERMILLION))
    ax.set_xlim(-0.1, max(P, overhang + HH if (P - HH) % stride else P) + 0.1)
    ax.set_ylim(P + 0.1, -0.1)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(f"{H}x{H} input, {HH}x{HH} filter\nstride {stride}, pad {pad}")
    return fig if fig is not None else ax.figure
