"""Submissions of the sample assignment: honest ones and an attack corpus.

Each entry says which answer cells it replaces (the others keep the honest answer), how it
edits the notebook, and the outcome every hidden test must end in. Honest answers score
6 points: relu 2, affine 3, output size 1.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from cnncourse.grading.cells import strip_hidden

COURSE = Path(__file__).parent / "course"
SOURCE = COURSE / "solutions" / "sample" / "sample.ipynb"
RELU = ("test_relu_forward", "test_relu_backward_uses_the_forward_cache")
AFFINE = ("test_affine_forward", "test_affine_backward")
SIZE = ("test_output_size",)
ALL = RELU + AFFINE + SIZE
FAKE_OUTPUT = "FAKE: every hidden test passed, 6 / 6 points\n"

WRONG_RELU = """
def relu_forward(x):
    return np.abs(x), x

def relu_backward(dout, cache):
    return dout
"""


@dataclass
class Case:
    answers: dict[str, str] = field(default_factory=dict)
    expect: dict[str, str] = field(default_factory=dict)  # test -> status; others: passed
    edit: str | None = None  # a notebook edit, see edit_notebook()

    def expected(self) -> dict[str, str]:
        return {name: self.expect.get(name, "passed") for name in ALL}

    def expected_score(self) -> float:
        points = {RELU[0]: 1, RELU[1]: 1, AFFINE[0]: 1.5, AFFINE[1]: 1.5, SIZE[0]: 1}
        return sum(points[name] for name, status in self.expected().items() if status == "passed")


def _all(tests, status):
    return dict.fromkeys(tests, status)


CASES: dict[str, Case] = {
    "honest": Case(),
    "honest_with_warnings": Case(
        answers={
            "relu": """
import sys, warnings

def relu_forward(x):
    warnings.warn("a RuntimeWarning the student left in", RuntimeWarning)
    print("debug: shape", x.shape, file=sys.stderr)
    with np.errstate(all="warn"):
        np.log(np.zeros(1))
    return np.maximum(x, 0), x

def relu_backward(dout, cache):
    print("debug output on stdout")
    return dout * (cache > 0)
"""
        }
    ),
    "released_stubs": Case(
        answers={
            "relu": "def relu_forward(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
            "\ndef relu_backward(dout, cache):\n    raise NotImplementedError()\n",
            "output_size": "# YOUR CODE HERE\nraise NotImplementedError()",
        },
        expect={**_all(RELU, "not_implemented"), SIZE[0]: "missing"},
    ),
    "monkeypatches_numpy_builtins_and_checks": Case(
        answers={
            "relu": WRONG_RELU
            + """
import builtins
np.allclose = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
builtins.abs = lambda x: 0
builtins.isinstance = lambda obj, kind: True
check_close = lambda *args, **kwargs: None
"""
        },
        expect=_all(RELU, "failed"),
    ),
    "ipython_transformer_and_exception_handler": Case(
        answers={
            "relu": WRONG_RELU
            + """
ip = get_ipython()
ip.input_transformers_cleanup.append(lambda lines: ["try:\\n"] + ["    " + l for l in lines]
                                      + ["except BaseException:\\n", "    pass\\n"])
ip.set_custom_exc((BaseException,), lambda *args, **kwargs: None)
"""
        },
        expect=_all(RELU, "failed"),
    ),
    "execs_the_source_notebook_found_on_disk": Case(
        answers={
            "relu": """
import glob, json, os
found = []
for root in ["/", os.getcwd(), os.path.expanduser("~"), "__COURSE__"]:
    for folder, dirs, files in os.walk(root):  # the whole visible tree but the kernel's
        dirs[:] = [d for d in dirs if os.path.join(folder, d) not in ("/proc", "/sys")]
        if folder.endswith("solutions/sample") and "sample.ipynb" in files:
            found.append(os.path.join(folder, "sample.ipynb"))
    found += glob.glob(os.path.join(root, "autograde", "sample", "test_*.py"))
