"""``agrad.jit``: trace a function once per input signature, then run the recorded program.

The first call with a new signature (the shapes, dtypes and backend of the Tensor arguments, the
values of the static ones) runs the function on its inputs while :mod:`agrad._core.tracing`
records every primitive application, derivatives included (``jit(value_and_grad(f))`` compiles
the backward pass too). Later calls with that signature run the program: through the backend's
compiler where it has one (JAX: ``jax.jit`` of the whole program), otherwise replayed op by op on
raw arrays with no Tensor or graph work. Python control flow runs at trace time; a Python
decision on a traced value raises :class:`~agrad._core.tracing.TracingError`.

Tensors the function reads without receiving them (weights in a closure) are inputs of the
program too, read again on every call. Random draws are part of the program and fresh on each
call. A jitted function is differentiable: under ``agrad.grad`` (or any transform) and inside
another trace it runs the function itself; called on inputs that require grad it runs the
program and, if a gradient is asked for later, differentiates the function again (as
``checkpoint`` does).
"""

from __future__ import annotations

import collections
import functools
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from agrad._base.backend import get_backend, using_backend
from agrad._base.modes import enable_grad, grad_mode, modes, using_modes
from agrad._base.pytree import tree_flatten, tree_unflatten
from agrad._core.engine import backprop
from agrad._core.primitive import TENSOR_OPS, Primitive
from agrad._core.tensor import Tensor, _wrap
from agrad._core.tracing import Program, Trace
from agrad._transforms.functional import _depth, alias_p

_UNSET = object()


class Jitted:
    """The callable ``agrad.jit`` returns (``.program(*args)`` shows the traced program)."""

    def __init__(self, fn: Callable, static_argnums: Sequence[int], static_argnames: Sequence[str],
                 cache_size: int, explain_retrace: bool) -> None:
        self.fn = fn
        self.static_argnums = tuple(static_argnums)
        self.static_argnames = tuple(static_argnames)
        self.cache_size = cache_size
        self.explain_retrace = explain_retrace or bool(os.environ.get("AGRAD_JIT_EXPLAIN"))
        self.cache: collections.OrderedDict = collections.OrderedDict()
        self.fast: dict = {}  # positional Tensor arguments only: (backend, shape, dtype)... -> entry
        self.traces = 0  # how many times the function was traced
        functools.update_wrapper(self, fn)

    # --- the call ------------------------------------------------------------------------------

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if modes.special or _depth.n > 0:
            return self.fn(*args, **kwargs)  # inside a transform or a trace: the function itself
        if not kwargs:  # the lean path: only positional Tensors, a program already made
            try:
                fast_key = tuple((id(a._backend), a.value.shape, a.value.dtype) for a in args)
            except AttributeError:
                fast_key = None
            entry = self.fast.get(fast_key)
            if entry is not None and not entry.stale():
                return entry.run_positional(args)
        key, leaves, treedef, dynamic = self._signature(args, kwargs)
        entry = self.cache.get(key)
        if entry is not None and not entry.stale():
            self.cache.move_to_end(key)
            return entry.run(leaves, dynamic, self._rebuild(args, kwargs, treedef))
        reason = "first call" if not self.cache else (
            "the implicit inputs changed shape or dtype" if entry is not None else
            _why_new(key, list(self.cache)))
        return self._trace(key, args, kwargs, leaves, treedef, dynamic, reason)

    def program(self, *args: Any, **kwargs: Any) -> Program:
        """The program for these arguments (traced now if it is not cached)."""
        key, leaves, treedef, dynamic = self._signature(args, kwargs)
        if key not in self.cache:
            self._trace(key, args, kwargs, leaves, treedef, dynamic, "asked for its program")
        return self.cache[key].program

    def _rebuild(self, args: tuple, kwargs: dict, treedef: Any) -> Callable[[list], Any]:
        """``leaves -> fn(...)``: the function called with other values for the dynamic leaves."""

        def call(leaves: list) -> Any:
            dyn_args, dyn_kwargs = tree_unflatten(treedef, leaves)
            it = iter(dyn_args)
            full = [args[i] if i in self.static_argnums else next(it) for i in range(len(args))]
            static = {k: kwargs[k] for k in self.static_argnames if k in kwargs}
            return self.fn(*full, **static, **dyn_kwargs)

        return call

    def _signature(self, args: tuple, kwargs: dict) -> tuple:
        static = tuple((i, _hashable(args[i], i)) for i in self.static_argnums if i < len(args))
        static_kw = tuple((k, _hashable(kwargs[k], k)) for k in self.static_argnames if k in kwargs)
        dyn_args = tuple(a for i, a in enumerate(args) if i not in self.static_argnums)
        dyn_kwargs = {k: v for k, v in kwargs.items() if k not in self.static_argnames}
        leaves, treedef = tree_flatten((dyn_args, dyn_kwargs))
        dynamic = [i for i, x in enumerate(leaves) if isinstance(x, Tensor)]
        backend = None
        sig = []
        for x in leaves:
            if isinstance(x, Tensor):
                backend = backend or x._backend
                sig.append((tuple(x.shape), str(x.value.dtype)))
            else:
                sig.append(("py", _hashable(x, "a leaf")))
        backend = backend or get_backend()
        key = (id(backend), _treedef_key(treedef), tuple(sig), static, static_kw)
        return key, leaves, treedef, dynamic

    def _trace(self, key: Any, args: tuple, kwargs: dict, leaves: list, treedef: Any,
               dynamic: list[int], reason: str) -> Any:
        self.traces += 1
        if self.explain_retrace:
            print(f"agrad.jit: tracing {getattr(self.fn, '__name__', 'fn')} ({reason})", file=sys.stderr)
        backend = next((leaves[i]._backend for i in dynamic), None) or get_backend()
        trace = Trace(backend)
        fresh = list(leaves)
        for i in dynamic:
            x = leaves[i]
            t = _wrap(x.value, x._backend, None, 0)
            t.requires_grad = x.requires_grad
            trace.add_input(t.value)
            fresh[i] = t
        rebuild = self._rebuild(args, kwargs, treedef)
        with using_backend(backend), using_modes(trace=(*modes.trace, trace)), enable_grad():
            out = rebuild(fresh)
        out_leaves, out_def = tree_flatten(out)
        out_refs = [trace.ref(o) if isinstance(o, Tensor) else (False, o) for o in out_leaves]
        entry = _Entry(Program(trace, out_refs), out_def, backend, self)
        entry.rebuild = rebuild if not self.static_argnums and not kwargs else None
        self.cache[key] = entry
        self.cache.move_to_end(key)
        while len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)
        self.fast = {}
        if not kwargs and not self.static_argnums and all(isinstance(a, Tensor) for a in args):
            for e in self.cache.values():
                if e.rebuild is not None and e.positional is not None:
                    self.fast[e.positional] = e
            entry.positional = tuple((id(a._backend), a.value.shape, a.value.dtype) for a in args)
            self.fast[entry.positional] = entry
        # The trace ran the function for real: its results are this call's results.
        results = [o.detach() if isinstance(o, Tensor) else o for o in out_leaves]
        return entry.finish(results, leaves, dynamic, rebuild)


