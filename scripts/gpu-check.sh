#!/usr/bin/env bash
# scripts/gpu-check.sh: run every GPU path of the course once, on a machine with an NVIDIA GPU.
#
#   bash scripts/gpu-check.sh          # from the repository root or anywhere
#
# Parts, each under its own time limit (in all under 8 minutes), each ending in one summary
# line "gpu-check: <part>: PASS|FAIL|SKIP ... (N s)":
#   1. cuda-tests  every test marked `cuda` (pytest -m cuda: layers, nn, models, data, train)
#   2. bench-conv  benchmarks/bench_conv.py --device cuda --quick: the reference conv against
#                  cuDNN, float32 and float64 (agreement, then timings)
#   3. train       a one-epoch `cnncourse train lenet5` on the GPU (mnist5k, offline)
#   4. train-amp   the same with mixed precision (--amp)
#   5. ddp         cnncourse.train.fit under torchrun with DistributedDataParallel over NCCL,
#                  one process per GPU (tests/training/ddp_worker.py); DDP needs 2 GPUs
#                  (NCCL puts one rank on each), so with one GPU it runs the same fit under
#                  torchrun as a single process and says that DDP itself was not exercised
# It installs nothing: it uses the environment of `make install` (.venv, the pinned packages
# of constraints.txt), or $PYTHON. On a machine without an NVIDIA GPU it says so and exits 0.
# Exit status: 0 when no part failed, 1 otherwise.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
    echo "gpu-check: no NVIDIA GPU on this machine (nvidia-smi finds none): nothing to check"
    exit 0
fi
if [ ! -x "$PY" ]; then
    echo "gpu-check: no Python at $PY: run 'make install' first (or set PYTHON)" >&2
    exit 1
fi
if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "gpu-check: nvidia-smi sees a GPU but torch.cuda.is_available() is False:" \
        "$("$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)')" \
        "(a CPU-only torch, or a driver older than its CUDA)" >&2
    exit 1
fi

GPUS=$(nvidia-smi -L | wc -l)
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
FAILED=0
SUMMARY=()

# part NAME SECONDS COMMAND...: run under a time limit, log to $OUT/NAME.log, keep a summary
part() {
    local name=$1 limit=$2
    shift 2
    local start=$SECONDS status verdict
    echo "=== gpu-check: $name (limit ${limit} s): $*"
    timeout --kill-after=10 "$limit" "$@" >"$OUT/$name.log" 2>&1
    status=$?
    tail -n 25 "$OUT/$name.log"
    if [ "$status" -eq 0 ]; then
        verdict=PASS
    elif [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
        verdict="FAIL (over its ${limit} s limit)"
        FAILED=1
    else
        verdict="FAIL (exit $status)"
        FAILED=1
    fi
    SUMMARY+=("gpu-check: $name: $verdict ($((SECONDS - start)) s)${NOTE:+; $NOTE}")
    NOTE=""
}

echo "gpu-check: $GPUS GPU(s): $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -n 1)"
NOTE=""
part cuda-tests 180 "$PY" -m pytest -m cuda -q -p no:cacheprovider \
    tests/layers tests/models tests/training
part bench-conv 90 "$PY" benchmarks/bench_conv.py --device cuda --quick
part train 45 "$PY" -m cnncourse train lenet5 --epochs 1 --device cuda --no-progress
part train-amp 45 "$PY" -m cnncourse train lenet5 --epochs 1 --device cuda --amp --no-progress
PROCS=$((GPUS >= 2 ? 2 : 1))
if [ "$PROCS" -lt 2 ]; then
    NOTE="one GPU: fit ran under torchrun as one process, DDP itself needs 2 GPUs"
fi
part ddp 50 "$PY" -m torch.distributed.run --standalone --nproc_per_node="$PROCS" \
    tests/training/ddp_worker.py "$OUT/ddp.pt" auto

echo
printf '%s\n' "${SUMMARY[@]}"
exit "$FAILED"
