"""The book's interactive demos: every option renders its own picture, and the controls are
wired to the picture stacks with browser-side links (so the static site works without a
kernel). Small option sets keep the suite fast; the wiring is the same as with the defaults.
"""

from __future__ import annotations

import hashlib
import html
import io
import math

import ipywidgets as ipw
import numpy as np
import pytest
from ipywidgets.embed import dependency_state, embed_data
from ipywidgets.widgets.widget_link import Link
from PIL import Image

from cnncourse.book import viz
from cnncourse.book import widgets as W

SMALL = {
    "conv": lambda: W.conv_demo(
        size=40, filters=["vertical edges (Sobel x)", "blur (5x5 box)"], strides=(1, 2), pads=(0, 1)
    ),
    "activations": lambda: W.activation_demo(points=(-3, 0.5, 3)),
    "optimizer_race": lambda: W.optimizer_race(learning_rates=(0.1, 0.5), frames=(0, 3, 10)),
    "lr_schedules": lambda: W.lr_schedule_demo(learning_rates=(0.05, 0.4), epochs=12),
    "dropout": lambda: W.dropout_demo(size=24, keep_probs=(0.8, 0.3), seeds=(1, 2)),
    "batchnorm": lambda: W.batchnorm_demo(momenta=(0.5, 0.9), frames=(1, 10, 50)),
}


@pytest.fixture(scope="module", params=sorted(SMALL))
def demo(request):
    return request.param, SMALL[request.param]()


def test_every_named_demo_has_a_small_variant():
    assert set(SMALL) == set(W.all_demos())


def _walk(root, index):
    node = root
    for i in index:
        assert isinstance(node, ipw.Stack)
        node = node.children[i]
    assert isinstance(node, ipw.Image)
    return node


def test_each_option_renders_a_distinct_png(demo):
    name, d = demo
    assert isinstance(d, W.StaticDemo) and isinstance(d, ipw.VBox)
    assert "cnn-demo" in d._dom_classes
    n_options = [len(c.labels) for c in d.spec]
    assert len(d.pngs) == math.prod(n_options)
    digests = {hashlib.sha256(p).hexdigest() for p in d.pngs.values()}
    assert len(digests) == len(d.pngs), f"{name}: two options render the same picture"
    root = d.children[-1]
    for index, png in d.pngs.items():
        img = Image.open(io.BytesIO(png))
        assert img.format == "PNG" and img.size[0] > 200 and img.size[1] > 100
        # the picture shown for these option indices is the one rendered for them
        assert _walk(root, index).value == png


def test_controls_are_jslinked_to_every_stack_of_their_level(demo):
    name, d = demo
    assert len(d.controls) == len(d.spec) == len(d.stacks)
    expected_stacks = 1
    for level, (control, spec) in enumerate(zip(d.controls, d.spec, strict=True)):
        assert isinstance(control, ipw.SelectionSlider | ipw.Dropdown)
        assert list(control.options) == list(spec.labels)
        assert len(d.stacks[level]) == expected_stacks
        for stack in d.stacks[level]:
            assert len(stack.children) == len(spec.labels)
            assert stack.selected_index == control.index == spec.initial
        expected_stacks *= len(spec.labels)
    pairs = {
        (link.source[0].model_id, link.source[1], link.target[0].model_id, link.target[1])
        for link in d.links
    }
    assert all(isinstance(link, Link) for link in d.links)
    for control, stacks in zip(d.controls, d.stacks, strict=True):
        for stack in stacks:
            assert (control.model_id, "index", stack.model_id, "selected_index") in pairs

    # The links survive into the embedded widget state that the static page loads.
    state = embed_data(views=[d])["manager_state"]["state"]
    embedded = {
        (s["state"]["source"][0], s["state"]["target"][0])
        for s in state.values()
        if s["model_name"] == "LinkModel"
    }
    for link in d.links:
        ids = (f"IPY_MODEL_{link.source[0].model_id}", f"IPY_MODEL_{link.target[0].model_id}")
        assert ids in embedded
    assert name  # the fixture id names the demo in failures


def test_control_validation():
    with pytest.raises(ValueError, match="as many labels"):
        W.Control("a", ["x"], [1, 2])
    with pytest.raises(ValueError, match="distinct"):
        W.Control("a", ["x", "x"], [1, 2])
    with pytest.raises(ValueError, match="kind"):
        W.Control("a", ["x"], [1], kind="knob")
    with pytest.raises(TypeError, match="PNG"):
        W.static_demo("t", [W.Control("a", ["x"], [1])], lambda v: b"not a png")


def test_every_demo_picture_has_legible_text_and_axis_titles(monkeypatch):
    rendered = []

    def record(fig):
        rendered.append(viz.legibility_problems(fig))
        return viz.fig_to_png(fig)

    monkeypatch.setattr(W, "_png", record)
    for name, make in SMALL.items():
        rendered.clear()
        make()
        assert rendered, f"{name}: no picture went through widgets._png"
        problems = sorted({p for frame in rendered for p in frame})
        assert not problems, f"{name}: {problems}"


def test_demo_pictures_are_palette_pngs_described_for_screen_readers(demo):
    name, d = demo
    for index, png in d.pngs.items():
        img = Image.open(io.BytesIO(png))
        assert img.mode == "P", f"{name}{index}: mode {img.mode}, not a palette PNG"
    title = d.children[0].value
    assert d.alt.startswith(title.split("</b>")[0].removeprefix("<b>"))
    assert len(d.alt.split()) >= 5, f"{name}: {d.alt!r} does not describe the pictures"
    assert f'<span class="cnn-demo-alt" hidden>{html.escape(d.alt)}</span>' in title
    # no Image carries a tooltip: the widget manager cannot render an Image that has one
    state = embed_data(views=[d], state=dependency_state(d))["manager_state"]["state"]
    images = [s["state"] for s in state.values() if s["model_name"] == "ImageModel"]
    assert len(images) == len(d.pngs)
    assert not any(s.get("tooltip") for s in images)


def test_palette_png_keeps_the_picture_in_fewer_bytes():
    fig = viz.plot_imagenet_errors()
    png = viz.fig_to_png(fig)
    small = W.palette_png(png, 64)
    assert len(small) < len(png) / 2, (len(small), len(png))
    before = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float)
    after = np.asarray(Image.open(io.BytesIO(small)).convert("RGB"), dtype=float)
    assert after.shape == before.shape
    assert len(np.unique(after.reshape(-1, 3), axis=0)) <= 64
    # mean absolute error per channel, out of 255: invisible at reading distance
    assert np.abs(after - before).mean() < 2.0, np.abs(after - before).mean()


@pytest.mark.parametrize("colors", [1, 257, 64.0])
def test_palette_png_rejects_a_bad_number_of_colours(colors):
    png = viz.fig_to_png(viz.new_figure(1, 1))
    with pytest.raises(ValueError, match=rf"colors must be an int from 2 to 256, got {colors!r}"):
        W.palette_png(png, colors)
