"""The ``cnncourse`` command: parse the arguments, call a library function, print the result.

Every subcommand is three small functions here: ``_<name>_arguments(parser)`` declares its
options, ``_<name>(args) -> int`` calls the library function that does the work and prints
what it returned, and a :class:`Command` line in ``COMMANDS`` names them. The library
modules know nothing of argparse, so what a command does can be called from Python too:

    ===========  ===============================================
    command      library function
    ===========  ===============================================
    train        :func:`cnncourse.train.train_zoo`
    summary      :func:`cnncourse.summarize.model_summary`
    release      :func:`cnncourse.grading.release.release`
    check        :func:`cnncourse.grading.check.check_notebook`
    grade        :func:`cnncourse.grading.grade.grade_class`
    similar      :func:`cnncourse.grading.similar.similarity_report`
    ===========  ===============================================

The library modules are imported only when their command runs, so ``cnncourse --help``
stays fast.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cnncourse


@dataclass(frozen=True)
class Command:
    """A subcommand: its help line, the module it needs, its options and what it runs."""

    help: str
    needs: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _error(command: str, error: BaseException | str) -> int:
    print(f"cnncourse {command}: error: {error}", file=sys.stderr)
    return 2


# --------------------------------------------------------------------------- train


def _train_arguments(parser: argparse.ArgumentParser) -> None:
    from cnncourse.train import DATASETS, OPTIMIZERS

    parser.add_argument("model", help="a model of the zoo, e.g. lenet5 (cnncourse.models.MODELS)")
    parser.add_argument("--epochs", type=int, default=10, help="passes over the training set")
    parser.add_argument("--device", default="auto", help="auto (cuda, mps, cpu), cpu, cuda:N, mps")
    parser.add_argument("--batch-size", type=int, default=64, help="global mini-batch size")
    parser.add_argument("--lr", type=float, default=1e-3, help="initial learning rate")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    parser.add_argument("--seed", type=int, default=0, help="seed of init, order and augmentation")
    parser.add_argument("--dataset", choices=DATASETS, default="mnist5k")
    parser.add_argument("--data-root", default=None, help="folder for mnist/cifar10 downloads")
    parser.add_argument("--checkpoint", default=None, help="save after every epoch to this file")
    parser.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    parser.add_argument("--amp", action="store_true", help="mixed precision (CUDA only)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (1 is best on a busy machine)"
    )


def _train(args: argparse.Namespace) -> int:
    from cnncourse.train import is_reporting_process, train_zoo

    try:
        history = train_zoo(
            args.model,
            dataset=args.dataset,
            epochs=args.epochs,
            optimizer=args.optimizer,
            lr=args.lr,
            batch_size=args.batch_size,
            seed=args.seed,
            device=args.device,
            data_root=args.data_root,
            checkpoint=args.checkpoint,
            resume=args.resume,
            amp=args.amp,
            progress=not args.no_progress,
            threads=args.threads,
        )
    except (ValueError, TypeError, FileNotFoundError, ConnectionError) as error:
        return _error("train", error)
    if not is_reporting_process():
        return 0  # under torchrun only the first process reports
    if len(history) == 0:
        print("nothing to train: --epochs is 0 or the checkpoint is already complete")
        return 0
    print(
        f"{args.model} on {args.dataset}: final test accuracy {history.val_acc[-1]:.2%} "
        f"(loss {history.val_loss[-1]:.4f}) after {history.epoch[-1]} epochs, "
        f"{sum(history.time):.1f} s"
    )
    return 0


# --------------------------------------------------------------------------- summary


def _input_size(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--input must be comma-separated ints such as 3,224,224, got {text!r}"
        ) from None


def _model_option(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(
            f"--option must be KEY=VALUE such as variant=paper, got {text!r}"
        )
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value  # a bare word such as paper


def _summary_arguments(parser: argparse.ArgumentParser) -> None:
    from cnncourse.models import MODELS

    parser.add_argument("model", choices=list(MODELS), metavar="MODEL", help=", ".join(MODELS))
    parser.add_argument(
        "--input",
        type=_input_size,
        default=None,
        metavar="C,H,W",
        help="input size of one image (default: the size the model was designed for)",
    )
    parser.add_argument(
        "--format", choices=("text", "markdown", "html"), default="text", help="table format"
    )
    parser.add_argument(
        "--depth", type=int, default=None, help="group rows by the first DEPTH name parts"
    )
    parser.add_argument(
        "--no-fold",
        action="store_true",
        help="list activations, dropout and batch norm as rows of their own",
    )
    parser.add_argument(
        "--option",
        type=_model_option,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="keyword argument of the model builder, e.g. variant=paper or config='C'",
    )


def _summary(args: argparse.Namespace) -> int:
    from cnncourse.summarize import model_summary

    try:
        table = model_summary(
            args.model,
            args.input,
            fold=not args.no_fold,
            depth=args.depth,
            **dict(args.option),
        )
    except (ValueError, TypeError) as error:
        return _error("summary", error)
    render = {"text": table.to_text, "markdown": table.to_markdown, "html": table.to_html}
    print(render[args.format]())
    return 0


# --------------------------------------------------------------------------- release


def _release_arguments(parser: argparse.ArgumentParser) -> None:
    from cnncourse.grading.release import ASSIGNMENTS

    parser.add_argument(
        "assignments",
        nargs="*",
        metavar="ASSIGNMENT",
        help=f"assignments to release (default: all of {', '.join(ASSIGNMENTS)})",
    )
    parser.add_argument(
        "--course-dir",
        type=Path,
        default=None,
        help="the course repository (default: the folder above the current one that holds "
        "autograde/nbgrader_config.py)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="change nothing; exit 1 and list the differences if the committed source "
        "notebooks or exercises are not what a release makes",
    )
    parser.add_argument(
        "--no-build",
        action="store_true",
        help="use solutions/<a>/<a>.ipynb as it is (do not rebuild it from <a>.py)",
    )


def _release(args: argparse.Namespace) -> int:
    from cnncourse.grading import release

    try:
        root = args.course_dir.resolve() if args.course_dir else release.find_course_root()
        assignments = release.resolve_assignments(root, args.assignments)
    except (FileNotFoundError, ValueError) as error:
        return _error("release", error)
    try:
        if args.check:
            problems = release.differences(root, assignments)
            print("\n".join(problems) or f"up to date: {', '.join(assignments)}")
            return 1 if problems else 0
        rebuilt = release.release(root, assignments, build=not args.no_build)
    except (release.SourceError, RuntimeError) as error:
        print(f"cnncourse release: {error}", file=sys.stderr)
        return 1
    for path in rebuilt:
        print(f"rebuilt {path.relative_to(root)}")
    for a in assignments:
        print(f"released exercises/{a}/")
    return 0


# --------------------------------------------------------------------------- grade


def _class_arguments(parser: argparse.ArgumentParser, notebook: str) -> None:
    """An assignment, its class of submissions and the course: grade's and similar's."""
    parser.add_argument("assignment", help=f"assignment name ({notebook})")
    parser.add_argument(
        "submissions",
        nargs="+",
        type=Path,
        help="notebooks, or folders in nbgrader's submitted/<student>/<assignment>/ layout",
    )
    parser.add_argument("--course", type=Path, default=Path("."), help="course root (default .)")


def _grade_arguments(parser: argparse.ArgumentParser) -> None:
    from cnncourse.grading.cluster import EXTRA
    from cnncourse.grading.sandbox import LEVELS

    _class_arguments(parser, "solutions/NAME/NAME.ipynb")
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="submissions graded at once (locally; with --scheduler the workers decide)",
    )
    parser.add_argument("--timeout", type=float, help="seconds per call (assignment.toml: 10)")
    parser.add_argument("--memory", type=int, help="MiB per submission (assignment.toml: 2048)")
    parser.add_argument(
        "--submission-timeout",
        type=float,
        help="wall-clock seconds one submission may cost in all (assignment.toml: 300)",
    )
    parser.add_argument("--json", type=Path, help="results file (also what a re-run resumes)")
    parser.add_argument("--csv", type=Path, help="class CSV: one row per student")
    parser.add_argument("--feedback", type=Path, help="folder for one HTML page per student")
    parser.add_argument(
        "--gradebook",
        help="nbgrader gradebook URL: sqlite:///gradebook.db, or postgresql://USER@HOST/DB "
        "for one gradebook shared by several graders",
    )
    parser.add_argument(
        "--isolation",
        choices=["auto", *LEVELS],
        default=os.environ.get("CNNCOURSE_ISOLATION", "auto"),
        help="sandbox level (default: $CNNCOURSE_ISOLATION, else auto: bubblewrap, and a "
        "refusal where it is not available; uid and rlimits only when named)",
    )
    parser.add_argument("--force", action="store_true", help="regrade unchanged submissions")
    parser.add_argument(
        "--scheduler",
        help="grade on a Dask cluster: its scheduler's address (tcp://HOST:PORT), or local:N "
        "for N worker processes here (needs " + EXTRA + ")",
    )
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=10.0,
        help="seconds to reach the --scheduler before giving up (default 10)",
    )


def _grade(args: argparse.Namespace) -> int:
    from cnncourse.grading.grade import Options, grade_options

    try:
        options = Options(
            args.assignment,
            tuple(args.submissions),
            course=args.course,
            jobs=args.jobs,
            scheduler=args.scheduler,
            connect_timeout=args.connect_timeout,
            timeout=args.timeout,
            memory_mb=args.memory,
            submission_timeout=args.submission_timeout,
            json_path=args.json,
            csv_path=args.csv,
            feedback=args.feedback,
            gradebook=args.gradebook,
            isolation=args.isolation,
            force=args.force,
        )
    except (TypeError, ValueError) as error:  # a malformed option
        print(f"cnncourse grade: {error}", file=sys.stderr)
        return 2
    return grade_options(options)


# --------------------------------------------------------------------------- check


def _check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("notebook", type=Path, help="the exercise notebook (.ipynb)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds per cell")


def _check(args: argparse.Namespace) -> int:
    from cnncourse.grading.check import CheckError, check_notebook

    try:
        results, stopped = check_notebook(args.notebook, timeout=args.timeout)
    except (CheckError, ValueError) as error:
        print(f"cnncourse check: {error}")
        return 2
    if stopped:
        print(f"the notebook stopped: {stopped}")
    print(f"Self-checks of {args.notebook.name}:")
    label = {"passed": "passed ", "failed": "FAILED ", "not_run": "not run"}
    for r in results:
        detail = f": {r.message}" if r.message else ""
        print(f"  {label[r.status]} {r.grade_id} ({r.points:g} points){detail}")
    earned = sum(r.points for r in results if r.status == "passed")
    total = sum(r.points for r in results)
    print(
        f"{earned:g} of {total:g} points pass the visible checks. The hidden tests decide the "
        "grade: passing these checks is necessary, not sufficient."
    )
    return 0 if earned == total else 1


# --------------------------------------------------------------------------- similar


def _similar_arguments(parser: argparse.ArgumentParser) -> None:
    from cnncourse.grading.similar import THRESHOLD

    _class_arguments(parser, "exercises/NAME/NAME.ipynb")
    parser.add_argument("--html", type=Path, required=True, help="the report to write")
    parser.add_argument(
        "--released",
        type=Path,
        help="the notebook given to the students (default COURSE/exercises/NAME/NAME.ipynb)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=THRESHOLD,
        help=f"flag a pair when this fraction of one student's code is in the other's "
        f"(default {THRESHOLD})",
    )


def _similar(args: argparse.Namespace) -> int:
    from cnncourse.grading.similar import format_table, similarity_report, write_html

    try:
        report = similarity_report(
            args.assignment,
            args.submissions,
            course=args.course,
            released=args.released,
            threshold=args.threshold,
        )
    except (FileNotFoundError, ValueError, TypeError) as error:
        print(f"cnncourse similar: {error}", file=sys.stderr)
        return 2
    write_html(report, args.html)
    print(format_table(report))
    print(f"report: {args.html}")
    return 0


# --------------------------------------------------------------------------- commands


COMMANDS: dict[str, Command] = {
    "train": Command(
        "train a model of the zoo on a course dataset",
        "cnncourse.train",
        _train_arguments,
        _train,
    ),
    "summary": Command(
        "print a model's per-layer table (volumes, params, MACs)",
        "cnncourse.summarize",
        _summary_arguments,
        _summary,
    ),
    "release": Command(
        "generate the student notebooks from the instructor sources",
        "nbgrader",
        _release_arguments,
        _release,
    ),
    "grade": Command(
        "autograde submissions in a sandbox",
        "nbgrader",
        _grade_arguments,
        _grade,
    ),
    "check": Command(
        "run an exercise notebook's visible self-checks",
        "nbclient",
        _check_arguments,
        _check,
    ),
    "similar": Command(
        "report the submissions whose answers look copied",
        "copydetect",
        _similar_arguments,
        _similar,
    ),
}


def available_commands() -> dict[str, Command]:
    """The commands whose modules are installed (``grading`` needs the grading extra)."""
    return {
        name: command
        for name, command in COMMANDS.items()
        if importlib.util.find_spec(command.needs) is not None
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnncourse",
        description="Tools of the cnncourse course: train models, print model summaries, "
        "release and grade the exercises.",
    )
    parser.add_argument("--version", action="version", version=f"cnncourse {cnncourse.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in available_commands().items():
        sub.add_parser(name, help=command.help, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = available_commands()
    if argv and argv[0] in commands:
        name, command = argv[0], commands[argv[0]]
        sub = argparse.ArgumentParser(prog=f"cnncourse {name}", description=command.help)
        command.add_arguments(sub)
        return int(command.run(sub.parse_args(argv[1:])) or 0)
    parser = build_parser()
    parser.parse_args(argv)  # --help, --version and unknown commands end here
    parser.print_help()
    return 0