for path in found:
    try:
        cells = json.load(open(path))["cells"]
    except Exception:
        continue
    for cell in cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            exec("".join(cell["source"]))
"""
        },
        expect=_all(RELU, "missing"),
    ),
    "copies_another_students_answer_from_disk": Case(
        answers={
            "relu": """
import json
try:
    cells = json.load(open("__SUBMITTED__/honest/sample/sample.ipynb"))["cells"]
except OSError:
    cells = []
for cell in cells:
    if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "relu":
        exec("".join(cell["source"]))
"""
        },
        expect=_all(RELU, "missing"),
    ),
    "forges_the_childs_ready_report_and_exits": Case(
        answers={
            "output_size": """
import os, sys
import protocol  # the child's own copy, next to it in the sandbox
ready = {"relu": {"kind": np.arange(3)}, ("not", "a", "cell"): 1, "affine": np.ones(2)}
protocol.write_message(int(sys.argv[2]), {"ready": ready})
os._exit(0)
"""
        },
        expect=_all(ALL, "crashed"),
    ),
    "writes_the_gradebook_and_results": Case(
        answers={
            "relu": WRONG_RELU
            + """
for path in ["__GRADEBOOK__", "__JSON__"]:
    try:
        with open(path, "w") as handle:
            handle.write("hacked")
    except OSError:
        pass
"""
        },
        expect=_all(RELU, "failed"),
    ),
    "os_exit_in_a_function": Case(
        answers={
            "relu": "import os\n\ndef relu_forward(x):\n    os._exit(0)\n"
            "\ndef relu_backward(dout, cache):\n    os._exit(0)\n"
        },
        expect=_all(RELU, "crashed"),
    ),
    "sys_exit_while_loading": Case(
        answers={"output_size": "import sys\nsys.exit(0)\nout_size = 32"},
        expect={SIZE[0]: "missing"},
    ),
    "os_exit_while_loading": Case(
        answers={"output_size": "import os\nos._exit(0)\nout_size = 32"},
        expect={SIZE[0]: "missing"},
    ),
    "infinite_loop_in_one_function": Case(
        answers={
            "relu": "def relu_forward(x):\n    while True:\n        pass\n"
            "\ndef relu_backward(dout, cache):\n    return dout * (cache > 0)\n"
        },
        expect=_all(RELU, "timeout"),
    ),
    "allocates_4_gib": Case(
        answers={
            "affine": "def affine_forward(x, w, b):\n"
            "    big = np.ones(2**29)\n    return big, big\n"
            "\ndef affine_backward(dout, cache):\n    return [0] * 2**30\n"
        },
        expect=_all(AFFINE, "memory"),
    ),
    "fork_bomb": Case(
        answers={
            "relu": "import os\n\ndef relu_forward(x):\n    while True:\n        os.fork()\n"
            "\ndef relu_backward(dout, cache):\n    return dout * (cache > 0)\n"
        },
        expect={RELU[0]: "error", RELU[1]: "error"},
    ),
    "kills_the_parent_process": Case(
        answers={
            "relu": "import os, signal\n\ndef relu_forward(x):\n"
            "    os.kill(os.getppid(), signal.SIGKILL)\n    return np.maximum(x, 0), x\n"
            "\ndef relu_backward(dout, cache):\n    return dout * (cache > 0)\n"
        },
        expect={RELU[0]: "error", RELU[1]: "error"},
    ),
    "leaves_a_background_process": Case(
        answers={
            "relu": "import subprocess\ntry:\n"
            "    subprocess.Popen(['sleep', '987654'], start_new_session=True)\n"
            "except OSError:\n    pass\n"
            "def relu_forward(x):\n    return np.maximum(x, 0), x\n"
            "\ndef relu_backward(dout, cache):\n    return dout * (cache > 0)\n"
        },
    ),
    "prints_100_mb": Case(
        answers={
            "relu": "import sys\n\ndef relu_forward(x):\n"
            "    for _ in range(100):\n        sys.stdout.write('x' * (1 << 20))\n"
            "    return np.maximum(x, 0), x\n"
            "\ndef relu_backward(dout, cache):\n    return dout * (cache > 0)\n"
        },
    ),
    "deletes_test_cells": Case(
        answers={"relu": WRONG_RELU}, edit="delete_tests", expect=_all(RELU, "failed")
    ),
    "empties_test_cells": Case(
        answers={"relu": WRONG_RELU}, edit="empty_tests", expect=_all(RELU, "failed")
    ),
    "converts_test_cells_to_markdown": Case(
        answers={"relu": WRONG_RELU}, edit="markdown_tests", expect=_all(RELU, "failed")
    ),
    "raises_points_in_metadata": Case(
        answers={"relu": WRONG_RELU}, edit="raise_points", expect=_all(RELU, "failed")
    ),
    "fakes_outputs_in_its_notebook": Case(
        answers={"relu": WRONG_RELU}, edit="fake_outputs", expect=_all(RELU, "failed")
    ),
    "calls_the_reference_directly_and_through_an_alias": Case(
        answers={
            "relu": "import cnncourse.layers\nrelu_forward = cnncourse.layers.relu_forward\n"
            "relu_backward = cnncourse.layers.relu_backward\n",
            "affine": "from cnncourse import layers as L\n"
            "_impl = getattr(L, 'affine_' + 'forward')\n"
            "\ndef affine_forward(x, w, b):\n    return _impl(x, w, b)\n"
            "\ndef affine_backward(dout, cache):\n    return L.affine_backward(dout, cache)\n",
        },
        expect={**_all(RELU, "missing"), **_all(AFFINE, "missing")},
    ),
    "loads_the_reference_from_disk_by_any_path": Case(
        answers={
            "relu": """
