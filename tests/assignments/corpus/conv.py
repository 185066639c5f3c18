"""The conv assignment: output sizes, naive convolution and max pooling, conv as a matrix."""

from __future__ import annotations

from corpus.model import Assignment, Bug

OUTPUT_SIZE = [
    # integer arithmetic, both checks up front
    """
def conv_output_size(H, HH, stride, pad):
    span = H + 2 * pad - HH
    if span < 0 or span % stride != 0:
        raise ValueError(f"filter {HH} with stride {stride}, pad {pad} does not fit {H}")
    return span // stride + 1
""",
    # divmod
    """
def conv_output_size(H, HH, stride, pad):
    steps, rest = divmod(H - HH + 2 * pad, stride)
    if rest or steps < 0:
        raise ValueError("the filter does not tile the padded input")
    return int(steps) + 1
""",
    # float division, then is_integer
    """
def conv_output_size(H, HH, stride, pad):
    size = (H - HH + 2 * pad) / stride + 1
    if size < 1:
        raise ValueError("filter larger than the padded input")
    if not float(size).is_integer():
        raise ValueError(f"output size {size} is not an integer")
    return int(size)
""",
    # counting window positions with a loop
    """
def conv_output_size(H, HH, stride, pad):
    padded = H + 2 * pad
    positions = 0
    start = 0
    while start + HH <= padded:
        positions += 1
        last_end = start + HH
        start += stride
    if positions == 0 or last_end != padded:
        raise ValueError("windows do not cover the padded input exactly")
    return positions
""",
    # numpy integers, returned as a numpy int
    """
import numpy as np


def conv_output_size(H, HH, stride, pad):
    span = np.int64(H) - HH + 2 * pad
    if span < 0:
        raise ValueError("kernel does not fit")
    if np.remainder(span, stride) != 0:
        raise ValueError("stride does not divide the span")
    return np.floor_divide(span, stride) + 1
""",
]

ALEXNET = [
    "conv1_out = (227 - 11) // 4 + 1\nconv1_weights = 11 * 11 * 3 * 96\n",
    "conv1_out = conv_output_size(227, 11, 4, 0)\nconv1_weights = 96 * (3 * 11 * 11)\n",
    "conv1_out = int((227 - 11 + 2 * 0) / 4 + 1)\nconv1_weights = int(np.prod([11, 11, 3, 96]))\n",
    "conv1_out = 55\nconv1_weights = 34848\n",
    "import math\n\nconv1_out = math.floor((227 - 11) / 4) + 1\n"
    "conv1_weights = np.prod((96, 3, 11, 11))\n",
]

ONEBYONE = [
    "onebyone_out_shape = (32, 56, 56)\nonebyone_params = 64 * 32 + 32\n",
    "onebyone_out_shape = [32, 56, 56]\nonebyone_params = 32 * (1 * 1 * 64 + 1)\n",
    "onebyone_out_shape = np.array([32, 56, 56])\nonebyone_params = 2080\n",
    "F, C, H = 32, 64, 56\nonebyone_out_shape = (F, H, H)\nonebyone_params = F * C + F\n",
    "onebyone_out_shape = tuple(np.zeros((32, 56, 56)).shape)\n"
    "onebyone_params = int(np.prod((32, 64, 1, 1))) + 32\n",
]

