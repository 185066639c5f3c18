"""cnncourse.nn: autograd Functions and drop-in torch.nn modules built on the references."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given
from hypothesis import strategies as st
from torch import nn as tnn

import cnncourse.nn as cnn

from ._helpers import DEVICES, SETTINGS, assert_close


def randn(*shape, seed=0, dtype=torch.float64, device="cpu", requires_grad=True):
    g = torch.Generator().manual_seed(seed)
    t = torch.randn(*shape, generator=g, dtype=dtype).to(device)
    return t.requires_grad_(requires_grad)


# --- torch.autograd.gradcheck on every Function ---------------------------------------------

GRADCHECK_CASES = {
    "Conv2dFunction": (
        cnn.Conv2dFunction,
        lambda: (randn(2, 2, 5, 5), randn(3, 2, 3, 3, seed=1), randn(3, seed=2), 2, 1),
    ),
    "Conv2dFunction without bias": (
        cnn.Conv2dFunction,
        lambda: (randn(1, 2, 4, 4), randn(2, 2, 2, 2, seed=1), None, 1, 0),
    ),
    "MaxPool2dFunction": (cnn.MaxPool2dFunction, lambda: (randn(2, 2, 5, 5), 3, 3, 2)),
    "AvgPool2dFunction": (cnn.AvgPool2dFunction, lambda: (randn(2, 2, 5, 6), 2, 3, 1)),
    "LinearFunction": (
        cnn.LinearFunction,
        lambda: (randn(3, 4), randn(5, 4, seed=1), randn(5, seed=2)),
    ),
    "ReLUFunction": (cnn.ReLUFunction, lambda: (randn(3, 4),)),
    "LeakyReLUFunction": (cnn.LeakyReLUFunction, lambda: (randn(3, 4), 0.1)),
    "SigmoidFunction": (cnn.SigmoidFunction, lambda: (randn(3, 4),)),
    "TanhFunction": (cnn.TanhFunction, lambda: (randn(3, 4),)),
    "ELUFunction": (cnn.ELUFunction, lambda: (randn(3, 4), 0.7)),
    "MaxoutFunction": (
        cnn.MaxoutFunction,
        lambda: (randn(3, 4), randn(4, 2, 3, seed=1), randn(2, 3, seed=2)),
    ),
    "DropoutFunction": (cnn.DropoutFunction, lambda: (randn(4, 5), 0.6, 123)),
    "BatchNormFunction train (N, D)": (
        cnn.BatchNormFunction,
        lambda: (randn(5, 3), randn(3, seed=1), randn(3, seed=2), True, 1e-5),
    ),
    "BatchNormFunction train (N, C, H, W)": (
        cnn.BatchNormFunction,
        lambda: (randn(2, 3, 2, 2), randn(3, seed=1), randn(3, seed=2), True, 1e-5),
    ),
    "BatchNormFunction test": (
        cnn.BatchNormFunction,
        lambda: (
            randn(4, 3),
            randn(3, seed=1),
            randn(3, seed=2),
            False,
            1e-5,
            randn(3, seed=3, requires_grad=False),
            randn(3, seed=4, requires_grad=False).abs(),
        ),
    ),
}


@pytest.mark.parametrize("case", GRADCHECK_CASES.values(), ids=GRADCHECK_CASES.keys())
def test_torch_gradcheck_passes_on_every_function(case):
    function, make_inputs = case
    assert torch.autograd.gradcheck(function.apply, make_inputs(), eps=1e-6, atol=1e-7)


def test_every_function_is_gradchecked():
    functions = {name for name in cnn.__all__ if name.endswith("Function")}
    checked = {case[0].__name__ for case in GRADCHECK_CASES.values()}
    assert functions == checked, f"not gradchecked: {sorted(functions - checked)}"


# --- the pointwise Functions against torch's own functions -----------------------------------

POINTWISE_CASES = {
    "ReLUFunction": (cnn.ReLUFunction, (), F.relu),
    "LeakyReLUFunction": (cnn.LeakyReLUFunction, (0.1,), lambda x: F.leaky_relu(x, 0.1)),
    "SigmoidFunction": (cnn.SigmoidFunction, (), torch.sigmoid),
    "TanhFunction": (cnn.TanhFunction, (), torch.tanh),
    "ELUFunction": (cnn.ELUFunction, (0.7,), lambda x: F.elu(x, alpha=0.7)),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", POINTWISE_CASES.values(), ids=POINTWISE_CASES.keys())
def test_pointwise_function_matches_torch_values_and_gradients(case, device):
    function, params, torch_function = case
    x = randn(4, 7, seed=6, device=device) * 3  # both sides of 0, and the saturated tails
    x_ours = x.detach().clone().requires_grad_()
    x_theirs = x.detach().clone().requires_grad_()
    out_ours, out_theirs = function.apply(x_ours, *params), torch_function(x_theirs)
    assert_close(out_ours, out_theirs, 1e-12, f"{function.__name__}: output")
    dout = randn(4, 7, seed=7, device=device, requires_grad=False)
    out_ours.backward(dout)
    out_theirs.backward(dout)
    assert_close(x_ours.grad, x_theirs.grad, 1e-12, f"{function.__name__}: input gradient")


@pytest.mark.parametrize("case", POINTWISE_CASES.values(), ids=POINTWISE_CASES.keys())
def test_pointwise_function_passes_torch_gradcheck_in_float64(case):
    function, params, _ = case
    x = randn(3, 5, seed=8)
    assert torch.autograd.gradcheck(lambda t: function.apply(t, *params), (x,), eps=1e-6)


def test_pointwise_function_builds_a_function_from_any_layer_pair():
    def cube_forward(x, scale):
        return scale * x**3, (x, scale)

    def cube_backward(dout, cache):
        x, scale = cache
        return dout * 3 * scale * x**2

    cube = cnn.pointwise_function(cube_forward, cube_backward)
    x = randn(5, seed=9)
    out = cube.apply(x, 2.0)
    out.sum().backward()
    expected_out, expected_grad = 2.0 * x.detach() ** 3, 6.0 * x.detach() ** 2
    assert_close(out, expected_out, 1e-14, "cube output")
    assert_close(x.grad, expected_grad, 1e-14, "cube gradient")


# --- modules against their torch.nn namesakes -----------------------------------------------


def compare_modules(ours, theirs, x, tol=1e-10, what="", per="element"):
    """Load torch's state into ours (strict), run both, compare outputs and all gradients."""
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x_ours = x.detach().clone().requires_grad_()
    x_theirs = x.detach().clone().requires_grad_()
    out_ours, out_theirs = ours(x_ours), theirs(x_theirs)
    assert_close(out_ours, out_theirs, tol, f"{what}: output", per)
    dout = torch.randn(
        out_theirs.shape, generator=torch.Generator().manual_seed(99), dtype=x.dtype
    ).to(x.device)
    out_ours.backward(dout)
    out_theirs.backward(dout)
    assert_close(x_ours.grad, x_theirs.grad, tol, f"{what}: input gradient", per)
    ours_params = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        assert_close(ours_params[name].grad, p.grad, tol, f"{what}: gradient of {name}", per)


