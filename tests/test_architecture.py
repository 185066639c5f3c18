"""The package's parts import each other only the way docs/architecture.md draws them.

Read from the source (ast), not by importing, so an import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cnncourse"

# What each part may import of cnncourse besides itself. A part is a module of the course
# library or a subpackage; docs/architecture.md explains the arrows.
LIBRARY = {
    "cnncourse.layers",
    "cnncourse.gradcheck",
    "cnncourse.init",
    "cnncourse.data",
    "cnncourse.optim",
    "cnncourse.nn",
    "cnncourse.models",
    "cnncourse.summarize",
    "cnncourse.train",
}
MAY_IMPORT: dict[str, set[str]] = {
    "cnncourse": {"cnncourse.summarize"},  # the package's lazy attributes
    "cnncourse.layers": set(),
    "cnncourse.gradcheck": set(),
    "cnncourse.init": set(),
    "cnncourse.data": set(),
    "cnncourse.optim": set(),
    "cnncourse.nn": {"cnncourse.layers"},
    "cnncourse.models": {"cnncourse.layers", "cnncourse.nn", "cnncourse.init"},
    "cnncourse.summarize": {"cnncourse.models"},
    "cnncourse.train": {"cnncourse.data", "cnncourse.models", "cnncourse.optim"},
    # the students' self-checks: the library they check, and the grader's comparisons
    "cnncourse.checks": LIBRARY | {"cnncourse.grading"},
    # the textbook's helpers sit on top of the library and nothing else
    "cnncourse.book": LIBRARY,
    # the instructors' tools: the library, the assignments' specifications
    "cnncourse.grading": LIBRARY | {"cnncourse", "cnncourse.checks"},
    "cnncourse.cli": LIBRARY | {"cnncourse", "cnncourse.grading"},
    "cnncourse.__main__": {"cnncourse.cli"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def part_of(module: str) -> str:
    """``cnncourse.grading.runner`` -> ``cnncourse.grading``; the package itself is its own."""
    return ".".join(module.split(".")[:2])


def imports_of(source: str, module: str, is_package: bool) -> list[tuple[int, str, list[str]]]:
    """(line, absolute module, imported names) of every import of cnncourse in ``source``."""
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((node.lineno, base, [a.name for a in node.names]))
    return [(line, m, names) for line, m, names in found if m.split(".")[0] == "cnncourse"]


def read_imports(path: Path) -> list[tuple[int, str, list[str]]]:
    source = path.read_text(encoding="utf-8")
    return imports_of(source, module_name(path), path.name == "__init__.py")


def targets(module: str, names: list[str]) -> list[str]:
    """``from cnncourse import layers`` imports cnncourse.layers, not the package."""
    if module != "cnncourse":
        return [module]
    found = [
        f"cnncourse.{n}" for n in names if (PACKAGE / n).is_dir() or (PACKAGE / f"{n}.py").exists()
    ]
    return found or [module]


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_every_part_is_in_the_table():
    parts = {part_of(module_name(path)) for path in SOURCES}
    assert parts == set(MAY_IMPORT), f"parts not in MAY_IMPORT: {parts - set(MAY_IMPORT)}"


def wrong_way(imports: list[tuple[int, str, list[str]]], source_part: str) -> list[str]:
    return [
        f"line {line}: {source_part} imports {target}"
        for line, module, names in imports
        for target in targets(module, names)
        if part_of(target) != source_part and part_of(target) not in MAY_IMPORT[source_part]
    ]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_imports_point_the_allowed_way(path):
    wrong = wrong_way(read_imports(path), part_of(module_name(path)))
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("cnncourse.layers.conv", "from cnncourse.models import lenet5"),
        ("cnncourse.layers.conv", "def f():\n    from ..models import vgg\n"),
        ("cnncourse.grading.runner", "from cnncourse.book import widgets"),
        ("cnncourse.book.viz", "import cnncourse.grading.runner"),
        ("cnncourse.optim", "from cnncourse import train"),
    ],
)
def test_an_import_pointing_the_wrong_way_is_found(module, source):
    imports = imports_of(source, module, is_package=False)
    assert wrong_way(imports, part_of(module)), f"{module}: {source!r} was not flagged"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_no_private_name_is_imported_from_another_module(path):
    package = module_name(path).rpartition(".")[0] if path.name != "__init__.py" else ""
    wrong = []
    for line, module, names in read_imports(path):
        private_names = [n for n in names if n.startswith("_") and not n.startswith("__")]
        if private_names:
            wrong.append(f"line {line}: from {module} import {', '.join(private_names)}")
        private_module = any(p.startswith("_") for p in module.split(".")[1:] if p != "__main__")
        if private_module and module.rpartition(".")[0] != (package or module_name(path)):
            wrong.append(f"line {line}: imports {module}, private to its package")
    assert not wrong, "\n".join(wrong)


def cnncourse_names(tree: ast.Module) -> set[str]:
    """The names a module binds to modules of cnncourse (``from cnncourse.grading import x``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.asname or a.name for a in node.names if a.name.startswith("cnncourse")}
        elif isinstance(node, ast.ImportFrom) and (
            node.level or (node.module or "").startswith("cnncourse")
        ):
            names |= {a.asname or a.name for a in node.names}
    return names


def test_no_private_attribute_of_another_module_is_used():
    """``protocol._LEN`` style: a leading-underscore attribute read off a cnncourse module."""
    wrong = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules = cnncourse_names(tree)
        wrong += [
            f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {node.value.id}.{node.attr}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ]
    assert not wrong, "private names used across modules:\n" + "\n".join(wrong)
