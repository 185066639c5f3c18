"""Convolution forward + backward: the course's fast reference against two peers.

Implementations, each in its own subprocess (torch and numpy timed in one process disturb
each other):

- ``reference``: ``cnncourse.layers.conv_forward`` + ``conv_backward`` (im2col + GEMM, torch);
- ``torch``: ``torch.nn.functional.conv2d`` and its autograd backward;
- ``numpy``: the usual course implementation, written out below: im2col by fancy indexing,
  ``np.dot``, and col2im with ``np.add.at`` (as in the CS231n assignments' ``im2col.py``).

Shapes (N, C, H, W, F, HH, stride, pad): the slides' CIFAR-sized layers and AlexNet's
CONV1, in float32 and float64. The three children stay alive and take turns: every round
times each cell once per implementation (after one untimed run that warms the caches), in
an order that rotates from round to round, so that a slow spell of the machine hits all
three alike. A cell is the median over the rounds, with the spread (min-max) shown; a
ratio is the median over the rounds of that round's ratio. Prints reference/torch (target
<= 1.5) and numpy/reference (target >= 2), one PASS/MISS line per target, and how busy
other processes kept the CPUs meanwhile.

    python benchmarks/bench_conv.py            # 11 rounds, about 2 minutes
    python benchmarks/bench_conv.py --quick    # 5 rounds
    python benchmarks/bench_conv.py --threads 1   # one thread each: fairer on a busy machine
    python benchmarks/bench_conv.py --device cuda --quick   # the reference against cuDNN

On ``--device cuda`` the numpy peer stays out (it runs on the CPU), every timing waits for
the GPU (``torch.cuda.synchronize``), and before timing the reference's output and gradients
are compared with cuDNN's (TF32 off) in float32 and float64: one PASS/FAIL line, exit 1 on a
FAIL. The speed targets are the CPU's; on the GPU the ratios are shown without a verdict.

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
MAX_REF_OVER_TORCH = 1.5  # target: the reference within 1.5x of torch's conv2d
MIN_NUMPY_OVER_REF = 2.0  # target: the reference at least 2x faster than the numpy peer
PAUSE_S = 0.1  # between turns: a finished child's BLAS threads spin a little before sleeping


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


def _make_step(impl, dtype, shape, device="cpu"):
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

    xt, wt, bt = (torch.from_numpy(a).to(device) for a in (x, w, b))
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


def child(impl, threads, device="cpu"):
    """Serve timing requests: each stdin line "dtype shape_index" gets one JSON line of seconds.

    Every request runs the step twice and times the second run: the first one warms the
    caches that the other children's turns have just cleared, and on a cell's first request
    it also does the allocations, thread pools and lazy initialization.
    """
    if threads and impl != "numpy":
        import torch

        torch.set_num_threads(threads)
    sync = _synchronizer(device)
    steps = {}
    for line in sys.stdin:
        dtype, s = line.split()
        if (dtype, s) not in steps:
            steps[dtype, s] = _make_step(impl, dtype, SHAPES[int(s)], device)
        steps[dtype, s]()
        sync()
        start = time.perf_counter()
        steps[dtype, s]()
        sync()
        print(json.dumps(time.perf_counter() - start), flush=True)


def _synchronizer(device):
    """A function that waits for the device's queued work (nothing to wait for on the CPU)."""
    if device == "cpu":
        return lambda: None
    import torch

    torch.backends.cudnn.benchmark = True  # cuDNN picks its fastest algorithm per shape
    return torch.cuda.synchronize