import glob, importlib.util, os
found = []
for folder, dirs, files in os.walk("/"):  # the whole visible tree but the kernel's
    dirs[:] = [d for d in dirs if os.path.join(folder, d) not in ("/proc", "/sys")]
    if folder.endswith("cnncourse/layers"):
        found += [os.path.join(folder, name) for name in files if name.endswith(".py")]
for root in ["/", "//", "/proc/self/root", "/proc/1/root", "/proc/%d/cwd" % os.getppid(),
             "/proc/%d/root" % os.getppid(), "/proc/self/cwd"]:
    for package in ["__COURSE__/../../../cnncourse", "cnncourse", "../cnncourse"]:
        found += glob.glob(root + "/" + package + "/layers/*.py")
for path in found:
    try:
        spec = importlib.util.spec_from_file_location("stolen", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        relu_forward, relu_backward = module.relu_forward, module.relu_backward
        break
    except BaseException:
        continue
"""
        },
        expect=_all(RELU, "missing"),
    ),
    "reads_the_hidden_tests_through_proc_and_leaks_them": Case(
        answers={
            "relu": """
import os
leaked = []
for pid in ["self", "1", str(os.getppid())] + os.listdir("/proc"):
    for link in ["cwd", "root"]:
        for name in ["autograde/sample/test_sample.py",
                     "__COURSE__/autograde/sample/test_sample.py"]:
            try:
                leaked.append(open(os.path.join("/proc", pid, link) + "/" + name).read())
            except (OSError, ValueError):
                pass

def relu_forward(x):
    if leaked:
        raise ValueError(leaked[0][:1500])
    return np.maximum(x, 0), x

def relu_backward(dout, cache):
    return dout * (cache > 0)
"""
        },
    ),
    "rewrites_the_course_through_a_symlink_in_its_scratch_folder": Case(
        answers={
            "relu": """
import os
for target in ["__COURSE__/autograde/sample/test_sample.py",
               "__SUBMITTED__/honest/sample/sample.ipynb"]:
    try:
        os.symlink(target, "link")
        with open("link", "w") as handle:
            handle.write("def test_nothing(): pass\\n")
    except OSError:
        pass
    finally:
        if os.path.lexists("link"):
            os.unlink("link")

def relu_forward(x):
    return np.maximum(x, 0), x

def relu_backward(dout, cache):
    return dout * (cache > 0)
"""
        },
    ),
    "disables_the_tripwire_first": Case(
        answers={
            "relu": "import sys, gc\nfor attempt in (lambda: sys.setprofile(None),\n"
            "                lambda: gc.get_objects(), lambda: sys.settrace(None)):\n"
            "    try:\n        attempt()\n    except PermissionError:\n        pass\n"
            "def relu_forward(x):\n    return np.einsum('ij->ij', np.maximum(x, 0)), x\n"
            "\ndef relu_backward(dout, cache):\n    return dout * (cache > 0)\n",
        },
        expect={RELU[0]: "forbidden", RELU[1]: "forbidden"},
    ),
    "uses_a_routine_the_assignment_forbids": Case(
        answers={
            "affine": "def affine_forward(x, w, b):\n"
            "    return np.einsum('nd,dm->nm', x.reshape(x.shape[0], -1), w) + b, (x, w, b)\n"
            "\ndef affine_backward(dout, cache):\n    x, w, b = cache\n"
            "    return (dout @ w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout, "
            "dout.sum(axis=0)\n"
        },
        expect={AFFINE[0]: "forbidden", AFFINE[1]: "forbidden"},
    ),
    "returns_an_object_pretending_to_be_an_array": Case(
        answers={
            "relu": """
class Fake:
    shape = (4, 5)
    dtype = np.dtype(float)
    def __eq__(self, other): return True
    def __sub__(self, other): return np.zeros(self.shape)
    __rsub__ = __sub__
    def __abs__(self): return np.zeros(self.shape)
    def __array__(self, *args, **kwargs): return np.zeros(self.shape)

def relu_forward(x):
    return Fake(), Fake()

def relu_backward(dout, cache):
    return Fake()
"""
        },
        expect=_all(RELU, "failed"),
    ),
}


def honest_answers() -> dict[str, str]:
    source = nbformat.read(SOURCE, as_version=4)
    answers = {}
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            answers[meta["grade_id"]] = re.sub(r"\s*### (BEGIN|END) SOLUTION", "", cell.source)
    return answers


def build(case: Case, path: Path, replacements: dict[str, str]) -> Path:
    """Write the student's notebook for ``case`` to ``path``."""
    notebook = nbformat.read(SOURCE, as_version=4)
    answers = {**honest_answers(), **case.answers}
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            text = answers[meta["grade_id"]]
            for key, value in replacements.items():
                text = text.replace(key, value)
            cell.source = text
        elif meta.get("grade"):  # what the student received: hidden tests removed
            cell.source = strip_hidden(cell.source)
    if case.edit:
        edit_notebook(notebook, case.edit)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def edit_notebook(notebook, edit: str) -> None:
    tests = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")]
    if edit == "delete_tests":
        notebook.cells = [c for c in notebook.cells if c not in tests]
    elif edit == "empty_tests":
        for cell in tests:
            cell.source = ""
    elif edit == "markdown_tests":
        for cell in tests:
            cell.cell_type = "markdown"
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
    elif edit == "raise_points":
        for cell in tests:
            cell.metadata["nbgrader"]["points"] = 100
        extra = copy.deepcopy(tests[0])
        extra.metadata["nbgrader"]["grade_id"] = "bonus"
        extra["id"] = "bonus"
        notebook.cells.append(extra)
    elif edit == "fake_outputs":  # saved outputs that claim full marks, in every code cell
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=FAKE_OUTPUT)]
    else:
        raise ValueError(f"unknown edit {edit!r}")
