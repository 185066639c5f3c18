"""``cnncourse similar ASSIGNMENT SUBMISSION... --html OUT``: which students' answers are alike.

As MOSS does for CS231n's submissions: every student's answer cells (nothing else of the
notebook) are tokenized, with every name replaced by one letter, and fingerprinted by
winnowing (copydetect, the method of "Winnowing: Local Algorithms for Document
Fingerprinting" that MOSS uses); the fingerprints of the released notebook's code are
boilerplate and never count. Each pair of students gets two fractions: how much of the first
one's own answer code is found in the second one's, and the other way round. A pair whose
larger fraction reaches the threshold is listed, with the matching lines side by side.

Renamed variables do not change the tokenized text, comments and blank lines are dropped
from it, and fingerprints are a set of hashes, so the order of functions (and of cells) does
not matter either: only the few k-grams spanning the boundary between two functions change.
The threshold and its measurements are in docs/grading.md ("Similarity report").
"""

from __future__ import annotations

import html
import io
import itertools
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy is imported when a report is made
    import numpy as np

from cnncourse.grading.notebook import (
    NotebookError,
    load_source,
    load_submission,
    read_cells,
    to_python,
)

# NOISE: the length of a k-gram, in characters of tokenized code (every name is one letter,
# spaces and comments are gone): a match shorter than that never counts (copydetect's -n).
# Every k-gram is a fingerprint (_fingerprint). THRESHOLD: measured, docs/grading.md.
NOISE = 25
THRESHOLD = 0.65


@dataclass(frozen=True)
class CellMatch:
    """One answer cell of a pair: both students' lines, and which of them match."""

    grade_id: str
    first: tuple[str, ...]
    second: tuple[str, ...]
    first_matched: frozenset[int]  # indexes into ``first``
    second_matched: frozenset[int]


@dataclass(frozen=True)
class Pair:
    first: str
    second: str
    fractions: tuple[float, float]  # of the first's answer code found in the second's, and back
    cells: tuple[CellMatch, ...] = ()  # the cells with matching lines

    @property
    def score(self) -> float:
        return max(self.fractions)


@dataclass
class Report:
    assignment: str
    threshold: float
    students: tuple[str, ...]  # those compared
    pairs: tuple[Pair, ...]  # above the threshold, most similar first, with matching lines
    scores: dict[tuple[str, str], tuple[float, float]]  # every compared pair's fractions
    skipped: dict[str, str] = field(default_factory=dict)  # student -> why not compared

    def score(self, first: str, second: str) -> float:
        """The pair's larger fraction (0 for a pair with nothing in common)."""
        fractions = self.scores.get((first, second)) or self.scores.get((second, first))
        if fractions is None:
            raise KeyError(f"no pair {first!r}, {second!r} in the report")
        return max(fractions)


@dataclass(frozen=True)
class _Cell:
    """One answer cell of a student and its fingerprints that are not boilerplate."""

    grade_id: str
    source: str
    fingerprint: Any  # copydetect's CodeFingerprint
    hashes: np.ndarray  # the hash of each k-gram kept, by position
    positions: np.ndarray  # where each starts in the tokenized code
    distinct: np.ndarray  # the distinct hashes, sorted
    own: int  # tokenized characters covered by those k-grams: the student's own code

    @classmethod
    def of(cls, grade_id: str, source: str, boilerplate) -> _Cell:
        import numpy as np

        fingerprint = _fingerprint(source, boilerplate)
        found = [(i, h) for h, places in fingerprint.hash_idx.items() for i in places]
        found.sort()
        positions = np.array([i for i, _ in found], dtype=np.int64)
        hashes = np.array([h for _, h in found], dtype=np.int64)
        distinct = np.unique(hashes)
        return cls(grade_id, source, fingerprint, hashes, positions, distinct, _covered(positions))

    def found_in(self, other: _Cell) -> int:
        """How much of this cell's own code has a k-gram in ``other``."""
        import numpy as np

        where = np.searchsorted(other.distinct, self.hashes).clip(0, len(other.distinct) - 1)
        return _covered(self.positions[other.distinct[where] == self.hashes])


