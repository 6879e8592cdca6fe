"""Jacobians and Hessians: ``jacrev``, ``jacfwd``, ``jacobian``, ``hessian``.

Each is one ``vmap`` over the unit vectors of the output (reverse mode: the pull-back of every
output element at once) or of the input (forward mode), never a Python loop over elements.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from agrad._base.pytree import tree_flatten, tree_unflatten
from agrad._core.tensor import Tensor, _wrap
from agrad._ops.manipulation import moveaxis, reshape
from agrad._transforms.functional import _argnums, _zeros_like, as_tensor, jvp, vjp
from agrad._transforms.vmap import vmap as _vmap


def _eye_rows(x: Tensor) -> Tensor:
    """The unit tensors of ``x``'s shape and dtype, stacked: ``(x.size, *x.shape)``, a constant."""
    xp = x._backend.xp
    n = x.size
    kw = {} if getattr(x.value, "device", None) is None else {"device": x.value.device}
    eye = xp.eye(n, dtype=x.value.dtype, **kw)
    return _wrap(xp.reshape(eye, (n, *x.shape)), x._backend, None, 0)


def _with_args(f: Callable, args: tuple, nums: tuple[int, ...]) -> Callable:
    """``f`` as a function of ``args[nums]`` only (the other arguments fixed)."""

    def g(*diff: Any) -> Any:
        full = list(args)
        for i, d in zip(nums, diff):
            full[i] = d
        return f(*full)

    return g


def jacrev(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """The Jacobian of ``f`` by reverse mode: the VJPs of all output elements at once
    (``vmap`` of the pull-back over the unit cotangents).

    Each output leaf of shape ``O`` gets, per differentiated input leaf of shape ``I``, an array of
    shape ``O + I`` (structured like ``args[argnums]``, a tuple for a tuple ``argnums``)."""

    def wrapped(*args: Any) -> Any:
        nums = _argnums(argnums, len(args), "jacrev")
        out, pull = vjp(_with_args(f, args, nums), *(args[i] for i in nums))
        o_leaves, o_def = tree_flatten(out)
        in_leaves, in_def = tree_flatten(tuple(args[i] for i in nums))
        in_leaves = [as_tensor(x, "jacrev") for x in in_leaves]
        jacs = []
        for k, o in enumerate(o_leaves):

            def pull_k(ct: Tensor, k: int = k) -> list:
                cts = [ct if m == k else _zeros_like(p) for m, p in enumerate(o_leaves)]
                return tree_flatten(pull(tree_unflatten(o_def, cts)))[0]

            if o.size:
                rows = _vmap(pull_k)(_eye_rows(o))
            else:
                rows = [_zeros(x, (0, *x.shape)) for x in in_leaves]
            cols = [reshape(r, o.shape + x.shape) for r, x in zip(rows, in_leaves)]
            jacs.append(_by_argnums(tree_unflatten(in_def, cols), argnums))
        return tree_unflatten(o_def, jacs)

    return wrapped


def jacfwd(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """The Jacobian of ``f`` by forward mode: the JVPs of all input elements at once (``vmap``
    of ``jvp`` over the unit tangents; same layout as :func:`jacrev`)."""

    def wrapped(*args: Any) -> Any:
        nums = _argnums(argnums, len(args), "jacfwd")
        primals = tuple(args[i] for i in nums)
        in_leaves, in_def = tree_flatten(primals)
        in_leaves = [as_tensor(x, "jacfwd") for x in in_leaves]
        g = _with_args(f, args, nums)
        o_leaves, o_def = tree_flatten(g(*primals))
        o_leaves = [as_tensor(o, "jacfwd") for o in o_leaves]
        per_input = []  # per input leaf: per output leaf, the tangents (x.size, *o.shape)
        for m, x in enumerate(in_leaves):

            def push_m(t: Tensor, m: int = m) -> list:
                ts = [t if q == m else _zeros_like(p) for q, p in enumerate(in_leaves)]
                _, t_out = jvp(g, tree_unflatten(in_def, in_leaves), tree_unflatten(in_def, ts))
                return tree_flatten(t_out)[0]

            if x.size:
                per_input.append(_vmap(push_m)(_eye_rows(x)))
            else:
                per_input.append([_zeros(x, (0, *o.shape)) for o in o_leaves])
        jacs = []
        for k, o in enumerate(o_leaves):
            blocks = [
                reshape(moveaxis(cols[k], 0, -1), o.shape + x.shape)
                for cols, x in zip(per_input, in_leaves)
            ]
            jacs.append(_by_argnums(tree_unflatten(in_def, blocks), argnums))
        return tree_unflatten(o_def, jacs)

    return wrapped


def _zeros(like: Tensor, shape: tuple) -> Tensor:
    return _wrap(like._backend.xp.zeros(shape, dtype=like.value.dtype), like._backend, None, 0)


def _by_argnums(per_arg: tuple, argnums: int | Sequence[int]) -> Any:
    return per_arg[0] if isinstance(argnums, int) else per_arg


def jacobian(f: Callable, argnums: int | Sequence[int] = 0, mode: str = "rev") -> Callable:
    """``jacrev`` (``mode="rev"``: cheaper for few outputs) or ``jacfwd`` (``"fwd"``: few inputs)."""
    if mode == "rev":
        return jacrev(f, argnums)
    if mode == "fwd":
        return jacfwd(f, argnums)
    raise ValueError(f"agrad.jacobian: mode must be 'rev' or 'fwd', got {mode!r}")


def hessian(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """The Hessian of a scalar ``f``: forward-over-reverse, ``jacfwd(jacrev(f))``."""
    return jacfwd(jacrev(f, argnums), argnums)
