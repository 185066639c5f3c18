"""Every line of code in the book's sources fits the page: at most 88 characters.

The book's text column shows about 88 characters of code at 1280 px before a code block
scrolls sideways (``tests/book/test_layout.py`` measures the built pages). This fast check
reads the MyST sources, so it fails with the file and line before any build: code cells,
fenced code blocks, and code nested inside directives (admonitions, dropdowns, tabs).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[2]
MAX_CODE_LINE = 88
# Directives whose body is code; any other {directive} holds markdown, parsed again for code.
CODE_DIRECTIVES = {"code-cell", "code-block", "code", "sourcecode", "literalinclude"}
_OPTION = re.compile(r"^:[\w-]+:")


def _sources() -> list[Path]:
    return sorted(p for p in (ROOT / "book").rglob("*.md") if "_build" not in p.parts)


def _body(content: str) -> tuple[list[str], int]:
    """A directive's body without its options (``:key: value`` lines or a ``---`` block)."""
    lines = content.split("\n")
    k = 0
    if lines and lines[0].strip() == "---" and "---" in (s.strip() for s in lines[1:]):
        k = next(i for i in range(1, len(lines)) if lines[i].strip() == "---") + 1
    while k < len(lines) and _OPTION.match(lines[k]):
        k += 1
    return lines[k:], k


def code_lines(text: str, first_line: int = 1) -> list[tuple[int, str]]:
    """(line number, line) for every line of code in a MyST markdown text."""
    found = []
    for token in MarkdownIt("commonmark").parse(text):
        if token.type == "code_block":
            start = first_line + token.map[0]
            found += [(start + i, s) for i, s in enumerate(token.content.split("\n"))]
        if token.type != "fence":
            continue
        info = token.info.strip()
        name = info[1:].split("}", 1)[0] if info.startswith("{") else None
        body, skipped = _body(token.content)
        start = first_line + token.map[0] + 1 + skipped
        if name is None or name in CODE_DIRECTIVES:
            found += [(start + i, s) for i, s in enumerate(body)]
        else:
            found += code_lines("\n".join(body), start)
    return found


def test_the_checker_finds_code_in_cells_blocks_and_directives():
    long = "x" * (MAX_CODE_LINE + 1)
    text = "\n".join(
        [
            "Prose is not code: " + long,
            "```{code-cell} ipython3",
            ":tags: [hide-input]",
            long + "1",
            "```",
            "````{admonition} Note",
            "```python",
            long + "2",
            "```",
            "````",
            "```{admonition} Prose only",
            long + "3",
            "```",
        ]
    )
    found = {s[-1]: n for n, s in code_lines(text) if len(s) > MAX_CODE_LINE}
    assert found == {"1": 4, "2": 8}, found


@pytest.mark.parametrize("source", _sources(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_code_line_is_longer_than_the_page(source):
    too_long = [
        f"{source.relative_to(ROOT)}:{n}: {len(s)} characters: {s[:60]}..."
        for n, s in code_lines(source.read_text(encoding="utf-8"))
        if len(s) > MAX_CODE_LINE
    ]
    assert not too_long, f"code lines over {MAX_CODE_LINE} characters:\n" + "\n".join(too_long)
