"""The model zoo: shapes, parameter counts against published figures, training steps, errors.

Parameter counts come from torchvision's model documentation (``num_params`` of each
weights entry) or are worked out here by hand from the papers' tables; models are built on
the meta device where only shapes matter, so nothing is allocated.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnncourse import models
from cnncourse.models import (
    CONFIGS,
    GoogLeNetOutputs,
    alexnet_paper,
    get_model,
    googlenet,
    lenet5,
    resnet18,
    resnet50,
    vgg,
)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def conv(c_in: int, c_out: int, k: int, bias: bool = True) -> int:
    return k * k * c_in * c_out + (c_out if bias else 0)


def fc(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


# LeNet-5 with C3 fully connected and a linear output layer (module docstring of lenet.py).
LENET5 = conv(1, 6, 5) + conv(6, 16, 5) + conv(16, 120, 5) + fc(120, 84) + fc(84, 10)
# The slides' AlexNet, layer by layer from the slide.
ALEXNET_PAPER = (
    conv(3, 96, 11)
    + conv(96, 256, 5)
    + conv(256, 384, 3)
    + conv(384, 384, 3)
    + conv(384, 256, 3)
    + fc(6 * 6 * 256, 4096)
    + fc(4096, 4096)
    + fc(4096, 1000)
)
# GoogLeNet Table 1 (the slide): (in, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj)
INCEPTION_TABLE = {
    "inception3a": (192, 64, 96, 128, 16, 32, 32),
    "inception3b": (256, 128, 128, 192, 32, 96, 64),
    "inception4a": (480, 192, 96, 208, 16, 48, 64),
    "inception4b": (512, 160, 112, 224, 24, 64, 64),
    "inception4c": (512, 128, 128, 256, 24, 64, 64),
    "inception4d": (512, 112, 144, 288, 32, 64, 64),
    "inception4e": (528, 256, 160, 320, 32, 128, 128),
    "inception5a": (832, 256, 160, 320, 32, 128, 128),
    "inception5b": (832, 384, 192, 384, 48, 128, 128),
}


def inception(c_in, c1, c3r, c3, c5r, c5, pool) -> int:
    return (
        conv(c_in, c1, 1)
        + conv(c_in, c3r, 1)
        + conv(c3r, c3, 3)
        + conv(c_in, c5r, 1)
        + conv(c5r, c5, 5)
        + conv(c_in, pool, 1)
    )


GOOGLENET_PAPER = (
    conv(3, 64, 7)
    + conv(64, 64, 1)
    + conv(64, 192, 3)
    + sum(inception(*row) for row in INCEPTION_TABLE.values())
    + fc(1024, 1000)
)


def vgg_params(config: list) -> int:
    """Parameters of a VGG configuration worked out from the paper's Table 1."""
    total, c_in = 0, 3
    for item in config:
        if item in ("M", "LRN"):
            continue
        c_out, k = item if isinstance(item, tuple) else (item, 3)
        total += conv(c_in, c_out, k)
        c_in = c_out
    return total + fc(512 * 7 * 7, 4096) + fc(4096, 4096) + fc(4096, 1000)


PUBLISHED = {
    # torchvision model docs, "num_params"
    "alexnet": 61_100_840,
    "vgg11": 132_863_336,
    "vgg11_bn": 132_868_840,
    "vgg13": 133_047_848,
    "vgg13_bn": 133_053_736,
    "vgg16": 138_357_544,
    "vgg16_bn": 138_365_992,
    "vgg19": 143_667_240,
    "vgg19_bn": 143_678_248,
    "googlenet": 6_624_904,
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    # worked out above from the papers and slides
    "lenet5": LENET5,
    "alexnet_paper": ALEXNET_PAPER,
}

NAMED = [name for name in models.MODELS if name != "vgg"]


def meta_model(name: str, **kwargs) -> nn.Module:
    with torch.device("meta"):
        return get_model(name, **kwargs)


@pytest.mark.parametrize("name", NAMED)
def test_parameter_count_matches_published_figure(name):
    got = n_params(meta_model(name))
    assert got == PUBLISHED[name], f"{name}: {got:,} parameters, published {PUBLISHED[name]:,}"


