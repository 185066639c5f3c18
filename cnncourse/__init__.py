"""cnncourse: the support package of a course on convolutional neural networks.

Reference layers (``cnncourse.layers``), optimizers (``cnncourse.optim``), models
(``cnncourse.models``), the ``summary`` table, datasets, a training loop and the
autograder; the textbook's own helpers (demos, plots, experiments) live in
``cnncourse.book``. Submodules load lazily, so ``import cnncourse`` stays light: torch is only
imported when something that needs it is first used.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = {
    "book",
    "checks",
    "cli",
    "data",
    "gradcheck",
    "grading",
    "init",
    "layers",
    "models",
    "nn",
    "optim",
    "summarize",
    "train",
}

__all__ = ["__version__", "summary", *sorted(_SUBMODULES)]


def __getattr__(name: str):
    if name == "summary":  # the function; its module is ``summarize`` so the two never clash
        from cnncourse.summarize import summary

        globals()["summary"] = summary
        return summary
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _SUBMODULES | {"summary"})
