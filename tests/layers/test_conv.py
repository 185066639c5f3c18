"""Convolution: forward and backward against torch.nn.functional.conv2d + autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given
from hypothesis import strategies as st

from cnncourse.gradcheck import eval_numerical_gradient_array
from cnncourse.layers import (
    col2im,
    conv_backward,
    conv_backward_naive,
    conv_forward,
    conv_forward_naive,
    conv_output_size,
    im2col,
)
from cnncourse.layers import conv as conv_module

from ._helpers import DEVICES, SETTINGS, assert_close, leaf, rng_arrays

FORWARDS = {"fast": conv_forward, "naive": conv_forward_naive}
BACKWARDS = {"fast": conv_backward, "naive": conv_backward_naive}


@st.composite
def conv_cases(draw):
    """(x shape, w shape, stride, pad, seed) with a whole output size."""
    N, C, F_ = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    HH, WW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride, pad = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    H_out, W_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    H = (H_out - 1) * stride + HH - 2 * pad
    W = (W_out - 1) * stride + WW - 2 * pad
    assume(H >= 1 and W >= 1)
    return (N, C, H, W), (F_, C, HH, WW), stride, pad, draw(st.integers(0, 2**32 - 1))


# Named edge cases, so that each is run every time whatever hypothesis draws.
EDGE_CASES = {
    "1x1 kernel": ((2, 4, 5, 5), (3, 4, 1, 1), 1, 0),
    "stride larger than kernel": ((2, 2, 7, 7), (3, 2, 2, 2), 5, 0),
    "pad > 0": ((2, 3, 5, 5), (2, 3, 3, 3), 1, 2),
    "batch of 1": ((1, 3, 6, 6), (2, 3, 3, 3), 1, 1),
    "non-square input and kernel": ((2, 2, 7, 5), (3, 2, 3, 1), 2, 1),
    "slide 32x32x3, six 5x5 filters": ((1, 3, 32, 32), (6, 3, 5, 5), 1, 0),
}


def torch_conv(x, w, b, stride, pad, dout):
    """The oracle: F.conv2d forward and its autograd gradients, float64."""
    xt, wt, bt = leaf(x), leaf(w), leaf(b)
    out = F.conv2d(xt, wt, bt, stride=stride, padding=pad)
    out.backward(torch.as_tensor(dout))
    return out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


def check_against_torch(x_shape, w_shape, stride, pad, seed, impl):
    x, w, b = rng_arrays(seed, x_shape, w_shape, (w_shape[0],))
    conv_param = {"stride": stride, "pad": pad}
    out, cache = FORWARDS[impl](x, w, b, conv_param)
    (dout,) = rng_arrays(seed + 1, out.shape)
    dx, dw, db = BACKWARDS[impl](dout, cache)
    expected = torch_conv(x, w, b, stride, pad, dout)
    what = f"{impl} conv, x {x_shape}, w {w_shape}, stride {stride}, pad {pad}, seed {seed}"
    for name, got, want in zip(("out", "dx", "dw", "db"), (out, dx, dw, db), expected, strict=True):
        assert_close(got, want, 1e-10, f"{what}: {name}")


@pytest.mark.parametrize("impl", ["fast", "naive"])
@SETTINGS
@given(case=conv_cases())
def test_conv_matches_torch_conv2d_and_autograd(impl, case):
    check_against_torch(*case, impl)


@pytest.mark.parametrize("impl", ["fast", "naive"])
@pytest.mark.parametrize("case", EDGE_CASES.values(), ids=EDGE_CASES.keys())
def test_conv_edge_case_matches_torch(impl, case):
    check_against_torch(*case, seed=7, impl=impl)


@SETTINGS
@given(case=conv_cases())
def test_naive_and_fast_conv_agree(case):
    x_shape, w_shape, stride, pad, seed = case
    x, w, b = rng_arrays(seed, x_shape, w_shape, (w_shape[0],))
    conv_param = {"stride": stride, "pad": pad}
    out_fast, cache = conv_forward(x, w, b, conv_param)
    out_naive, _ = conv_forward_naive(x, w, b, conv_param)
    (dout,) = rng_arrays(seed + 1, out_fast.shape)
    what = f"x {x_shape}, w {w_shape}, stride {stride}, pad {pad}, seed {seed}"
    assert_close(out_fast, out_naive, 1e-10, f"{what}: out")
    for name, g_fast, g_naive in zip(
        ("dx", "dw", "db"),
        conv_backward(dout, cache),
        conv_backward_naive(dout, cache),
        strict=True,
    ):
        assert_close(g_fast, g_naive, 1e-10, f"{what}: {name}")


@pytest.mark.parametrize("chunk_elements", [1, 2 * 3 * 3 * 3 * 4 * 4, 10**9])
def test_fast_conv_in_chunks_of_images_matches_torch(monkeypatch, chunk_elements):
    # 5 images of 3*3*3 x 4*4 unrolled values: chunks of 1 image, of 1-2 (1 + 2 + 2), of all 5
    monkeypatch.setattr(conv_module, "_CHUNK_ELEMENTS", chunk_elements)
    check_against_torch((5, 3, 7, 7), (2, 3, 3, 3), 2, 1, seed=11, impl="fast")


@pytest.mark.parametrize(
    ("N", "per_image", "budget"), [(64, 288 * 256, 2**20), (10, 5, 20), (16, 10**6, 1), (3, 1, 100)]
)
def test_image_chunks_split_the_batch_evenly(monkeypatch, N, per_image, budget):
    monkeypatch.setattr(conv_module, "_CHUNK_ELEMENTS", budget)
    chunks = conv_module._image_chunks(torch.zeros(N, 1), per_image)
    covered = [n for chunk in chunks for n in range(N)[chunk]]
    assert covered == list(range(N)), chunks
    sizes = [len(range(N)[chunk]) for chunk in chunks]
    assert max(sizes) - min(sizes) <= 1, sizes
    assert (max(sizes) - 1) * per_image < budget, sizes  # about the budget, or one image


def test_fast_conv_forward_stays_differentiable_by_autograd():
    # inputs that require grad (an nn.Parameter, say) take the path autograd can record
    x, w, b = (
        torch.from_numpy(a).requires_grad_()
        for a in rng_arrays(3, (2, 3, 6, 5), (4, 3, 3, 2), (4,))
    )
    out, cache = conv_forward(x, w, b, {"stride": 1, "pad": 1})
    (dout,) = rng_arrays(4, tuple(out.shape))
    out.backward(torch.from_numpy(dout))
    dx, dw, db = conv_backward(torch.from_numpy(dout), cache)
    for name, got, want in (("dx", x.grad, dx), ("dw", w.grad, dw), ("db", b.grad, db)):
        assert_close(got, want, 1e-12, f"autograd through conv_forward vs conv_backward: {name}")


def test_im2col_unrolls_each_window_into_a_column_and_col2im_is_its_adjoint():
    HH, WW, stride, pad = 3, 2, 2, 1  # on 7x6 images: H' = (7 - 3 + 2)/2 + 1 = 4, W' = 4
    x, c = (torch.from_numpy(a) for a in rng_arrays(5, (2, 3, 7, 6), (2, 3 * HH * WW, 4 * 4)))
    cols = im2col(x, HH, WW, stride, pad)
    assert cols.shape == (2, 3 * HH * WW, 4 * 4)
    x_pad = F.pad(x, (pad, pad, pad, pad))
    for n, i, j in [(0, 0, 0), (1, 2, 3), (1, 3, 1)]:
        window = x_pad[n, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
        assert torch.equal(cols[n, :, i * 4 + j], window.flatten()), (n, i, j)
    back = col2im(c, x.shape, HH, WW, stride, pad)
    assert back.shape == x.shape
    # <im2col(x), c> = <x, col2im(c)>: col2im is the transpose of the linear map im2col
    assert_close((cols * c).sum(), (x * back).sum(), 1e-12, "im2col / col2im adjoint")


@pytest.mark.parametrize("impl", ["fast", "naive"])
def test_conv_backward_passes_numerical_gradient_check(impl):
    forward, backward = FORWARDS[impl], BACKWARDS[impl]
    x, w, b = rng_arrays(0, (2, 3, 5, 5), (3, 3, 3, 3), (3,))
    conv_param = {"stride": 2, "pad": 1}
    out, cache = forward(x, w, b, conv_param)
    (dout,) = rng_arrays(1, out.shape)
    dx, dw, db = backward(dout, cache)
    num_dx = eval_numerical_gradient_array(lambda v: forward(v, w, b, conv_param)[0], x, dout)
    num_dw = eval_numerical_gradient_array(lambda v: forward(x, v, b, conv_param)[0], w, dout)
    num_db = eval_numerical_gradient_array(lambda v: forward(x, w, v, conv_param)[0], b, dout)
    assert_close(dx, num_dx, 1e-7, f"{impl} conv dx vs numerical")
    assert_close(dw, num_dw, 1e-7, f"{impl} conv dw vs numerical")
    assert_close(db, num_db, 1e-7, f"{impl} conv db vs numerical")


def test_conv_param_defaults_to_stride_1_pad_0():
    x, w, b = rng_arrays(3, (1, 2, 4, 4), (1, 2, 3, 3), (1,))
    out_default, _ = conv_forward(x, w, b, {})
    out_explicit, _ = conv_forward(x, w, b, {"stride": 1, "pad": 0})
    np.testing.assert_array_equal(out_default, out_explicit)


@pytest.mark.parametrize(
    ("H", "HH", "stride", "pad", "expected"),
    [
        (32, 5, 1, 0, 28),  # slide: 32x32x3 image, 5x5 filter
        (227, 11, 4, 0, 55),  # AlexNet CONV1
        (27, 5, 1, 2, 27),  # AlexNet CONV2
        (7, 3, 2, 0, 3),
        (7, 3, 1, 1, 7),
    ],
)
def test_conv_output_size_follows_the_formula(H, HH, stride, pad, expected):
    assert conv_output_size(H, HH, stride, pad) == expected, (H, HH, stride, pad)


def test_conv_output_size_error_shows_the_arithmetic():
    with pytest.raises(
        ValueError, match=r"\(H - HH \+ 2\*pad\)/stride \+ 1 = \(7 - 3 \+ 2\*0\)/3 \+ 1"
    ):
        conv_output_size(7, 3, 3, 0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_conv_runs_on_device_and_keeps_dtype(device, dtype):
    x, w, b = (
        torch.as_tensor(a, dtype=dtype, device=device)
        for a in rng_arrays(4, (2, 3, 6, 6), (4, 3, 3, 3), (4,))
    )
    out, cache = conv_forward(x, w, b, {"stride": 1, "pad": 1})
    dx, dw, db = conv_backward(torch.ones_like(out), cache)
    expected = F.conv2d(x, w, b, padding=1)
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    for t in (out, dx, dw, db):
        assert (t.device.type, t.dtype) == (device, dtype), (t.device, t.dtype)
    assert_close(out, expected, tol, f"conv on {device} in {dtype}")