def test_lenet5_has_about_60k_parameters_as_the_paper_says():
    assert LENET5 == 61_706, f"hand count of the C5 = 120 LeNet-5 is {LENET5:,}"
    assert abs(n_params(lenet5()) - 60_000) / 60_000 < 0.03


def test_googlenet_paper_variant_parameter_count_follows_table_1():
    got = n_params(meta_model("googlenet", variant="paper"))
    assert got == GOOGLENET_PAPER, f"{got:,} vs {GOOGLENET_PAPER:,} from the table"


@pytest.mark.parametrize("config", list(CONFIGS))
def test_vgg_configuration_parameter_count_follows_table_1(config):
    with torch.device("meta"):
        got = n_params(vgg(config))
    want = vgg_params(CONFIGS[config])
    assert got == want, f"config {config}: {got:,} vs {want:,} worked out from Table 1"


@pytest.mark.parametrize(
    ("config", "weight_layers"),
    [("A", 11), ("A-LRN", 11), ("B", 13), ("C", 16), ("D", 16), ("E", 19)],
)
def test_vgg_configuration_has_the_papers_number_of_weight_layers(config, weight_layers):
    with torch.device("meta"):
        model = vgg(config)
    got = sum(isinstance(m, nn.Conv2d | nn.Linear) for m in model.modules())
    assert got == weight_layers, (
        f"config {config}: {got} weight layers, Table 1 says {weight_layers}"
    )


def test_vgg_c_uses_1x1_convolutions_last_in_stages_3_to_5():
    with torch.device("meta"):
        model = vgg("C")
    kernels = [m.kernel_size[0] for m in model.features if isinstance(m, nn.Conv2d)]
    assert kernels == [3, 3, 3, 3, 3, 3, 1, 3, 3, 1, 3, 3, 1], kernels


def test_vgg_features_refuse_an_item_that_is_no_layer():
    from cnncourse.models.vgg import make_features

    with pytest.raises(ValueError, match=r"'M', 'LRN' or a convolution \(see CONFIGS\), got 'X'"):
        make_features([64, "X"], batch_norm=False, L=nn)


def test_vgg_a_lrn_normalizes_after_the_first_convolution():
    with torch.device("meta"):
        model = vgg("A-LRN")
    kinds = [type(m).__name__ for m in model.features[:4]]
    assert kinds == ["Conv2d", "ReLU", "LocalResponseNorm", "MaxPool2d"], kinds


NATIVE_OUTPUT = [(name, models.input_size(name)) for name in NAMED]


@pytest.mark.parametrize(("name", "size"), NATIVE_OUTPUT)
def test_output_shape_at_native_input_size(name, size):
    model = meta_model(name, num_classes=7).eval()
    with torch.device("meta"):
        out = model(torch.zeros(2, *size))
    assert tuple(out.shape) == (2, 7), f"{name} on 2x{size}: output {tuple(out.shape)}"


# The smallest input each model takes: torchvision's published "min_size" where it has the
# model; the slides' sizes for the networks whose first FC layer fixes it.
SMALLEST = {
    "lenet5": (1, 32),
    "alexnet_paper": (3, 227),
    "alexnet": (3, 63),
    "googlenet": (3, 15),
    "resnet18": (3, 1),
    "resnet34": (3, 1),
    "resnet50": (3, 1),
    "resnet101": (3, 1),
    "resnet152": (3, 1),
} | {name: (3, 32) for name in NAMED if name.startswith("vgg")}