CONV_FORWARD = [
    # loops over output positions, einsum over the window; cache as a dict
    """
def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho = conv_output_size(H, HH, stride, pad)
    Wo = conv_output_size(W, WW, stride, pad)
    xp = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)], mode="constant")
    out = np.empty((N, F, Ho, Wo), dtype=x.dtype)
    for i in range(Ho):
        for j in range(Wo):
            patch = xp[:, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
            out[:, :, i, j] = np.einsum("nchw,fchw->nf", patch, w) + b
    cache = {"x": x, "w": w, "b": b, "stride": stride, "pad": pad}
    return out, cache
""",
    # im2col, one matrix product; cache as a small object
    """
class ConvCache:
    def __init__(self, x_shape, cols, w, stride, pad):
        self.x_shape, self.cols, self.w, self.stride, self.pad = x_shape, cols, w, stride, pad


def im2col(xp, HH, WW, stride, Ho, Wo):
    N, C = xp.shape[:2]
    cols = np.zeros((N, C, HH, WW, Ho, Wo), dtype=xp.dtype)
    for k in range(HH):
        for l in range(WW):
            cols[:, :, k, l] = xp[:, :, k : k + stride * Ho : stride, l : l + stride * Wo : stride]
    return cols.reshape(N, C * HH * WW, Ho * Wo)


def conv_forward_naive(x, w, b, conv_param):
    stride = conv_param.get("stride", 1)
    pad = conv_param.get("pad", 0)
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho = (H + 2 * pad - HH) // stride + 1
    Wo = (W + 2 * pad - WW) // stride + 1
    xp = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=x.dtype)
    xp[:, :, pad : pad + H, pad : pad + W] = x
    cols = im2col(xp, HH, WW, stride, Ho, Wo)
    out = w.reshape(F, -1) @ cols + b.reshape(F, 1)
    out = out.reshape(N, F, Ho, Wo)
    return out, ConvCache(x.shape, cols, w, stride, pad)
""",
    # sliding_window_view and one einsum; cache as a tuple of the padded input
    """
from numpy.lib.stride_tricks import sliding_window_view


def conv_forward_naive(x, w, b, conv_param):
    s, p = conv_param["stride"], conv_param["pad"]
    F, C, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    windows = sliding_window_view(xp, (HH, WW), axis=(2, 3))[:, :, ::s, ::s]
    out = np.einsum("nchwkl,fckl->nfhw", windows, w, optimize=True)
    out += b[None, :, None, None]
    cache = (xp, w, b, s, p)
    return out, cache
""",
    # four loops, tensordot per image and filter; cache as a list; float32 stays float32
    """
def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
    out = np.zeros((N, F, H_out, W_out), dtype=np.result_type(x, w))
    for n in range(N):
        xn = np.pad(x[n], ((0, 0), (pad, pad), (pad, pad)))
        for f in range(F):
            for r in range(H_out):
                for c in range(W_out):
                    h0, w0 = r * stride, c * stride
                    region = xn[:, h0 : h0 + HH, w0 : w0 + WW]
                    out[n, f, r, c] = np.tensordot(region, w[f], axes=3) + b[f]
    cache = [x, w, b, conv_param]
    return out, cache
""",
    # float64 accumulation cast back to the input's dtype; cache as a namedtuple
    """
from collections import namedtuple

Cache = namedtuple("Cache", "x w b stride pad")


def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho = conv_output_size(H, HH, stride, pad)
    Wo = conv_output_size(W, WW, stride, pad)
    x64 = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    w_rows = w.astype(np.float64).reshape(F, -1)
    out = np.empty((N, F, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            patch = x64[:, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
            out[:, :, i, j] = patch.reshape(N, -1) @ w_rows.T + b
    return out.astype(x.dtype), Cache(x, w, b, stride, pad)
""",
]

