"""Where an assignment permits torch, the operators that would do the graded work are refused
at torch's dispatcher (``cnncourse/grading/torch_guard.py``), however graded code reaches them.

torch's namespaces are searched for every routine of the graded families (convolution,
pooling, softmax, batch/instance/layer/group norm, im2col) and of the autograd engine; every
alias found is called in ONE real sandboxed child of the torch sample assignment
(``tests/grading/course/autograde/torchsample``), with candidate arguments until a call gets
past argument parsing, and must be refused. numpy's routines of the same families are
searched, judged and tried in ``test_sandbox_forbidden.py``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cnncourse.grading.assignment import AssignmentError, load_assignment
from cnncourse.grading.proxy import ChildSession, Student, StudentError
from cnncourse.grading.sandbox import LEVELS, Limits, Sandbox, available
from cnncourse.grading.torch_guard import FAMILIES, family_of

torch = pytest.importorskip("torch")

COURSE = Path(__file__).parent / "course"
GRADED = re.compile(
    r"conv(?!ert)|pool|softmax|softmin|(?:batch|instance|layer|group)_?norm|im2col|col2im"
    r"|^(?:un)?fold$|logsumexp|attention",
    re.IGNORECASE,
)
# aliases of the graded families that compute nothing graded: Tensor.unfold is a strided
# view (numpy's sliding_window_view, allowed in every assignment), not im2col
ALLOWED = {"torch.Tensor.unfold", "torch._C.TensorBase.unfold", "torch.ops.aten.unfold"}
# helpers of torch.nn.functional that only work out an argument (which axis)
HELPERS = {"torch.nn.functional._get_softmax_dim"}
LEVEL = next((level for level in LEVELS if available(level)), None)
needs_sandbox = pytest.mark.skipif(LEVEL is None, reason="no isolation level works here")


def _namespaces() -> dict[str, object]:
    import torch.nn.functional

    return {
        "torch": torch,
        "torch.nn.functional": torch.nn.functional,
        "torch.nn": torch.nn,
        "torch._C._nn": torch._C._nn,
        "torch._C._VariableFunctions": torch._C._VariableFunctions,
        "torch.Tensor": torch.Tensor,
        "torch._C.TensorBase": torch._C.TensorBase,
        "torch.special": torch.special,
        "torch.sparse": torch.sparse,
        "torch.nested": torch.nested,
    }


def graded_aliases() -> list[str]:
    """Every callable of torch's namespaces (and every aten operator) of a graded family."""
    found = []
    for prefix, namespace in _namespaces().items():
        for name in dir(namespace):
            if GRADED.search(name) and callable(getattr(namespace, name, None)):
                found.append(f"{prefix}.{name}")
    for schema in torch._C._jit_get_all_schemas():
        namespace, _, name = schema.name.partition("::")
        if namespace == "aten" and GRADED.search(name):
            found.append(f"torch.ops.aten.{name}")
    return sorted(set(found))


def test_every_aten_operator_of_a_graded_family_is_in_a_refused_family():
    names = {
        schema.name.partition("::")[2]
        for schema in torch._C._jit_get_all_schemas()
        if schema.name.startswith("aten::")
    }
    graded = {name for name in names if GRADED.search(name) and name not in {"unfold"}}
    unrefused = sorted(name for name in graded if family_of(name, FAMILIES) is None)
    assert len(graded) > 100, sorted(graded)
    assert not unrefused, f"aten operators of a graded family the guard lets through: {unrefused}"


def test_arithmetic_and_views_are_in_no_refused_family():
    for name in ("add", "mul", "matmul", "exp", "sum", "max", "unfold", "as_strided", "where"):
        assert family_of(name, FAMILIES) is None, name


def test_an_assignment_that_permits_torch_loads_with_every_family_refused():
    assignment = load_assignment(COURSE, "torchsample")
    assert "torch" in assignment.modules, assignment.modules
    assert assignment.torch_refuse == tuple(FAMILIES), assignment.torch_refuse


def test_torch_allow_naming_an_unknown_family_is_refused(tmp_path):
    course = tmp_path / "course"
    for part in ("solutions", "autograde"):
        shutil.copytree(COURSE / part / "torchsample", course / part / "torchsample")
    toml = course / "autograde" / "torchsample" / "assignment.toml"
    toml.write_text('modules = ["numpy", "torch"]\ntorch_allow = ["convolutions"]\n')
    with pytest.raises(AssignmentError, match="torch_allow: unknown families"):
        load_assignment(course, "torchsample")


