"""How `cnncourse grade` writes its class-wide outputs (JSON, CSV) as records come in."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from grading_corpus import CASES, COURSE, build

from cnncourse.grading import grade as grade_module
from cnncourse.grading import results, runner
from cnncourse.grading.grade import Options, Outputs, grade_class


def _record(student: str) -> dict:
    test = {"name": "test_relu", "points": 1.0, "max_points": 1.0, "status": "passed"}
    return {"student": student, "assignment": "sample", "score": 1.0, "max_score": 1.0,
            "status": "graded", "isolation": "bubblewrap", "tests": [test]}  # fmt: skip


class _Clock:
    """A monotonic clock that moves one second each time it is read."""

    def __init__(self):
        self.now = 0.0

    def monotonic(self) -> float:
        self.now += 1.0
        return self.now


def _outputs(tmp_path: Path, monkeypatch) -> tuple[Outputs, list[int]]:
    """Outputs on a clock where each rewrite of the class files costs one second; returns
    it and the number of records each JSON rewrite held."""
    monkeypatch.setattr(grade_module, "time", _Clock())
    rewrites: list[int] = []
    write_json = results.write_json

    def counting_write_json(path, assignment, max_score, records):
        rewrites.append(len(records))
        write_json(path, assignment, max_score, records)

    monkeypatch.setattr(results, "write_json", counting_write_json)
    json_path, csv_path = tmp_path / "r.json", tmp_path / "r.csv"
    opts = Options("sample", (tmp_path,), json_path=json_path, csv_path=csv_path)
    return Outputs(opts, SimpleNamespace(name="sample", max_score=1.0), None), rewrites


def _grade_class(out: Outputs, students: int) -> dict[str, dict]:
    """Hand ``out`` one record per student, as a grading run does; returns the records."""
    records: dict[str, dict] = {}
    for index in range(students):
        record = _record(f"student{index:04d}")
        records[record["student"]] = record
        out.write(record, records)
    return records


def test_a_class_of_1000_rewrites_its_json_a_bounded_number_of_times(tmp_path, monkeypatch):
    out, rewrites = _outputs(tmp_path, monkeypatch)
    _grade_class(out, 1000)
    bound = 1000 // Outputs.SAVE_EVERY + 1
    assert 1 <= len(rewrites) <= bound, f"{len(rewrites)} rewrites for 1000 records (bound {bound})"


def test_the_json_is_never_more_than_save_every_records_behind(tmp_path, monkeypatch):
    out, rewrites = _outputs(tmp_path, monkeypatch)
    _grade_class(out, 200)
    held = [0, *rewrites, 200]
    gaps = [after - before for before, after in itertools.pairwise(held)]
    assert max(gaps) <= Outputs.SAVE_EVERY + 1, f"records held at each rewrite: {rewrites}"


def test_save_writes_every_record_to_the_json_and_the_csv(tmp_path, monkeypatch):
    out, _ = _outputs(tmp_path, monkeypatch)
    records = _grade_class(out, 57)
    out.save(records)
    in_json = [r["student"] for r in json.loads((tmp_path / "r.json").read_text())["submissions"]]
    with open(tmp_path / "r.csv", newline="") as handle:
        in_csv = [row["student"] for row in csv.DictReader(handle)]
    assert in_json == in_csv == sorted(records), (in_json, in_csv)


def test_save_with_nothing_new_leaves_the_files_alone(tmp_path, monkeypatch):
    out, rewrites = _outputs(tmp_path, monkeypatch)
    records = {"s0": _record("s0")}
    out.write(records["s0"], records)
    out.save(records)
    out.save(records)
    assert rewrites == [1], rewrites


@pytest.mark.e2e
def test_an_interrupted_run_keeps_every_record_graded_before_it(tmp_path, monkeypatch):
    submitted = tmp_path / "submitted"
    for index in range(6):
        build(CASES["honest"], submitted / f"student{index}" / "sample" / "sample.ipynb", {})
    grade_all = runner.grade_all
    graded: list[str] = []

    def interrupted_after_three(*args, **kwargs):
        for record in grade_all(*args, **kwargs):
            if len(graded) == 3:
                raise KeyboardInterrupt  # Ctrl-C while the fourth is graded
            graded.append(record["student"])
            yield record

    monkeypatch.setattr(runner, "grade_all", interrupted_after_three)
    # only the first record is written as it comes: the rest must come from the final save
    monkeypatch.setattr(Outputs, "SAVE_EVERY", 10**9)
    out = tmp_path / "results.json"
    with pytest.raises(KeyboardInterrupt):
        grade_class("sample", [submitted], course=COURSE, json_path=out)
    kept = sorted(r["student"] for r in json.loads(out.read_text())["submissions"])
    assert kept == sorted(graded), f"graded before Ctrl-C: {graded}; in the JSON: {kept}"