CONV_BACKWARD = [
    """
def conv_backward_naive(dout, cache):
    x, w, stride, pad = cache["x"], cache["w"], cache["stride"], cache["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = dout.shape[2:]
    xp = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)], mode="constant")
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for i in range(Ho):
        for j in range(Wo):
            rows = slice(i * stride, i * stride + HH)
            cols = slice(j * stride, j * stride + WW)
            g = dout[:, :, i, j]
            dxp[:, :, rows, cols] += np.einsum("nf,fchw->nchw", g, w)
            dw += np.einsum("nf,nchw->fchw", g, xp[:, :, rows, cols])
    db = dout.sum(axis=(0, 2, 3))
    dx = dxp[:, :, pad : pad + H, pad : pad + W]
    return dx, dw, db
""",
    """
def conv_backward_naive(dout, cache):
    N, C, H, W = cache.x_shape
    w, stride, pad = cache.w, cache.stride, cache.pad
    F, _, HH, WW = w.shape
    Ho, Wo = dout.shape[2], dout.shape[3]
    d = dout.reshape(N, F, Ho * Wo)
    dw = np.einsum("nfp,nkp->fk", d, cache.cols).reshape(w.shape)
    db = d.sum(axis=(0, 2))
    dcols = (w.reshape(F, -1).T @ d).reshape(N, C, HH, WW, Ho, Wo)
    dxp = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=dout.dtype)
    for k in range(HH):
        for l in range(WW):
            rows = slice(k, k + stride * Ho, stride)
            cols = slice(l, l + stride * Wo, stride)
            dxp[:, :, rows, cols] += dcols[:, :, k, l]
    return dxp[:, :, pad : pad + H, pad : pad + W], dw, db
""",
    """
def conv_backward_naive(dout, cache):
    xp, w, b, s, p = cache
    F, C, HH, WW = w.shape
    Ho, Wo = dout.shape[2:]
    windows = sliding_window_view(xp, (HH, WW), axis=(2, 3))[:, :, ::s, ::s]
    dw = np.einsum("nfhw,nchwkl->fckl", dout, windows, optimize=True)
    db = np.einsum("nfhw->f", dout)
    dxp = np.zeros_like(xp)
    for k in range(HH):
        for l in range(WW):
            dxp[:, :, k : k + s * (Ho - 1) + 1 : s, l : l + s * (Wo - 1) + 1 : s] += np.einsum(
                "nfhw,fc->nchw", dout, w[:, :, k, l]
            )
    H, W = xp.shape[2] - 2 * p, xp.shape[3] - 2 * p
    return dxp[:, :, p : p + H, p : p + W].copy(), dw, db
""",
    """
def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    dx = np.zeros_like(x)
    dw = np.zeros_like(w)
    db = np.zeros_like(b)
    for n in range(N):
        xn = np.pad(x[n], ((0, 0), (pad, pad), (pad, pad)))
        dxn = np.zeros_like(xn)
        for f in range(F):
            db[f] += dout[n, f].sum()
            for r in range(H_out):
                for c in range(W_out):
                    h0, w0 = r * stride, c * stride
                    g = dout[n, f, r, c]
                    dw[f] += g * xn[:, h0 : h0 + HH, w0 : w0 + WW]
                    dxn[:, h0 : h0 + HH, w0 : w0 + WW] += g * w[f]
        dx[n] = dxn[:, pad : pad + H, pad : pad + W]
    return dx, dw, db
""",
    # dx as a transposed convolution: dilate dout, pad it, correlate with the flipped kernel
    """
def conv_backward_naive(dout, cache):
    x, w, b, stride, pad = cache
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = dout.shape[2:]
    d64 = dout.astype(np.float64)
    x64 = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dw = np.zeros((F, C, HH, WW))
    for i in range(Ho):
        for j in range(Wo):
            patch = x64[:, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
            dw += np.tensordot(d64[:, :, i, j], patch, axes=(0, 0))
    dilated = np.zeros((N, F, (Ho - 1) * stride + 1, (Wo - 1) * stride + 1))
    dilated[:, :, ::stride, ::stride] = d64
    full = np.pad(dilated, ((0, 0), (0, 0), (HH - 1, HH - 1), (WW - 1, WW - 1)))
    flipped = w.astype(np.float64)[:, :, ::-1, ::-1]
    Hp, Wp = H + 2 * pad, W + 2 * pad
    dxp = np.zeros((N, C, Hp, Wp))
    for r in range(Hp):
        for c in range(Wp):
            window = full[:, :, r : r + HH, c : c + WW]
            dxp[:, :, r, c] = np.einsum("nfkl,fckl->nc", window, flipped)
    dx = dxp[:, :, pad : pad + H, pad : pad + W]
    db = d64.sum(axis=(0, 2, 3))
    return dx.astype(x.dtype), dw.astype(w.dtype), db.astype(b.dtype)
""",
]

