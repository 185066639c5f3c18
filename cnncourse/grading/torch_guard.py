"""The torch guard: where an assignment permits torch, the operators that would do the graded
work are refused at torch's dispatcher, however graded code reaches them.

Runs in the sandboxed child only (standard library and torch; see ``child.py``). ``install``
pushes one ``TorchDispatchMode`` at the bottom of torch's dispatch-mode stack before any
answer cell runs, and never pops it. Every operator call of every tensor, whatever Python
name it was reached by (``F.conv2d``, ``torch.conv2d``, ``Tensor.softmax``,
``torch.ops.aten.convolution``, ``torch._C._nn``, an ``nn.Module``, a backward pass), reaches
the dispatcher as an ``aten`` operator and passes through the mode, which refuses:

- an operator of a refused family (``FAMILIES``: its aten name matches the family's pattern);
- every operator outside torch's own ``aten`` library (custom ops, ``quantized::``, ...),
  and every tensor subclass with its own ``__torch_dispatch__`` (their Python kernels would
  run below the guard);
- with ``autograd`` refused: an operator run by the autograd engine (any backward pass:
  ``Tensor.backward``, ``torch.autograd.grad``, the engine's ``run_backward``), an operator
  on a tensor that requires grad while grad mode is on (recording a graph), forward-mode
  dual tensors and functorch transforms (``torch.func.grad``, ``vjp``, ``jacrev``...).

A refusal raises ``ForbiddenOperation`` (a ``BaseException``: ``except Exception`` does not
hide it) naming the operator and the family. Instructor setup cells may use anything.

Graded code may not run while the mode is not in effect: the child's profile function ends
the process with ``forbidden`` when an answer cell's code is entered, or makes a call, while
the mode is off the stack or the ``Python`` dispatch key is excluded (``Guard.off``). That
covers popping the mode, ``_DisableTorchDispatch`` and the key guards, and every way of
running graded code *below* the mode (a kernel, a Python dispatcher rule or a tensor
subclass written in an answer cell runs while torch has popped the mode for the handler).
Torch's own code may pop it (printing a tensor does). What goes around the mode without
switching it off is refused by name (``TAMPER_NAMES``: ``redispatch``, an operator's raw
callables) or removed (every overload's ``_op_dk``); the guard's classes and ``OpOverload``
are made immutable. After every answer cell and call the child checks the mode again.
"""

from __future__ import annotations

import re
import sys
import types

FAMILIES = {
    # convolution, its backward, every backend's kernel; im2col/col2im (F.unfold, F.fold)
    # do a convolution's patch extraction whole (Tensor.unfold, a view like numpy's
    # sliding_window_view, stays allowed)
    "conv": re.compile(r"conv(?!ert)|im2col|col2im"),
    "pooling": re.compile(r"pool"),
    # softmax, and what contains one: logsumexp, attention
    "softmax": re.compile(r"softmax|softmin|logsumexp|attention|scaled_dot_product|multi_head"),
    "normalization": re.compile(
        r"(?:batch|instance|layer|group|rms)_norm|_norm_legit|norm_(?:with|no)_update"
    ),
    # nothing by name: the engine, graphs, dual tensors and functorch (see make_verdict)
    "autograd": re.compile(r"(?!)"),
}
# dotted names whose call from graded code goes around the mode without switching it off
# (the kernels below it); the child refuses them like an assignment's ``forbidden`` routines
# (the process ends). Switching the mode off is caught otherwise: see ``Guard.off``.
TAMPER_NAMES = (
    "torch._C._DispatchOperatorHandle.redispatch_boxed",
    "torch._C._SafeKernelFunction.call_boxed",
    "torch._C._dispatch_get_computed_kernel_for_dispatch_key",
    # an operator's handle (``redispatch_boxed``) and its raw callables (the kernel for one
    # dispatch key); the guard creates every aten overload before graded code runs, so
    # torch itself never needs these while graded code runs
    "torch._C._dispatch_find_schema_or_throw",
    "torch._C._get_operation_overload",
)
# ... and with ``autograd`` refused: forward-mode AD (``torch.func.jvp``, dual tensors) starts
# with a dual level; its tangents are computed by ordinary operators, so it is refused here
AUTOGRAD_NAMES = ("torch._C._enter_dual_level",)
# forward-mode AD's own operators (most of it runs at the autograd key, see AUTOGRAD_NAMES)
_FORWARD_AD = frozenset({"_make_dual", "_unpack_dual", "_fw_primal"})
# aten operators that record no graph, allowed on tensors that require grad
_NO_GRAPH = frozenset({"detach.default", "detach_.default", "alias.default", "lift_fresh.default"})


class ForbiddenOperation(BaseException):
    """A torch operator the assignment does not allow (raised inside graded code)."""