def _covered(positions) -> int:
    """Characters covered by k-grams starting at ``positions`` (sorted, distinct)."""
    import numpy as np

    if len(positions) == 0:
        return 0
    return int(np.minimum(np.diff(positions), NOISE).sum()) + NOISE


@dataclass(frozen=True)
class _Answers:
    """A student's answer cells, in the released notebook's order."""

    student: str
    cells: tuple[_Cell, ...]

    @property
    def own(self) -> int:
        return sum(cell.own for cell in self.cells)


def similarity_report(
    assignment: str,
    submissions,
    *,
    course: str | Path = ".",
    released: str | Path | None = None,
    threshold: float = THRESHOLD,
) -> Report:
    """Compare the answer cells of every pair of ``submissions`` of ``assignment``.

    ``submissions``: notebooks or folders, as ``cnncourse grade`` takes them (one student
    each, found by :func:`cnncourse.grading.runner.find_submissions`). ``released``: the
    notebook the students were given (default ``COURSE/exercises/NAME/NAME.ipynb``); its
    answer cells (nbgrader ``solution`` code cells) say which cells are compared, and all
    its code is boilerplate. A student whose notebook cannot be read is skipped, with the
    reason, in :attr:`Report.skipped`.
    """
    assignment, paths, threshold = _checked(assignment, submissions, threshold)
    released_path = _released_path(course, assignment, released)
    from cnncourse.grading.runner import find_submissions

    try:
        source = load_source(released_path)
    except NotebookError as exc:
        raise ValueError(f"released: {exc}") from None
    boilerplate, given = _boilerplate(released_path)
    answers, skipped = [], {}
    for ref in find_submissions(paths, assignment):
        if ref.problem:
            skipped[ref.student] = ref.problem
            continue
        try:
            found = load_submission(ref.notebook, source)
        except NotebookError as exc:
            skipped[ref.student] = str(exc)
            continue
        cells = [_Cell.of(g, found.answers.get(g, ""), boilerplate) for g in source.answer_ids]
        answers.append(_Answers(ref.student, tuple(cells)))
    return _compare(assignment, threshold, answers, given, skipped)


