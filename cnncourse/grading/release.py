"""``cnncourse release``: make the student notebooks from the instructor sources.

The instructor sources are nbgrader "source" notebooks, ``solutions/<a>/<a>.ipynb``. They
are written as readable percent-format Python files, ``solutions/<a>/<a>.py``, which this
module turns into the notebooks (``build_notebook``), so a change is a reviewable diff.
Each cell starts with a header line that says which kind of nbgrader cell it is::

    # %% [markdown]                       plain text (each line starts with "# ")
    # %%                                  plain code, students may edit it
    # %% [readonly] id=setup              locked code (imports, demos that must stay as is)
    # %% [readonly-markdown] id=intro     locked text
    # %% [answer] id=ans_conv_forward     autograded answer: code with ### BEGIN/END SOLUTION
    # %% [check] id=conv_forward          autograder tests made from the assignment's
                                          specification, cnncourse.checks.<a> (no body)
    # %% [tests] id=conv_forward points=6 hand-written autograder tests (may hold
                                          ### BEGIN HIDDEN TESTS)
    # %% [manual] id=q_padding points=3   written answer graded by hand (markdown, the
                                          model answer is the cell's text)

A ``[check]`` cell's text and points come from the specification's check of that grade id
(:mod:`cnncourse.checks`): its hidden section switches the checks to grading mode, then it
calls the check with the student's names, so that the notebook, its hidden tests and the
``cnncourse grade`` suite never disagree; every check of the specification needs its cell.

Then ``nbgrader generate_assignment`` (through nbgrader's own converter, configured by
``autograde/nbgrader_config.py``: ``solutions/`` is nbgrader's source folder and
``exercises/`` its release folder) writes ``exercises/<a>/<a>.ipynb``: solutions replaced by
``raise NotImplementedError()``, hidden tests removed, locked cells checksummed.

    cnncourse release                 # rebuild every source notebook, release every assignment
    cnncourse release conv dropout    # only these
    cnncourse release --check         # exit 1 if a committed file is not what a release makes
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import re
import shlex
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat

from cnncourse.grading.cells import HiddenTestsError, nbgrader_metadata, strip_hidden

if TYPE_CHECKING:  # cnncourse.checks is imported only for sources with [check] cells
    from cnncourse.checks.runner import Assignment

ASSIGNMENTS = ("backprop", "conv", "dropout", "batchnorm", "optimizers")

_HEADER = re.compile(r"^# %%(?P<rest>.*)$")
_KINDS = {"code", "markdown", "readonly", "readonly-markdown", "answer", "tests", "check", "manual"}
# the nbgrader cell kind (cnncourse.grading.cells) of each percent-format kind
_NBGRADER_KIND = {
    "readonly": "readonly",
    "readonly-markdown": "readonly",
    "answer": "answer",
    "tests": "test",
    "check": "test",
    "manual": "manual",
}
_MARKDOWN_KINDS = {"markdown", "readonly-markdown", "manual"}

# Notebook metadata of every source notebook (nbgrader reads the kernelspec's language).
_NB_METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


class SourceError(ValueError):
    """A percent-format source that cannot be turned into an nbgrader notebook."""


def find_course_root(start: Path | None = None) -> Path:
    """The folder holding ``autograde/nbgrader_config.py``: ``start`` or one of its parents."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "autograde" / "nbgrader_config.py").is_file():
            return folder
    raise FileNotFoundError(
        f"no autograde/nbgrader_config.py in {here} or any folder above it: run this command "
        "inside the course repository or pass --course-dir"
    )


def _parse_header(rest: str, path: Path, lineno: int) -> tuple[str, dict[str, str]]:
    rest = rest.strip()
    kind = "code"
    m = re.match(r"^\[(?P<kind>[a-z-]+)\]\s*", rest)
    if m:
        kind = m.group("kind")
        rest = rest[m.end() :]
    if kind not in _KINDS:
        raise SourceError(
            f"{path}:{lineno}: unknown cell kind [{kind}]; use one of {sorted(_KINDS)}"
        )
    fields = {}
    for token in shlex.split(rest):
        key, sep, value = token.partition("=")
        if not sep or key not in {"id", "points"}:
            raise SourceError(f"{path}:{lineno}: expected id=... or points=..., got {token!r}")
        fields[key] = value
    needs_id = kind in _NBGRADER_KIND
    if needs_id and "id" not in fields:
        raise SourceError(f"{path}:{lineno}: a [{kind}] cell needs id=<grade id>")
    if kind in {"tests", "manual"} and "points" not in fields:
        raise SourceError(f"{path}:{lineno}: a [{kind}] cell needs points=<number>")
    if kind not in {"tests", "manual"} and "points" in fields:
        raise SourceError(f"{path}:{lineno}: only [tests] and [manual] cells carry points")
    return kind, fields