class _Entry:
    """One cached program with what a call needs: the compiled body, the output structure, the
    implicit inputs' shapes (a change retraces)."""

    def __init__(self, program: Program, out_def: Any, backend: Any, owner: Jitted) -> None:
        self.program = program
        self.out_def = out_def
        self.backend = backend
        self.owner = owner
        self.implicit = [(t, tuple(t.shape), t.value.dtype) for t, _ in program.implicit]
        body = program.body_function()
        self.body = backend.compiler(body) if backend.compiler is not None else body
        self.draws = [e.draw for e in program.draws]
        self.positional: tuple | None = None  # the lean path's key, when it applies
        self.rebuild: Callable[[list], Any] | None = None
        self.node_prim: Primitive | None = None  # the differentiable wrapper, made once

    def run_positional(self, args: tuple) -> Any:
        """The lean path: every argument a positional Tensor (the leaves are the arguments)."""
        return self.run(list(args), list(range(len(args))), self.rebuild)

    def stale(self) -> bool:
        for t, shape, dtype in self.implicit:
            v = t.value
            if v.dtype != dtype or tuple(v.shape) != shape:
                return True
        return False

    def run(self, leaves: list, dynamic: list[int], rebuild: Callable[[list], Any]) -> Any:
        arrays = [leaves[i].value for i in dynamic]
        arrays += [t.value for t, _, _ in self.implicit]
        arrays += [draw() for draw in self.draws]
        outs = self.body(*arrays)
        results = [_wrap(o, self.backend, None, 0) if self.backend.is_array(o) else o for o in outs]
        return self.finish(results, leaves, dynamic, rebuild)

    def finish(self, results: list, leaves: list, dynamic: list[int],
               rebuild: Callable[[list], Any]) -> Any:
        """The call's outputs; recorded as one differentiable node if an input requires grad."""
        inputs = [leaves[i] for i in dynamic] + [t for t, _, _ in self.implicit]
        if grad_mode.enabled and any(t.requires_grad for t in inputs):
            results = self._differentiable(results, leaves, dynamic, inputs, rebuild)
        return tree_unflatten(self.out_def, results)

    def _differentiable(self, results: list, leaves: list, dynamic: list[int],
                        inputs: list[Tensor], rebuild: Callable[[list], Any]) -> list:
        """The outputs as one node whose pull-back differentiates the function again."""
        if self.node_prim is None:
            name = f"jit({getattr(self.owner.fn, '__name__', 'fn')})"
            self.node_prim = Primitive(name, lambda xp, *v, values, **_: values,
                                       joint_vjp=_pull_back, multi_output=True)
        tensors = [(k, r) for k, r in enumerate(results) if isinstance(r, Tensor)]
        values = tuple(r.value for _, r in tensors)
        wrapped = self.node_prim(*inputs, values=values, leaves=leaves, dynamic=dynamic,
                                 implicit=inputs[len(dynamic):], rebuild=rebuild)
        out = list(results)
        for (k, _), w in zip(tensors, wrapped):
            out[k] = w
        return out


