"""``summary``: the slides' tables reproduced, the slides' slips pinned, counts cross-checked.

Every expected figure is typed in from the slides (or the papers and torchvision's model
documentation they come from) or worked out by hand here; none is read from the code.
Big models are built on the meta device, so only shapes are computed.
"""

from __future__ import annotations

import html.parser

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnncourse import cli
from cnncourse.models import MODELS, get_model, input_size
from cnncourse.summarize import LayerRow, Summary, model_summary, summary


def meta(name: str, **kwargs) -> nn.Module:
    with torch.device("meta"):
        return get_model(name, **kwargs)


@pytest.fixture(scope="module")
def vgg16_table() -> Summary:
    return summary(meta("vgg16"), (3, 224, 224))


# The slide's VGG-16 table: (volume, memory, params not counting biases), input row first.
VGG16_SLIDE = [
    ("224x224x3", 224 * 224 * 3, 0),
    ("224x224x64", 224 * 224 * 64, (3 * 3 * 3) * 64),
    ("224x224x64", 224 * 224 * 64, (3 * 3 * 64) * 64),
    ("112x112x64", 112 * 112 * 64, 0),
    ("112x112x128", 112 * 112 * 128, (3 * 3 * 64) * 128),
    ("112x112x128", 112 * 112 * 128, (3 * 3 * 128) * 128),
    ("56x56x128", 56 * 56 * 128, 0),
    ("56x56x256", 56 * 56 * 256, (3 * 3 * 128) * 256),
    ("56x56x256", 56 * 56 * 256, (3 * 3 * 256) * 256),
    ("56x56x256", 56 * 56 * 256, (3 * 3 * 256) * 256),
    ("28x28x256", 28 * 28 * 256, 0),
    ("28x28x512", 28 * 28 * 512, (3 * 3 * 256) * 512),
    ("28x28x512", 28 * 28 * 512, (3 * 3 * 512) * 512),
    ("28x28x512", 28 * 28 * 512, (3 * 3 * 512) * 512),
    ("14x14x512", 14 * 14 * 512, 0),
    ("14x14x512", 14 * 14 * 512, (3 * 3 * 512) * 512),
    ("14x14x512", 14 * 14 * 512, (3 * 3 * 512) * 512),
    ("14x14x512", 14 * 14 * 512, (3 * 3 * 512) * 512),
    ("7x7x512", 7 * 7 * 512, 0),
    ("1x1x4096", 4096, 7 * 7 * 512 * 4096),
    ("1x1x4096", 4096, 4096 * 4096),
    ("1x1x1000", 1000, 4096 * 1000),
]


def test_vgg16_rows_are_the_slides_rows(vgg16_table):
    got = [(r.volume, r.activations, r.params_no_bias) for r in vgg16_table.rows]
    assert len(got) == len(VGG16_SLIDE), f"{len(got)} rows, the slide has {len(VGG16_SLIDE)}"
    for i, (row, want) in enumerate(zip(got, VGG16_SLIDE, strict=True)):
        assert row == want, f"row {i} ({vgg16_table.rows[i].name}): {row}, slide {want}"


def test_vgg16_first_conv_row_reads_as_on_the_slide(vgg16_table):
    row = vgg16_table.rows[1]
    assert (row.layer, row.volume, row.params_no_bias) == ("Conv2d+ReLU", "224x224x64", 1_728)
    assert f"{row.activations / 1e6:.1f}M" == "3.2M"  # "memory: 224*224*64=3.2M"


def test_vgg16_fc_rows_hold_the_slides_parameter_counts(vgg16_table):
    got = [row.params_no_bias for row in vgg16_table.rows[-3:]]
    assert got == [102_760_448, 16_777_216, 4_096_000], got


def test_vgg16_total_is_138m_parameters(vgg16_table):
    assert round(vgg16_table.total_params / 1e6) == 138, vgg16_table.total_params
    assert vgg16_table.total_params == 138_357_544  # torchvision's published count


def test_vgg16_total_memory_is_15_2m_not_the_slides_24m(vgg16_table):
    listed = sum(memory for _, memory, _ in VGG16_SLIDE)  # the slide's own rows, input included
    assert listed == 15_237_608, f"the slide's rows sum to {listed:,}"
    assert vgg16_table.total_activations == listed
    # The slide's "TOTAL memory: 24M" is 57% more than its own rows add up to.
    assert abs(vgg16_table.total_activations - 24e6) / 24e6 > 0.3


def test_vgg16_memory_in_bytes_is_four_per_float32(vgg16_table):
    assert vgg16_table.activation_bytes == 15_237_608 * 4