def make_verdict(torch, refuse: frozenset):
    """``verdict(name, kinds, args, kwargs)``: why an aten operator of the guard's table is refused
    for these arguments (a tensor subclass, autograd), or None. Everything it uses is bound
    now, in default arguments, so that graded code changing torch's names cannot blind it."""

    def tensors(value, _tensor=torch._C.TensorBase, _isinstance=isinstance, _seq=(list, tuple)):
        if _isinstance(value, _tensor):
            yield value
        elif _isinstance(value, _seq):
            for item in value:
                yield from tensors(item)
        elif _isinstance(value, dict):
            for item in value.values():
                yield from tensors(item)

    def verdict(
        name,
        kinds,
        args,
        kwargs,
        _autograd="autograd" in refuse,
        _no_graph=_NO_GRAPH,
        _plain=(torch.Tensor, torch.nn.Parameter),
        _node=torch._C._current_autograd_node,
        _functorch=torch._C._are_functorch_transforms_active,
        _grad_enabled=torch._C.is_grad_enabled,
        _requires_grad=torch._C.TensorBase.__dict__["requires_grad"].__get__,
        _tensors=tensors,
    ):
        for kind in kinds:
            if not [plain for plain in _plain if plain is kind]:
                return f"a tensor subclass with its own __torch_dispatch__ ({kind.__name__})"
        if not _autograd:
            return None
        if _node() is not None:
            return "autograd: a backward pass of the autograd engine"
        if _functorch():
            return "autograd: a functorch transform such as torch.func.grad"
        if name not in _no_graph and _grad_enabled():
            for value in _tensors((args, kwargs)):
                if _requires_grad(value):
                    return "autograd: an operation on a tensor that requires grad records a graph"
        return None

    return verdict


def family_of(name: str, refuse) -> str | None:
    """The refused family an aten operator's name (``_softmax``) belongs to, or None."""
    for family, pattern in FAMILIES.items():
        if family in refuse and pattern.search(name):
            return family
    return None


def refusal_message(name: str, why: str) -> str:
    return (
        f"torch operator aten.{name} is not allowed in this assignment: it would do graded "
        f"work ({why}); compute it yourself with tensor arithmetic"
    )


class Guard:
    """What ``install`` gives the child: the dotted names graded code may not call, the
    objects no one may modify, ``off()`` (true while the mode is not in effect: popped,
    replaced, or the Python dispatch key excluded; also while torch runs the mode's own
    handler) and ``check()`` (after every cell and call: None when intact, else what is
    wrong)."""

    def __init__(self, names, protected, off, check):
        self.names = names
        self.protected = protected
        self.off = off
        self.check = check


def _operator_table(torch, refuse):
    """Every overload of every aten operator, created now: (overloads, {id: the callable
    that runs it}, {id: its name}, {id: why it is refused}). The guard knows an operator by
    the identity of the object the dispatcher hands it, never by its (mutable) attributes."""
    overloads, run, names, refused = [], {}, {}, {}
    for schema in torch._C._jit_get_all_schemas():
        namespace, _, name = schema.name.partition("::")
        if namespace != "aten":
            continue
        overload = schema.overload_name or "default"
        try:
            op = getattr(getattr(torch.ops.aten, name), overload)
        except (AttributeError, RuntimeError):
            continue
        overloads.append(op)
        run[id(op)] = op._op
        names[id(op)] = f"{name}.{overload}"
        family = family_of(name, refuse)
        if family is not None:
            refused[id(op)] = family
        if "autograd" in refuse and name in _FORWARD_AD:
            refused[id(op)] = "autograd: forward-mode automatic differentiation"
    return overloads, run, names, refused


