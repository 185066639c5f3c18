"""`cnncourse similar`: copies are found, independent correct work is not (similar_corpus.py)."""

from __future__ import annotations

import copy
import io
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from similar_corpus import (
    ASSIGNMENTS,
    ROOT,
    class_folder,
    disguise,
    independent,
    nbgrader_meta,
    origin,
    released,
    stub_names,
    write,
)

from cnncourse.grading.similar import THRESHOLD, similarity_report, write_html

CLI = [sys.executable, "-m", "cnncourse", "similar"]


def _answer_source(notebook, grade_id: str) -> str:
    (cell,) = [c for c in notebook.cells if nbgrader_meta(c).get("grade_id") == grade_id]
    return cell.source


def _with_answer(notebook, grade_id: str, source: str):
    edited = copy.deepcopy(notebook)
    for cell in edited.cells:
        if nbgrader_meta(cell).get("grade_id") == grade_id:
            cell.source = source
    return edited


def _scores(report) -> str:
    return ", ".join(f"{a}/{b}: {max(f):.2f}" for (a, b), f in sorted(report.scores.items()))


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def corpus_class(request, tmp_path_factory):
    """(assignment, report) of every independent version of an assignment and its copy."""
    a = request.param
    root = tmp_path_factory.mktemp(f"class_{a}")
    class_folder(a, root)
    return a, similarity_report(a, [root], course=ROOT)


def test_disguised_copies_are_flagged(corpus_class):
    a, report = corpus_class
    flagged = {(p.first, p.second) for p in report.pairs}
    versions = sorted(s for s in report.students if not s.endswith("_copy"))
    missed = [v for v in versions if (v, f"{v}_copy") not in flagged]
    assert not missed, (
        f"{a}: copies (renamed, functions reversed, comments added) below {THRESHOLD}: "
        + ", ".join(f"{v}: {report.score(v, f'{v}_copy'):.2f}" for v in missed)
    )


def test_independent_correct_versions_are_not_flagged(corpus_class):
    a, report = corpus_class
    wrong = [p for p in report.pairs if origin(p.first) != origin(p.second)]
    assert not wrong, f"{a}: independent versions flagged: " + ", ".join(
        f"{p.first}/{p.second}: {p.fractions[0]:.2f}, {p.fractions[1]:.2f}" for p in wrong
    )


def _conv_style1_with_only(cell_source: str):
    """The released conv notebook with only the im2col answer (conv_forward) filled in."""
    return _with_answer(released("conv"), "ans_conv_forward", cell_source)


def test_a_cell_with_its_functions_reordered_is_found_whole(tmp_path):
    # conv style 1 defines a class, im2col and conv_forward_naive in one cell; the copier's
    # notebook has nothing else of its own (its other cells are the released stubs)
    original = independent("conv")["style1"]
    source = _answer_source(original, "ans_conv_forward")
    keep = stub_names("conv")["ans_conv_forward"]
    copied = disguise(source, keep)
    assert copied.index("def conv_forward_naive") < copied.index("def my_im2col"), copied
    write(original, tmp_path / "author" / "conv" / "conv.ipynb")
    write(_conv_style1_with_only(copied), tmp_path / "copier" / "conv" / "conv.ipynb")
    report = similarity_report("conv", [tmp_path], course=ROOT)
    fractions = report.scores["author", "copier"]
    assert fractions[1] >= 0.95, f"copier's code found in author's: {fractions[1]:.2f}"


def test_the_report_marks_the_copied_lines_on_both_sides(tmp_path):
    original = independent("conv")["style1"]
    write(original, tmp_path / "author" / "conv" / "conv.ipynb")
    copied = _answer_source(original, "ans_conv_forward")
    copied = disguise(copied, stub_names("conv")["ans_conv_forward"])
    write(_conv_style1_with_only(copied), tmp_path / "copier" / "conv" / "conv.ipynb")
    (pair,) = similarity_report("conv", [tmp_path], course=ROOT).pairs
    (cell,) = pair.cells
    assert cell.grade_id == "ans_conv_forward"
    helper = "cols[:, :, k, l] = xp[:, :, k : k + stride * Ho : stride, l : l + stride * Wo : "
    disguised = "my_cols[:, :, my_k, my_l] = my_xp[:, :, my_k : my_k + my_stride * my_Ho"
    left = [cell.first[i].strip() for i in sorted(cell.first_matched)]
    right = [cell.second[i].strip() for i in sorted(cell.second_matched)]
    assert any(line.startswith(helper) for line in left), (
        f"{helper!r}... not among the author's matched lines {left}"
    )
    assert any(line.startswith(disguised) for line in right), (
        f"{disguised!r}... not among the copier's matched lines {right}"
    )
    assert not any(line.startswith("#") for line in right), right
    stub = _answer_source(released("conv"), "ans_conv_forward").split("\n")
    assert not {line.strip() for line in stub} & set(left), (left, stub)