@pytest.mark.parametrize(
    ("config", "millions"),
    [("A", 133), ("A-LRN", 133), ("B", 133), ("C", 134), ("D", 138), ("E", 144)],
)
def test_vgg_configuration_totals_match_table_2(config, millions):
    table = summary(meta("vgg", config=config), (3, 224, 224))
    for total in (table.total_params, table.total_params_no_bias):
        assert round(total / 1e6) == millions, f"config {config}: {total:,}, Table 2 {millions}M"


ALEXNET_SLIDE = [  # volume and kind, from the "Full (simplified) AlexNet architecture" slide
    ("227x227x3", "Input"),
    ("55x55x96", "Conv2d"),  # CONV1
    ("27x27x96", "MaxPool2d"),  # POOL1
    ("27x27x96", "LocalResponseNorm"),  # NORM1
    ("27x27x256", "Conv2d"),  # CONV2
    ("13x13x256", "MaxPool2d"),  # POOL2
    ("13x13x256", "LocalResponseNorm"),  # NORM2
    ("13x13x384", "Conv2d"),  # CONV3
    ("13x13x384", "Conv2d"),  # CONV4
    ("13x13x256", "Conv2d"),  # CONV5
    ("6x6x256", "MaxPool2d"),  # POOL3
    ("1x1x4096", "Linear"),  # FC6
    ("1x1x4096", "Linear"),  # FC7
    ("1x1x1000", "Linear"),  # FC8
]


@pytest.fixture(scope="module")
def alexnet_table() -> Summary:
    return summary(meta("alexnet_paper"), (3, 227, 227))


def test_alexnet_volumes_are_the_slides(alexnet_table):
    got = [(row.volume, row.layer.split("+")[0]) for row in alexnet_table.rows]
    assert got == ALEXNET_SLIDE


def test_alexnet_conv1_has_35k_parameters(alexnet_table):
    conv1 = alexnet_table.rows[1]
    assert conv1.params_no_bias == (11 * 11 * 3) * 96 == 34_848
    assert round(conv1.params_no_bias / 1e3) == 35  # "Parameters: (11x11x3)x96 = 35K"


def test_alexnet_pool1_has_no_parameters(alexnet_table):
    assert alexnet_table.rows[2].params == 0  # "Parameters: 0!"


# The slide's GoogLeNet table: module -> (output volume, params in K, ops in M). conv2 and
# conv3 together are the table's "convolution 3x3/1" row (1x1 reduce, then 3x3).
GOOGLENET_SLIDE = {
    "conv2+conv3": ("56x56x192", 112, 360),
    "inception3a": ("28x28x256", 159, 128),
    "inception3b": ("28x28x480", 380, 304),
    "inception4a": ("14x14x512", 364, 73),
    "inception4b": ("14x14x512", 437, 88),
    "inception4c": ("14x14x512", 463, 100),
    "inception4d": ("14x14x528", 580, 119),
    "inception4e": ("14x14x832", 840, 170),
    "inception5a": ("7x7x832", 1072, 54),
    "inception5b": ("7x7x1024", 1388, 71),
    "fc": ("1x1x1000", 1000, 1),
}
# The table's K is 1024 (its linear row, 1024 x 1000 weights, reads "1000K"); its M is 10^6.
K, M = 1024, 1e6
# Entries where the table disagrees with its own columns; the true figures, by hand:
GOOGLENET_SLIPS = {
    # 7x7x3x64 weights on 112x112 outputs, not 2.7K and 34M
    "conv1": (7 * 7 * 3 * 64, 7 * 7 * 3 * 64 * 112 * 112),
    # 512x128 + 512x128 + 128x9x256 + 512x24 + 24x25x64 + 512x64, not 463K
    "inception4c": (509_440, None),
    # 832x256 + 832x160 + 160x9x320 + 832x32 + 32x25x128 + 832x128, not 1072K and 54M
    "inception5a": (1_042_432, 1_042_432 * 7 * 7),
}


@pytest.fixture(scope="module")
def googlenet_rows() -> dict[str, LayerRow]:
    table = summary(meta("googlenet", variant="paper"), (3, 224, 224), depth=1)
    rows = {row.name: row for row in table.rows}
    conv2, conv3 = rows["conv2"], rows["conv3"]
    rows["conv2+conv3"] = LayerRow(
        "conv2+conv3",
        "",
        conv3.shape,
        0,
        conv2.params + conv3.params,
        conv2.params_no_bias + conv3.params_no_bias,
        conv2.mult_adds + conv3.mult_adds,
    )
    return rows


