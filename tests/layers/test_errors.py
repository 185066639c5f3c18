"""Bad input raises ValueError or TypeError naming the argument, what was expected and what
came, never a bare IndexError from deep inside. One test per kind of mistake."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from cnncourse import layers as L

X = np.zeros((2, 3, 5, 5))
W = np.zeros((4, 3, 3, 3))
B = np.zeros(4)
POOL = {"pool_height": 2, "pool_width": 2, "stride": 1}


def test_wrong_ndim_names_the_argument_and_the_shape():
    with pytest.raises(
        ValueError, match=re.escape("x: expected a 4-D array (N, C, H, W), got shape (3, 5, 5)")
    ):
        L.conv_forward(X[0], W, B, {})


def test_channel_mismatch_names_both_channel_counts():
    with pytest.raises(
        ValueError, match=r"w: channel mismatch, w.shape\[1\] = 2 but x has C = x.shape\[1\] = 3"
    ):
        L.conv_forward(X, W[:, :2], B, {})


def test_non_whole_conv_output_size_shows_the_formula_with_the_numbers():
    with pytest.raises(
        ValueError, match=re.escape("(H - HH + 2*pad)/stride + 1 = (5 - 3 + 2*0)/3 + 1")
    ):
        L.conv_forward(X, W, B, {"stride": 3, "pad": 0})


def test_non_whole_pool_output_size_shows_the_formula_with_the_numbers():
    with pytest.raises(ValueError, match=re.escape("(H - pool_height)/stride + 1 = (5 - 2)/2 + 1")):
        L.max_pool_forward(X, {"pool_height": 2, "pool_width": 2, "stride": 2})


def test_stride_below_one_is_refused():
    with pytest.raises(
        ValueError, match=r"conv_param\['stride'\]: expected an integer >= 1, got 0"
    ):
        L.conv_forward(X, W, B, {"stride": 0})


def test_negative_pad_is_refused():
    with pytest.raises(ValueError, match=r"conv_param\['pad'\]: expected an integer >= 0, got -1"):
        L.conv_forward(X, W, B, {"pad": -1})


def test_non_integer_stride_is_a_type_error():
    with pytest.raises(
        TypeError, match=r"conv_param\['stride'\]: expected an integer >= 1, got float 1.5"
    ):
        L.conv_forward(X, W, B, {"stride": 1.5})


def test_unknown_parameter_key_is_refused_listing_the_allowed_ones():
    with pytest.raises(
        ValueError,
        match=r"conv_param: unknown key\(s\) \['padding'\]; allowed keys are \['pad', 'stride'\]",
    ):
        L.conv_forward(X, W, B, {"padding": 1})


def test_missing_pool_parameter_is_refused():
    with pytest.raises(ValueError, match=r"pool_param: missing key\(s\) \['stride'\]"):
        L.max_pool_forward(X, {"pool_height": 2, "pool_width": 2})


@pytest.mark.parametrize("keep_prob", [0.0, -0.1, 1.5, float("nan")])
def test_keep_prob_outside_zero_one_is_refused(keep_prob):
    with pytest.raises(
        ValueError, match=r"dropout_param\['keep_prob'\]: expected a number in \(0.0, 1.0\], got"
    ):
        L.dropout_forward(X, {"keep_prob": keep_prob, "mode": "train"})


@pytest.mark.parametrize(
    "call",
    [
        lambda: L.dropout_forward(X, {"keep_prob": 0.5, "mode": "training"}),
        lambda: L.batchnorm_forward(
            np.zeros((3, 2)), np.ones(2), np.zeros(2), {"mode": "training"}
        ),
    ],
    ids=["dropout", "batchnorm"],
)
def test_unknown_mode_is_refused(call):
    with pytest.raises(
        ValueError, match=r"\['mode'\]: expected one of \['train', 'test'\], got 'training'"
    ):
        call()


def test_mismatched_dtypes_name_the_argument_and_both_dtypes():
    with pytest.raises(
        TypeError, match=re.escape("w: expected dtype torch.float64 like x, got torch.float32")
    ):
        L.conv_forward(X, W.astype(np.float32), B, {})


def test_mismatched_devices_name_the_argument_and_both_devices():
    # the meta device stands in for a GPU: the check runs before any arithmetic
    x = torch.zeros(2, 3, 5, 5)
    w = torch.zeros(4, 3, 3, 3, device="meta")
    with pytest.raises(ValueError, match="w: expected a tensor on cpu like x, got meta"):
        L.conv_forward(x, w, torch.zeros(4), {})


def test_numpy_and_torch_mixed_is_refused():
    with pytest.raises(TypeError, match="w: expected a numpy array like x, got a torch tensor"):
        L.affine_forward(np.zeros((2, 3)), torch.zeros(3, 4, dtype=torch.float64), np.zeros(4))


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_integer_arrays_are_refused(kind):
    x = (
        np.zeros((2, 3), dtype=np.int64)
        if kind == "numpy"
        else torch.zeros(2, 3, dtype=torch.int64)
    )
    with pytest.raises(TypeError, match=r"x: expected a float32 or float64 array, got .*int64"):
        L.relu_forward(x)


def test_a_list_is_not_an_array():
    with pytest.raises(TypeError, match="x: expected a numpy array or a torch tensor, got list"):
        L.relu_forward([1.0, 2.0])


@pytest.mark.parametrize("loss", [L.softmax_loss, L.svm_loss])
@pytest.mark.parametrize("bad", [-1, 3])
def test_labels_out_of_range_are_refused(loss, bad):
    with pytest.raises(
        ValueError, match=rf"y: labels must lie in \[0, 3\) for C = 3 classes, got {bad}"
    ):
        loss(np.zeros((2, 3)), np.array([0, bad]))


def test_float_labels_are_refused():
    with pytest.raises(
        TypeError, match=re.escape("y: expected integer class labels, got dtype torch.float64")
    ):
        L.softmax_loss(np.zeros((2, 3)), np.array([0.0, 1.0]))


def test_label_count_must_match_the_batch():
    with pytest.raises(
        ValueError, match=r"y: expected shape \(2,\), one label per row of scores, got \(3,\)"
    ):
        L.svm_loss(np.zeros((2, 3)), np.array([0, 1, 2]))


def test_bias_of_the_wrong_length_is_refused():
    with pytest.raises(
        ValueError,
        match=r"b: expected shape \(4,\) \(one bias per filter, F = w.shape\[0\]\), got \(3,\)",
    ):
        L.conv_forward(X, W, B[:3], {})


def test_affine_weight_rows_must_match_the_flattened_input():
    with pytest.raises(ValueError, match=r"w: expected 75 rows, one per input number"):
        L.affine_forward(X, np.zeros((74, 2)), np.zeros(2))


def test_upstream_gradient_of_the_wrong_shape_is_refused():
    _, cache = L.max_pool_forward(X, POOL)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "dout: expected shape (2, 3, 4, 4) (the forward output's shape), got (2, 3, 5, 5)"
        ),
    ):
        L.max_pool_backward(X, cache)


def test_upstream_gradient_of_another_dtype_is_refused():
    _, cache = L.relu_forward(X)
    with pytest.raises(
        TypeError,
        match=re.escape(
            "dout: expected dtype torch.float64 like x in the cache, got torch.float32"
        ),
    ):
        L.relu_backward(X.astype(np.float32), cache)


def test_batchnorm_test_mode_without_running_statistics_is_refused():
    with pytest.raises(
        ValueError,
        match=r"bn_param\['running_mean'\]: test mode normalizes with the running statistics",
    ):
        L.batchnorm_forward(np.zeros((3, 2)), np.ones(2), np.zeros(2), {"mode": "test"})


def test_batchnorm_running_statistics_of_the_wrong_length_are_refused():
    bn_param = {"mode": "train", "running_mean": np.zeros(3), "running_var": np.zeros(2)}
    with pytest.raises(ValueError, match=r"bn_param\['running_mean'\]: expected shape \(2,\)"):
        L.batchnorm_forward(np.zeros((3, 2)), np.ones(2), np.zeros(2), bn_param)


def test_conv_output_size_refuses_a_kernel_larger_than_the_padded_input():
    with pytest.raises(ValueError, match=r"the HH=7 window is larger than the padded input \(6\)"):
        L.conv_output_size(4, 7, 1, 1)
