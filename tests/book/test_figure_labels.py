"""Every chart a chapter draws itself names its axes.

Figures made by ``cnncourse.book.viz`` and the demos are checked on the figures themselves
(``tests/book/test_viz.py``, ``test_widgets.py``); this fast check reads the chapters' code
cells: a cell that draws a chart (a line, bar, scatter, histogram or contour plot) must also
set its axis titles, so a reader never has to guess what an axis measures. Pictures
(``imshow``) are not charts and need none.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```", re.S | re.M)
# drawn on matplotlib axes (``plt``, ``ax``, ``axes[i]``), not a library's plot method that
# labels its own axes (``TrainingHistory.plot``)
CHART = re.compile(
    r"\b(plt|ax\w*(\[[^\]]*\])?)\."
    r"(plot|bar|barh|scatter|hist|errorbar|semilogy|semilogx|loglog|contour|fill_between)\("
)
AXIS_TITLES = re.compile(r"xlabel|ylabel")
CHAPTERS = sorted((ROOT / "book").glob("[0-9]*.md"))


def charts_without_axis_titles(text: str) -> list[int]:
    """Line numbers of the code cells that draw a chart but set no axis title."""
    return [
        text[: cell.start()].count("\n") + 1
        for cell in CELL.finditer(text)
        if CHART.search(cell.group(1)) and not AXIS_TITLES.search(cell.group(1))
    ]


def test_a_cell_that_plots_without_axis_titles_is_found():
    text = "```{code-cell} ipython3\nax.plot(x, y)\n```\n"
    labelled = "```{code-cell} ipython3\nax.plot(x, y)\nax.set(xlabel='t', ylabel='y')\n```\n"
    picture = "```{code-cell} ipython3\naxes[0].imshow(image)\n```\n"
    library = "```{code-cell} ipython3\nhistory.plot()\n```\n"
    assert charts_without_axis_titles(text) == [1]
    assert charts_without_axis_titles(labelled + picture + library) == []


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_every_chart_in_the_chapter_has_axis_titles(chapter):
    missing = charts_without_axis_titles(chapter.read_text(encoding="utf-8"))
    assert not missing, (
        f"{chapter.name}: the code cells starting on lines {missing} draw a chart without "
        "set_xlabel/set_ylabel"
    )