def agreement(device, dtype, shape):
    """Largest difference between the reference and cuDNN (output, dx, dw, db), relative to
    the largest value of each, on one shape; TF32 is off so float32 is float32."""
    import numpy as np
    import torch

    from cnncourse.layers import conv_backward, conv_forward

    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    N, C, H, W, F_, K, stride, pad = shape
    rng = np.random.default_rng(1)
    x, w, b = (
        torch.from_numpy(rng.standard_normal(s).astype(dtype)).to(device)
        for s in ((N, C, H, W), (F_, C, K, K), (F_,))
    )
    out, cache = conv_forward(x, w, b, {"stride": stride, "pad": pad})
    dout = torch.from_numpy(rng.standard_normal(tuple(out.shape)).astype(dtype)).to(device)
    ours = (out, *conv_backward(dout, cache))
    xg, wg, bg = (t.clone().requires_grad_() for t in (x, w, b))
    theirs_out = torch.nn.functional.conv2d(xg, wg, bg, stride=stride, padding=pad)
    theirs_out.backward(dout)
    theirs = (theirs_out.detach(), xg.grad, wg.grad, bg.grad)
    return max(
        float((a - e).abs().max() / e.abs().max().clamp_min(1e-30))
        for a, e in zip(ours, theirs, strict=True)
    )


AGREEMENT_TOL = {"float32": 1e-4, "float64": 1e-10}  # relative to each tensor's largest value


def check_agreement(device) -> bool:
    """Print one line per cell and a PASS/FAIL line; True when every cell agrees."""
    worst = {}
    for dtype in DTYPES:
        for shape in SHAPES:
            err = agreement(device, dtype, shape)
            worst[f"{','.join(map(str, shape))} {dtype}"] = (err, AGREEMENT_TOL[dtype])
            print(f"reference vs cuDNN {shape} {dtype}: largest relative difference {err:.1e}")
    bad = [f"{cell} ({err:.1e} > {tol:g})" for cell, (err, tol) in worst.items() if err > tol]
    if bad:
        print("FAIL  reference agrees with cuDNN: " + ", ".join(bad))
        return False
    print(f"PASS  reference agrees with cuDNN: all {len(worst)} cells (float32 and float64)")
    return True


# --- the table ------------------------------------------------------------------------------


def start_child(impl, threads, device="cpu"):
    cmd = [sys.executable, __file__, "--child", impl, str(threads), device]
    env = dict(os.environ)
    if threads:  # numpy's BLAS reads these at import
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)


def ask(proc, dtype, s):
    proc.stdin.write(f"{dtype} {s}\n")
    proc.stdin.flush()
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"benchmark child {proc.args[-2]} died (exit code {proc.wait()})")
    return json.loads(line)