POOL_FORWARD = [
    # four loops; cache as a tuple
    """
def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    Ho, Wo = (H - ph) // s + 1, (W - pw) // s + 1
    out = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, c, i, j] = np.max(x[n, c, i * s : i * s + ph, j * s : j * s + pw])
    cache = (x, pool_param)
    return out, cache
""",
    # reshape trick for tiling windows, loops otherwise; cache as a dict with a mask
    """
def max_pool_forward_naive(x, pool_param):
    ph = pool_param["pool_height"]
    pw = pool_param["pool_width"]
    stride = pool_param["stride"]
    N, C, H, W = x.shape
    Ho = conv_output_size(H, ph, stride, 0)
    Wo = conv_output_size(W, pw, stride, 0)
    if ph == pw == stride and H % ph == 0 and W % pw == 0:
        blocks = x.reshape(N, C, Ho, ph, Wo, pw)
        out = blocks.max(axis=(3, 5))
    else:
        out = np.empty((N, C, Ho, Wo), dtype=x.dtype)
        for i in range(Ho):
            for j in range(Wo):
                hs, ws = i * stride, j * stride
                out[:, :, i, j] = x[:, :, hs : hs + ph, ws : ws + pw].max(axis=(2, 3))
    return out, {"x": x, "ph": ph, "pw": pw, "stride": stride}
""",
    # sliding_window_view; the cache keeps the output too
    """
from numpy.lib.stride_tricks import sliding_window_view as _windows


def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    win = _windows(x, (ph, pw), axis=(2, 3))[:, :, ::s, ::s]
    out = win.max(axis=(-2, -1))
    return out, (x, pool_param, out)
""",
    # flattened windows and argmax, indices kept in an object
    """
class PoolCache:
    pass


def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    Ho, Wo = 1 + (H - ph) // s, 1 + (W - pw) // s
    out = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
    where = np.zeros((N, C, Ho, Wo), dtype=np.int64)
    for i in range(Ho):
        for j in range(Wo):
            flat = x[:, :, i * s : i * s + ph, j * s : j * s + pw].reshape(N, C, -1)
            where[:, :, i, j] = flat.argmax(axis=2)
            out[:, :, i, j] = flat.max(axis=2)
    cache = PoolCache()
    cache.shape, cache.where, cache.ph, cache.pw, cache.s = x.shape, where, ph, pw, s
    return out, cache
""",
    # loops with np.amax and a list cache, written for any dtype
    """
def max_pool_forward_naive(x, pool_param):
    pool_h = pool_param.get("pool_height", 2)
    pool_w = pool_param.get("pool_width", 2)
    stride = pool_param.get("stride", 2)
    N, C, H, W = x.shape
    out_h = int((H - pool_h) / stride) + 1
    out_w = int((W - pool_w) / stride) + 1
    out = np.full((N, C, out_h, out_w), -np.inf, dtype=x.dtype)
    for a in range(pool_h):
        for c in range(pool_w):
            shifted = x[:, :, a : a + stride * (out_h - 1) + 1 : stride,
                        c : c + stride * (out_w - 1) + 1 : stride]
            out = np.maximum(out, shifted)
    return out, [x, pool_h, pool_w, stride]
""",
]

POOL_BACKWARD = [
    """
def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, Ho, Wo = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    win = x[n, c, i * s : i * s + ph, j * s : j * s + pw]
                    r, q = divmod(int(np.argmax(win)), pw)
                    dx[n, c, i * s + r, j * s + q] += dout[n, c, i, j]
    return dx
""",
    # a mask of the window's maximum (no ties in real-valued inputs)
    """
def max_pool_backward_naive(dout, cache):
    x, ph, pw, stride = cache["x"], cache["ph"], cache["pw"], cache["stride"]
    dx = np.zeros(x.shape, dtype=dout.dtype)
    _, _, Ho, Wo = dout.shape
    for i in range(Ho):
        for j in range(Wo):
            hs, ws = i * stride, j * stride
            win = x[:, :, hs : hs + ph, ws : ws + pw]
            mask = win == win.max(axis=(2, 3), keepdims=True)
            dx[:, :, hs : hs + ph, ws : ws + pw] += mask * dout[:, :, i, j][:, :, None, None]
    return dx
""",
    # np.add.at with the flat index of every window's maximum
    """
def max_pool_backward_naive(dout, cache):
    x, pool_param, out = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    Ho, Wo = out.shape[2:]
    win = _windows(x, (ph, pw), axis=(2, 3))[:, :, ::s, ::s].reshape(N, C, Ho, Wo, -1)
    arg = win.argmax(axis=-1)
    rows = np.arange(Ho)[:, None] * s + arg // pw
    cols = np.arange(Wo)[None, :] * s + arg % pw
    n = np.arange(N)[:, None, None, None]
    c = np.arange(C)[None, :, None, None]
    dx = np.zeros_like(x)
    np.add.at(dx, (n, c, rows, cols), dout)
    return dx
""",
    """
def max_pool_backward_naive(dout, cache):
    N, C, H, W = cache.shape
    dx = np.zeros((N, C, H, W), dtype=dout.dtype)
    Ho, Wo = dout.shape[2:]
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    k = cache.where[n, c, i, j]
                    dx[n, c, i * cache.s + k // cache.pw, j * cache.s + k % cache.pw] += dout[
                        n, c, i, j
                    ]
    return dx
""",
    """
def max_pool_backward_naive(dout, cache):
    x, pool_h, pool_w, stride = cache
    dx = np.zeros_like(x)
    N, C, out_h, out_w = dout.shape
    for i in range(out_h):
        for j in range(out_w):
            window = x[:, :, i * stride : i * stride + pool_h, j * stride : j * stride + pool_w]
            flat = window.reshape(N * C, -1)
            best = np.argmax(flat, axis=1)
            onehot = np.zeros_like(flat)
            onehot[np.arange(N * C), best] = 1
            grad = onehot * dout[:, :, i, j].reshape(-1, 1)
            dx[:, :, i * stride : i * stride + pool_h, j * stride : j * stride + pool_w] += (
                grad.reshape(window.shape)
            )
    return dx
""",
]