def install(refuse, setup_prefix: str, answer_prefix: str) -> Guard:
    """Push the guard mode (for good) and close the ways around it."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    refuse = frozenset(refuse)
    unknown = refuse - set(FAMILIES)
    if unknown:
        raise ValueError(f"refuse: unknown families {sorted(unknown)} (known: {list(FAMILIES)})")
    torch.set_num_threads(1)  # the sandbox allows no new threads
    overloads, run, names, refused = _operator_table(torch, refuse)
    verdict = make_verdict(torch, refuse)

    def handle(
        mode,
        func,
        kinds,
        args=(),
        kwargs=None,
        _run=types.MappingProxyType(run),
        _names=types.MappingProxyType(names),
        _refused=types.MappingProxyType(refused),
        _keep=tuple(overloads),
        _verdict=verdict,
        _from_setup=_from_setup,
        _setup=setup_prefix,
        _answer=answer_prefix,
        _getframe=sys._getframe,
        _id=id,
        _error=ForbiddenOperation,
        _message=refusal_message,
    ):
        kwargs = kwargs or {}
        key = _id(func)
        kernel = _run.get(key)
        if kernel is None:
            why, name = "an operator outside torch's built-in aten library", "?"
        else:
            name = _names[key]
            why = _refused.get(key) or _verdict(name, kinds, args, kwargs)
        if why is not None and not _from_setup(_getframe(1), _setup, _answer):
            raise _error(_message(name, why))
        if kernel is None:  # an instructor setup cell's custom operator
            return func(*args, **kwargs)
        return kernel(*args, **kwargs)

    class Handler:
        """A data descriptor: an instance attribute cannot shadow it."""

        __slots__ = ()

        def __get__(self, mode, owner=None, _handle=handle, _bind=types.MethodType):
            return _handle if mode is None else _bind(_handle, mode)

        def __set__(self, mode, value):
            raise AttributeError("the grader's torch guard cannot be changed")

        def __delete__(self, mode):
            raise AttributeError("the grader's torch guard cannot be changed")

    class TorchGuard(TorchDispatchMode):
        __torch_dispatch__ = Handler()

        @classmethod
        def _should_skip_dynamo(cls):
            return False  # keep the handler as it is (no torch._dynamo wrapper)

    mode = TorchGuard()
    _warm_rules(torch, overloads, TorchGuard)
    mode.__enter__()
    key_kernel = _hide_key_kernels(torch, overloads)
    names = TAMPER_NAMES + (AUTOGRAD_NAMES if "autograd" in refuse else ())
    off, check = _checkers(torch, mode, Handler, TorchGuard)
    immutable = (TorchGuard, Handler, key_kernel, torch._ops.OpOverload)
    for cls in immutable:
        _make_immutable(cls)
    return Guard(names, (*immutable, ForbiddenOperation), off, check)


def _warm_rules(torch, overloads, mode_class) -> None:
    """Torch looks up each operator's dispatch rules the first time a mode sees it, which
    asks for the operator's raw callables (refused in graded code): do it for all now."""
    from torch._library.simple_registry import find_torch_dispatch_rule

    for op in overloads:
        find_torch_dispatch_rule(op, mode_class)


_IMMUTABLE_TYPE = 1 << 8  # Py_TPFLAGS_IMMUTABLETYPE: setting a class attribute raises
_TP_FLAGS_OFFSET = 21 * 8  # offsetof(PyTypeObject, tp_flags) on 64-bit CPython 3.11+


def _make_immutable(cls) -> None:
    """Make a class's attributes read-only, like a built-in type's (CPython's own flag:
    assigning ``cls.attr`` then raises TypeError). Runs before the audit hook forbids ctypes."""
    import ctypes

    flags = ctypes.c_ulong.from_address(id(cls) + _TP_FLAGS_OFFSET)
    if flags.value != cls.__flags__:
        raise RuntimeError("the torch guard does not know this interpreter's type layout")
    flags.value |= _IMMUTABLE_TYPE


def _hide_key_kernels(torch, overloads):
    """``OpOverload._op_dk`` calls an operator's kernel for one dispatch key, below the
    mode: every overload loses it, and a class-level data descriptor drops it from new ones."""

    def torch_guard_key_kernel(key, *args, **kwargs):
        raise ForbiddenOperation(
            "calling a torch operator's kernel for one dispatch key (below the torch guard) "
            "is not allowed in this assignment"
        )

    class KeyKernel:
        __slots__ = ()

        def __get__(self, op, owner=None, _refuse=torch_guard_key_kernel):
            return _refuse

        def __set__(self, op, value):
            pass  # dropped: no overload keeps it

        def __delete__(self, op):
            pass

    torch._ops.OpOverload._op_dk = KeyKernel()
    for op in overloads:
        vars(op).pop("_op_dk", None)
        vars(op).pop("_handle", None)  # a cached property: computed again only by refused code
    return KeyKernel


def _from_setup(frame, setup: str, answer: str) -> bool:
    """Whether the innermost notebook cell on the stack is an instructor setup cell."""
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith(setup):
            return True
        if name.startswith(answer):
            return False
        frame = frame.f_back
    return True  # no notebook cell at all: the child's own code


def _checkers(torch, mode, handler, guard_class):
    """``off()`` and ``check()`` (see ``Guard``), bound to torch's functions as they are now."""
    python_keys = (torch._C.DispatchKey.Python, torch._C.DispatchKey.PythonTLSSnapshot)

    def off(
        _mode=mode,
        _length=torch._C._len_torch_dispatch_stack,
        _at=torch._C._get_dispatch_stack_at,
        _excluded=torch._C._dispatch_tls_is_dispatch_key_excluded,
        _keys=python_keys,
    ):
        return _length() < 1 or _at(0) is not _mode or _excluded(_keys[0]) or _excluded(_keys[1])

    def check(_off=off, _mode=mode, _handler=handler, _class=guard_class, _type=type):
        handler_now = _class.__dict__["__torch_dispatch__"]
        if _type(_mode) is not _class or _type(handler_now) is not _handler:
            return "code that replaced the grader's torch guard"
        if _off():
            return "code that switched the grader's torch guard off"
        return None

    return off, check