def _nbgrader_metadata(kind: str, fields: dict[str, str]) -> dict | None:
    if kind not in _NBGRADER_KIND:
        return None
    points = fields.get("points")
    return nbgrader_metadata(
        _NBGRADER_KIND[kind], fields["id"], None if points is None else float(points)
    )


def _spec(path: Path) -> Assignment:
    """The specification of the assignment ``path`` is the source of (by its file name)."""
    from cnncourse import checks

    try:
        return checks.spec(path.stem)
    except ValueError as exc:
        raise SourceError(f"{path}: [check] cells need a specification: {exc}") from None


def _markdown_text(lines: list[str], path: Path, start: int) -> str:
    out = []
    for offset, line in enumerate(lines):
        if line == "#":
            out.append("")
        elif line.startswith("# "):
            out.append(line[2:])
        elif not line.strip():
            out.append("")
        else:
            raise SourceError(f"{path}:{start + offset}: a markdown line must start with '# '")
    return "\n".join(out).strip("\n")


def build_notebook(path: Path) -> nbformat.NotebookNode:
    """Turn a percent-format source (see the module docstring) into an nbgrader notebook."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8").split("\n")
    cells: list[tuple[str, dict, list[str], int]] = []
    for lineno, line in enumerate(lines, start=1):
        m = _HEADER.match(line)
        if m:
            kind, fields = _parse_header(m.group("rest"), path, lineno)
            cells.append((kind, fields, [], lineno + 1))
        elif cells:
            cells[-1][2].append(line)
        elif line.strip() and not line.startswith("#"):
            raise SourceError(f"{path}:{lineno}: code before the first '# %%' cell header")
    nb = nbformat.v4.new_notebook()
    nb.metadata = json.loads(json.dumps(_NB_METADATA))
    seen_ids: set[str] = set()
    spec: Assignment | None = None  # loaded at the first [check] cell
    for index, (kind, fields, body, start) in enumerate(cells):
        if kind == "check":
            if "\n".join(body).strip():
                raise SourceError(
                    f"{path}:{start - 1}: a [check] cell has no body: its code comes from "
                    f"cnncourse/checks/{path.stem}.py"
                )
            if spec is None:
                spec = _spec(path)
            try:
                check = spec.check(fields["id"])
            except KeyError as exc:
                raise SourceError(f"{path}:{start - 1}: {exc.args[0]}") from None
            fields = {**fields, "points": str(check.points)}
            body = check.notebook_source().split("\n")
        if kind in _MARKDOWN_KINDS:
            source = _markdown_text(body, path, start)
            cell = nbformat.v4.new_markdown_cell(source)
        else:
            source = "\n".join(body).strip("\n")
            cell = nbformat.v4.new_code_cell(source)
        if not source.strip():
            raise SourceError(f"{path}:{start - 1}: empty cell")
        if kind != "markdown" and kind not in _MARKDOWN_KINDS:
            try:
                strip_hidden(source)
            except HiddenTestsError as exc:
                raise SourceError(f"{path}:{start - 1}: {exc}") from None
        meta = _nbgrader_metadata(kind, fields)
        if meta is not None:
            if meta["grade_id"] in seen_ids:
                raise SourceError(f"{path}:{start - 1}: grade id {meta['grade_id']!r} used twice")
            seen_ids.add(meta["grade_id"])
            cell.metadata["nbgrader"] = meta
        if kind == "answer" and "### BEGIN SOLUTION" not in source:
            raise SourceError(f"{path}:{start - 1}: an [answer] cell needs ### BEGIN SOLUTION")
        # Stable cell ids keep the committed notebooks' diffs small.
        label = fields.get("id") or f"cell-{index}"
        digest = hashlib.sha1(f"{path.stem}/{index}/{label}".encode()).hexdigest()[:8]
        cell["id"] = f"{label[:40]}-{digest}"
        cells_list = nb.cells
        cells_list.append(cell)
    if spec is not None:
        missing = [c.grade_id for c in spec.checks if c.grade_id not in seen_ids]
        if missing:
            raise SourceError(
                f"{path}: the specification cnncourse/checks/{path.stem}.py has test cells "
                f"{missing} that no [check] cell places"
            )
    nbformat.validate(nb)
    return nb


def notebook_text(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def build_sources(root: Path, assignments) -> list[Path]:
    """Write ``solutions/<a>/<a>.ipynb`` from ``solutions/<a>/<a>.py``; return what changed."""
    changed = []
    for a in assignments:
        src = root / "solutions" / a / f"{a}.py"
        dst = src.with_suffix(".ipynb")
        text = notebook_text(build_notebook(src))
        if not dst.exists() or dst.read_text(encoding="utf-8") != text:
            dst.write_text(text, encoding="utf-8")
            changed.append(dst)
    return changed


def load_config(root: Path, overrides: dict | None = None):
    """nbgrader's configuration for the course at ``root`` (autograde/nbgrader_config.py)."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root / "autograde")).load_config()
    for section, values in (overrides or {}).items():
        for key, value in values.items():
            config[section][key] = value
    return config