def _pull_back(xp: Any, g: tuple, ans: tuple, *vals: Any, values: tuple, leaves: list,
               dynamic: list[int], implicit: list[Tensor], rebuild: Callable[[list], Any]) -> list:
    """A jitted call's pull-back: the function run again with recording, then differentiated
    (as ``checkpoint`` does) with respect to its arguments and the tensors it closes over."""
    create = xp is TENSOR_OPS
    fresh = []
    for i, v in zip(dynamic, vals):
        a = alias_p(v) if create else _wrap(v, leaves[i]._backend, None, 0)
        a.requires_grad = True
        fresh.append(a)
    swapped = list(leaves)
    for i, a in zip(dynamic, fresh):
        swapped[i] = a
    with enable_grad():
        out = rebuild(swapped)
    outs = [o for o in tree_flatten(out)[0] if isinstance(o, Tensor)]
    live = [(o, gi) for o, gi in zip(outs, g) if o.requires_grad and gi is not None]
    wanted = fresh + list(implicit)
    res = backprop([o for o, _ in live], [gi for _, gi in live], inputs=wanted,
                   create_graph=create, stop_at_inputs=True) if live else {}
    return [res[id(w)][1] if id(w) in res else None for w in wanted]


def _hashable(x: Any, where: Any) -> Any:
    try:
        hash(x)
    except TypeError:
        raise TypeError(
            f"agrad.jit: {where!r} must be hashable to be part of the cache key (a static "
            f"argument or a Python leaf); got {type(x).__name__}"
        ) from None
    return x


def _treedef_key(treedef: Any) -> Any:
    if treedef is None:
        return None
    kind, keys, children = treedef
    return (kind, tuple(keys) if keys is not None else None, tuple(_treedef_key(c) for c in children))


def _why_new(key: tuple, cached: list) -> str:
    """Which part of the signature differs from the most recent cached one."""
    last = cached[-1]
    names = ("backend", "argument structure", "argument shapes/dtypes", "static arguments",
             "static keyword arguments")
    for name, a, b in zip(names, key, last):
        if a != b:
            if name == "argument shapes/dtypes":
                diffs = [f"leaf {i}: {y} -> {x}" for i, (x, y) in enumerate(zip(a, b)) if x != y]
                return f"new {name}: " + "; ".join(diffs[:3])
            return f"new {name}"
    return "new signature"


def jit(fn: Callable | None = None, *, static_argnums: int | Sequence[int] = (),
        static_argnames: str | Sequence[str] = (), cache_size: int = 64,
        explain_retrace: bool = False) -> Any:
    """Compile ``fn``: trace it once per input signature and run the recorded program after.

    ``static_argnums`` / ``static_argnames``: arguments that are Python values (hashable), part
    of the cache key, so Python control flow may depend on them. ``cache_size``: programs kept
    (least recently used dropped). ``explain_retrace`` (or ``AGRAD_JIT_EXPLAIN=1``): say on
    stderr why each trace happens. Usable as ``@agrad.jit`` or ``@agrad.jit(static_argnums=1)``.
    """
    nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    names = (static_argnames,) if isinstance(static_argnames, str) else tuple(static_argnames)
    if cache_size < 1:
        raise ValueError(f"agrad.jit: cache_size must be at least 1, got {cache_size}")

    def make(f: Callable) -> Jitted:
        return Jitted(f, nums, names, cache_size, explain_retrace)

    return make if fn is None else make(fn)