MODULE_CASES = {
    "Conv2d 3x3 pad 1": (lambda m: m.Conv2d(3, 4, 3, padding=1), (2, 3, 6, 6)),
    "Conv2d 7x7 stride 2 pad 3 (ResNet stem, floor)": (
        lambda m: m.Conv2d(2, 3, 7, 2, 3, bias=False),
        (1, 2, 16, 15),
    ),
    "Conv2d 11x11 stride 4 pad 2 (torchvision AlexNet, floor)": (
        lambda m: m.Conv2d(1, 2, 11, 4, 2),
        (1, 1, 33, 33),
    ),
    "Conv2d 1x1 stride 2 (ResNet downsample, floor)": (
        lambda m: m.Conv2d(2, 3, 1, 2, bias=False),
        (2, 2, 7, 7),
    ),
    "Conv2d non-square kernel": (lambda m: m.Conv2d(2, 3, (3, 1), padding=1), (2, 2, 5, 4)),
    "MaxPool2d 3 stride 2 pad 1 (ResNet)": (lambda m: m.MaxPool2d(3, 2, 1), (2, 2, 9, 8)),
    "MaxPool2d 3 stride 2 ceil_mode (GoogLeNet)": (
        lambda m: m.MaxPool2d(3, 2, ceil_mode=True),
        (2, 2, 10, 9),
    ),
    "MaxPool2d 3 stride 1 pad 1 ceil_mode (Inception)": (
        lambda m: m.MaxPool2d(3, 1, 1, ceil_mode=True),
        (1, 2, 5, 5),
    ),
    "MaxPool2d 2 on odd input (floor)": (lambda m: m.MaxPool2d(2), (2, 2, 7, 5)),
    "AvgPool2d 2 on odd input (floor)": (lambda m: m.AvgPool2d(2), (2, 2, 7, 5)),
    "AvgPool2d 3 stride 1 pad 1": (lambda m: m.AvgPool2d(3, 1, 1), (2, 2, 5, 4)),
    "Linear": (lambda m: m.Linear(6, 4), (3, 6)),
    "Linear on (N, L, D)": (lambda m: m.Linear(6, 4, bias=False), (3, 2, 6)),
    "ReLU": (lambda m: m.ReLU(), (3, 5)),
    "LeakyReLU": (lambda m: m.LeakyReLU(0.2), (3, 5)),
    "Sigmoid": (lambda m: m.Sigmoid(), (3, 5)),
    "Tanh": (lambda m: m.Tanh(), (3, 5)),
    "ELU": (lambda m: m.ELU(alpha=0.5), (3, 5)),
    "BatchNorm1d (N, C)": (lambda m: m.BatchNorm1d(5), (4, 5)),
    "BatchNorm1d (N, C, L)": (lambda m: m.BatchNorm1d(3), (4, 3, 2)),
    "BatchNorm2d": (lambda m: m.BatchNorm2d(3), (2, 3, 4, 4)),
    "BatchNorm2d without affine": (lambda m: m.BatchNorm2d(3, affine=False), (2, 3, 4, 4)),
}


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("case", MODULE_CASES.values(), ids=MODULE_CASES.keys())
def test_module_matches_torch_module(case, mode):
    build, shape = case
    torch.manual_seed(0)
    theirs = build(tnn).double()
    ours = build(cnn).double()
    if isinstance(theirs, tnn.modules.batchnorm._BatchNorm):
        with torch.no_grad():  # non-trivial running statistics and affine parameters
            theirs.running_mean.uniform_(-1, 1)
            theirs.running_var.uniform_(0.5, 2)
            for p in theirs.parameters():
                p.uniform_(0.5, 1.5)
    theirs.train(mode == "train")
    ours.train(mode == "train")
    compare_modules(ours, theirs, randn(*shape, seed=3), what=f"{type(ours).__name__} {mode}")