# The networks over 3 s on one core (VGG's 130M+ weights, ResNet-101/152): slow for test-fast.
HEAVY = {name for name in NAMED if name.startswith("vgg")} | {"resnet50", "resnet101", "resnet152"}


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in HEAVY else n for n in NAMED]
)
def test_forward_backward_on_a_small_batch(name):
    torch.manual_seed(0)
    channels, size = SMALLEST[name]
    # ResNet takes a 1x1 input, but batch norm in training needs more than one value per
    # channel, and with only two ResNet-152's 36-block third stage overflows: at 32x32 that
    # stage is 2x2, 8 values per channel in a batch of 2.
    size = max(size, 32) if name.startswith("resnet") else size
    model = get_model(name, num_classes=5)
    x = torch.randn(2, channels, size, size)
    out = model(x)
    assert tuple(out.shape) == (2, 5), f"{name}: output {tuple(out.shape)}"
    nn.functional.cross_entropy(out, torch.tensor([0, 3])).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"{name}: no gradient for {missing[:5]}"
    bad = [n for n, p in model.named_parameters() if not torch.isfinite(p.grad).all()]
    assert not bad, f"{name}: non-finite gradients in {bad[:5]}"


@pytest.mark.cuda
@pytest.mark.parametrize("name", ["lenet5", "alexnet", "vgg11_bn", "googlenet", "resnet50"])
def test_forward_backward_on_cuda(name, cuda_device):
    channels, size = SMALLEST[name]
    model = get_model(name, num_classes=5).to(cuda_device)
    x = torch.randn(2, channels, max(size, 32), max(size, 32), device=cuda_device)
    out = model(x)
    assert out.device.type == "cuda" and tuple(out.shape) == (2, 5)
    out.sum().backward()
    assert all(p.grad is not None and p.grad.device.type == "cuda" for p in model.parameters())


@pytest.mark.parametrize("name", [n for n in NAMED if SMALLEST[n][1] > 1])
def test_input_below_the_smallest_size_raises_value_error(name):
    channels, size = SMALLEST[name]
    model = meta_model(name).eval()
    with torch.device("meta"):
        model(torch.zeros(1, channels, size, size))  # the smallest size itself runs
        with pytest.raises(ValueError, match=rf"{size - 1}x{size - 1}"):
            model(torch.zeros(1, channels, size - 1, size - 1))


def test_googlenet_paper_variant_takes_inputs_of_31_and_up():
    # by hand: the 3x3/2 max pool before inception 5a needs 2x2 <- 4x4 <- 8x8 <- 16x16 after
    # the 7x7/2 convolution <- 31x31
    model = meta_model("googlenet", variant="paper").eval()
    with torch.device("meta"):
        assert tuple(model(torch.zeros(1, 3, 31, 31)).shape) == (1, 1000)
        with pytest.raises(ValueError, match=r"at least 31x31 pixels, got 30x30"):
            model(torch.zeros(1, 3, 30, 30))


def test_alexnet_paper_rejects_224_and_names_227():
    model = meta_model("alexnet_paper").eval()
    with (
        torch.device("meta"),
        pytest.raises(ValueError, match=r"6x6 .*227x227 input gives; this 224x224 input gives 5x5"),
    ):
        model(torch.zeros(1, 3, 224, 224))


def test_lenet5_rejects_an_unpadded_28x28_digit():
    with pytest.raises(ValueError, match=r"at least 32x32 pixels, got 28x28"):
        lenet5()(torch.zeros(1, 1, 28, 28))


@pytest.mark.parametrize(
    ("x", "error", "pattern"),
    [
        (torch.zeros(1, 1, 64, 64), ValueError, r"\(N, 3, H, W\), got \(1, 1, 64, 64\)"),
        (torch.zeros(3, 64, 64), ValueError, r"\(N, 3, H, W\), got \(3, 64, 64\)"),
        ([[1.0]], TypeError, r"torch.Tensor input, got list"),
    ],
)
def test_bad_input_is_reported_with_the_expected_shape(x, error, pattern):
    with pytest.raises(error, match=pattern):
        resnet18()(x)