def _cpu_ticks(children):
    """Clock ticks so far (machine busy, machine total, our children busy); None off Linux."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(t) for t in f.readline().split()[1:]]
        ours = 0
        for proc in children:
            with open(f"/proc/{proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ours += int(fields[11]) + int(fields[12])  # utime + stime
    except OSError:
        return None
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks), ours  # idle, iowait: not busy


def _others_busy(start, end):
    """CPUs kept busy by other processes between two ``_cpu_ticks``, on average."""
    if start is None or end is None:
        return None
    busy, total, ours = (b - a for a, b in zip(start, end, strict=True))
    return (busy - ours) / total * (os.cpu_count() or 1)


def _cell(times):
    med = statistics.median(times) * 1e3
    return med, f"{med:8.1f} ({min(times) * 1e3:.0f}-{max(times) * 1e3:.0f})"


def _verdict(name, ratios, ok):
    misses = [f"{cell} ({r:.2f})" for cell, r in ratios.items() if not ok(r)]
    if not misses:
        return f"PASS  {name}: all {len(ratios)} cells"
    return f"MISS  {name}: {len(ratios) - len(misses)}/{len(ratios)} cells; missed " + (
        ", ".join(misses)
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 rounds instead of 11")
    parser.add_argument("--rounds", type=int, help="rounds (timed runs per cell)")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="threads for torch and numpy's BLAS in every child (default: the libraries' own)",
    )
    parser.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        default="cpu",
        help="where the reference and torch run (cuda: against cuDNN, without the numpy peer)",
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        impl, threads, device = args.child
        child(impl, int(threads), device)
        return
    rounds = args.rounds or (5 if args.quick else 11)
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch.cuda.is_available() is False on this machine")
    implementations = IMPLEMENTATIONS if args.device == "cpu" else ("reference", "torch")
    threads = args.threads or torch.get_num_threads()
    where = torch.cuda.get_device_name() if args.device == "cuda" else f"{threads} thread(s)"
    print(f"torch {torch.__version__}, {where}; median of {rounds} rounds")
    agreed = args.device == "cpu" or check_agreement(args.device)
    children = {impl: start_child(impl, args.threads, args.device) for impl in implementations}
    cells = [(dtype, s) for dtype in DTYPES for s in range(len(SHAPES))]
    times = {(impl, cell): [] for impl in implementations for cell in cells}
    try:
        ticks_start = _cpu_ticks(children.values())
        for r in range(rounds):
            for c, cell in enumerate(cells):
                k = (r + c) % len(implementations)  # rotate who goes first
                for impl in implementations[k:] + implementations[:k]:
                    time.sleep(PAUSE_S)
                    times[impl, cell].append(ask(children[impl], *cell))
        others = _others_busy(ticks_start, _cpu_ticks(children.values()))
    finally:
        for proc in children.values():
            proc.stdin.close()
            proc.wait()
    print("times in ms, median (min-max) of forward + backward")
    if args.device == "cuda":
        _gpu_table(cells, times)
        if not agreed:
            sys.exit(1)
        return
    header = f"{'shape N,C,HxW,F,k,s,p':<26}{'dtype':<9}{'reference':>20}{'torch':>20}"
    print(header + f"{'numpy':>20}{'ref/torch':>11}{'numpy/ref':>11}")
    over_torch, under_numpy = {}, {}
    for dtype, s in cells:
        label = _label(SHAPES[s])
        cell = {impl: _cell(times[impl, (dtype, s)]) for impl in IMPLEMENTATIONS}
        ref, tor, npy = (times[i, (dtype, s)] for i in IMPLEMENTATIONS)
        # a round's three turns run back to back: ratios within a round share its drift
        ref_tor = statistics.median(r / t for r, t in zip(ref, tor, strict=True))
        npy_ref = statistics.median(n / r for n, r in zip(npy, ref, strict=True))
        row = f"{label:<26}{dtype:<9}" + "".join(f"{cell[i][1]:>20}" for i in IMPLEMENTATIONS)
        print(row + f"{ref_tor:>11.2f}{npy_ref:>11.2f}")
        over_torch[f"{label} {dtype}"] = ref_tor
        under_numpy[f"{label} {dtype}"] = npy_ref
    limit, floor = MAX_REF_OVER_TORCH, MIN_NUMPY_OVER_REF
    print(_verdict(f"reference/torch <= {limit}", over_torch, lambda r: r <= limit))
    print(_verdict(f"numpy/reference >= {floor}", under_numpy, lambda r: r >= floor))
    if others is not None:
        note = f"other processes kept {others:.1f} of {os.cpu_count()} CPUs busy while timing"
        print(
            note + ("; the figures are disturbed: rerun when it is quieter" if others > 0.2 else "")
        )


def _label(shape) -> str:
    N, C, H, W, F_, K, stride, pad = shape
    return f"{N},{C},{H}x{W},{F_},{K},{stride},{pad}"


def _gpu_table(cells, times) -> None:
    """The reference against cuDNN on the GPU: times and their ratio, no verdict."""
    print(
        f"{'shape N,C,HxW,F,k,s,p':<26}{'dtype':<9}{'reference':>20}{'cuDNN':>20}{'ref/cuDNN':>11}"
    )
    for dtype, s in cells:
        ref, tor = times["reference", (dtype, s)], times["torch", (dtype, s)]
        ratio = statistics.median(r / t for r, t in zip(ref, tor, strict=True))
        row = f"{_label(SHAPES[s]):<26}{dtype:<9}{_cell(ref)[1]:>20}{_cell(tor)[1]:>20}"
        print(row + f"{ratio:>11.2f}")


if __name__ == "__main__":
    main()
