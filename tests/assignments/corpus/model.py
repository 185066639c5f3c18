"""The corpus's building blocks: correct styles, planted bugs, and the submissions made of them.

A *style* is one correct answer cell written in one way (loops, im2col, a dict cache...).
A *bug* is one answer cell with a small, realistic mistake: an edit of the solution's cell or
of one style (each ``(old, new)`` pair must match exactly once, so that a rewritten cell is
noticed at once), or a whole cell where an edit would not read naturally. A bug declares the
test cells it breaks: ``cells`` lose all their points, ``tests`` name single hidden tests (for
a bug that breaks only part of a cell). Expected scores are computed from the points, never
typed in (see ``expect.py``).

Cells whose answers share a cache (a forward pass and its backward pass) form a *group*: a
submission takes every cell of a group from the same style index, so that a backward pass
always reads the cache its own forward pass wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Bug:
    name: str
    cell: str  # the answer cell (grade id) that holds the mistake
    why: str
    cells: frozenset[str] = frozenset()  # test cells that lose all their points
    tests: frozenset[str] = frozenset()  # hidden tests (function names) that fail besides
    base: int | None = None  # None: the solution's cell; k: style k of that cell
    edits: tuple[tuple[str, str], ...] = ()
    source: str | None = None  # the whole cell, where an edit would not read naturally
    function: str = ""  # the function it breaks, in a cell that defines several

    def cell_source(self, styles: dict[str, list[str]], solution: dict[str, str]) -> str:
        if self.source is not None:
            return self.source
        text = solution[self.cell] if self.base is None else styles[self.cell][self.base]
        for old, new in self.edits:
            count = text.count(old)
            if count != 1:
                raise ValueError(
                    f"bug {self.name}: {old!r} occurs {count} times in its base cell "
                    f"({self.cell}, base {self.base}), expected exactly once"
                )
            text = text.replace(old, new)
        return text


@dataclass(frozen=True)
class Assignment:
    name: str
    styles: dict[str, list[str]]  # answer cell -> correct sources, one per style
    groups: tuple[tuple[str, ...], ...]  # cells that share a style index
    bugs: tuple[Bug, ...]
    combos: tuple[tuple[str, ...], ...] = ()  # bugs planted together in one submission
    mixes: int = 0  # extra correct submissions that mix styles across groups
    notes: dict[str, str] = field(default_factory=dict)

    def group_of(self, cell: str) -> tuple[str, ...]:
        for group in self.groups:
            if cell in group:
                return group
        return (cell,)

    def all_groups(self) -> list[tuple[str, ...]]:
        grouped = {c for g in self.groups for c in g}
        return list(self.groups) + [(c,) for c in self.styles if c not in grouped]