def generate(root: Path, assignments, release_dir: Path | None = None) -> None:
    """Run nbgrader's ``generate_assignment`` for each assignment, without a gradebook.

    ``release_dir`` (default: the configured ``exercises/``) is where the student copies go.
    Raises RuntimeError with nbgrader's log when nbgrader fails.
    """
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory

    # what `nbgrader generate_assignment --no-db --force` sets
    overrides: dict[str, dict[str, Any]] = {
        "GenerateAssignment": {"no_database": True, "force": True},
        "SaveCells": {"enabled": False},
    }
    if release_dir is not None:
        overrides["CourseDirectory"] = {"release_directory": str(Path(release_dir).resolve())}
    for a in assignments:
        config = load_config(root, overrides)
        config.CourseDirectory.assignment_id = a
        coursedir = CourseDirectory(config=config)
        log = logging.getLogger(f"cnncourse.release.{a}")
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        try:
            converter = GenerateAssignment(coursedir=coursedir, config=config, log=log)
            converter.start()
        except Exception as exc:  # nbgrader raises its own NbGraderException and others
            raise RuntimeError(
                f"nbgrader generate_assignment {a} failed: {exc}\n{stream.getvalue()}"
            ) from exc
        finally:
            log.removeHandler(handler)


def comparable(nb_text: str) -> dict:
    """A notebook with the metadata that may legitimately vary between runs removed."""
    nb = json.loads(nb_text)
    nb.get("metadata", {}).pop("language_info", None)
    nb.get("metadata", {}).pop("widgets", None)
    for cell in nb.get("cells", []):
        cell.get("metadata", {}).pop("execution", None)
        cell.get("metadata", {}).pop("collapsed", None)
        cell.get("metadata", {}).pop("scrolled", None)
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return nb


def _tree(folder: Path) -> dict[str, Path]:
    return {
        str(p.relative_to(folder)): p
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts
    }


def differences(root: Path, assignments) -> list[str]:
    """What ``cnncourse release`` would change: stale source notebooks or exercises."""
    problems = []
    for a in assignments:
        src = root / "solutions" / a / f"{a}.py"
        dst = src.with_suffix(".ipynb")
        if not dst.exists() or dst.read_text(encoding="utf-8") != notebook_text(
            build_notebook(src)
        ):
            problems.append(f"{dst.relative_to(root)} is not what {src.relative_to(root)} builds")
    with tempfile.TemporaryDirectory(prefix="cnncourse-release-") as tmp:
        generate(root, assignments, release_dir=Path(tmp))
        for a in assignments:
            made, committed = _tree(Path(tmp) / a), _tree(root / "exercises" / a)
            for name in sorted(set(made) | set(committed)):
                where = f"exercises/{a}/{name}"
                if name not in committed:
                    problems.append(f"{where} is missing (a release makes it)")
                elif name not in made:
                    problems.append(f"{where} is not made by a release")
                elif name.endswith(".ipynb"):
                    got = comparable(committed[name].read_text(encoding="utf-8"))
                    want = comparable(made[name].read_text(encoding="utf-8"))
                    if got != want:
                        problems.append(f"{where} differs from what a release makes")
                elif committed[name].read_bytes() != made[name].read_bytes():
                    problems.append(f"{where} differs from what a release makes")
    return problems


def resolve_assignments(root: Path, assignments: Sequence[str] = ()) -> list[str]:
    """The assignments named (default: every one of ``ASSIGNMENTS`` with a solutions folder).

    Raises ValueError naming an assignment that has no ``solutions/<a>/`` under ``root``.
    """
    root = Path(root)
    named = list(assignments) or [a for a in ASSIGNMENTS if (root / "solutions" / a).is_dir()]
    unknown = [a for a in named if not (root / "solutions" / a).is_dir()]
    if unknown:
        known = sorted(p.name for p in (root / "solutions").glob("*/") if p.is_dir())
        raise ValueError(
            f"assignments: no solutions/{unknown[0]}/ in {root} (assignments: {known})"
        )
    return named


def release(root: Path, assignments: Sequence[str], *, build: bool = True) -> list[Path]:
    """Rebuild the source notebooks (unless ``build`` is False) and release ``assignments``.

    Each ``exercises/<a>/`` is replaced by what ``nbgrader generate_assignment`` makes from
    ``solutions/<a>/<a>.ipynb``. Returns the source notebooks that were rebuilt (changed).
    Raises SourceError for a malformed percent-format source, RuntimeError when nbgrader fails.
    """
    root = Path(root)
    rebuilt = []
    if build:
        with_sources = [a for a in assignments if (root / "solutions" / a / f"{a}.py").exists()]
        rebuilt = build_sources(root, with_sources)
    for a in assignments:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(root / "exercises" / a)
    generate(root, assignments)
    return rebuilt
