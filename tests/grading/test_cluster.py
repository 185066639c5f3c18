"""`cnncourse grade --scheduler`: grading on real `dask scheduler` / `dask worker` processes.

Every cluster here runs on 127.0.0.1 on free ports, started by the fixtures with the
environment's own `dask` command and stopped at the end. The class is the sample course's
(tests/grading/course); the expected scores come from the corpus (grading_corpus.py).
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CLI, grade
from dask_processes import Cluster
from grading_corpus import CASES, COURSE, build

from cnncourse.grading.cluster import DASK_CONFIG, batch_sizes, connect, grading_config

distributed = pytest.importorskip("distributed", reason="the cluster extra is not installed")

# quick cases with every kind of outcome: full marks, wrong results, stubs, a missing cell
KINDS = (
    "honest",
    "honest_with_warnings",
    "released_stubs",
    "monkeypatches_numpy_builtins_and_checks",
    "deletes_test_cells",
    "raises_points_in_metadata",
)


@pytest.fixture
def start_cluster(tmp_path):
    """start_cluster(workers, env=None): a new scheduler with that many workers."""
    clusters = []

    def start(workers: int, env: dict | None = None) -> Cluster:
        cluster = Cluster(tmp_path / f"cluster{len(clusters)}")
        clusters.append(cluster)
        for _ in range(workers):
            cluster.add_worker(env)
        cluster.wait_for_workers(workers)
        return cluster

    yield start
    for cluster in clusters:
        cluster.stop()


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    cluster = Cluster(tmp_path_factory.mktemp("two_workers"))
    try:
        cluster.add_worker()
        cluster.add_worker()
        cluster.wait_for_workers(2)
        yield cluster
    finally:
        cluster.stop()


def make_class(folder: Path, kinds, copies: int = 1) -> dict[str, str]:
    """Submissions in nbgrader's layout; returns {student: corpus case}."""
    students = {}
    for copy in range(copies):
        for kind in kinds:
            student = f"{kind}_{copy}"
            build(CASES[kind], folder / student / "sample" / "sample.ipynb", {})
            students[student] = kind
    return students


def records_of(path: Path) -> list[dict]:
    return json.loads(path.read_text())["submissions"]


