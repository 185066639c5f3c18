"""CPU time honest submissions need per call, for the limits stated in docs/grading.md.

Grades each assignment's solution notebook (and, for conv, a correct version written with
scalar Python loops, the slowest style we know) with `cnncourse grade`'s own session at the
strongest isolation level here, reading the child's CPU time before and after every call.
Run from the repository root: ``python benchmarks/measure_limits.py conv backprop ...``.
"""

import json
import re
import sys
import time
from pathlib import Path

import nbformat

from cnncourse.grading import proxy, runner
from cnncourse.grading.assignment import load_assignment
from cnncourse.grading.sandbox import best_level

calls = []
orig = proxy.ChildSession.request


def timed(self, request):
    self._wait_for_start()
    if self.process is None:
        self.start()
    before = self.process.cpu_seconds()
    startup = before
    try:
        return orig(self, request)
    finally:
        if self.process is not None:
            calls.append((request.get("name"), self.process.cpu_seconds() - before, startup))


proxy.ChildSession.request = timed

SCALAR_CONV = {
    "ans_conv_forward": """
def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param.get("stride", 1), conv_param.get("pad", 0)
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = (H + 2 * pad - HH) // stride + 1, (W + 2 * pad - WW) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    total = b[f]
                    for c in range(C):
                        for p in range(HH):
                            for q in range(WW):
                                total += xp[n, c, i * stride + p, j * stride + q] * w[f, c, p, q]
                    out[n, f, i, j] = total
    return out, (x, w, b, conv_param)
""",
    "ans_conv_backward": """
def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    stride, pad = conv_param.get("stride", 1), conv_param.get("pad", 0)
    N, F, Ho, Wo = dout.shape
    _, C, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dw, db = np.zeros_like(xp), np.zeros_like(w), np.zeros_like(b)
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    g = dout[n, f, i, j]
                    db[f] += g
                    for c in range(C):
                        for p in range(HH):
                            for q in range(WW):
                                dxp[n, c, i * stride + p, j * stride + q] += g * w[f, c, p, q]
                                dw[f, c, p, q] += g * xp[n, c, i * stride + p, j * stride + q]
    return dxp[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]], dw, db
""",
}


def notebook_for(name, replace, path):
    nb = nbformat.read(f"solutions/{name}/{name}.ipynb", as_version=4)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.source = replace.get(
                meta["grade_id"], re.sub(r"\s*### (BEGIN|END) SOLUTION", "", cell.source)
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def measure(name: str, replace: dict, label: str, level: str) -> dict:
    """Grade one notebook of assignment ``name``; the CPU figures of its calls."""
    calls.clear()
    assignment = load_assignment(Path("."), name)
    runner.collect_tests(assignment)
    folder = Path("/tmp/measure_limits") / label.replace(" ", "_") / name
    submissions = runner.find_submissions(
        [notebook_for(name, replace, folder / f"{name}.ipynb")], name
    )
    records: list[dict] = []
    started = time.monotonic()
    runner.run_session(assignment, level, [], iter(submissions), records.append)
    record = records[0]
    name_of_worst, worst, _ = max(calls, key=lambda call: call[1])
    statuses: dict[str, int] = {}
    for test in record["tests"]:
        statuses[test["status"]] = statuses.get(test["status"], 0) + 1
    return {
        "assignment": name,
        "style": label,
        "score": record["score"],
        "max": record["max_score"],
        "statuses": statuses,
        "slowest_call": name_of_worst,
        "slowest_call_cpu_s": round(worst, 3),
        "startup_cpu_s": round(max(call[2] for call in calls), 3),
        "total_call_cpu_s": round(sum(call[1] for call in calls), 3),
        "wall_s": round(time.monotonic() - started, 1),
    }


def main(names: list[str]) -> None:
    level = best_level()
    runs = [(name, {}, "solution") for name in names]
    if "conv" in names:
        runs.append(("conv", SCALAR_CONV, "scalar loops"))
    for name, replace, label in runs:
        print(json.dumps(measure(name, replace, label, level)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