# -- in a real sandboxed child -------------------------------------------------------------

PROBE = r'''
import importlib
import torch
import torch.nn.functional as F

_X = {3: torch.randn(1, 2, 6), 4: torch.randn(1, 2, 6, 6), 5: torch.randn(1, 2, 4, 4, 4)}
_W = {3: torch.randn(3, 2, 2), 4: torch.randn(3, 2, 2, 2), 5: torch.randn(3, 2, 2, 2, 2)}


def _candidates():
    for rank in (4, 3, 5):
        x, w, k = _X[rank], _W[rank], [2] * (rank - 2)
        ones, zeros = [1] * (rank - 2), [0] * (rank - 2)
        stats, indices = torch.zeros(2), torch.zeros_like(x, dtype=torch.long)
        yield (x, w)
        yield (x, w, None, ones, zeros, ones, False, zeros, 1)
        yield (x, w, None, ones, zeros, ones, False, zeros, 1, False, False, False, False)
        yield (x, w, zeros, ones, ones, 1, False, False, False)
        yield (x, w, zeros, ones, ones, 1)
        yield (x, w, None, zeros, ones, ones, 1)
        yield (x, 2)
        yield (x, k)
        yield (x, k, k)
        yield (x, k, ones, zeros, ones)
        yield (x, k, k, torch.rand(1, 2, rank - 2))
        yield (x, indices, [12] * (rank - 2))
        yield (x, -1)
        yield (x, -1, False)
        yield (x, x, -1, torch.float32)
        yield (x,)
        yield (x, None, None, None, None, True, 0.1, 1e-5, False)
        yield (x, None, None, None, None, True, 0.1, 1e-5)
        yield (x, None, None, True, 0.1, 1e-5)
        yield (x, None, None, stats, stats, 1e-5)
        yield (x, 1e-5)
        yield (x, [x.shape[-1]])
        yield (x, [x.shape[-1]], None, None, 1e-5)
        yield (x, None, None, 1, 2, x[0, 0].numel(), 1, 1e-5)
        yield (x, 1)
        yield (x, w, w)
        yield (x, x, x)
        yield (x.reshape(-1, 1).repeat(1, 4), 2, 1)
        yield (x, 2, 2, 1)


def _module_candidates():
    for rank in (4, 3, 5):
        for arguments in ((2, 3, 2), (2,), (2, 2), (1, 2), ([6],), (-1,), ()):
            yield arguments, _X[rank]


def _resolve(path):
    parts = path.split(".")
    obj = importlib.import_module(parts[0])
    for part in parts[1:]:
        obj = getattr(obj, part)
    return obj


def _call(routine):
    """'refused: message', 'returned', or 'no call got past argument parsing'."""
    if isinstance(routine, type) and not issubclass(routine, torch.nn.Module):
        return "a class that is not a module"
    if isinstance(routine, type):
        calls = ((lambda a=a, x=x: routine(*a)(x)) for a, x in _module_candidates())
    else:
        calls = ((lambda args=args: routine(*args)) for args in _candidates())
    for call in calls:
        try:
            call()
            return "returned"
        except BaseException as exc:  # the guard's ForbiddenOperation is a BaseException
            if type(exc).__name__ == "ForbiddenOperation":
                return "refused: " + str(exc)[:160]
    return "no call got past argument parsing"


def try_all(paths):
    return {path: _call(_resolve(path)) for path in paths}
'''

# the instructor's setup cell: graphs to run backward on (setup cells may use anything)
SETUP = """
import numpy as np
import torch
x = torch.randn(3, requires_grad=True)
y = (x * x).sum()
"""