@pytest.mark.parametrize("module", list(GOOGLENET_SLIDE))
def test_googlenet_module_volume_is_the_tables(googlenet_rows, module):
    assert googlenet_rows[module].volume == GOOGLENET_SLIDE[module][0]


@pytest.mark.parametrize("module", [m for m in GOOGLENET_SLIDE if m not in GOOGLENET_SLIPS])
def test_googlenet_module_params_are_within_2_percent_of_the_table(googlenet_rows, module):
    got = googlenet_rows[module].params_no_bias
    want = GOOGLENET_SLIDE[module][1] * K
    assert abs(got - want) / want < 0.02, f"{module}: {got:,} vs table {want:,}"


@pytest.mark.parametrize("module", [m for m in GOOGLENET_SLIDE if m != "inception5a"])
def test_googlenet_module_ops_are_within_1_percent_of_the_table(googlenet_rows, module):
    got = googlenet_rows[module].mult_adds
    want = GOOGLENET_SLIDE[module][2] * M
    tolerance = 0.03 if module == "fc" else 0.01  # "1M" for 1,024,000 is rounded to one digit
    assert abs(got - want) / want < tolerance, f"{module}: {got:,} vs table {want:,.0f}"


@pytest.mark.parametrize("module", list(GOOGLENET_SLIPS))
def test_googlenet_table_slips_are_replaced_by_the_true_figures(googlenet_rows, module):
    params, ops = GOOGLENET_SLIPS[module]
    row = googlenet_rows[module]
    assert row.params_no_bias == params, f"{module}: {row.params_no_bias:,} vs {params:,}"
    if ops is not None:
        assert row.mult_adds == ops, f"{module}: {row.mult_adds:,} vs {ops:,}"


def test_googlenet_has_about_7m_parameters_not_the_slides_5m():
    table = summary(meta("googlenet", variant="paper"), (3, 224, 224))
    assert round(table.total_params / 1e5) / 10 == 7.0, table.total_params
    assert table.total_params > 1.3 * 5e6  # "Only 5 million params!" undercounts by 40%


def test_googlenet_has_about_9x_fewer_parameters_than_alexnet_not_12x(alexnet_table):
    googlenet_table = summary(meta("googlenet", variant="paper"), (3, 224, 224))
    ratio = alexnet_table.total_params / googlenet_table.total_params
    assert 8.5 < ratio < 9.5, f"AlexNet / GoogLeNet parameters = {ratio:.2f}, slide says 12"


# ResNet FLOPs: the slide's (original network, multiply-adds) and torchvision's published
# GFLOPS of its v1.5 models (which are multiply-adds too).
RESNET_SLIDE = {
    "resnet18": 1.8,
    "resnet34": 3.6,
    "resnet50": 3.8,
    "resnet101": 7.6,
    "resnet152": 11.3,
}
RESNET_TORCHVISION = {
    "resnet18": 1.814,
    "resnet34": 3.664,
    "resnet50": 4.089,
    "resnet101": 7.801,
    "resnet152": 11.514,
}


@pytest.mark.parametrize("name", list(RESNET_SLIDE))
def test_resnet_paper_variant_mult_adds_are_within_2_percent_of_the_slide(name):
    got = summary(meta(name, variant="paper"), (3, 224, 224)).total_mult_adds / 1e9
    want = RESNET_SLIDE[name]
    assert abs(got - want) / want < 0.02, f"{name}: {got:.3f}e9 vs slide {want}e9"


@pytest.mark.parametrize("name", list(RESNET_TORCHVISION))
def test_resnet_torchvision_variant_mult_adds_match_torchvision(name):
    got = summary(meta(name), (3, 224, 224)).total_mult_adds / 1e9
    want = RESNET_TORCHVISION[name]
    assert abs(got - want) < 0.0005, f"{name}: {got:.4f}e9 vs torchvision {want}e9"


def test_resnet50_strided_3x3_costs_more_than_the_original():
    v15 = summary(meta("resnet50"), (3, 224, 224)).total_mult_adds
    v1 = summary(meta("resnet50", variant="paper"), (3, 224, 224)).total_mult_adds
    assert round(v15 / 1e9, 2) == 4.09 and v1 < v15, (v15, v1)


VARIANTS = [(name, {}) for name in MODELS if name != "vgg"] + [
    ("vgg", {"config": "A-LRN"}),
    ("vgg", {"config": "C"}),
    ("googlenet", {"variant": "paper"}),
    ("resnet50", {"variant": "paper"}),
]