AS_MATRIX = [
    """
def conv_as_matrix(w, H, W):
    HH, WW = w.shape
    Ho, Wo = H - HH + 1, W - WW + 1
    M = np.zeros((H * W, Ho * Wo))
    for i in range(Ho):
        for j in range(Wo):
            for k in range(HH):
                for l in range(WW):
                    M[(i + k) * W + (j + l), i * Wo + j] = w[k, l]
    return M
""",
    # row p is the convolution of the p-th unit image
    """
from numpy.lib.stride_tricks import sliding_window_view as swv


def conv_as_matrix(w, H, W):
    HH, WW = w.shape
    rows = []
    for p in range(H * W):
        unit = np.zeros(H * W)
        unit[p] = 1.0
        response = np.einsum("ijkl,kl->ij", swv(unit.reshape(H, W), (HH, WW)), w)
        rows.append(response.ravel())
    return np.array(rows)
""",
    # vectorised scatter with index arrays
    """
def conv_as_matrix(w, H, W):
    HH, WW = w.shape
    Ho, Wo = H - HH + 1, W - WW + 1
    i, j, k, l = np.meshgrid(np.arange(Ho), np.arange(Wo), np.arange(HH), np.arange(WW),
                             indexing="ij")
    M = np.zeros((H * W, Ho * Wo), dtype=w.dtype)
    M[((i + k) * W + j + l).ravel(), (i * Wo + j).ravel()] = np.broadcast_to(w, i.shape).ravel()
    return M
""",
    # the kernel padded to the image, shifted with np.roll
    """
def conv_as_matrix(w, H, W):
    HH, WW = w.shape
    Ho, Wo = H - HH + 1, W - WW + 1
    canvas = np.zeros((H, W))
    canvas[:HH, :WW] = w
    columns = [np.roll(canvas, (i, j), axis=(0, 1)).ravel() for i in range(Ho) for j in range(Wo)]
    return np.stack(columns, axis=1)
""",
    # Kronecker-style: a 1-D Toeplitz block per kernel row
    """
def conv_as_matrix(w, H, W):
    HH, WW = w.shape
    Ho, Wo = H - HH + 1, W - WW + 1
    M = np.zeros((H, W, Ho, Wo), dtype=float)
    for i in range(Ho):
        for j in range(Wo):
            M[i : i + HH, j : j + WW, i, j] = w
    return M.reshape(H * W, Ho * Wo)
""",
]

FWD, BWD = "ans_conv_forward", "ans_conv_backward"
PFWD, PBWD = "ans_max_pool_forward", "ans_max_pool_backward"

