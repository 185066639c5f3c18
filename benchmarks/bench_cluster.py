"""Grade one class locally and on a Dask cluster: throughput and the cluster's overhead.

    python benchmarks/bench_cluster.py [--students 100] [--workers 1,2] [--rounds 1]
                                       [--assignment sample|conv|backprop|...]
                                       [--dask-config grading|default]

Builds a class of N submissions: of the grader's small sample assignment (tests/grading/
course; mostly honest, a few with warnings or wrong answers), or of a real assignment, its
fairness corpus dealt round and round (tests/assignments/corpus), then grades it with ``cnncourse
grade`` four ways: locally with ``--jobs 1`` and ``--jobs 2``, and through ``--scheduler``
on a Dask cluster of 1 and of 2 workers: a ``dask scheduler`` and ``dask worker --nthreads
1`` processes on 127.0.0.1, started before the timing as a department's cluster would be
running, with cnncourse's DASK_CONFIG as docs/instructors.md says (``--dask-config
default``: Dask's own settings); each cluster run follows its local peer, so both meet the
same machine load.
Each way grades the whole class once (``--force``), then once more with nothing changed:
that second run grades nothing, and its time is the way's fixed cost (start-up, the
suite's collection, the workers' check, the outputs). In every round a cluster has exactly
as many workers as its local peer has processes (the second worker is stopped for the
one-worker runs and started anew for the two-worker ones), and first gets one such run
with nothing to grade, in which new workers start their grading sessions (printed apart
for the first round: a new cluster's first run). Printed per way: the wall time,
throughput (submissions/s), the marginal cost of a submission ((wall - fixed) / N, per
process), and for a cluster the ratio to local grading with the same number of processes,
whose excess is the cluster's overhead per submission (target under 5 %), then that
overhead round by round against the local run just before it, and its median. Last, the
projected time of 1,000 students on 50 workers from the one-worker cluster's marginal cost
and fixed cost. Every way must give every student the same score.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "grading"))
sys.path.insert(0, str(ROOT / "tests" / "assignments"))

import corpus  # noqa: E402
from bench_grading import machine_cpu_seconds  # noqa: E402
from corpus.graders import prepare, submitted  # noqa: E402
from dask_processes import Cluster  # noqa: E402
from grading_corpus import CASES, COURSE, build  # noqa: E402

from cnncourse.grading.cluster import DASK_CONFIG  # noqa: E402

BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
TARGET = 0.05  # the cluster's overhead per submission


@dataclass
class Class:
    """N submissions of one assignment, in nbgrader's layout, and the course that grades them."""

    assignment: str
    course: Path
    submitted: Path
    full: int  # submissions that earn full marks


def sample_class(folder: Path, students: int) -> Class:
    """The sample assignment: 8 in 10 honest, 1 printing warnings, 1 wrong."""
    kinds = {}
    for index in range(students):
        kind = "honest"
        if index % 10 == 4:
            kind = "honest_with_warnings"
        elif index % 10 == 9:
            kind = ("released_stubs", "monkeypatches_numpy_builtins_and_checks")[index // 10 % 2]
        student = f"student{index:04d}"
        build(CASES[kind], folder / "submitted" / student / "sample" / "sample.ipynb", {})
        kinds[student] = kind
    full = sum(kind.startswith("honest") for kind in kinds.values())
    return Class("sample", COURSE, folder / "submitted", full)


def corpus_class(folder: Path, assignment: str, students: int) -> Class:
    """A real assignment: its fairness corpus (correct styles, bugs, the solution, the
    stubs) dealt round and round until there are N submissions."""
    subs = corpus.submissions(assignment)
    names = sorted(subs)
    picked = {f"{names[i % len(names)]}-{i // len(names)}": names[i % len(names)]
              for i in range(students)}  # fmt: skip
    course = prepare(folder, assignment, {student: subs[name] for student, name in picked.items()})
    full = sum(not subs[name].failing_tests() for name in picked.values())
    return Class(assignment, course, submitted(course), full)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one running process (not its children)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def grade(klass: Class, out: Path, *extra: str, scheduler: int | None = None) -> dict:
    """One ``cnncourse grade`` over the class: its wall seconds and the CPU seconds spent
    meanwhile by the machine, by the client (the command itself) and by the scheduler
    (process id ``scheduler``)."""
    cpu = machine_cpu_seconds()
    client = resource.getrusage(resource.RUSAGE_CHILDREN)
    scheduler_cpu = process_cpu_seconds(scheduler) if scheduler else 0.0
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "cnncourse", "grade", klass.assignment, str(klass.submitted),
         "--course", str(klass.course), "--json", str(out), *extra],
        env=ENV, capture_output=True, text=True,
    )  # fmt: skip
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"cnncourse grade {' '.join(extra)} failed:\n{result.stderr[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "wall": wall,
        "machine": machine_cpu_seconds() - cpu,
        "client": after.ru_utime - client.ru_utime + after.ru_stime - client.ru_stime,
        "scheduler": (process_cpu_seconds(scheduler) - scheduler_cpu) if scheduler else 0.0,
    }