@pytest.mark.parametrize(("name", "kwargs"), VARIANTS, ids=lambda v: str(v))
def test_mult_adds_are_half_of_flop_counter_flops(name, kwargs):
    model = meta(name, **kwargs).eval()
    size = input_size(name)
    with torch.device("meta"), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, *size))
    table = summary(model, size)
    assert 2 * table.total_mult_adds == counter.get_total_flops(), (
        f"{name} {kwargs}: 2 x {table.total_mult_adds:,} vs {counter.get_total_flops():,} FLOPs"
    )


def test_mult_adds_on_a_real_cpu_model_match_flop_counter():
    model = get_model("lenet5").eval()
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 1, 32, 32))
    got = summary(model, (1, 32, 32)).total_mult_adds
    # by hand: C1 28*28*6*25 + C3 10*10*16*150 + C5 120*400 + F6 84*120 + out 10*84
    by_hand = 28 * 28 * 6 * 25 + 10 * 10 * 16 * 150 + 120 * 400 + 84 * 120 + 10 * 84
    assert got == by_hand == counter.get_total_flops() // 2, (got, by_hand)


def test_transposed_convolution_mult_adds_match_flop_counter():
    model = nn.Sequential(nn.ConvTranspose2d(4, 6, kernel_size=3, stride=2), nn.Conv2d(6, 2, 1))
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 4, 5, 5))
    got = summary(model, (4, 5, 5)).total_mult_adds
    assert 2 * got == counter.get_total_flops(), (got, counter.get_total_flops())


def small_net() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 10),
    )


def test_fold_false_lists_every_module_with_the_same_totals():
    model = small_net()
    folded, unfolded = summary(model, (3, 8, 8)), summary(model, (3, 8, 8), fold=False)
    assert [r.layer for r in folded.rows] == [
        "Input",
        "Conv2d+BatchNorm2d+ReLU",
        "MaxPool2d+Flatten",
        "Linear",
    ]
    assert len(unfolded.rows) == 7
    assert (folded.total_params, folded.total_mult_adds) == (
        unfolded.total_params,
        unfolded.total_mult_adds,
    )
    # the folded rows count each volume once: input, conv, pool, fc
    assert folded.total_activations == 3 * 64 + 8 * 64 + 8 * 16 + 10


def test_params_with_and_without_biases():
    row = summary(small_net(), (3, 8, 8)).rows[1]  # conv 3->8 3x3 with bias, batch norm 8
    assert (row.params, row.params_no_bias) == (8 * 27 + 8 + 16, 8 * 27 + 8)


def test_a_module_called_twice_counts_its_parameters_once():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(self.fc(x))

    table = summary(Twice(), (4,))
    assert table.total_params == 20 and table.total_mult_adds == 2 * 16, table.rows


def test_parameters_of_modules_not_run_are_reported_apart():
    model = meta("googlenet", aux_logits=True)
    table = summary(model, (3, 224, 224))
    aux = sum(p.numel() for name, p in model.named_parameters() if name.startswith("aux"))
    assert table.total_params == 6_624_904 and table.uncounted_params == aux
    assert f"{aux:,} parameters of modules" in table.to_text()


def test_summary_leaves_the_model_as_it_was():
    model = small_net().train()
    model[1].eval()  # a frozen batch norm stays frozen
    before = {k: v.clone() for k, v in model.state_dict().items()}
    summary(model, (3, 8, 8))
    assert [m.training for m in model.modules()] == [True, True, False, True, True, True, True]
    assert all(not m._forward_hooks for m in model.modules())
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), f"{key} changed"


def test_depth_groups_rows_under_their_module():
    names = [r.name for r in summary(meta("resnet18"), (3, 224, 224), depth=1).rows]
    assert names == [
        "input",
        "conv1",
        "maxpool",
        "layer1",
        "layer2",
        "layer3",
        "layer4",
        "avgpool",
        "fc",
    ]


def test_volume_is_written_height_width_depth():
    rows = [LayerRow("a", "T", (64, 224, 112), 0, 0, 0, 0), LayerRow("b", "T", (10,), 0, 0, 0, 0)]
    assert [r.volume for r in rows] == ["224x112x64", "1x1x10"]


def test_text_table_has_a_header_a_row_per_layer_and_totals(vgg16_table):
    lines = vgg16_table.to_text().splitlines()
    assert lines[1].split()[:3] == ["Layer", "Type", "Output"]
    assert any(line.split()[:3] == ["features.0", "Conv2d+ReLU", "224x224x64"] for line in lines)
    total = next(line for line in lines if line.startswith("Total"))
    assert total.split()[1:] == ["15,237,608", "138,357,544", "138,344,128", "15,470,264,320"]