@pytest.mark.parametrize(
    ("build", "error", "pattern"),
    [
        (lambda: vgg("F"), ValueError, r"config must be one of 'A', 'A-LRN'.*got 'F'"),
        (lambda: vgg([64, "P"]), ValueError, r"config item 1 .* got 'P'"),
        (lambda: vgg(["M"]), ValueError, r"at least one convolution"),
        (lambda: vgg(16), TypeError, r"config must be a configuration name or a list, got int"),
        (lambda: googlenet(variant="v3"), ValueError, r"variant must be one of .*got 'v3'"),
        (lambda: resnet50(variant="v1.5"), ValueError, r"variant must be one of .*got 'v1.5'"),
        (lambda: resnet18(num_classes=0), ValueError, r"num_classes must be at least 1, got 0"),
        (lambda: lenet5(num_classes=2.5), TypeError, r"num_classes must be an int, got float"),
        (lambda: alexnet_paper(dropout=1.0), ValueError, r"dropout must be in \[0, 1\), got 1.0"),
        (lambda: lenet5(activation="swish"), ValueError, r"activation must be one of .*'swish'"),
        (lambda: lenet5(layers="keras"), ValueError, r"layers must be 'torch' or 'course'.*keras"),
        (lambda: lenet5(layers=object()), TypeError, r"object lacks Conv2d"),
        (lambda: get_model("resnet20"), ValueError, r"unknown model 'resnet20'; .*resnet18"),
        (lambda: get_model(50), TypeError, r"model name must be a str, got int"),
    ],
)
def test_bad_builder_argument_is_named_in_the_error(build, error, pattern):
    with torch.device("meta"), pytest.raises(error, match=pattern):
        build()


def test_get_model_passes_keyword_arguments_to_the_builder():
    model = meta_model("vgg", config="C", batch_norm=True, num_classes=3)
    assert model.classifier[-1].out_features == 3
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.features)


def test_input_size_is_the_size_each_model_was_designed_for():
    got = {name: models.input_size(name) for name in ("lenet5", "alexnet_paper", "resnet50")}
    assert got == {"lenet5": (1, 32, 32), "alexnet_paper": (3, 227, 227), "resnet50": (3, 224, 224)}


def test_lenet5_options_choose_the_activation_and_the_pooling():
    model = lenet5(activation="relu", pool="max")
    kinds = [type(m).__name__ for m in model.features]
    assert kinds == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU"]


def test_googlenet_with_aux_logits_returns_three_outputs_in_training():
    torch.manual_seed(0)
    model = googlenet(aux_logits=True, num_classes=4, init_weights=False)
    out = model.train()(torch.randn(2, 3, 64, 64))
    assert isinstance(out, GoogLeNetOutputs)
    assert [tuple(t.shape) for t in out] == [(2, 4)] * 3
    assert tuple(model.eval()(torch.randn(2, 3, 64, 64)).shape) == (2, 4)


@pytest.mark.parametrize(
    ("variant", "kernel", "bias"), [("torchvision", 3, False), ("paper", 5, True)]
)
def test_googlenet_variant_sets_the_5x5_branch_kernel_and_the_bias(variant, kernel, bias):
    with torch.device("meta"):
        model = googlenet(variant=variant)
    conv5 = model.inception3a.branch3[1].conv
    assert conv5.kernel_size == (kernel, kernel), f"{variant}: {conv5.kernel_size}"
    assert (conv5.bias is not None) == bias


@pytest.mark.parametrize(("variant", "strides"), [("torchvision", (1, 2)), ("paper", (2, 1))])
def test_resnet_variant_places_the_bottleneck_stride(variant, strides):
    with torch.device("meta"):
        block = resnet50(variant=variant).layer2[0]
    got = (block.conv1.stride[0], block.conv2.stride[0])
    assert got == strides, f"{variant}: (1x1 stride, 3x3 stride) = {got}, expected {strides}"


def test_resnet_variants_are_the_same_network_for_basic_blocks():
    torch.manual_seed(0)
    a, b = resnet18().eval(), resnet18(variant="paper").eval()
    b.load_state_dict(a.state_dict())
    x = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(a(x), b(x))


def test_zero_init_residual_makes_every_block_start_as_the_identity():
    torch.manual_seed(0)
    model = resnet50(zero_init_residual=True).eval()
    block = model.layer1[1]  # no downsample: out = relu(0 + x)
    x = torch.rand(1, 256, 8, 8)
    torch.testing.assert_close(block(x), x)