def measure(
    klass: Class, out: Path, *how: str, start_from: Path | None = None, scheduler: int | None = None
) -> dict:
    """Grade the class (all of it), then again with nothing changed (the fixed cost).

    ``start_from``: results of the whole class; first a run with nothing to grade starts
    the workers' sessions (its time is the cold fixed cost: the first run of a cluster
    whose workers are new, as some are in each round).
    ``worker_cpu``: the marginal CPU seconds of the grading itself, per submission: the
    machine's, less the client's and the scheduler's (a cluster's workers' share).
    """
    cold = None
    if start_from is not None:
        shutil.copyfile(start_from, out)
        cold = grade(klass, out, *how, scheduler=scheduler)["wall"]
    full = grade(klass, out, "--force", *how, scheduler=scheduler)
    scores = {r["student"]: r["score"] for r in json.loads(out.read_text())["submissions"]}
    fixed = grade(klass, out, *how, scheduler=scheduler)
    n = len(scores)
    grading = {k: (full[k] - fixed[k]) / n for k in ("machine", "client", "scheduler")}
    if scheduler is None:  # grading locally, the client is the grader
        grading["client"] = 0.0
    worker_cpu = grading["machine"] - grading["client"] - grading["scheduler"]
    return {"wall": full["wall"], "fixed": fixed["wall"], "cold": cold, "scores": scores,
            "worker_cpu": worker_cpu, "client_cpu": grading["client"],
            "scheduler_cpu": grading["scheduler"]}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--workers", default="1,2", help="process counts to compare")
    parser.add_argument("--rounds", type=int, default=1, help="each way's median is shown")
    parser.add_argument(
        "--assignment",
        default="sample",
        choices=("sample", *corpus.ASSIGNMENTS),
        help="the sample assignment, or a real one's fairness corpus",
    )
    parser.add_argument(
        "--dask-config",
        default="grading",
        choices=("grading", "default"),
        help="start the scheduler and workers with cnncourse's DASK_CONFIG (as "
        "docs/instructors.md says) or with Dask's defaults",
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the cluster on the way out
    cluster_env = {"DASK_CONFIG": str(DASK_CONFIG)} if args.dask_config == "grading" else {}
    counts = [int(n) for n in args.workers.split(",")]
    rounds: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.assignment == "sample":
            klass = sample_class(folder, args.students)
        else:
            klass = corpus_class(folder, args.assignment, args.students)
        cluster = Cluster(folder, env=cluster_env)
        try:
            for round_ in range(args.rounds):
                for n in counts:  # each cluster run right after its local peer: same load
                    cluster.resize(n)  # exactly n: the others are stopped
                    local, remote = ways(n)
                    out = folder / f"local{n}.json"
                    rounds.setdefault(local, []).append(measure(klass, out, "--jobs", str(n)))
                    rounds.setdefault(remote, []).append(
                        measure(klass, folder / f"cluster{n}.json",
                                "--scheduler", cluster.address, start_from=out,
                                scheduler=cluster.scheduler.pid)
                    )  # fmt: skip
                    print(f"round {round_ + 1}: {local} {rounds[local][-1]['wall']:.1f} s, "
                          f"{remote} {rounds[remote][-1]['wall']:.1f} s", flush=True)  # fmt: skip
        finally:
            cluster.stop()
    runs = {name: median_run(results) for name, results in rounds.items()}
    code = report(runs, counts, args.students, klass, args.rounds, args.dask_config)
    for n in counts:
        print(paired(rounds, n))
    return code


def median_run(results: list[dict]) -> dict:
    """The median of each time over the rounds (the cold cost: the first round's)."""
    return {
        "wall": statistics.median(r["wall"] for r in results),
        "fixed": statistics.median(r["fixed"] for r in results),
        **{
            k: statistics.median(r[k] for r in results)
            for k in ("worker_cpu", "client_cpu", "scheduler_cpu")
        },
        "cold": results[0]["cold"],
        "scores": results[0]["scores"],
        "all_scores": [r["scores"] for r in results],
    }


def ways(n: int) -> tuple[str, str]:
    """The names of grading with n local processes and with a cluster of n workers."""
    return f"local --jobs {n}", f"cluster, {n} worker{'s' * (n > 1)}"


def overhead(local: dict, remote: dict) -> float:
    """The cluster's extra time per submission as a fraction of local grading's: each run's
    wall time less its fixed cost (the same command with nothing left to grade)."""
    mine, theirs = local["wall"] - local["fixed"], remote["wall"] - remote["fixed"]
    return (theirs - mine) / mine


def paired(rounds: dict[str, list[dict]], n: int) -> str:
    """The cluster's overhead per submission round by round, each against the local run
    just before it (the two met the same machine load), and its median."""
    local, remote = ways(n)
    extras = [overhead(*pair) for pair in zip(rounds[local], rounds[remote], strict=True)]
    median = statistics.median(extras)
    verdict = "within" if median < TARGET else "over"
    return (f"{remote}, round by round against its local peer: "
            f"{', '.join(f'{extra:+.1%}' for extra in extras)}; median {median:+.1%} per "
            f"submission, {verdict} the {TARGET:.0%} target")  # fmt: skip


def report(
    runs: dict, counts: list[int], students: int, klass: Class, rounds: int, dask_config: str
) -> int:
    settings = (f"DASK_CONFIG={DASK_CONFIG.relative_to(ROOT)}" if dask_config == "grading"
                else "Dask's default settings")  # fmt: skip
    print(f"\n{students} submissions of the {klass.assignment} assignment "
          f"({klass.full} with full marks), median of {rounds} "
          f"round(s), load average {os.getloadavg()[0]:.1f} at the end, "
          f"{os.cpu_count()} cores, the cluster with {settings}")  # fmt: skip
    print("| how | wall s | fixed s | submissions/s | marginal s/submission | vs local "
          "| grading CPU s/submission | vs local |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    marginal = {}
    for n in counts:
        for name in ways(n):
            run = runs[name]
            marginal[name] = (run["wall"] - run["fixed"]) / students * n  # per process
            versus = cpu_versus = ""
            if name.startswith("cluster"):
                local_name = ways(n)[0]
                local, extra = runs[local_name], marginal[name] - marginal[local_name]
                fraction = overhead(local, run)
                verdict = "within" if fraction < TARGET else "over"
                versus = (f"{run['wall'] / local['wall']:.3f}x wall; {extra * 1000:+.0f} ms, "
                          f"{fraction:+.1%} per submission, {verdict} the "
                          f"{TARGET:.0%} target")  # fmt: skip
                cpu_extra = run["worker_cpu"] - local["worker_cpu"]
                cpu_versus = f"{cpu_extra * 1000:+.0f} ms, {cpu_extra / local['worker_cpu']:+.1%}"
            print(f"| {name} | {run['wall']:.1f} | {run['fixed']:.1f} | "
                  f"{students / run['wall']:.2f} | {marginal[name]:.3f} | {versus} | "
                  f"{run['worker_cpu']:.3f} | {cpu_versus} |")  # fmt: skip
    for n in counts:
        remote = ways(n)[1]
        run = runs[remote]
        print(f"{remote}: besides the grading, the scheduler "
              f"{run['scheduler_cpu'] * 1000:.1f} ms and the client "
              f"{run['client_cpu'] * 1000:.1f} ms of CPU per submission")  # fmt: skip
    for name, run in runs.items():
        if run["cold"] is not None:
            print(f"{name}: fixed cost {run['cold']:.1f} s in a new cluster's first run "
                  f"(each worker starts its session: collects the suite, probes its sandbox), "
                  f"{run['fixed']:.1f} s after")  # fmt: skip
    one = ways(1 if 1 in counts else counts[0])[1]
    per_worker = math.ceil(1000 / 50)
    projected = runs[one]["fixed"] + per_worker * marginal[one]
    print(f"\nprojection: 1,000 students on 50 workers = {per_worker} submissions per worker x "
          f"{marginal[one]:.3f} s + {runs[one]['fixed']:.1f} s fixed = {projected:.0f} s "
          f"({projected / 60:.1f} min) per assignment")  # fmt: skip
    reference = runs[ways(counts[0])[0]]["scores"]
    differ = [name for name, run in runs.items() if any(s != reference for s in run["all_scores"])]
    if differ:
        print(f"SCORES DIFFER from local --jobs {counts[0]}: {differ}")
        return 1
    print("every way gave every student the same score")
    return 0


if __name__ == "__main__":
    sys.exit(main())