def _copydetect_fractions(first, second) -> tuple[float, float]:
    """The oracle: copydetect's compare_files on each answer cell, with every k-gram of the
    released notebook's code as boilerplate, weighted by each cell's own code."""
    from copydetect import CodeFingerprint, compare_files

    def fingerprint(code, boilerplate=None):
        return CodeFingerprint("x.py", 25, 1, boilerplate, language="python", fp=io.StringIO(code))

    stub = released("conv")
    boilerplate = set()
    for cell in stub.cells:
        if cell.cell_type == "code":
            boilerplate |= fingerprint(cell.source).hashes
    boilerplate = np.array(sorted(boilerplate))
    found, own = [0.0, 0.0], [0.0, 0.0]
    for cell in stub.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if cell.cell_type != "code" or not nbgrader_meta(cell).get("solution"):
            continue
        prints = [fingerprint(_answer_source(nb, grade_id), boilerplate) for nb in (first, second)]
        own = [total + p.token_coverage for total, p in zip(own, prints, strict=True)]
        if prints[0].hashes & prints[1].hashes:
            _tokens, fractions, _slices = compare_files(*prints)
            found = [
                total + f * p.token_coverage
                for total, f, p in zip(found, fractions, prints, strict=True)
            ]
    return found[0] / own[0], found[1] / own[1]


def test_the_fractions_are_copydetects_summed_over_the_cells(tmp_path):
    first, second = independent("conv")["solution"], independent("conv")["style0"]
    write(first, tmp_path / "first" / "conv" / "conv.ipynb")
    write(second, tmp_path / "second" / "conv" / "conv.ipynb")
    got = similarity_report("conv", [tmp_path], course=ROOT).scores["first", "second"]
    expected = _copydetect_fractions(first, second)
    assert min(expected) > 0 and got == pytest.approx(expected, abs=1e-12), (got, expected)


def test_the_released_stub_alone_is_not_flagged(tmp_path):
    for student in ("stub1", "stub2"):
        write(released("conv"), tmp_path / student / "conv" / "conv.ipynb")
    for name in ("solution", "style0"):
        write(independent("conv")[name], tmp_path / name / "conv" / "conv.ipynb")
    report = similarity_report("conv", [tmp_path], course=ROOT)
    stubs = {k: v for k, v in report.scores.items() if {"stub1", "stub2"} & set(k)}
    assert len(stubs) == 5 and set(stubs.values()) == {(0.0, 0.0)}, _scores(report)
    assert not report.pairs, _scores(report)


def test_only_answer_cells_are_compared(tmp_path):
    """Two independent versions that share a large added (not answer) cell are not flagged."""
    import nbformat

    shared = _answer_source(independent("conv")["style1"], "ans_conv_forward")
    for name in ("solution", "style0"):
        notebook = copy.deepcopy(independent("conv")[name])
        notebook.cells.append(nbformat.v4.new_code_cell(shared))
        write(notebook, tmp_path / "with" / name / "conv" / "conv.ipynb")
        write(independent("conv")[name], tmp_path / "without" / name / "conv" / "conv.ipynb")
    with_cell = similarity_report("conv", [tmp_path / "with"], course=ROOT)
    without = similarity_report("conv", [tmp_path / "without"], course=ROOT)
    assert with_cell.scores == without.scores, (_scores(with_cell), _scores(without))


def test_an_unreadable_notebook_is_skipped_with_the_reason(tmp_path):
    for name in ("solution", "style0"):
        write(independent("conv")[name], tmp_path / name / "conv" / "conv.ipynb")
    broken = tmp_path / "broken" / "conv" / "conv.ipynb"
    broken.parent.mkdir(parents=True)
    broken.write_text("{not json", encoding="utf-8")
    report = similarity_report("conv", [tmp_path], course=ROOT)
    assert set(report.students) == {"solution", "style0"}, report.students
    assert "could not be read" in report.skipped.get("broken", ""), report.skipped


class _Page(HTMLParser):
    """The tags of a page, and the text of its matched lines."""

    def __init__(self):
        super().__init__()
        self.tags, self.matched, self._depth = [], [], 0

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if self._depth or ("class", "line match") in attrs:
            self._depth += 1
            if self._depth == 1:
                self.matched.append("")

    def handle_endtag(self, tag):
        self._depth = max(self._depth - 1, 0)

    def handle_data(self, data):
        if self._depth:
            self.matched[-1] += data


