"""Submissions for the similarity report, made from the fairness corpus (tests/assignments).

The *independent* versions of an assignment are its solution and its correct styles, each
written separately (corpus README); the *copies* are those same notebooks disguised as a
student who copies would: every variable, argument and helper the cell defines renamed
(the names the released stub gives are kept), the functions of each cell in reverse order,
and a comment line before each statement (every third one after a blank line).

``python tests/grading/similar_corpus.py`` prints the distribution of scores behind the
threshold of ``cnncourse similar`` (docs/grading.md, "Similarity report"), with two harder
kinds of copy besides: reformatted ones and copies of half the answer cells.
"""

from __future__ import annotations

import ast
import copy
import io
import statistics
import sys
import tempfile
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "assignments"))

import corpus  # noqa: E402  (the fairness corpus, tests/assignments/corpus)
from assignment_course import ASSIGNMENTS, nbgrader_meta, released, write  # noqa: E402

COMMENTS = ("# next step", "# as in the lecture", "# TODO: check the shapes")


def independent(a: str) -> dict:
    """Name -> notebook of every independently written correct version of ``a``."""
    return {
        name: sub.notebook()
        for name, sub in corpus.submissions(a).items()
        if sub.kind in ("solution", "style")
    }


def stub_names(a: str) -> dict[str, set[str]]:
    """Answer cell -> the names its released stub defines (they keep their names in a copy)."""
    found = {}
    for cell in released(a).cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type == "code" and meta.get("solution"):
            tree = ast.parse(cell.source)
            found[meta["grade_id"]] = {
                node.name if isinstance(node, ast.FunctionDef) else node.id
                for node in ast.walk(tree)
                if isinstance(node, ast.FunctionDef)
                or (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store))
            }
    return found


def disguised_notebook(a: str, notebook):
    """A copy of ``notebook`` whose answer cells are :func:`disguise`d."""
    keep = stub_names(a)
    copied = copy.deepcopy(notebook)
    for cell in copied.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if cell.cell_type == "code" and grade_id in keep:
            cell.source = disguise(cell.source, keep[grade_id])
    return copied


def disguise(source: str, keep: set[str]) -> str:
    """``source`` with its own names renamed, its functions reversed, comments added; the
    rest of its text (spacing, quotes, line breaks) as the original has it."""
    renamed = _renamed(source, {n: f"my_{n}" for n in _own_names(ast.parse(source)) - keep})
    return _with_comments(_reversed_definitions(renamed))