def without_timing(record: dict) -> dict:
    return {key: value for key, value in record.items() if key != "duration_s"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_workers_give_every_submission_the_local_record(two_workers, tmp_path):
    students = make_class(tmp_path / "submitted", KINDS, copies=2)
    assert batch_sizes(len(students), 2)[0] > 1, "the class is too small to be sent in batches"
    local = grade("sample", str(tmp_path / "submitted"), "--jobs", "2",
                  "--json", str(tmp_path / "local.json"))  # fmt: skip
    assert local.returncode == 0, local.stderr[-3000:]
    remote = grade("sample", str(tmp_path / "submitted"), "--scheduler", two_workers.address,
                   "--json", str(tmp_path / "cluster.json"))  # fmt: skip
    assert remote.returncode == 0, remote.stderr[-3000:]
    expected = {r["student"]: without_timing(r) for r in records_of(tmp_path / "local.json")}
    got = {r["student"]: without_timing(r) for r in records_of(tmp_path / "cluster.json")}
    assert set(got) == set(students)
    for student in students:
        assert got[student] == expected[student], f"{student}: cluster vs local record"


def test_each_worker_reports_its_isolation_level(two_workers, tmp_path):
    make_class(tmp_path / "submitted", ["honest"])
    result = grade("sample", str(tmp_path / "submitted"), "--scheduler", two_workers.address,
                   "--isolation", "rlimits", "--json", str(tmp_path / "r.json"))  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    announced = [line for line in result.stderr.splitlines() if line.startswith("worker ")]
    assert len(announced) == 2, result.stderr[-3000:]
    assert all(line.endswith("isolation rlimits") for line in announced), announced
    assert [r["isolation"] for r in records_of(tmp_path / "r.json")] == ["rlimits"]


def test_a_worker_killed_mid_run_loses_no_grade(start_cluster, tmp_path):
    cluster = start_cluster(2)
    students = make_class(tmp_path / "submitted", ["honest", "released_stubs"], 8)
    out = tmp_path / "results.json"
    process = subprocess.Popen(
        [*CLI, "grade", "sample", str(tmp_path / "submitted"), "--scheduler", cluster.address,
         "--json", str(out)],
        cwd=COURSE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    victim = cluster.workers[0]
    with distributed.Client(cluster.address, timeout=30) as client:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            busy = [keys for keys in client.processing().values() if keys]
            if len(busy) == 2 and out.exists():  # both workers grading, a record written
                break
            time.sleep(0.05)
        graded_before = len(records_of(out)) if out.exists() else 0
        assert process.poll() is None, "the run ended before a worker could be killed"
        victim.send_signal(signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=300)
    assert victim.wait() == -signal.SIGKILL
    assert 0 < graded_before < len(students), "the kill did not happen mid-run"
    assert process.returncode == 0, stderr[-3000:]
    records = records_of(out)
    assert sorted(r["student"] for r in records) == sorted(students)
    scores = {r["student"]: r["score"] for r in records}
    expected = {student: CASES[kind].expected_score() for student, kind in students.items()}
    assert scores == expected, "\n".join(
        f"{r['student']}: {r['status']} {r.get('message', '')[:300]}" for r in records
    )


def test_a_rerun_grades_only_missing_and_changed_submissions(two_workers, tmp_path):
    students = make_class(tmp_path / "submitted", KINDS)
    out = tmp_path / "results.json"
    args = ("sample", str(tmp_path / "submitted"), "--scheduler", two_workers.address,
            "--json", str(out))  # fmt: skip
    first = grade(*args)
    assert first.returncode == 0, first.stderr[-3000:]
    document = json.loads(out.read_text())
    missing, changed = "honest_0", "released_stubs_0"
    document["submissions"] = [
        {**record, "kept_from_the_last_run": True}
        for record in document["submissions"]
        if record["student"] != missing
    ]
    out.write_text(json.dumps(document))
    build(CASES["honest"], tmp_path / "submitted" / changed / "sample" / "sample.ipynb", {})
    again = grade(*args)
    assert again.returncode == 0, again.stderr[-3000:]
    records = {r["student"]: r for r in records_of(out)}
    regraded = {s for s, r in records.items() if not r.get("kept_from_the_last_run")}
    assert set(records) == set(students)
    assert regraded == {missing, changed}
    assert records[changed]["score"] == CASES["honest"].expected_score()


def test_an_unreachable_scheduler_stops_the_run_before_any_grading(tmp_path):
    make_class(tmp_path / "submitted", ["honest"])
    out = tmp_path / "results.json"
    started = time.monotonic()
    nowhere = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    result = grade("sample", str(tmp_path / "submitted"), "--json", str(out),
                   "--scheduler", nowhere, "--connect-timeout", "2")  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    assert "cannot be reached" in result.stderr, result.stderr[-3000:]
    assert not out.exists(), "a result was written"
    assert time.monotonic() - started < 60


def test_a_worker_with_another_course_copy_refuses(start_cluster, tmp_path):
    course = tmp_path / "course"
    shutil.copytree(COURSE, course)
    suite = course / "autograde" / "sample" / "test_sample.py"
    suite.write_text(suite.read_text().replace("_data(1, 4, 5)", "_data(11, 4, 5)"))
    cluster = start_cluster(1, env={"CNNCOURSE_COURSE": str(course)})
    make_class(tmp_path / "submitted", ["honest"])
    out = tmp_path / "results.json"
    result = grade("sample", str(tmp_path / "submitted"), "--scheduler", cluster.address,
                   "--json", str(out))  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    assert "refuses" in result.stderr and "differs" in result.stderr, result.stderr[-3000:]
    assert "autograde/sample/test_sample.py" in result.stderr, result.stderr[-3000:]
    assert not out.exists(), "a result was written"


def test_local_n_starts_a_cluster_of_its_own(tmp_path):
    students = make_class(tmp_path / "submitted", ["honest", "released_stubs"])
    out = tmp_path / "results.json"
    result = grade("sample", str(tmp_path / "submitted"), "--scheduler", "local:2",
                   "--json", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    scores = {r["student"]: r["score"] for r in records_of(out)}
    assert scores == {s: CASES[kind].expected_score() for s, kind in students.items()}


@pytest.mark.parametrize("scheduler", ["local:0", "local:two", "local:"])
def test_a_malformed_local_cluster_is_refused(scheduler, tmp_path):
    make_class(tmp_path / "submitted", ["honest"])
    result = grade("sample", str(tmp_path / "submitted"), "--scheduler", scheduler)
    assert result.returncode == 2
    assert "local:N" in result.stderr, result.stderr[-3000:]


def test_without_distributed_the_scheduler_flag_names_the_extra(tmp_path):
    make_class(tmp_path / "submitted", ["honest"])
    code = (
        "import sys; sys.modules['distributed'] = None\n"  # as if it were not installed
        "import cnncourse.grading.grade\n"
        "from cnncourse.cli import main\n"
        f"raise SystemExit(main(['grade', 'sample', {str(tmp_path / 'submitted')!r}, "
        "'--scheduler', 'tcp://127.0.0.1:1']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=COURSE, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert "cnncourse[cluster]" in result.stderr, result.stderr[-3000:]


def test_the_grading_config_changes_only_settings_dask_has():
    import dask.config

    for key, value in grading_config().items():
        default = dask.config.get(key)  # KeyError: a setting Dask does not have
        assert value != default, f"{key}: {value!r} is Dask's default already"


def worker_settings(client, keys) -> dict:
    """{worker address: {key: its value of that Dask setting}}."""
    import dask.config

    by_key = {key: client.run(dask.config.get, key) for key in keys}
    workers = {address for values in by_key.values() for address in values}
    return {address: {key: by_key[key][address] for key in keys} for address in workers}


def test_a_cluster_started_with_dask_config_grades_with_its_settings(tmp_path):
    import dask.config

    wanted = grading_config()
    cluster = Cluster(tmp_path / "cluster", env={"DASK_CONFIG": str(DASK_CONFIG)})
    try:
        cluster.add_worker()
        cluster.wait_for_workers(1)
        with distributed.Client(cluster.address, timeout=30) as client:
            on_workers = worker_settings(client, wanted)
            on_scheduler = {key: client.run_on_scheduler(dask.config.get, key) for key in wanted}
    finally:
        cluster.stop()
    assert list(on_workers.values()) == [wanted], on_workers
    assert on_scheduler == wanted


def test_local_n_starts_its_workers_with_the_grading_settings():
    wanted = grading_config()
    with connect("local:1", timeout=60) as client:
        on_workers = worker_settings(client, wanted)
    assert list(on_workers.values()) == [wanted], on_workers
