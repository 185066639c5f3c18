"""The book's drawings are derived from the code they show: change the model, the figure changes.

Oracles: the slides' and papers' published figures (volumes, depths, Table 1 and 2 of VGG),
torch's own forward pass and ``torch.nn.functional.conv2d``, and torch autograd on the
closed-form expressions.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from matplotlib.text import Text

from cnncourse import models
from cnncourse.book import diagrams, transfer
from cnncourse.book.diagrams import GraphNode as N


def meta(make, **kwargs):
    with torch.device("meta"):
        return make(**kwargs)


def texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ---------------------------------------------------------------------------------------
# Depth


@pytest.mark.parametrize(
    ("make", "kwargs", "published"),
    [
        (models.lenet5, {}, 5),
        (models.alexnet_paper, {}, 8),
        (models.vgg16, {}, 16),
        (models.vgg19, {}, 19),
        (models.googlenet, {"variant": "paper"}, 22),
        (models.googlenet, {"aux_logits": True}, 22),
        (models.resnet18, {}, 18),
        (models.resnet152, {}, 152),
    ],
)
def test_weight_depth_is_the_papers_layer_count(make, kwargs, published):
    depth = diagrams.weight_depth(meta(make, **kwargs))
    assert depth == published, f"{make.__name__}({kwargs}): counted {depth}, paper {published}"


def test_weight_depth_rejects_what_is_not_a_module():
    with pytest.raises(TypeError, match=r"module must be a torch\.nn\.Module"):
        diagrams.weight_depth("vgg16")


# ---------------------------------------------------------------------------------------
# LeNet-5 and AlexNet


def torch_volumes(model, input_size):
    """The output shape of every module of ``features`` and ``classifier``, from torch."""
    x = torch.zeros(1, *input_size)
    shapes = {}
    for part in ("features", "classifier"):
        if part == "classifier":
            x = torch.flatten(x, 1)
        for i, module in enumerate(getattr(model, part)):
            x = module(x)
            shapes[f"{part}.{i}"] = tuple(x.shape[1:])
    return shapes


def test_lenet_boxes_are_the_models_layers_with_torchs_volumes():
    model = models.lenet5()
    boxes = diagrams.layer_boxes(model, (1, 32, 32))
    shapes = torch_volumes(model, (1, 32, 32))
    layers = [b for b in boxes if b.kind != "input"]
    assert [b.kind for b in layers] == ["conv", "pool", "conv", "pool", "conv", "fc", "fc"]
    for box in layers:
        assert box.shape == shapes[box.name], f"{box.name}: {box.shape} != {shapes[box.name]}"
        module = model.get_submodule(box.name)
        if box.kind == "conv":
            assert box.label == f"conv 5x5, {module.out_channels}"


def test_lenet_figure_changes_with_the_model_variant():
    avg = texts(diagrams.lenet_volumes(models.lenet5()))
    maxed = texts(diagrams.lenet_volumes(models.lenet5(pool="max", activation="relu")))
    assert "avg pool\n2x2 /2" in avg and "max pool\n2x2 /2" not in avg
    assert "max pool\n2x2 /2" in maxed and "avg pool\n2x2 /2" not in maxed
    assert "conv\n5x5, 6\ntanh" in avg
    assert "conv\n5x5, 6\nReLU" in maxed
    wider = texts(diagrams.lenet_volumes(models.lenet5(num_classes=7, in_channels=3), (3, 32, 32)))
    assert "input\n32x32\nx3" in wider and "output\n7" in wider


def test_lenet_figure_names_and_volumes_match_lecuns_figure():
    drawn = texts(diagrams.lenet_volumes(models.lenet5()))
    # LeCun et al. (1998), Fig. 2: C1 6@28x28, S2 6@14x14, C3 16@10x10, S4 16@5x5, C5 120,
    # F6 84, 10 outputs.
    for label in [
        "C1\n28x28\nx6",
        "S2\n14x14\nx6",
        "C3\n10x10\nx16",
        "S4\n5x5\nx16",
        "C5\n1x1\nx120",
        "F6\n84",
        "output\n10",
    ]:
        assert label in drawn, f"{label!r} not among {drawn}"


def test_alexnet_stack_draws_the_slides_layer_list():
    drawn = texts(diagrams.layer_stack(meta(models.alexnet_paper), (3, 227, 227)))
    # The slide's "Full (simplified) AlexNet architecture".
    slide = [
        ("CONV1", "55x55x96"),
        ("POOL1", "27x27x96"),
        ("NORM1", "27x27x96"),
        ("CONV2", "27x27x256"),
        ("POOL2", "13x13x256"),
        ("NORM2", "13x13x256"),
        ("CONV3", "13x13x384"),
        ("CONV4", "13x13x384"),
        ("CONV5", "13x13x256"),
        ("POOL3", "6x6x256"),
        ("FC6", "1x1x4096"),
        ("FC7", "1x1x4096"),
        ("FC8", "1x1x1000"),
    ]
    for name, volume in slide:
        assert name in drawn and volume in drawn, f"{name} {volume} not drawn"
    assert "conv 11x11, 96, stride 4 + ReLU" in drawn
    assert "conv 5x5, 256 + ReLU" in drawn
    assert drawn.count("local response norm") == 2


def test_alexnet_stack_follows_torchvisions_layout_when_given_it():
    drawn = texts(diagrams.layer_stack(meta(models.alexnet), (3, 224, 224)))
    assert "conv 11x11, 64, stride 4 + ReLU" in drawn
    assert "local response norm" not in drawn


# ---------------------------------------------------------------------------------------
# VGG


def test_vgg_columns_count_the_papers_layers_and_parameters():
    drawn = texts(diagrams.vgg_configs())
    # Table 1 (weight layers) and Table 2 (parameters, millions) of Simonyan and Zisserman.
    table = {
        "A": (11, 133),
        "A-LRN": (11, 133),
        "B": (13, 133),
        "C": (16, 134),
        "D": (16, 138),
        "E": (19, 144),
    }
    for config, (layers, millions) in table.items():
        assert config in drawn
        assert f"{layers}\n{millions}M" in drawn, f"{config}: {layers}\\n{millions}M not drawn"
    assert drawn.count("conv1-256") == 1 and drawn.count("conv1-512") == 2  # C's 1x1 layers
    assert drawn.count("LRN") == 1
    assert drawn.count("conv3-64") == 1 + 1 + 2 + 2 + 2 + 2
    for size in ("224x224", "112x112", "56x56", "28x28", "14x14"):
        assert size in drawn


def test_vgg_figure_draws_a_configuration_given_as_data():
    drawn = texts(diagrams.vgg_configs([[32, "M", 48, 48, "M"]], highlight=None))
    assert drawn.count("conv3-32") == 1 and drawn.count("conv3-48") == 2
    assert drawn.count("maxpool") == 2
    assert any(t.startswith("6\n") for t in drawn), drawn  # 3 convolutions + 3 FC layers


# ---------------------------------------------------------------------------------------
# GoogLeNet and ResNet blocks


def test_inception_3a_is_drawn_with_its_reductions_and_the_slides_volume():
    drawn = texts(diagrams.inception_diagram(meta(models.googlenet, variant="paper")))
    # The slide's table: inception (3a), 28x28x256 out; #1x1 64, #3x3 reduce 96, #3x3 128,
    # #5x5 reduce 16, #5x5 32, pool proj 32; its input is the 28x28x192 max pool.
    for label in [
        "conv 1x1, 64",
        "conv 1x1, 96\n(reduce)",
        "conv 3x3, 128",
        "conv 1x1, 16\n(reduce)",
        "conv 5x5, 32",
        "max pool 3x3",
        "conv 1x1, 32\n(pool proj)",
        "previous layer: 28x28x192",
        "filter concatenation: 28x28x256",
    ]:
        assert label in drawn, f"{label!r} not among {drawn}"
    for volume in ["28x28x64", "28x28x128", "28x28x32"]:
        assert volume in drawn


def test_inception_figure_follows_the_variant_and_the_module():
    tv = texts(diagrams.inception_diagram(meta(models.googlenet)))
    assert "conv 3x3, 32" in tv and "conv 5x5, 32" not in tv  # torchvision's 3x3 "5x5"
    four_e = texts(
        diagrams.inception_diagram(meta(models.googlenet, variant="paper"), "inception4e")
    )
    assert "filter concatenation: 14x14x832" in four_e  # the slide's inception (4e)
    with pytest.raises(ValueError, match="no module 'inception9z'"):
        diagrams.inception_diagram(meta(models.googlenet), "inception9z")


def test_plain_and_residual_blocks_differ_only_by_the_shortcut():
    r34 = meta(models.resnet34)
    plain = texts(diagrams.residual_blocks([("plain", r34, "layer1.1", False)]))
    residual = texts(diagrams.residual_blocks([("residual", r34, "layer1.1")]))
    assert plain.count("conv 3x3, 64") == residual.count("conv 3x3, 64") == 2
    assert "+" in residual and "identity x" in residual and "F(x)" in residual
    assert "+" not in plain and "H(x): 56x56x64" in plain and "F(x)" not in plain
    assert "x: 56x56x64" in plain and "F(x) + x: 56x56x64" in residual


def test_bottleneck_block_is_the_papers_figure_5():
    drawn = texts(diagrams.residual_blocks([("bottleneck", meta(models.resnet50), "layer1.1")]))
    # He et al., Fig. 5 right: 256-d in, 1x1 64, 3x3 64, 1x1 256.
    for label in [
        "x: 56x56x256",
        "conv 1x1, 64",
        "conv 3x3, 64",
        "conv 1x1, 256",
        "F(x) + x: 56x56x256",
    ]:
        assert label in drawn, f"{label!r} not among {drawn}"
    first = texts(diagrams.residual_blocks([("down", meta(models.resnet50), "layer2.0")]))
    assert "1x1 conv (projection)" in first and "F(x) + x: 28x28x512" in first


# ---------------------------------------------------------------------------------------
# Depth chart


def test_depth_chart_labels_depths_counted_from_the_models():
    drawn = texts(diagrams.depth_chart())
    for label in [
        "8 layers\n16.4%",
        "19 layers\n7.3%",
        "22 layers\n6.67%",
        "152 layers\n3.57%",
        "8 layers*\n11.7%",
        "shallow\n28.2%",
    ]:
        assert label in drawn, f"{label!r} not among {drawn}"


def test_depth_chart_follows_the_model_it_is_given():
    entry = diagrams.DepthEntry(2015, "ResNet", 3.57, models.resnet50)
    assert "50 layers\n3.57%" in texts(diagrams.depth_chart([entry]))


# ---------------------------------------------------------------------------------------
# Convolution with numbers


@pytest.mark.parametrize(("stride", "pad", "position"), [(1, 0, (1, 2)), (2, 1, (2, 0))])
def test_conv_example_writes_the_outputs_torch_computes(stride, pad, position):
    rng = np.random.default_rng(3)
    x = rng.integers(-2, 3, size=(5, 5)).astype(float)
    w = rng.integers(-1, 2, size=(3, 3)).astype(float)
    fig = diagrams.conv_example(x, w, 1.0, stride=stride, pad=pad, position=position)
    expected = F.conv2d(
        torch.tensor(x)[None, None],
        torch.tensor(w)[None, None],
        torch.tensor([1.0], dtype=torch.float64),
        stride=stride,
        padding=pad,
    )[0, 0]
    bold = [t.get_text() for t in fig.findobj(Text) if t.get_fontweight() == "bold"]
    value = f"{expected[position].item():g}".replace("-", "\u2212")
    assert bold == [value], f"highlighted {bold}, F.conv2d gives {value}"
    assert texts(fig)[-1].endswith(f"= {value}")
    drawn = texts(fig)
    for v in expected.flatten().tolist():
        assert f"{v:g}".replace("-", "\u2212") in drawn


def test_conv_example_refuses_bad_inputs():
    with pytest.raises(ValueError, match="must be 2-D"):
        diagrams.conv_example(np.zeros((1, 5, 5)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="position must index the"):
        diagrams.conv_example(np.zeros((5, 5)), np.zeros((3, 3)), position=(3, 0))


# ---------------------------------------------------------------------------------------
# Computational graphs


SIGMOID = [
    N("w0", value=2),
    N("x0", value=-1),
    N("w1", value=-3),
    N("x1", value=-2),
    N("w2", value=-3),
    N("a", "*", ("w0", "x0")),
    N("b", "*", ("w1", "x1")),
    N("c", "+", ("a", "b")),
    N("d", "+", ("c", "w2")),
    N("e", "neg", ("d",)),
    N("g", "exp", ("e",)),
    N("h", "+1", ("g",)),
    N("f", "1/x", ("h",)),
]


def test_graph_gradients_equal_autograd_of_the_expression():
    result = diagrams.evaluate_graph(
        [
            N("x", value=-2),
            N("y", value=5),
            N("z", value=-4),
            N("q", "+", ("x", "y")),
            N("f", "*", ("q", "z")),
        ]
    )
    x, y, z = (torch.tensor(v, requires_grad=True) for v in (-2.0, 5.0, -4.0))
    f = (x + y) * z
    f.backward()
    assert result.values["f"] == f.item() == -12
    got = [result.grads[k] for k in "xyz"]
    assert got == [x.grad.item(), y.grad.item(), z.grad.item()], got


def test_sigmoid_graph_gradients_equal_the_closed_form():
    result = diagrams.evaluate_graph(SIGMOID)
    w = torch.tensor([2.0, -3.0, -3.0], dtype=torch.float64, requires_grad=True)
    x = torch.tensor([-1.0, -2.0], dtype=torch.float64, requires_grad=True)
    out = torch.sigmoid(w[0] * x[0] + w[1] * x[1] + w[2])
    out.backward()
    assert math.isclose(result.values["f"], out.item(), rel_tol=1e-15)
    for name, oracle in [
        ("w0", w.grad[0]),
        ("w1", w.grad[1]),
        ("w2", w.grad[2]),
        ("x0", x.grad[0]),
        ("x1", x.grad[1]),
    ]:
        assert math.isclose(result.grads[name], oracle.item(), rel_tol=1e-12), name
    s = out.item()  # the sigmoid gate's local gradient: (1 - s) s
    assert math.isclose(result.grads["d"], (1 - s) * s, rel_tol=1e-12)


def test_a_value_used_twice_gets_the_sum_of_its_edge_gradients():
    result = diagrams.evaluate_graph([N("v", value=3), N("g", "*", ("v", "v"))])
    assert result.edge_grads[("v", "g", 0)] == result.edge_grads[("v", "g", 1)] == 3
    assert result.grads["v"] == 6


def test_graph_figure_writes_autograds_numbers_on_the_edges():
    drawn = texts(diagrams.computation_graph(SIGMOID))
    result = diagrams.evaluate_graph(SIGMOID)
    for name in ("w0", "x0", "d", "g", "h"):
        for v in (result.values[name], result.grads[name]):
            assert f"{v:.2f}".replace("-", "\u2212") in drawn, (name, v)


def test_graph_refuses_unknown_gates_and_undefined_inputs():
    with pytest.raises(ValueError, match="op must be one of"):
        diagrams.evaluate_graph([N("x", value=1), N("y", "sqrt", ("x",))])
    with pytest.raises(ValueError, match="uses 'z' before it is defined"):
        diagrams.evaluate_graph([N("x", value=1), N("y", "+", ("x", "z"))])
    with pytest.raises(ValueError, match="needs a value"):
        diagrams.evaluate_graph([N("x"), N("y", "exp", ("x",))])


# ---------------------------------------------------------------------------------------
# Transfer learning


def trained_labels(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text) if t.get_fontweight() == "bold"]


def test_transfer_picture_shows_what_freeze_left_trainable():
    base = models.lenet5(num_classes=5)
    small = copy.deepcopy(base)
    head = transfer.replace_head(small, 5)
    transfer.freeze(small, [head])
    fig = diagrams.transfer_diagram([("small", small, [head])], (1, 32, 32))
    assert trained_labels(fig) == ["fc, 5 (new)"]
    bigger = copy.deepcopy(small)
    transfer.freeze(bigger, [head, "classifier", "features.6"])
    fig = diagrams.transfer_diagram([("bigger", bigger, [head])], (1, 32, 32))
    assert trained_labels(fig) == ["conv 5x5, 120", "fc, 84", "fc, 5 (new)"]
    everything = diagrams.transfer_diagram([("all", base, [])], (1, 32, 32))
    assert trained_labels(everything) == [
        "conv 5x5, 6",
        "conv 5x5, 16",
        "conv 5x5, 120",
        "fc, 84",
        "fc, 5",
    ]


# ---------------------------------------------------------------------------------------
# Every figure fits the column and is legible


def all_figures():
    r34, r50 = meta(models.resnet34), meta(models.resnet50)
    base = models.lenet5(num_classes=5)
    return {
        "lenet": diagrams.lenet_volumes(models.lenet5()),
        "alexnet": diagrams.layer_stack(meta(models.alexnet_paper), (3, 227, 227)),
        "vgg": diagrams.vgg_configs(),
        "inception": diagrams.inception_diagram(meta(models.googlenet, variant="paper")),
        "blocks": diagrams.residual_blocks(
            [("plain", r34, "layer1.1", False), ("bottleneck", r50, "layer1.1")]
        ),
        "depth": diagrams.depth_chart(),
        "conv": diagrams.conv_example(np.eye(4), np.ones((2, 2)), position=(1, 1)),
        "graph": diagrams.computation_graph(SIGMOID, title="sigmoid"),
        "transfer": diagrams.transfer_diagram([("base", base, [])], (1, 32, 32)),
    }


def test_every_figure_fits_the_column_with_text_of_at_least_10_points():
    for name, fig in all_figures().items():
        width_px = fig.get_figwidth() * fig.dpi
        assert width_px <= 688, f"{name}: {width_px:.0f} px wide"
        fig.canvas.draw()
        for text in fig.findobj(Text):
            if text.get_text() and text.get_visible():
                assert text.get_fontsize() >= 10, (
                    f"{name}: {text.get_text()!r} at {text.get_fontsize()} pt"
                )