def _own_names(tree: ast.Module) -> set[str]:
    """Names the cell binds: assigned variables, arguments, its functions and classes."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
    return {n for n in names if n != "self" and not n.startswith("__")}


def _renamed(source: str, names: dict[str, str]) -> str:
    """Every name token in ``names`` replaced, except attributes (after a dot)."""
    lines = source.split("\n")
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    edits = []
    for before, token in zip([None, *tokens], tokens, strict=False):
        after_dot = before is not None and before.string == "."
        if token.type == tokenize.NAME and token.string in names and not after_dot:
            edits.append(token)
    for token in reversed(edits):  # right to left: earlier columns stay valid
        row, start = token.start
        line = lines[row - 1]
        lines[row - 1] = line[:start] + names[token.string] + line[token.end[1] :]
    return "\n".join(lines)


def _reversed_definitions(source: str) -> str:
    """The cell's top-level functions and classes in reverse order, other statements kept;
    each statement moves with the blank lines and comments above it."""
    lines = source.split("\n")
    body = ast.parse(source).body
    chunks, taken = [], 0
    for node in body:
        chunks.append(lines[taken : node.end_lineno])
        taken = node.end_lineno
    tail = lines[taken:]
    places = [i for i, n in enumerate(body) if isinstance(n, ast.FunctionDef | ast.ClassDef)]
    moved = [chunks[i] for i in places]
    for place, chunk in zip(places, reversed(moved), strict=True):
        chunks[place] = chunk
    return "\n".join(line for chunk in [*chunks, tail] for line in chunk)


def _with_comments(code: str) -> str:
    lines = code.split("\n")
    starts = sorted(
        {node.lineno for node in ast.walk(ast.parse(code)) if isinstance(node, ast.stmt)},
        reverse=True,
    )
    for count, lineno in enumerate(starts):
        line = lines[lineno - 1]
        indent = line[: len(line) - len(line.lstrip())]
        added = [indent + COMMENTS[count % len(COMMENTS)]]
        if count % 3 == 0:
            added.insert(0, "")
        lines[lineno - 1 : lineno - 1] = added
    return "\n".join(lines)


def class_folder(a: str, root: Path) -> dict[str, Path]:
    """Every independent version of ``a`` and its disguised copy ("<name>_copy"), written
    as ``root/<student>/<a>/<a>.ipynb``; returns student -> notebook."""
    paths = {}
    for name, notebook in independent(a).items():
        for student, nb in ((name, notebook), (f"{name}_copy", disguised_notebook(a, notebook))):
            paths[student] = write(nb, root / student / a / f"{a}.ipynb")
    return paths


def origin(student: str) -> str:
    return student.removesuffix("_copy")


def harder_copies(a: str, root: Path) -> list[str]:
    """For the measurements only: per version, a copy also reformatted (``ast.unparse``:
    other quotes, parentheses and number spellings), "<name>_reformatted", and one that
    copies (disguised) only the first half of the answer cells and takes the rest from the
    next version, "<name>_half". Returns the versions' names."""
    versions = independent(a)
    names = list(versions)
    keep = stub_names(a)
    for k, name in enumerate(names):
        reformatted = disguised_notebook(a, versions[name])
        half = copy.deepcopy(reformatted)
        other = versions[names[(k + 1) % len(names)]]
        others = {nbgrader_meta(c).get("grade_id"): c.source for c in other.cells}
        ids = list(keep)
        for cell, mine in zip(reformatted.cells, half.cells, strict=True):
            grade_id = nbgrader_meta(cell).get("grade_id")
            if cell.cell_type == "code" and grade_id in keep:
                cell.source = ast.unparse(ast.parse(cell.source))
                if ids.index(grade_id) >= len(ids) // 2:
                    mine.source = others[grade_id]
        write(reformatted, root / f"{name}_reformatted" / a / f"{a}.ipynb")
        write(half, root / f"{name}_half" / a / f"{a}.ipynb")
    return names


def measured_scores(a: str, root: Path) -> dict[str, list[float]]:
    """Scores of the pairs of different origin ("between"), of a version and its copy
    ("copies"), its reformatted copy and its half copy."""
    from cnncourse.grading.similar import similarity_report

    students = sorted(class_folder(a, root))
    names = harder_copies(a, root)
    report = similarity_report(a, [root], course=ROOT, threshold=1.0)
    pairs = [(x, y) for i, x in enumerate(students) for y in students[i + 1 :]]
    return {
        "between": [report.score(x, y) for x, y in pairs if origin(x) != origin(y)],
        "copies": [report.score(x, y) for x, y in pairs if origin(x) == origin(y)],
        "reformatted": [report.score(x, f"{x}_reformatted") for x in names],
        "half": [report.score(x, f"{x}_half") for x in names],
    }


def main() -> None:
    every: dict[str, list[float]] = {}
    for a in ASSIGNMENTS:
        with tempfile.TemporaryDirectory() as folder:
            scores = measured_scores(a, Path(folder))
        for kind, found in scores.items():
            every.setdefault(kind, []).extend(found)
            print(f"{a:<11} {kind:<12} {_figures(found)}")
    for kind, found in every.items():
        print(f"{'all':<11} {kind:<12} {_figures(found)}")


def _figures(scores: list[float]) -> str:
    return (
        f"n={len(scores):<3} min {min(scores):.2f} median {statistics.median(scores):.2f} "
        f"max {max(scores):.2f}"
    )


if __name__ == "__main__":
    main()