def _checked(assignment, submissions, threshold) -> tuple[str, list[Path], float]:
    if not isinstance(assignment, str):
        raise TypeError(f"assignment: expected a name (str), got {type(assignment).__name__}")
    if not assignment or assignment in (".", "..") or "/" in assignment or "\\" in assignment:
        raise ValueError(f"assignment: expected a folder name, got {assignment!r}")
    if isinstance(submissions, str | Path) or not hasattr(submissions, "__iter__"):
        raise TypeError(
            f"submissions: expected a list of notebooks or folders, got {submissions!r}"
        )
    paths = list(submissions)
    if not paths:
        raise ValueError("submissions: expected at least one notebook or folder, got none")
    for path in paths:
        if not isinstance(path, str | Path):
            raise TypeError(f"submissions: expected paths, got {path!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise TypeError(f"threshold: expected a number, got {threshold!r}")
    if not 0 < float(threshold) <= 1:
        raise ValueError(f"threshold: expected a fraction in (0, 1], got {threshold!r}")
    return assignment, [Path(path) for path in paths], float(threshold)


def _released_path(course, assignment: str, released) -> Path:
    if released is None:
        if not isinstance(course, str | Path):
            raise TypeError(f"course: expected a folder, got {course!r}")
        path = Path(course) / "exercises" / assignment / f"{assignment}.ipynb"
        name = "course"
    elif isinstance(released, str | Path):
        path, name = Path(released), "released"
    else:
        raise TypeError(f"released: expected a notebook path, got {released!r}")
    if not path.is_file():
        raise FileNotFoundError(f"{name}: no released notebook {path}")
    return path


def _boilerplate(released: Path) -> tuple[set, frozenset[str]]:
    """Every fingerprint of the released notebook's code cells (no winnowing: all k-grams),
    and their lines (never highlighted in the report)."""
    hashes, lines = set(), set()
    for cell in read_cells(released):
        if cell["cell_type"] == "code":
            code = to_python(cell["source"])
            hashes |= _fingerprint(code).hashes
            lines |= {line.strip() for line in code.split("\n")}
    return hashes, frozenset(lines)


def _fingerprint(code: str, boilerplate=None):
    """copydetect's fingerprint of ``code``: every k-gram (a window of 1, so no winnowing:
    which k-grams winnowing keeps depends on Python's hash, which changes from one process
    to the next, and answer cells are small enough to keep them all)."""
    import numpy as np
    from copydetect import CodeFingerprint

    return CodeFingerprint(
        "answer.py",
        NOISE,
        1,
        boilerplate=np.array(sorted(boilerplate)) if boilerplate else None,
        language="python",
        fp=io.StringIO(code),
    )


def _compare(assignment, threshold, answers: list[_Answers], given, skipped) -> Report:
    scores, pairs = {}, []
    for first, second in itertools.combinations(answers, 2):
        fractions = _fractions(first, second)
        scores[first.student, second.student] = fractions
        if max(fractions) >= threshold:
            cells = _cell_matches(first, second, given)
            pairs.append(Pair(first.student, second.student, fractions, cells))
    pairs.sort(key=lambda pair: (-pair.score, pair.first, pair.second))
    students = tuple(a.student for a in answers)
    return Report(assignment, threshold, students, tuple(pairs), scores, skipped)


def _fractions(first: _Answers, second: _Answers) -> tuple[float, float]:
    """How much of each one's own code has a k-gram in the same cell of the other's (as
    copydetect's ``compare_files`` computes it, summed over the cells)."""
    found = [0, 0]
    for cell1, cell2 in zip(first.cells, second.cells, strict=True):
        if cell1.own == 0 or cell2.own == 0:
            continue
        found[0] += cell1.found_in(cell2)
        found[1] += cell2.found_in(cell1)
    owns = (first.own, second.own)
    first_found, second_found = (
        part / own if own else 0.0 for part, own in zip(found, owns, strict=True)
    )
    return first_found, second_found


def _cell_matches(first: _Answers, second: _Answers, given) -> tuple[CellMatch, ...]:
    """The cells with matching code, their matched lines from copydetect's ``compare_files``.
    ``given``: the released notebook's lines, never marked."""
    from copydetect import compare_files

    cells = []
    for cell1, cell2 in zip(first.cells, second.cells, strict=True):
        if cell1.own == 0 or cell2.own == 0:
            continue
        _tokens, _fractions, (slices1, slices2) = compare_files(
            cell1.fingerprint, cell2.fingerprint
        )
        lines1, marked1 = _matched_lines(cell1.source, slices1, given)
        lines2, marked2 = _matched_lines(cell2.source, slices2, given)
        if marked1 or marked2:
            cells.append(CellMatch(cell1.grade_id, lines1, lines2, marked1, marked2))
    return tuple(cells)


def _matched_lines(text: str, slices, given) -> tuple[tuple[str, ...], frozenset[int]]:
    """The cell's lines, and those holding matched code (not only blanks, a comment or a
    line of the released notebook)."""
    import numpy as np

    copied = np.zeros(len(text) + 1, dtype=np.int64)
    if len(slices) and len(slices[0]):
        np.add.at(copied, np.asarray(slices[0], dtype=np.int64).clip(0, len(text)), 1)
        np.add.at(copied, np.asarray(slices[1], dtype=np.int64).clip(0, len(text)), -1)
    code = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32) > ord(" ")
    # matched characters that are not spaces, counted up to each place in the text
    counts = [0, *np.cumsum((np.cumsum(copied[:-1]) > 0) & code).tolist()]
    lines = text.split("\n")
    marked, offset = set(), 0
    for index, line in enumerate(lines):
        stripped = line.strip()
        end = offset + len(line)
        own = stripped and not stripped.startswith("#") and stripped not in given
        if own and counts[end] > counts[offset]:
            marked.add(index)
        offset = end + 1
    return tuple(lines), frozenset(marked)