def test_the_html_report_escapes_code_and_loads_nothing(tmp_path):
    original = independent("conv")["style1"]
    line = '    marker = "<script>alert(1)</script> & <b>"'
    source = _answer_source(original, "ans_conv_forward").replace(
        "    N, C = xp.shape[:2]", "    N, C = xp.shape[:2]\n" + line
    )
    assert line in source
    original = _with_answer(original, "ans_conv_forward", source)
    write(original, tmp_path / "a<b" / "conv" / "conv.ipynb")
    write(original, tmp_path / "twin" / "conv" / "conv.ipynb")
    report = similarity_report("conv", [tmp_path], course=ROOT)
    page = _Page()
    page.feed(write_html(report, tmp_path / "out" / "report.html").read_text(encoding="utf-8"))
    tags = {tag for tag, _ in page.tags}
    assert not {"script", "b", "img", "link", "iframe"} & tags, sorted(tags)
    links = [attrs["href"] for tag, attrs in page.tags if tag == "a"]
    assert links and all(href.startswith("#pair-") for href in links), links
    assert any(line.strip() in text for text in page.matched), page.matched[:5]


@pytest.mark.parametrize(
    ("arguments", "error", "named"),
    [
        ({"assignment": 3}, TypeError, "assignment"),
        ({"assignment": "../conv"}, ValueError, "assignment"),
        ({"submissions": []}, ValueError, "submissions"),
        ({"submissions": "notebook.ipynb"}, TypeError, "submissions"),
        ({"submissions": [3]}, TypeError, "submissions"),
        ({"threshold": 0}, ValueError, "threshold"),
        ({"threshold": 1.5}, ValueError, "threshold"),
        ({"threshold": "0.5"}, TypeError, "threshold"),
        ({"threshold": True}, TypeError, "threshold"),
        ({"released": 7}, TypeError, "released"),
        ({"released": "missing.ipynb"}, FileNotFoundError, "released"),
        ({"course": "no-such-course"}, FileNotFoundError, "course"),
    ],
)
def test_bad_arguments_are_refused_naming_them(tmp_path, arguments, error, named):
    call = {"assignment": "conv", "submissions": [tmp_path], "course": ROOT, **arguments}
    with pytest.raises(error, match=named):
        similarity_report(
            call.pop("assignment"), call.pop("submissions"), **{k: v for k, v in call.items()}
        )


def _run_cli(*args: str, seed: str = "0") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    return subprocess.run(
        [*CLI, *args], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env
    )


@pytest.fixture(scope="module")
def small_class(tmp_path_factory) -> Path:
    """conv's solution, style 0 and a disguised copy of the solution."""
    root = tmp_path_factory.mktemp("small_class")
    from similar_corpus import disguised_notebook

    solution = independent("conv")["solution"]
    write(solution, root / "ada" / "conv" / "conv.ipynb")
    write(independent("conv")["style0"], root / "bob" / "conv" / "conv.ipynb")
    write(disguised_notebook("conv", solution), root / "cy" / "conv" / "conv.ipynb")
    return root


@pytest.fixture(scope="module")
def command_run(small_class, tmp_path_factory):
    """``cnncourse similar`` on the small class (hash seed 1): (process, its HTML page)."""
    out = tmp_path_factory.mktemp("command") / "report.html"
    process = _run_cli("conv", str(small_class), "--html", str(out), seed="1")
    assert process.returncode == 0, process.stderr
    return process, out.read_text(encoding="utf-8")


def test_the_command_writes_the_report_and_prints_the_pairs(command_run):
    process, page = command_run
    table = process.stdout.splitlines()
    assert table[0].startswith("conv: 3 submissions compared"), process.stdout
    rows = [line.split() for line in table if line.startswith("ada")]
    assert [row[:2] for row in rows] == [["ada", "cy"]], process.stdout
    assert "<h2>ada and cy:" in page and "bob" not in page, page[:2000]


def test_the_command_gives_the_same_report_whatever_the_hash_seed(
    small_class, command_run, tmp_path
):
    first, first_page = command_run
    second = _run_cli("conv", str(small_class), "--html", str(tmp_path / "2.html"), seed="2")
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "2.html").read_text(encoding="utf-8") == first_page
    assert first.stdout.splitlines()[:-1] == second.stdout.splitlines()[:-1]  # not the path


def test_the_command_reports_a_missing_released_notebook(small_class, tmp_path):
    process = _run_cli(
        "conv", str(small_class), "--html", str(tmp_path / "r.html"), "--released", "nope.ipynb"
    )
    assert process.returncode == 2, process.stdout
    assert "released: no released notebook nope.ipynb" in process.stderr, process.stderr
    assert not (tmp_path / "r.html").exists()