BUGS = (
    # ------------------------------------------------------------ conv_output_size
    Bug(
        "size_pad_once",
        "ans_conv_output_size",
        "pads one side only: (H - HH + pad) / stride + 1; right whenever pad is 0, wrong "
        "(or a ValueError) with padding, also in the solution's conv_forward_naive, which "
        "calls it (the backward test gets its cache from there: a ValueError at stride 2)",
        tests=frozenset(
            {
                "test_output_size_values",
                "test_conv_forward_padding",
                "test_conv_forward_float32",
                "test_conv_backward_float32",
            }
        ),
        base=0,
        edits=(("span = H + 2 * pad - HH", "span = H + pad - HH"),),
    ),
    Bug(
        "size_float",
        "ans_conv_output_size",
        "returns (H - HH + 2 pad) / stride + 1 as a float (28.0); the cell asks for an int, "
        "and the solution's conv and pooling, which call it, cannot build arrays of that size "
        "(it still raises ValueError where it should)",
        cells=frozenset(
            {
                "conv_forward",
                "conv_backward",
                "max_pool_forward",
                "max_pool_backward",
            }
        ),
        tests=frozenset({"test_output_size_values"}),
        base=2,
        edits=(("return int(size)", "return size"),),
    ),
    Bug(
        "size_no_value_error",
        "ans_conv_output_size",
        "floors a stride that does not divide the span instead of raising ValueError",
        tests=frozenset({"test_output_size_raises"}),
        base=1,
        edits=(("if rest or steps < 0:", "if steps < 0:"),),
    ),
    Bug(
        "size_missing_plus_one",
        "ans_conv_output_size",
        "forgets the + 1 (counts strides, not positions); the solution's conv and pooling "
        "forward passes call it, so their outputs are one row and column short (the backward "
        "passes read the sizes from dout and stay right)",
        cells=frozenset({"conv_forward", "max_pool_forward"}),
        tests=frozenset({"test_output_size_values"}),
        base=4,
        edits=(("np.floor_divide(span, stride) + 1", "np.floor_divide(span, stride)"),),
    ),
    # ------------------------------------------------------------ alexnet / 1x1 numbers
    Bug(
        "alexnet_weights_no_channels",
        "ans_alexnet",
        "counts 11 x 11 weights per filter, forgetting the 3 input channels",
        tests=frozenset({"test_alexnet_conv1_weights"}),
        base=0,
        edits=(("11 * 11 * 3 * 96", "11 * 11 * 96"),),
    ),
    Bug(
        "alexnet_out_pads",
        "ans_alexnet",
        "uses a pad of 2 as if the input were 224 wide: conv1_out = 56",
        tests=frozenset({"test_alexnet_conv1_out"}),
        base=1,
        edits=(("conv_output_size(227, 11, 4, 0)", "(227 - 11 + 4) // 4 + 1"),),
    ),
    Bug(
        "alexnet_weights_with_bias",
        "ans_alexnet",
        "counts the 96 biases among the weights",
        tests=frozenset({"test_alexnet_conv1_weights"}),
        base=3,
        edits=(("conv1_weights = 34848", "conv1_weights = 34848 + 96"),),
    ),
    Bug(
        "onebyone_channels_last",
        "ans_onebyone",
        "writes the output shape channels-last (56, 56, 32)",
        tests=frozenset({"test_onebyone_shape"}),
        base=0,
        edits=(("(32, 56, 56)", "(56, 56, 32)"),),
    ),
    Bug(
        "onebyone_no_bias",
        "ans_onebyone",
        "counts the weights but not the 32 biases",
        tests=frozenset({"test_onebyone_params"}),
        base=3,
        edits=(("F * C + F", "F * C"),),
    ),
    Bug(
        "onebyone_params_of_one_filter",
        "ans_onebyone",
        "gives the parameters of one filter (64 + 1)",
        tests=frozenset({"test_onebyone_params"}),
        base=1,
        edits=(("32 * (1 * 1 * 64 + 1)", "1 * 1 * 64 + 1"),),
    ),
    # ------------------------------------------------------------ conv forward
    Bug(
        "conv_no_bias",
        FWD,
        "never adds the bias",
        cells=frozenset({"conv_forward"}),
        base=0,
        edits=(
            ('np.einsum("nchw,fchw->nf", patch, w) + b', 'np.einsum("nchw,fchw->nf", patch, w)'),
        ),
    ),
    Bug(
        "conv_output_one_short",
        FWD,
        "an off-by-one in the output size ((H + 2 pad - HH) // stride, no + 1): every output "
        "is one row and one column short (and the backward pass, which reads this style's "
        "im2col columns from the cache, fails too)",
        cells=frozenset({"conv_forward", "conv_backward"}),
        base=1,
        edits=(
            ("Ho = (H + 2 * pad - HH) // stride + 1", "Ho = (H + 2 * pad - HH) // stride"),
            ("Wo = (W + 2 * pad - WW) // stride + 1", "Wo = (W + 2 * pad - WW) // stride"),
        ),
    ),
    Bug(
        "conv_flips_kernel",
        FWD,
        "computes a true convolution (kernel flipped) instead of the cross-correlation CNNs use",
        cells=frozenset({"conv_forward"}),
        base=2,
        edits=(("windows, w, optimize=True)", "windows, w[:, :, ::-1, ::-1], optimize=True)"),),
    ),
    Bug(
        "conv_ignores_padding",
        FWD,
        "never pads the input (the output size too is computed without the padding): every "
        "case with pad > 0 is wrong, the unpadded ones are right",
        tests=frozenset({"test_conv_forward_padding", "test_conv_forward_float32"}),
        source="""
def conv_forward_naive(x, w, b, conv_param):
    stride = conv_param.get("stride", 1)
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = (H - HH) // stride + 1
    W_out = (W - WW) // stride + 1
    out = np.zeros((N, F, H_out, W_out), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    cache = (x, w, b, conv_param)
    return out, cache
""",
    ),
    Bug(
        "conv_ignores_stride",
        FWD,
        "slides the window by one whatever the stride (sizes right, values wrong for stride 2)",
        cells=frozenset({"conv_forward"}),
        base=3,
        edits=(("h0, w0 = r * stride, c * stride", "h0, w0 = r, c"),),
    ),
    # ------------------------------------------------------------ conv backward
    Bug(
        "conv_backward_no_db",
        BWD,
        "returns a zero bias gradient",
        cells=frozenset({"conv_backward"}),
        base=3,
        edits=(("            db[f] += dout[n, f].sum()\n", ""),),
    ),
    Bug(
        "conv_backward_keeps_padding",
        BWD,
        "returns the gradient of the padded input (the padding not cut off): right only "
        "where pad is 0",
        tests=frozenset({"test_conv_backward_padding", "test_conv_backward_float32"}),
        edits=(
            (
                "    dx = dx_pad[:, :, pad : pad + x.shape[2], pad : pad + x.shape[3]]\n",
                "    dx = dx_pad\n",
            ),
        ),
    ),
    Bug(
        "conv_backward_dw_unpadded",
        BWD,
        "takes dw's windows from the unpadded input, shifted by the padding",
        tests=frozenset({"test_conv_backward_padding", "test_conv_backward_float32"}),
        base=0,
        edits=(
            (
                'np.einsum("nf,nchw->fchw", g, xp[:, :, rows, cols])',
                'np.einsum("nf,nchw->fchw", g, np.pad(x, [(0, 0), (0, 0), (0, 2 * pad), '
                "(0, 2 * pad)])[:, :, rows, cols])",
            ),
        ),
    ),
    Bug(
        "conv_backward_db_per_position",
        BWD,
        "sums dout for db over the batch only, giving an (F, H', W') array",
        cells=frozenset({"conv_backward"}),
        base=1,
        edits=(("db = d.sum(axis=(0, 2))", "db = dout.sum(axis=0)"),),
    ),
    # ------------------------------------------------------------ max pool forward
    Bug(
        "pool_average",
        PFWD,
        "average pooling instead of max pooling",
        cells=frozenset({"max_pool_forward"}),
        base=0,
        edits=(("np.max(x[n, c,", "np.mean(x[n, c,"),),
    ),
    Bug(
        "pool_window_steps_by_size",
        PFWD,
        "moves the window by its own size instead of the stride: right when they are equal "
        "(this style's backward pass routes through the argmax indices it cached)",
        tests=frozenset(
            {
                "test_max_pool_forward_overlapping_nonsquare",
                "test_max_pool_forward_float32",
                "test_max_pool_backward_overlapping_nonsquare",
                "test_max_pool_backward_float32",
            }
        ),
        base=3,
        edits=(
            (
                "x[:, :, i * s : i * s + ph, j * s : j * s + pw]",
                "x[:, :, i * ph : i * ph + ph, j * pw : j * pw + pw]",
            ),
        ),
    ),
    Bug(
        "pool_over_channels",
        PFWD,
        "takes the maximum over the channels too, as if pooling were across depth",
        cells=frozenset({"max_pool_forward"}),
        base=1,
        edits=(
            (
                "out = blocks.max(axis=(3, 5))",
                "out = blocks.max(axis=(1, 3, 5), keepdims=True)[:, :, :, 0, :, 0]"
                ".repeat(C, axis=1)",
            ),
            ("].max(axis=(2, 3))", "].max(axis=(1, 2, 3))[:, None]"),
        ),
    ),
    # ------------------------------------------------------------ max pool backward
    Bug(
        "pool_backward_whole_window",
        PBWD,
        "sends the gradient to every element of the window, not only to its maximum",
        cells=frozenset({"max_pool_backward"}),
        base=1,
        edits=(
            (
                "mask = win == win.max(axis=(2, 3), keepdims=True)",
                "mask = np.ones_like(win, dtype=bool)",
            ),
        ),
    ),
    Bug(
        "pool_backward_assigns",
        PBWD,
        "assigns (=) instead of adding (+=), so overlapping windows overwrite each other's "
        "gradient; right where windows do not overlap",
        tests=frozenset(
            {"test_max_pool_backward_overlapping_nonsquare", "test_max_pool_backward_float32"}
        ),
        base=0,
        edits=(
            ("dx[n, c, i * s + r, j * s + q] += dout", "dx[n, c, i * s + r, j * s + q] = dout"),
        ),
    ),
    Bug(
        "pool_backward_averages",
        PBWD,
        "spreads dout / (ph * pw) over the window, the gradient of average pooling",
        cells=frozenset({"max_pool_backward"}),
        base=4,
        edits=(("onehot[np.arange(N * C), best] = 1", "onehot[:] = 1 / (pool_h * pool_w)"),),
    ),
    # ------------------------------------------------------------ conv as a matrix
    Bug(
        "matrix_transposed",
        "ans_conv_as_matrix",
        "returns the (H'W', HW) transpose",
        cells=frozenset({"conv_as_matrix"}),
        base=0,
        edits=(("    return M\n", "    return M.T\n"),),
    ),
    Bug(
        "matrix_flipped_kernel",
        "ans_conv_as_matrix",
        "places the kernel flipped (a true convolution)",
        cells=frozenset({"conv_as_matrix"}),
        base=4,
        edits=(
            (
                "M[i : i + HH, j : j + WW, i, j] = w",
                "M[i : i + HH, j : j + WW, i, j] = w[::-1, ::-1]",
            ),
        ),
    ),
    Bug(
        "matrix_columns_column_major",
        "ans_conv_as_matrix",
        "numbers the output positions column by column (j * H' + i)",
        cells=frozenset({"conv_as_matrix"}),
        base=3,
        edits=(
            ("for i in range(Ho) for j in range(Wo)]", "for j in range(Wo) for i in range(Ho)]"),
        ),
    ),
)

ASSIGNMENT = Assignment(
    name="conv",
    styles={
        "ans_conv_output_size": OUTPUT_SIZE,
        "ans_alexnet": ALEXNET,
        FWD: CONV_FORWARD,
        BWD: CONV_BACKWARD,
        PFWD: POOL_FORWARD,
        PBWD: POOL_BACKWARD,
        "ans_onebyone": ONEBYONE,
        "ans_conv_as_matrix": AS_MATRIX,
    },
    groups=((FWD, BWD), (PFWD, PBWD)),
    bugs=BUGS,
    combos=(
        ("conv_no_bias", "pool_backward_whole_window"),
        ("conv_backward_no_db", "matrix_transposed"),
        ("pool_average", "onebyone_no_bias"),
        ("size_no_value_error", "conv_flips_kernel"),
        ("size_float", "onebyone_no_bias"),
    ),
    mixes=5,
)
