"""Convolution forward + backward: the course's fast reference against two peers.

Implementations, each timed in its own subprocess (torch and numpy timed in one process
disturb each other):

- ``reference``: ``cnncourse.layers.conv_forward`` + ``conv_backward`` (im2col + GEMM, torch);
- ``torch``: ``torch.nn.functional.conv2d`` and its autograd backward;
- ``numpy``: the usual course implementation, written out below: im2col by fancy indexing,
  ``np.dot``, and col2im with ``np.add.at`` (as in the CS231n assignments' ``im2col.py``).

Shapes (N, C, H, W, F, HH, stride, pad): the slides' CIFAR-sized layers and AlexNet's
CONV1, in float32 and float64. Each cell is the median of several runs after a warm-up,
with the spread (min-max) shown. Prints reference/torch (target <= 1.5) and
numpy/reference (target >= 2).

    python benchmarks/bench_conv.py            # about 3 minutes
    python benchmarks/bench_conv.py --quick    # fewer runs
    python benchmarks/bench_conv.py --threads 1   # one thread each: fairer on a busy machine

This is not a test: timings on a shared machine drift 20-40 % between rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SHAPES = [
    # N, C, H, W, F, HH, stride, pad
    (64, 3, 32, 32, 32, 3, 1, 1),
    (64, 32, 16, 16, 64, 3, 1, 1),
    (16, 3, 227, 227, 96, 11, 4, 0),
]
IMPLEMENTATIONS = ("reference", "torch", "numpy")
DTYPES = ("float32", "float64")


# --- the numpy peer: the usual course im2col ------------------------------------------------


def _im2col_indices(x_shape, HH, WW, pad, stride):
    import numpy as np

    N, C, H, W = x_shape
    H_out = (H + 2 * pad - HH) // stride + 1
    W_out = (W + 2 * pad - WW) // stride + 1
    i0 = np.tile(np.repeat(np.arange(HH), WW), C)
    i1 = stride * np.repeat(np.arange(H_out), W_out)
    j0 = np.tile(np.arange(WW), HH * C)
    j1 = stride * np.tile(np.arange(W_out), H_out)
    i = i0.reshape(-1, 1) + i1.reshape(1, -1)
    j = j0.reshape(-1, 1) + j1.reshape(1, -1)
    k = np.repeat(np.arange(C), HH * WW).reshape(-1, 1)
    return k, i, j, H_out, W_out


def numpy_conv_forward(x, w, b, stride, pad):
    import numpy as np

    N = x.shape[0]
    F_, _, HH, WW = w.shape
    k, i, j, H_out, W_out = _im2col_indices(x.shape, HH, WW, pad, stride)
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    cols = x_pad[:, k, i, j].transpose(1, 2, 0).reshape(k.shape[0], -1)  # (C*HH*WW, L*N)
    out = (w.reshape(F_, -1) @ cols + b.reshape(-1, 1)).reshape(F_, H_out, W_out, N)
    return out.transpose(3, 0, 1, 2), (x, w, cols, stride, pad)


def numpy_conv_backward(dout, cache):
    import numpy as np

    x, w, cols, stride, pad = cache
    N, C, H, W = x.shape
    F_, _, HH, WW = w.shape
    db = dout.sum(axis=(0, 2, 3))
    dout_mat = dout.transpose(1, 2, 3, 0).reshape(F_, -1)
    dw = (dout_mat @ cols.T).reshape(w.shape)
    dcols = w.reshape(F_, -1).T @ dout_mat
    k, i, j, _, _ = _im2col_indices(x.shape, HH, WW, pad, stride)
    dx_pad = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=x.dtype)
    np.add.at(dx_pad, (slice(None), k, i, j), dcols.reshape(C * HH * WW, -1, N).transpose(2, 0, 1))
    return dx_pad[:, :, pad : pad + H, pad : pad + W], dw, db


# --- one implementation, in a child process -------------------------------------------------


def _make_step(impl, dtype, shape):
    import numpy as np

    N, C, H, W, F_, K, stride, pad = shape
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in ((N, C, H, W), (F_, C, K, K), (F_,)))
    if impl == "numpy":

        def step():
            out, cache = numpy_conv_forward(x, w, b, stride, pad)
            numpy_conv_backward(np.ones_like(out), cache)

        return step
    import torch

    xt, wt, bt = (torch.from_numpy(a) for a in (x, w, b))
    if impl == "reference":
        from cnncourse.layers import conv_backward, conv_forward

        def step():
            out, cache = conv_forward(xt, wt, bt, {"stride": stride, "pad": pad})
            conv_backward(torch.ones_like(out), cache)

        return step
    xg, wg, bg = (t.clone().requires_grad_() for t in (xt, wt, bt))

    def step():
        out = torch.nn.functional.conv2d(xg, wg, bg, stride=stride, padding=pad)
        out.backward(torch.ones_like(out))

    return step


def child(impl, dtype, repeats, threads):
    """Time every shape for one implementation and dtype; print a JSON list of seconds."""
    if threads and impl != "numpy":
        import torch

        torch.set_num_threads(threads)
    results = []
    for shape in SHAPES:
        step = _make_step(impl, dtype, shape)
        step()  # warm-up: allocations, thread pools, lazy initialization
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        results.append(times)
    print(json.dumps(results))


# --- the table ------------------------------------------------------------------------------


def run_child(impl, dtype, repeats, threads):
    cmd = [sys.executable, __file__, "--child", impl, dtype, str(repeats), str(threads)]
    env = dict(os.environ)
    if threads:  # numpy's BLAS reads these at import
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cell(times):
    med = statistics.median(times) * 1e3
    return med, f"{med:8.1f} ({min(times) * 1e3:.0f}-{max(times) * 1e3:.0f})"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 runs per cell instead of 7")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="threads for torch and numpy's BLAS in every child (default: the libraries' own)",
    )
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        impl, dtype, repeats, threads = args.child
        child(impl, dtype, int(repeats), int(threads))
        return
    repeats = 3 if args.quick else 7
    import torch

    threads = args.threads or torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} thread(s); median of {repeats} runs")
    print("times in ms, median (min-max) of forward + backward")
    header = f"{'shape N,C,HxW,F,k,s,p':<26}{'dtype':<9}{'reference':>20}{'torch':>20}"
    print(header + f"{'numpy':>20}{'ref/torch':>11}{'numpy/ref':>11}")
    for dtype in DTYPES:
        timings = {impl: run_child(impl, dtype, repeats, args.threads) for impl in IMPLEMENTATIONS}
        for s, shape in enumerate(SHAPES):
            N, C, H, W, F_, K, stride, pad = shape
            label = f"{N},{C},{H}x{W},{F_},{K},{stride},{pad}"
            cells = {impl: _cell(timings[impl][s]) for impl in IMPLEMENTATIONS}
            ref, tor, npy = (cells[i][0] for i in IMPLEMENTATIONS)
            row = f"{label:<26}{dtype:<9}" + "".join(f"{cells[i][1]:>20}" for i in IMPLEMENTATIONS)
            print(row + f"{ref / tor:>11.2f}{npy / ref:>11.2f}")


if __name__ == "__main__":
    main()