ENGINE = r'''
def _refused(call):
    try:
        call()
    except BaseException as exc:
        return "refused: " + str(exc)[:200] if type(exc).__name__ == "ForbiddenOperation" else (
            f"{type(exc).__name__}: {exc}"[:200])
    return "returned"


def engine_entry_points():
    """Every entry into the autograd engine, on a graph the setup cell built."""
    def fresh():
        return (x * x).sum()

    engine = torch.autograd.Variable._execution_engine
    plain = torch.randn(3)
    return {
        "Tensor.backward": _refused(lambda: y.backward(retain_graph=True)),
        "torch.autograd.backward": _refused(
            lambda: torch.autograd.backward([y], retain_graph=True)
        ),
        "torch.autograd.grad": _refused(lambda: torch.autograd.grad(y, [x], retain_graph=True)),
        "run_backward": _refused(
            lambda: engine.run_backward((y,), (torch.ones(()),), True, False, (x,), False, False)
        ),
        "a new graph in graded code": _refused(fresh),
        "torch.autograd.functional.jacobian": _refused(
            lambda: torch.autograd.functional.jacobian(lambda t: t * t, plain)
        ),
        "torch.func.grad": _refused(lambda: torch.func.grad(lambda t: (t * t).sum())(plain)),
        "torch.func.vjp": _refused(lambda: torch.func.vjp(lambda t: t * t, plain)[1](plain)),
    }


def forward_mode_autograd(v):
    """Forward-mode AD: the derivative computed by ordinary operators on dual tensors."""
    plain = torch.from_numpy(v)
    return torch.func.jvp(lambda t: t * t, (plain,), (torch.ones_like(plain),))[1].numpy()


def honest_softmax(v):
    """Tensor arithmetic, a view, einsum and printing a tensor (torch pops the modes to
    format it): all allowed."""
    t = torch.from_numpy(v)
    print(t)
    e = (t - t.max(dim=1, keepdim=True).values).exp()
    windows = t.unfold(1, 2, 1)
    assert torch.einsum("ij,ij->i", windows[:, 0], windows[:, 0]).shape == (t.shape[0],)
    with torch.no_grad():
        return (e / e.sum(dim=1, keepdim=True)).numpy()
'''


# -- switching the guard off ---------------------------------------------------------------

TAMPERING = r"""
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import _get_current_dispatch_mode, _pop_mode_temporarily


def _softmax(v):
    return F.softmax(torch.from_numpy(v), dim=1).numpy()


def pop_the_mode(v):
    with _pop_mode_temporarily():
        return _softmax(v)


def exclude_the_python_key(v):
    with torch._C._DisableTorchDispatch():
        return _softmax(v)


def redispatch_below_the_mode(v):
    keys = torch._C.DispatchKeySet(torch._C.DispatchKey.CPU)
    return torch.ops.aten._softmax.default.redispatch(keys, torch.from_numpy(v), 1, False).numpy()


def kernel_for_one_key(v):
    op = torch.ops.aten._softmax.default
    return op._op_dk(torch._C.DispatchKey.CPU, torch.from_numpy(v), 1, False).numpy()


def replace_the_handler(v):
    type(_get_current_dispatch_mode()).__torch_dispatch__ = lambda *a, **k: None
    return _softmax(v)


class _Sneaky(torch.Tensor):
    # a tensor subclass whose own dispatch would run beneath the mode

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        return F.softmax(args[0].as_subclass(torch.Tensor), dim=1)


def tensor_subclass(v):
    return (torch.from_numpy(v).as_subclass(_Sneaky) + 0).numpy()


def kernel_registered_by_graded_code(v):
    library = torch.library.Library("aten", "IMPL")
    library.impl("neg", lambda t: F.softmax(t, dim=1), "CPU")
    return (-torch.from_numpy(v)).numpy()


def disguise_the_operator(v):
    op = torch.ops.aten._softmax.default
    op._schema = torch.ops.aten.add.Tensor._schema
    return _softmax(v)
"""


@pytest.fixture(scope="module")
def child():
    """One child of the torch sample assignment's sandbox for every alias."""
    assignment = load_assignment(COURSE, "torchsample")
    cells = [
        {"kind": "setup", "index": "0", "source": SETUP},
        {"kind": "answer", "grade_id": "probe", "source": PROBE + ENGINE + TAMPERING},
    ]
    limits = Limits(timeout=60, setup_timeout=120, submission_timeout=600)
    sandbox = Sandbox(
        LEVEL, limits, modules=assignment.modules, torch_refuse=assignment.torch_refuse
    )
    session = ChildSession(cells, [], sandbox)
    yield Student(session)
    session.stop()


@needs_sandbox
def test_honest_tensor_arithmetic_runs_under_the_guard(child):
    import numpy as np

    x = np.random.default_rng(0).normal(size=(3, 5))
    e = np.exp(x)
    got = child.honest_softmax(x)
    assert np.allclose(got, e / e.sum(axis=1, keepdims=True)), (got, e)