def test_markdown_table_has_seven_cells_per_row(vgg16_table):
    table_lines = [line for line in vgg16_table.to_markdown().splitlines() if line.startswith("|")]
    assert len(table_lines) == 2 + len(vgg16_table.rows) + 1
    assert all(line.count("|") == 8 for line in table_lines), table_lines[:3]
    assert "| **Total** |" in table_lines[-1]


class _Cells(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows: list[list[str]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])

    def handle_data(self, data):
        if self.rows and self.lasttag in ("td", "th"):
            self.rows[-1].append(data)


def test_html_table_holds_the_same_cells_as_the_text(vgg16_table):
    parser = _Cells()
    parser.feed(vgg16_table._repr_html_())
    assert len(parser.rows) == 1 + len(vgg16_table.rows) + 1
    assert parser.rows[2][:3] == ["features.0", "Conv2d+ReLU", "224x224x64"]


def test_html_escapes_module_names():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.add_module("<b>", nn.Linear(2, 2))

        def forward(self, x):
            return getattr(self, "<b>")(x)

    text = summary(Odd(), (2,))._repr_html_()
    assert "&lt;b&gt;" in text and "<b><" not in text


@pytest.mark.parametrize(
    ("args", "error", "pattern"),
    [
        (("not a model", (3, 8, 8)), TypeError, r"model must be a torch.nn.Module, got str"),
        ((small_net(), (3, 0, 8)), ValueError, r"positive ints .* got \(3, 0, 8\)"),
        ((small_net(), "3,8,8"), TypeError, r"input_size must be a tuple of ints"),
        ((small_net(), (3, 2, 2)), ValueError, r"cannot run on an input of size \(3, 2, 2\)"),
    ],
)
def test_bad_arguments_are_named_in_the_error(args, error, pattern):
    with pytest.raises(error, match=pattern):
        summary(*args)


def test_bad_depth_is_named_in_the_error():
    with pytest.raises(ValueError, match=r"depth must be None or a positive int, got 0"):
        summary(small_net(), (3, 8, 8), depth=0)


def test_cnncourse_summary_is_the_function_even_after_importing_the_module():
    import cnncourse.summarize

    assert cnncourse.summary is summary
    by_hand = (3 * 9 * 8 + 8) + 2 * 8 + (8 * 4 * 4 * 10 + 10)  # conv, batch norm, linear
    assert cnncourse.summary(small_net(), (3, 8, 8)).total_params == by_hand


def test_cli_prints_the_vgg16_table(capsys):
    assert cli.main(["summary", "vgg16"]) == 0
    out = capsys.readouterr().out
    assert "224x224x64" in out and "15,237,608" in out and "138,357,544" in out


def test_cli_markdown_with_builder_options(capsys):
    code = cli.main(["summary", "resnet50", "--format", "markdown", "--option", "variant=paper"])
    assert code == 0
    total = next(line for line in capsys.readouterr().out.splitlines() if "**Total**" in line)
    mult_adds = int(total.rstrip(" |").split("|")[-1].strip(" *").replace(",", ""))
    assert abs(mult_adds / 1e9 - 3.8) / 3.8 < 0.02, total


def test_cli_takes_the_input_size(capsys):
    assert cli.main(["summary", "resnet18", "--input", "3,32,32", "--depth", "1"]) == 0
    assert "on a 3x32x32 input" in capsys.readouterr().out


def test_cli_reports_an_input_the_model_cannot_take(capsys):
    assert cli.main(["summary", "alexnet_paper", "--input", "3,224,224"]) == 2
    assert "this 224x224 input gives 5x5" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv", [["summary", "resnet20"], ["summary", "vgg16", "--input", "3x224"]]
)
def test_cli_rejects_bad_arguments_with_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_model_summary_builds_the_zoo_model_by_name():
    table = model_summary("vgg16")
    assert table.model_name == "vgg16"
    assert table.input_size == (3, 224, 224)
    assert table.total_params == 138_357_544  # Simonyan & Zisserman, Table 2: 138M


def test_model_summary_passes_builder_options_and_the_input_size():
    paper = model_summary("resnet50", variant="paper")
    small = model_summary("resnet18", (3, 32, 32), depth=1)
    assert paper.total_mult_adds == pytest.approx(3.8e9, rel=0.02)  # He et al., Table 1
    assert small.input_size == (3, 32, 32)


def test_model_summary_rejects_an_unknown_model():
    with pytest.raises(ValueError, match="unknown model 'resnet20'"):
        model_summary("resnet20")


def test_summary_html_is_what_jupyter_shows():
    table = model_summary("lenet5")
    assert table.to_html() == table._repr_html_()
    assert table.to_html().startswith('<div class="cnncourse-summary">')