def format_table(report: Report) -> str:
    """The pairs above the threshold as a text table (the command prints it): for each, the
    fraction of the first student's own code found in the second's, and the other way."""
    head = (
        f"{report.assignment}: {len(report.students)} submissions compared, "
        f"threshold {report.threshold:.0%}"
    )
    lines = [head]
    for student, why in sorted(report.skipped.items()):
        lines.append(f"skipped {student}: {why.splitlines()[0] if why else ''}")
    if not report.pairs:
        highest = max((max(f) for f in report.scores.values()), default=0.0)
        lines.append(f"no pair above the threshold (the most similar: {highest:.0%})")
        return "\n".join(lines)
    width = max(len(s) for p in report.pairs for s in (p.first, p.second))
    width = max(width, len("student"))
    lines.append(f"{'first':<{width}}  {'second':<{width}}  1st in 2nd  2nd in 1st")
    for pair in report.pairs:
        lines.append(
            f"{pair.first:<{width}}  {pair.second:<{width}}  "
            f"{pair.fractions[0]:>10.0%}  {pair.fractions[1]:>10.0%}"
        )
    return "\n".join(lines)


_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table.pairs td, table.pairs th { padding: 0.2em 0.8em; text-align: left; }
table.side { border-collapse: collapse; width: 100%; table-layout: fixed; }
table.side td, table.side th { border: 1px solid #ccc; vertical-align: top; padding: 0.3em; }
pre { margin: 0; white-space: pre-wrap; font-size: 0.85em; }
span.line { display: block; }
span.match { background: #ffe08a; }
span.number { color: #888; display: inline-block; width: 3em; }
"""


def write_html(report: Report, path: str | Path) -> Path:
    """One self-contained page: the pairs above the threshold, matching lines side by side."""
    if not isinstance(report, Report):
        raise TypeError(f"report: expected a Report, got {type(report).__name__}")
    if not isinstance(path, str | Path):
        raise TypeError(f"path: expected a file path, got {path!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_page(report), encoding="utf-8")
    return path


def _page(report: Report) -> str:
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Similar submissions: {e(report.assignment)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Similar submissions: {e(report.assignment)}</h1>",
        f"<p>{len(report.students)} submissions compared (answer cells only, the released "
        f"notebook's code as boilerplate); {len(report.pairs)} pair(s) at or above "
        f"{report.threshold:.0%} of one student's own code found in the other's.</p>",
    ]
    if report.skipped:
        parts.append("<h2>Not compared</h2><ul>")
        parts += [f"<li>{e(s)}: {e(why)}</li>" for s, why in sorted(report.skipped.items())]
        parts.append("</ul>")
    if report.pairs:
        parts.append(_summary(report.pairs))
    for number, pair in enumerate(report.pairs, start=1):
        parts.append(_pair_section(number, pair))
    parts.append("</body></html>")
    return "\n".join(parts)


def _summary(pairs: tuple[Pair, ...]) -> str:
    e = html.escape
    rows = [
        "<table class='pairs'><tr><th>first</th><th>second</th>"
        "<th>first's code in second</th><th>second's code in first</th></tr>"
    ]
    for number, pair in enumerate(pairs, start=1):
        rows.append(
            f"<tr><td><a href='#pair-{number}'>{e(pair.first)}</a></td><td>{e(pair.second)}</td>"
            f"<td>{pair.fractions[0]:.0%}</td><td>{pair.fractions[1]:.0%}</td></tr>"
        )
    rows.append("</table>")
    return "\n".join(rows)


def _pair_section(number: int, pair: Pair) -> str:
    e = html.escape
    parts = [
        f"<section id='pair-{number}'><h2>{e(pair.first)} and {e(pair.second)}: "
        f"{pair.fractions[0]:.0%} / {pair.fractions[1]:.0%}</h2>"
    ]
    for cell in pair.cells:
        parts += [
            f"<h3>{e(cell.grade_id)}</h3>",
            "<table class='side'>",
            f"<tr><th>{e(pair.first)}</th><th>{e(pair.second)}</th></tr>",
            f"<tr><td>{_code(cell.first, cell.first_matched)}</td>"
            f"<td>{_code(cell.second, cell.second_matched)}</td></tr>",
            "</table>",
        ]
    parts.append("</section>")
    return "\n".join(parts)


def _code(lines: tuple[str, ...], matched: frozenset[int]) -> str:
    out = []
    for index, line in enumerate(lines):
        css = "line match" if index in matched else "line"
        number = f"<span class='number'>{index + 1}</span>"
        out.append(f"<span class='{css}'>{number}{html.escape(line) or ' '}</span>")
    return "<pre>" + "".join(out) + "</pre>"
