"""The ``cnncourse`` command.

Each subcommand lives in the module that does the work; that module defines
``add_arguments(parser)`` and ``run(args) -> int``. The modules are imported only when
their subcommand runs, so ``cnncourse --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

import cnncourse

# name -> (module, one-line help). A command whose module is not installed is not offered.
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("cnncourse.train", "train a model of the zoo on a course dataset"),
    "summary": ("cnncourse.summarize", "print a model's per-layer table (volumes, params, MACs)"),
    "release": ("cnncourse.release", "generate the student notebooks from the instructor sources"),
    "grade": ("cnncourse.grading.cli", "autograde submissions in a sandbox"),
    "check": ("cnncourse.grading.check", "run an exercise notebook's visible self-checks"),
    "similar": ("cnncourse.grading.similar", "report the submissions whose answers look copied"),
}


def available_commands() -> dict[str, tuple[str, str]]:
    return {
        name: entry
        for name, entry in COMMANDS.items()
        if importlib.util.find_spec(entry[0]) is not None
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnncourse",
        description="Tools of the cnncourse course: train models, print model summaries, "
        "release and grade the exercises.",
    )
    parser.add_argument("--version", action="version", version=f"cnncourse {cnncourse.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_text) in available_commands().items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    commands = available_commands()
    if argv and argv[0] in commands:
        name = argv[0]
        module_name, help_text = commands[name]
        module = importlib.import_module(module_name)
        sub = argparse.ArgumentParser(prog=f"cnncourse {name}", description=help_text)
        module.add_arguments(sub)
        args = sub.parse_args(argv[1:])
        return int(module.run(args) or 0)
    parser.parse_args(argv)  # --help, --version and unknown commands end here
    parser.print_help()
    return 0
