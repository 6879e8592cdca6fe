"""The functional API: ``grad``, ``value_and_grad``, ``vjp``, ``jvp``, Jacobians, Hessians.

Inputs may be Tensors, raw backend arrays or Python numbers, nested in tuples/lists/dicts
(pytrees); outputs are Tensors. The transforms compose (``grad(grad(f))``, ``jvp(grad(f))``,
``jacfwd(jacrev(f))``) because each one

* gives ``f`` fresh input tensors of its own (an ``alias`` of the caller's tensor when nested,
  so that the outer transform still sees the dependence; a new leaf otherwise), and asks the
  engine for the gradient with respect to exactly those (``stop_at_inputs``), which rules out
  perturbation confusion between levels;
* when nested (inside another transform, under an active ``jvp``, or given inputs that are
  themselves results of a recorded computation), runs the backward pass with
  ``create_graph=True``, so the gradient is made of recorded agrad ops that the outer transform
  differentiates again. At top level it runs the fast raw-array backward pass and returns
  constants (like ``torch.func``/JAX at top level).

Forward mode (``jvp``) opens a :class:`agrad._core.forward.ForwardLevel`; tangents flow through the
JVP rules, never through a Jacobian.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from agrad._base import dtypes as _dtypes
from agrad._base.backend import get_backend
from agrad._base.modes import enable_grad, modes
from agrad._base.pytree import same_structure, tree_flatten, tree_unflatten
from agrad._core.batching import elementwise
from agrad._core.engine import backprop
from agrad._core.forward import forward_level
from agrad._core.primitive import primitive
from agrad._core.tensor import Tensor, _wrap

alias_p = primitive(
    "alias",
    lambda xp, x: x,
    vjp=(lambda xp, g, ans, x: g,),
    jvp=(lambda xp, dx, ans, x: dx,),
    batch=elementwise,
)
"""The identity as a recorded op: a new tensor object that depends on its input."""


class _Depth(threading.local):
    n = 0


_depth = _Depth()


@contextlib.contextmanager
def _scope() -> Iterator[None]:
    _depth.n += 1
    try:
        yield
    finally:
        _depth.n -= 1


def _nested(leaves: Sequence[Any]) -> bool:
    """Whether an outer transform (or the caller's own graph) must be able to differentiate
    through this one."""
    return (
        _depth.n > 0
        or bool(modes.levels)
        or bool(modes.batch)
        or bool(modes.trace)
        or any(isinstance(x, Tensor) and x._node is not None for x in leaves)
    )


def as_tensor(x: Any, what: str, like: Tensor | None = None) -> Tensor:
    """``x`` as a Tensor: Tensors pass, backend arrays and Python numbers become constants."""
    if isinstance(x, Tensor):
        return x
    be = like._backend if like is not None else get_backend()
    if isinstance(x, (int, float)) or be.is_array(x):
        dtype = like.dtype if like is not None else None
        return Tensor(x, requires_grad=False, dtype=dtype, backend=be)
    raise TypeError(
        f"agrad.{what}: inputs must be Tensors, arrays of the active backend or Python numbers "
        f"(optionally nested in tuples, lists and dicts); got {type(x).__module__}.{type(x).__name__}"
    )


def _check_floating(x: Tensor, what: str) -> None:
    if not _dtypes.is_floating(x.dtype):
        raise TypeError(
            f"agrad.{what}: cannot differentiate with respect to an input of dtype {x.dtype}; "
            "pass a floating input (e.g. agrad.astype(x, agrad.float64)) or leave it out of argnums"
        )


def _reverse_input(x: Tensor, nested: bool, what: str) -> Tensor:
    """A fresh independent variable standing for ``x`` in one reverse-mode transform."""
    _check_floating(x, what)
    if nested:
        a = alias_p(x)  # still connected to x for the outer transforms
        if not a.requires_grad:
            a.requires_grad = True  # a leaf of this transform's graph
        return a
    t = _wrap(x.value, x._backend, None, 0)
    t.requires_grad = True
    return t


def _forward_input(x: Tensor, nested: bool) -> Tensor:
    """A fresh tensor standing for ``x`` in one forward-mode transform."""
    return alias_p(x) if nested else x.detach()


def _zeros_like(x: Tensor) -> Tensor:
    return _wrap(x._backend.xp.zeros_like(x.value), x._backend, None, 0)


def _as_output(g: Any, like: Tensor) -> Tensor:
    if g is None:
        return _zeros_like(like)
    return g if isinstance(g, Tensor) else _wrap(g, like._backend, None, 0)


def _finish(t: Tensor, nested: bool) -> Tensor:
    return t if nested or not isinstance(t, Tensor) else t.detach()


def _argnums(argnums: int | Sequence[int], n: int, what: str) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if not -n <= i < n:
            raise ValueError(
                f"agrad.{what}: argnums={argnums!r} is out of range for {n} positional arguments"
            )
    return tuple(i % n for i in nums)


def _split_aux(out: Any, has_aux: bool, what: str) -> tuple[Any, Any]:
    if not has_aux:
        return out, None
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError(f"agrad.{what}(has_aux=True): the function must return a pair (output, aux)")
    return out[0], out[1]


# --- reverse mode ---------------------------------------------------------------------------------


class _ReverseCall:
    """One run of ``f`` on fresh reverse-mode inputs, ready to pull cotangents back."""

    def __init__(self, f: Callable, args: tuple, nums: tuple[int, ...], what: str, kwargs: dict) -> None:
        self.what = what
        args = list(args)
        self.trees = []
        self.inputs: list[Tensor] = []
        flat_all = []
        for i in nums:
            leaves, treedef = tree_flatten(args[i])
            leaves = [as_tensor(x, what) for x in leaves]
            flat_all.extend(leaves)
            self.trees.append((treedef, len(leaves)))
        self.nested = _nested(flat_all)
        fresh = [_reverse_input(x, self.nested, what) for x in flat_all]
        self.inputs = fresh
        pos = 0
        for i, (treedef, n) in zip(nums, self.trees):
            args[i] = tree_unflatten(treedef, fresh[pos:pos + n])
            pos += n
        with _scope(), enable_grad():
            self.out = f(*args, **kwargs)

    def pull_back(self, outs: Sequence[Tensor], cts: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Cotangents for each differentiated argument (as its pytree), from ``outs``/``cts``."""
        live = [(o, c) for o, c in zip(outs, cts) if isinstance(o, Tensor) and o.requires_grad]
        res: dict = {}
        if live:
            with _scope():
                graph = self.nested or bool(modes.batch or modes.trace)
                res = backprop([o for o, _ in live], [c for _, c in live], inputs=self.inputs,
                               create_graph=graph, retain_graph=True, stop_at_inputs=True)
        grads = [_finish(_as_output(res.get(id(x), (None, None))[1], x), self.nested)
                 for x in self.inputs]
        trees, pos = [], 0
        for treedef, n in self.trees:
            trees.append(tree_unflatten(treedef, grads[pos:pos + n]))
            pos += n
        return trees


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """``f`` -> a function returning ``(f(*args), gradient)`` (``((value, aux), gradient)`` with
    ``has_aux``). ``f`` must return a scalar. The gradient has the structure of
    ``args[argnums]`` (a tuple of those for a tuple ``argnums``)."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums(argnums, len(args), "grad")
        call = _ReverseCall(f, args, nums, "grad", kwargs)
        value, aux = _split_aux(call.out, has_aux, "grad")
        value = as_tensor(value, "grad")
        if value.size != 1:
            raise ValueError(
                f"agrad.grad: the function must return a scalar (one element), got shape "
                f"{value.shape}; reduce it (.sum(), .mean()) or use agrad.vjp / agrad.jacrev"
            )
        grads = call.pull_back([value], [None])
        grad_out = grads[0] if isinstance(argnums, int) else tuple(grads)
        value = _finish(value, call.nested)
        return ((value, aux) if has_aux else value), grad_out

    return wrapped


def grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """``f`` -> its gradient function (``(gradient, aux)`` with ``has_aux``); see
    :func:`value_and_grad`."""
    vg = value_and_grad(f, argnums=argnums, has_aux=has_aux)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        value, g = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapped


def vjp(f: Callable, *primals: Any, has_aux: bool = False) -> tuple:
    """``(f(*primals), vjp_fn)`` (plus ``aux`` with ``has_aux``); ``vjp_fn(cotangent)`` returns
    one cotangent per primal (each with that primal's structure) and may be called repeatedly."""
    call = _ReverseCall(f, primals, tuple(range(len(primals))), "vjp", {})
    out, aux = _split_aux(call.out, has_aux, "vjp")
    out_leaves, out_def = tree_flatten(out)
    out_leaves = [as_tensor(o, "vjp") for o in out_leaves]

    def vjp_fn(cotangent: Any) -> tuple:
        ct_leaves, ct_def = tree_flatten(cotangent)
        if not same_structure(ct_def, out_def):
            raise ValueError("agrad.vjp: the cotangent must have the same structure as the output")
        cts = []
        for o, c in zip(out_leaves, ct_leaves):
            c = as_tensor(c, "vjp", like=o)
            if c.shape != o.shape:
                raise ValueError(f"agrad.vjp: cotangent of shape {c.shape} for an output of shape {o.shape}")
            cts.append(c if call.nested or modes.batch or modes.trace else c.value)
        return tuple(call.pull_back(out_leaves, cts))

    result = tree_unflatten(out_def, [_finish(o, call.nested) for o in out_leaves])
    return (result, vjp_fn, aux) if has_aux else (result, vjp_fn)


# --- forward mode ---------------------------------------------------------------------------------


def jvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any], has_aux: bool = False) -> tuple:
    """``(f(*primals), J @ tangents)`` in one forward pass (plus ``aux`` with ``has_aux``).

    ``primals`` and ``tangents`` are sequences of the same structure; each tangent has its
    primal's shape."""
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("agrad.jvp: primals and tangents must be tuples (or lists) of arguments")
    p_leaves, p_def = tree_flatten(tuple(primals))
    t_leaves, t_def = tree_flatten(tuple(tangents))
    if not same_structure(p_def, t_def):
        raise ValueError("agrad.jvp: tangents must have the same structure as primals")
    p_leaves = [as_tensor(p, "jvp") for p in p_leaves]
    nested = _nested(p_leaves)
    xs = [_forward_input(p, nested) for p in p_leaves]
    ts = []
    for x, t in zip(xs, t_leaves):
        t = as_tensor(t, "jvp", like=x)
        if t.shape != x.shape:
            raise ValueError(f"agrad.jvp: tangent of shape {t.shape} for a primal of shape {x.shape}")
        ts.append(t)
    with _scope(), forward_level() as level:
        for x, t in zip(xs, ts):
            _check_floating(x, "jvp")
            level.set(x, t)
        out = f(*tree_unflatten(p_def, xs))
        out, aux = _split_aux(out, has_aux, "jvp")
        o_leaves, o_def = tree_flatten(out)
        o_leaves = [as_tensor(o, "jvp") for o in o_leaves]
        t_out = [level.get(o) for o in o_leaves]
    t_out = [_finish(t if t is not None else _zeros_like(o), nested) for t, o in zip(t_out, o_leaves)]
    outs = [_finish(o, nested) for o in o_leaves]
    result = (tree_unflatten(o_def, outs), tree_unflatten(o_def, t_out))
    return (*result, aux) if has_aux else result


def hvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> Any:
    """Hessian-vector product of a scalar ``f`` with respect to all of ``primals``, by
    forward-over-reverse (``jvp`` of ``grad``): about the cost of two gradients, no Hessian.

    Returns one tensor for a single primal, else a tuple matching ``primals``."""
    nums = tuple(range(len(primals)))
    _, t = jvp(grad(f, argnums=nums), tuple(primals), tuple(tangents))
    return t[0] if len(primals) == 1 else t
