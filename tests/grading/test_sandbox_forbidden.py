"""Routines that would do the graded work: absent by construction, or refused however reached.

numpy is the one library every assignment permits. Its namespace is searched for every
routine of the families the assignments grade (convolution, pooling, softmax, batch norm,
backward passes and automatic differentiation); each one found must have a verdict below,
and every one the conv assignment forbids is tried through every alias found, in a real
sandboxed child.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
import tomllib
from pathlib import Path

import numpy
import pytest

from cnncourse.grading.proxy import ChildSession, Student, StudentError
from cnncourse.grading.runtime import UNGUARDED
from cnncourse.grading.sandbox import LEVELS, Limits, Sandbox, available

REPO = Path(__file__).resolve().parents[2]
FAMILIES = re.compile(
    r"convol|correl|pool|softmax|batch_?norm|backward|autograd|gradient|logsumexp|im2col|col2im",
    re.IGNORECASE,
)
# every numpy routine of those families, by its defining module and name, with a verdict
VERDICTS = {
    ("numpy", "convolve"): "forbidden in conv",
    ("numpy", "correlate"): "forbidden in conv",
    ("numpy._core._multiarray_umath", "correlate"): "forbidden in conv",
    ("numpy._core._multiarray_umath", "correlate2"): "forbidden in conv",
    # finite differences of sampled values: no function is differentiated
    ("numpy", "gradient"): "allowed",
    # the masked-array versions of the two 1-D convolutions
    ("numpy.ma.core", "convolve"): "forbidden in conv",
    ("numpy.ma.core", "correlate"): "forbidden in conv",
    # applies the function it is given (numpy.convolve or numpy.correlate, both forbidden)
    ("numpy.ma.core", "_convolve_or_correlate"): "allowed",
    # a Fortran-parsing hook of f2py; "backward" only in its name
    ("numpy.f2py.crackfortran", "character_backward_compatibility_hook"): "allowed",
}
CONV_FORBIDDEN = tomllib.loads((REPO / "autograde/conv/assignment.toml").read_text())["forbidden"]


# numpy's own tests, build helpers, typing stubs and command-line entry points (which exit)
_NOT_LIBRARY = re.compile(
    r"tests|conftest|distutils|_pyinstaller|typing|_build_utils|cversions|__main__|_configtool"
)


def _import_all_of_numpy() -> None:
    """Import every submodule of numpy, so the search does not depend on what ran before."""
    for info in pkgutil.walk_packages(numpy.__path__, "numpy."):
        if not _NOT_LIBRARY.search(info.name):
            importlib.import_module(info.name)


def _numpy_routines() -> dict[tuple[str, str], list[str]]:
    """(defining module, name) -> every public or private path under numpy that reaches it."""
    _import_all_of_numpy()
    found: dict[tuple[str, str], list[str]] = {}
    for module_name, module in sorted(sys.modules.items()):
        if not module_name.startswith("numpy") or module is None:
            continue
        for attr in dir(module):
            obj = getattr(module, attr, None)
            if attr.startswith("_") and attr.endswith("_dispatcher"):
                continue  # numpy's argument dispatchers compute nothing
            if callable(obj) and FAMILIES.search(attr):
                key = (getattr(obj, "__module__", module_name), getattr(obj, "__name__", attr))
                found.setdefault(key, []).append(f"{module_name}.{attr}")
    return found


def test_every_numpy_routine_of_a_graded_family_has_a_verdict():
    assert numpy.__version__
    found = _numpy_routines()
    unjudged = {key: paths[:3] for key, paths in found.items() if key not in VERDICTS}
    assert not unjudged, f"numpy routines of a graded family without a verdict: {unjudged}"


def test_the_conv_assignment_forbids_every_numpy_convolution():
    forbidden_names = {name.rsplit(".", 1)[-1] for name in CONV_FORBIDDEN}
    for (module, name), verdict in VERDICTS.items():
        if verdict == "forbidden in conv":
            assert name in forbidden_names, f"{module}.{name} is not in conv's forbidden list"


def test_libraries_that_ship_graded_routines_cannot_be_permitted():
    for name in ("scipy", "sklearn"):
        assert name in UNGUARDED
    # torch can: its graded routines are refused at its dispatcher (test_torch_guard.py)
    assert "torch" not in UNGUARDED


LEVEL = next((level for level in LEVELS if available(level)), None)


@pytest.fixture(scope="module")
def child():
    """One child of the conv assignment's sandbox that calls each alias on request."""
    aliases = [
        path
        for key, paths in _numpy_routines().items()
        if VERDICTS.get(key) == "forbidden in conv"
        for path in paths
    ]
    calls = "\n".join(
        f"def call_{index}():\n    return _call({path!r})\n" for index, path in enumerate(aliases)
    )
    source = f"""
import importlib

def _call(path):
    module, name = path.rsplit(".", 1)
    routine = getattr(importlib.import_module(module), name)
    a, b = np.arange(5.0), np.ones(3)
    try:
        return routine(a, b, 0)
    except TypeError:
        return routine(a, b)

{calls}
"""
    cells = [
        {"kind": "setup", "index": "0", "source": "import numpy as np"},
        {"kind": "answer", "grade_id": "conv", "source": source},
    ]
    sandbox = Sandbox(LEVEL, Limits(timeout=20))
    session = ChildSession(cells, CONV_FORBIDDEN, sandbox)
    yield session, aliases
    session.stop()


@pytest.mark.skipif(LEVEL is None, reason="no isolation level works here")
def test_every_alias_of_a_forbidden_numpy_routine_is_refused(child):
    session, aliases = child
    assert len(aliases) >= 8, aliases
    reached = []
    for index, path in enumerate(aliases):
        try:
            getattr(Student(session), f"call_{index}")()
            reached.append(path)
        except StudentError as exc:
            if exc.status != "forbidden":
                reached.append(f"{path}: {exc.status}: {exc.message[:200]}")
    assert not reached, f"forbidden routines that graded code could call: {reached}"
