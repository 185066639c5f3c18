"""Every name of the package that the book uses exists.

The names are collected from the chapters themselves (book/*.md): the code cells'
``from cnncourse... import ...`` and ``import cnncourse...``, the attributes the code reads
from those modules (``L.relu_forward``, ``cnncourse.summary``), and the dotted names the text
quotes (``cnncourse.train.fit``). A rename or a move in the package that forgets a chapter
fails here, with the chapter and the name, long before a book build.
"""

from __future__ import annotations

import ast
import importlib
import re
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").rglob("*.md"))
CODE_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
DOTTED = re.compile(r"\bcnncourse(?:\.[A-Za-z_]\w*)+")
# The names students use in the exercises and the book: they must keep working.
STUDENT_NAMES = (
    "cnncourse.layers",
    "cnncourse.optim",
    "cnncourse.models",
    "cnncourse.summary",
    "cnncourse.train.fit",
    "cnncourse.data",
)


def _code(source: str) -> str:
    """A code cell as Python: IPython magics and shell lines become blank lines."""
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n")
    )


class _Uses(ast.NodeVisitor):
    """The dotted cnncourse names a cell's code imports or reads."""

    def __init__(self, modules: dict[str, str]):
        self.modules = modules  # local name -> the cnncourse module it is bound to
        self.names: set[str] = set()

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.split(".")[0] == "cnncourse":
                self.names.add(alias.name)
                if alias.asname:
                    self.modules[alias.asname] = alias.name
                else:
                    self.modules["cnncourse"] = "cnncourse"

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module is None or node.module.split(".")[0] != "cnncourse":
            return
        for alias in node.names:
            full = f"{node.module}.{alias.name}"
            self.names.add(full)
            self.modules[alias.asname or alias.name] = full

    def visit_Attribute(self, node: ast.Attribute) -> None:
        chain, inner = [node.attr], node.value
        while isinstance(inner, ast.Attribute):
            chain.append(inner.attr)
            inner = inner.value
        if isinstance(inner, ast.Name) and inner.id in self.modules:
            self.names.add(".".join([self.modules[inner.id], *reversed(chain)]))
        else:
            self.generic_visit(node)


def _cell_code(body: str) -> str:
    """A MyST code cell's code, without its options (a ``---`` block or ``:key:`` lines)."""
    lines = body.split("\n")
    if lines[0].strip() == "---":
        lines = lines[lines.index("---", 1) + 1 :]
    while lines and lines[0].startswith(":"):
        lines = lines[1:]
    return _code("\n".join(lines))


def _uses(chapter: Path) -> set[str]:
    text = chapter.read_text(encoding="utf-8")
    names = set(DOTTED.findall(CODE_CELL.sub("", text)))  # what the text quotes
    modules: dict[str, str] = {}  # shared by the cells, as in the kernel
    for body in CODE_CELL.findall(text):
        visitor = _Uses(modules)
        visitor.visit(ast.parse(_cell_code(body), filename=str(chapter)))
        names |= visitor.names
    return names


def _book_uses() -> dict[str, list[str]]:
    """Each dotted name -> the chapters that use it."""
    uses: dict[str, list[str]] = {}
    for chapter in CHAPTERS:
        for name in _uses(chapter):
            uses.setdefault(name, []).append(chapter.name)
    return dict(sorted(uses.items()))


USES = _book_uses()


def _attribute(obj, owner: str, attr: str):
    """``owner.attr``: an attribute, or a submodule of a package not imported yet."""
    if hasattr(obj, attr):
        return getattr(obj, attr)
    if isinstance(obj, types.ModuleType) and hasattr(obj, "__path__"):
        try:
            return importlib.import_module(f"{owner}.{attr}")
        except ModuleNotFoundError:
            pass
    raise AttributeError(f"{owner} has no attribute {attr!r}")


def resolve(dotted: str):
    """The object a dotted name stands for: the longest importable module prefix, then
    attributes (a submodule not yet imported is imported)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for i, attr in enumerate(parts[cut:], start=cut):
            obj = _attribute(obj, ".".join(parts[:i]), attr)
        return obj
    raise ModuleNotFoundError(f"no module of {dotted!r} can be imported")


def test_the_chapters_use_the_names_students_use():
    # the collection itself works: the names every student meets are found in the chapters
    missing = [name for name in STUDENT_NAMES if name not in USES]
    assert not missing, f"not found in any chapter: {missing}; found {sorted(USES)}"


@pytest.mark.parametrize("name", STUDENT_NAMES)
def test_a_student_name_exists(name):
    assert resolve(name) is not None


@pytest.mark.parametrize("name", list(USES))
def test_a_name_the_book_uses_exists(name):
    try:
        resolve(name)
    except (ImportError, AttributeError) as error:
        pytest.fail(f"{name}, used in {', '.join(USES[name])}, does not exist: {error}")


def test_resolve_finds_a_function_in_a_submodule_and_refuses_a_missing_one():
    from cnncourse.train import fit

    assert resolve("cnncourse.train.fit") is fit
    with pytest.raises(AttributeError, match="no_such_name"):
        resolve("cnncourse.train.no_such_name")
    with pytest.raises(AttributeError, match="no_such_module"):
        resolve("cnncourse.no_such_module")
    with pytest.raises(ModuleNotFoundError):
        resolve("no_such_package.layers")
