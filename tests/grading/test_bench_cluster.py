"""benchmarks/bench_cluster.py: the overhead arithmetic on hand-worked runs, and one small
real run of the script (a Dask scheduler and a worker on 127.0.0.1) whose report agrees
with itself."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "bench_cluster.py"


@pytest.fixture(scope="module")
def bench():
    """The benchmark as a module (it finds its helpers through the paths it adds itself)."""
    saved = list(sys.path)
    sys.path.insert(0, str(SCRIPT.parent))
    spec = importlib.util.spec_from_file_location("bench_cluster", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_cluster"] = module  # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path[:] = saved
        del sys.modules["bench_cluster"]


def run(wall: float, fixed: float) -> dict:
    return {"wall": wall, "fixed": fixed}


def test_overhead_compares_the_time_spent_grading_not_the_whole_wall_time(bench):
    # local: 12 s, of which 2 s would pass with nothing to grade: 10 s of grading.
    # cluster: 14 s, of which 3 s fixed: 11 s of grading, 10 % more.
    got = bench.overhead(run(12.0, 2.0), run(14.0, 3.0))
    assert got == pytest.approx(0.10), f"overhead(local 12-2 s, cluster 14-3 s) = {got}"


def test_overhead_is_negative_when_the_cluster_grades_faster(bench):
    got = bench.overhead(run(22.0, 2.0), run(19.0, 1.0))  # 20 s against 18 s
    assert got == pytest.approx(-0.10), f"overhead(local 22-2 s, cluster 19-1 s) = {got}"


def test_paired_reports_each_round_against_its_own_local_run_and_their_median(bench):
    local, remote = bench.ways(2)
    rounds = {  # grading times 10/11 (+10 %), 20/20 (0 %), 10/13 (+30 %): median +10 %
        local: [run(12, 2), run(21, 1), run(12, 2)],
        remote: [run(13, 2), run(21, 1), run(15, 2)],
    }
    line = bench.paired(rounds, 2)
    assert line == (
        "cluster, 2 workers, round by round against its local peer: +10.0%, +0.0%, +30.0%; "
        "median +10.0% per submission, over the 5% target"
    ), line


def test_paired_says_within_the_target_under_five_percent(bench):
    local, remote = bench.ways(1)
    line = bench.paired({local: [run(12, 2)], remote: [run(12.4, 2)]}, 1)  # 10 s, 10.4 s
    assert line.endswith("median +4.0% per submission, within the 5% target"), line


@pytest.mark.e2e
def test_a_small_real_run_reports_the_same_overhead_in_its_table_and_round_by_round():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--students", "4", "--workers", "1", "--rounds", "1"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "every way gave every student the same score" in out, out
    table = re.search(r"^\| cluster, 1 worker \|.*?([+-]\d+\.\d%) per submission", out, re.M)
    rounds = re.search(r"^cluster, 1 worker, round by round.*median ([+-]\d+\.\d%)", out, re.M)
    assert table and rounds, out
    # one round: the median of one paired overhead is the table's overhead of the medians
    assert table.group(1) == rounds.group(1), out
    assert re.search(r"^projection: 1,000 students on 50 workers = 20 submissions", out, re.M), out