@needs_sandbox
def test_every_alias_of_a_graded_torch_routine_is_refused(child):
    aliases = graded_aliases()
    assert len(aliases) > 150, aliases
    outcomes = child.try_all(aliases)
    through = {
        path: outcome
        for path, outcome in outcomes.items()
        if outcome == "returned" and path not in ALLOWED | HELPERS
    }
    refused = [path for path, outcome in outcomes.items() if outcome.startswith("refused")]
    not_called = sorted(p for p, o in outcomes.items() if o.startswith("no call"))
    assert not through, f"graded torch routines that graded code could call: {sorted(through)}"
    # the candidate arguments reach most aliases; the rest (backward operators with long
    # signatures) are covered by the operator-name test above
    assert len(refused) >= 0.6 * len(aliases), (len(refused), len(aliases), not_called)
    for path in ALLOWED & set(outcomes):
        assert outcomes[path] == "returned", (path, outcomes[path])


@needs_sandbox
def test_every_entry_into_the_autograd_engine_is_refused(child):
    outcomes = child.engine_entry_points()
    not_refused = {k: v for k, v in outcomes.items() if not v.startswith("refused")}
    assert not not_refused, f"autograd entry points graded code could use: {not_refused}"


def _attack(child, attack: str) -> StudentError:
    import numpy as np

    x = np.random.default_rng(1).normal(size=(2, 3))
    with pytest.raises(StudentError) as caught:
        getattr(child, attack)(x)
    return caught.value


@needs_sandbox
@pytest.mark.parametrize(
    "attack",
    ["kernel_for_one_key", "replace_the_handler", "disguise_the_operator", "tensor_subclass"],
)
def test_going_around_the_guard_is_refused_and_earns_nothing(child, attack):
    error = _attack(child, attack)
    if error.status == "error":  # refused by Python itself: the class is immutable
        assert "immutable" in error.message, (attack, error.message)
    else:
        assert error.status == "forbidden", (attack, error.status, error.message)


# each of these ends the child (the next call starts a new one): they come last
@needs_sandbox
@pytest.mark.parametrize(
    "attack",
    [
        "pop_the_mode",
        "exclude_the_python_key",
        "redispatch_below_the_mode",
        "kernel_registered_by_graded_code",
        "forward_mode_autograd",
    ],
)
def test_switching_the_guard_off_ends_the_process_as_forbidden(child, attack):
    error = _attack(child, attack)
    assert error.status == "forbidden", (attack, error.status, error.message)


# -- grading a class ---------------------------------------------------------------------

SHORTCUTS = {
    "softmax": "import torch.nn.functional as F\n\n\ndef softmax_rows(x):\n"
    "    return F.softmax(torch.from_numpy(x), dim=1).numpy()\n",
    "conv": "def conv_forward(x, w):\n"
    "    return torch.conv2d(torch.from_numpy(x), torch.from_numpy(w)).numpy()\n",
}


def _submission(folder: Path, answers: dict[str, str] | None = None) -> None:
    notebook = json.loads((COURSE / "solutions/torchsample/torchsample.ipynb").read_text())
    for cell in notebook["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if answers and grade_id in answers:
            cell["source"] = answers[grade_id]
    folder.mkdir(parents=True)
    (folder / "torchsample.ipynb").write_text(json.dumps(notebook))


@needs_sandbox
def test_the_torch_assignment_grades_tensor_arithmetic_and_refuses_the_shortcuts(tmp_path):
    submitted = tmp_path / "submitted"
    _submission(submitted / "honest" / "torchsample")
    _submission(submitted / "shortcut" / "torchsample", SHORTCUTS)
    results = tmp_path / "results.json"
    command = [sys.executable, "-m", "cnncourse", "grade", "torchsample", str(submitted)]
    process = subprocess.run(
        [*command, "--course", str(COURSE), "--json", str(results), "--isolation", LEVEL],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    records = {r["student"]: r for r in json.loads(results.read_text())["submissions"]}
    honest, shortcut = records["honest"], records["shortcut"]
    assert honest["score"] == honest["max_score"] == 5, honest["tests"]
    assert shortcut["score"] == 0, shortcut["tests"]
    by_name = {test["name"].split("::")[-1]: test for test in shortcut["tests"]}
    for test, operator in (("test_softmax_rows", "_softmax"), ("test_conv_forward", "convol")):
        outcome = by_name[test]
        assert outcome["status"] == "forbidden", outcome
        assert f"aten.{operator}" in outcome["message"], outcome["message"]
        assert "not allowed in this assignment" in outcome["message"], outcome["message"]