@st.composite
def pool_modules(draw):
    k, s = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    p = draw(st.integers(0, k // 2))
    H, W = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    assume(min(H, W) + 2 * p >= k)
    return k, s, p, draw(st.booleans()), (2, 2, H, W)


@SETTINGS
@given(case=pool_modules())
def test_max_pool_module_follows_torch_output_size_rule(case):
    k, s, p, ceil_mode, shape = case
    compare_modules(
        cnn.MaxPool2d(k, s, p, ceil_mode=ceil_mode),
        tnn.MaxPool2d(k, s, p, ceil_mode=ceil_mode),
        randn(*shape, seed=4),
        what=f"MaxPool2d({k}, {s}, {p}, ceil_mode={ceil_mode}) on {shape}",
    )


@SETTINGS
@given(
    k=st.integers(1, 4),
    s=st.integers(1, 3),
    p=st.integers(0, 2),
    H=st.integers(1, 10),
    W=st.integers(1, 10),
)
def test_conv_module_follows_torch_output_size_rule(k, s, p, H, W):
    assume(min(H, W) + 2 * p >= k)
    torch.manual_seed(1)
    compare_modules(
        cnn.Conv2d(2, 3, k, s, p).double(),
        tnn.Conv2d(2, 3, k, s, p).double(),
        randn(2, 2, H, W, seed=5),
        what=f"Conv2d(2, 3, {k}, {s}, {p}) on {H}x{W}",
    )


@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
@pytest.mark.parametrize("module", ["BatchNorm1d", "BatchNorm2d"])
def test_batchnorm_module_running_statistics_follow_torch(module, momentum):
    shape = (6, 3) if module == "BatchNorm1d" else (4, 3, 2, 3)
    ours = getattr(cnn, module)(3, momentum=momentum).double()
    theirs = getattr(tnn, module)(3, momentum=momentum).double()
    for step in range(4):
        x = randn(*shape, seed=step, requires_grad=False) * (step + 1) + step
        ours(x)
        theirs(x)
    for name in ("running_mean", "running_var"):
        assert_close(getattr(ours, name), getattr(theirs, name), 1e-12, f"{module} {name}")
    assert int(ours.num_batches_tracked) == int(theirs.num_batches_tracked) == 4


def test_batchnorm_without_running_stats_always_uses_the_batch():
    ours, theirs = (
        cnn.BatchNorm2d(3, track_running_stats=False).double(),
        tnn.BatchNorm2d(3, track_running_stats=False).double(),
    )
    ours.eval()
    theirs.eval()
    assert ours.running_mean is None
    compare_modules(
        ours, theirs, randn(2, 3, 3, 3), what="BatchNorm2d(track_running_stats=False) eval"
    )


def test_batchnorm_training_with_one_value_per_channel_raises():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        cnn.BatchNorm1d(3)(torch.randn(1, 3))


def test_dropout_module_is_identity_in_eval_and_inverted_dropout_in_train():
    x = torch.ones(200, 50, dtype=torch.float64)
    layer = cnn.Dropout(p=0.25)
    layer.eval()
    assert torch.equal(layer(x), x)
    layer.train()
    out = layer(x)
    assert set(out.unique().tolist()) <= {0.0, 1 / 0.75}, out.unique()
    assert cnn.Dropout(p=1.0)(x).abs().sum() == 0


def test_dropout_module_is_repeatable_with_torch_manual_seed():
    layer, x = cnn.Dropout(0.5), torch.randn(10, 10)
    torch.manual_seed(5)
    first = layer(x)
    torch.manual_seed(5)
    assert torch.equal(layer(x), first)


@pytest.mark.parametrize(
    ("build", "argument"),
    [
        (lambda: cnn.Conv2d(2, 2, 3, groups=2), "groups"),
        (lambda: cnn.Conv2d(2, 2, 3, dilation=2), "dilation"),
        (lambda: cnn.Conv2d(2, 2, 3, stride=(1, 2)), "stride"),
        (lambda: cnn.Conv2d(2, 2, 3, padding="same"), "padding"),
        (lambda: cnn.Conv2d(2, 2, 3, padding_mode="reflect"), "padding_mode"),
        (lambda: cnn.MaxPool2d(2, return_indices=True), "return_indices"),
        (lambda: cnn.MaxPool2d(3, dilation=2), "dilation"),
        (lambda: cnn.MaxPool2d(2, padding=2), "padding"),
        (lambda: cnn.AvgPool2d(2, ceil_mode=True), "ceil_mode"),
        (lambda: cnn.AvgPool2d(2, divisor_override=3), "divisor_override"),
    ],
)
def test_unsupported_module_arguments_raise_naming_the_argument(build, argument):
    with pytest.raises(ValueError, match=argument):
        build()


# --- a small CNN, built twice ----------------------------------------------------------------


def small_cnn(m, p_drop=0.0):
    return tnn.Sequential(
        m.Conv2d(1, 6, 3, padding=1, bias=False),  # no bias before a batch norm: its gradient is 0
        m.BatchNorm2d(6),
        m.ReLU(inplace=True),
        m.MaxPool2d(2, 2),  # 8x8 -> 4x4
        m.Conv2d(6, 8, 3, padding=1),
        m.ELU(),
        m.AvgPool2d(2),  # -> 2x2
        tnn.Flatten(),
        m.Dropout(p_drop),
        m.Linear(32, 16),
        m.Tanh(),
        m.Linear(16, 10),
    )


def test_small_cnn_matches_torch_network_with_copied_weights():
    torch.manual_seed(0)
    theirs = small_cnn(tnn).double()
    ours = small_cnn(cnn).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = randn(8, 1, 8, 8, seed=2)
    compare_modules(ours, theirs, x, what="small CNN, train mode")
    ours.eval()
    theirs.eval()
    compare_modules(ours, theirs, x, what="small CNN, eval mode")


@pytest.mark.slow
def test_small_cnn_trains_on_digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.tensor(digits.images[:512] / 16.0, dtype=torch.float32).unsqueeze(1)
    y = torch.tensor(digits.target[:512])
    torch.manual_seed(0)
    model = small_cnn(cnn, p_drop=0.1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    losses = []
    for _epoch in range(3):
        for start in range(0, 512, 64):
            loss = torch.nn.functional.cross_entropy(
                model(x[start : start + 64]), y[start : start + 64]
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    first, last = sum(losses[:4]) / 4, sum(losses[-4:]) / 4
    assert last < 0.5 * first, (
        f"mean loss of the first 4 steps {first:.3f}, of the last 4 {last:.3f}"
    )


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_small_cnn_runs_on_device_and_dtype(device, dtype):
    torch.manual_seed(0)
    theirs = small_cnn(tnn).to(device=device, dtype=dtype)
    ours = small_cnn(cnn).to(device=device, dtype=dtype)
    x = randn(4, 1, 8, 8, seed=1, dtype=dtype, device=device)
    # float32: 1e-5 of each tensor's scale (unit roundoff 6e-8, through a few layers)
    tol, per = (1e-5, "tensor") if dtype == torch.float32 else (1e-10, "element")
    compare_modules(ours, theirs, x, tol=tol, what=f"small CNN on {device} in {dtype}", per=per)
