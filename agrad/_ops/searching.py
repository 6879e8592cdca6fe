"""Searching functions (the standard's chapter): ``where`` and friends."""

from __future__ import annotations

from typing import Any

from agrad._core.batching import argreduce, elementwise, front, ragged
from agrad._core.primitive import primitive, shape_of, unbroadcast
from agrad._ops.data_type_functions import astype_p
from agrad._ops.promote import promote
from agrad._ops.scatter import unwrap_key


def _where_branch(take_x: bool):
    # The untaken branch gets an exact zero (not 0 * g), so a NaN/inf there cannot leak in.
    def rule(xp: Any, g: Any, ans: Any, cond: Any, x: Any, y: Any) -> Any:
        zero = xp.zeros_like(g)
        picked = xp.where(cond, g, zero) if take_x else xp.where(cond, zero, g)
        return unbroadcast(xp, picked, shape_of(x if take_x else y))

    return rule


where_p = primitive(
    "where",
    lambda xp, cond, x, y: xp.where(cond, x, y),
    vjp=(None, _where_branch(True), _where_branch(False)),
    jvp=(
        None,
        lambda xp, dx, ans, c, x, y: xp.where(c, dx, xp.zeros_like(ans)),
        lambda xp, dy, ans, c, x, y: xp.where(c, xp.zeros_like(ans), dy),
    ),
    batch=elementwise,
)


def where(condition: Any, x1: Any, x2: Any, /) -> Any:
    """``x1`` where ``condition`` holds, else ``x2``; gradients flow only to the chosen branch.

    Each branch receives an exact zero where it was not chosen, even if the cotangent there is
    inf or NaN. A branch that is *itself* undefined where it is not chosen (``sqrt`` of a negative)
    still has a NaN derivative there, as in PyTorch and JAX; compute it on safe inputs::

        safe = where(x > 0, x, 1.0)
        y = where(x > 0, sqrt(safe), 0.0)
    """
    return where_p(condition, x1, x2)


argmax_p = primitive("argmax", lambda xp, x, *, axis=None, keepdims=False: xp.argmax(
    x, axis=axis, keepdims=keepdims), batch=argreduce)
argmin_p = primitive("argmin", lambda xp, x, *, axis=None, keepdims=False: xp.argmin(
    x, axis=axis, keepdims=keepdims), batch=argreduce)


def argmax(x: Any, /, *, axis: int | None = None, keepdims: bool = False) -> Any:
    """Index of the maximum (not differentiable)."""
    return argmax_p(x, axis=axis, keepdims=keepdims)


def argmin(x: Any, /, *, axis: int | None = None, keepdims: bool = False) -> Any:
    """Index of the minimum (not differentiable)."""
    return argmin_p(x, axis=axis, keepdims=keepdims)


def _searchsorted_batch(prim, xp, args, dims, *, side):
    """Batched sorted arrays: the standard's searchsorted is 1-D, so count instead: the position
    of ``v`` is how many sorted values are below it (``<=`` for ``side="right"``)."""
    (x1, x2, sorter), (d1, d2, ds) = args, dims
    if d1 is None and ds is None:
        return prim(x1, x2, sorter, side=side), d2
    size = next(a.shape[d] for a, d in zip(args, dims) if d is not None)
    s = front(xp, x1, d1, size)
    if sorter is not None:
        s = xp.take_along_axis(s, front(xp, sorter, ds, size), axis=1)
    v = front(xp, x2, d2, size)
    flat = xp.reshape(v, (size, -1, 1))
    below = xp.expand_dims(s, axis=1) <= flat if side == "right" else xp.expand_dims(s, axis=1) < flat
    return xp.reshape(xp.sum(below, axis=-1), v.shape), 0


searchsorted_p = primitive("searchsorted", lambda xp, x1, x2, sorter, *, side: xp.searchsorted(
    x1, x2, side=side, sorter=sorter), batch=_searchsorted_batch)
nonzero_p = primitive("nonzero", lambda xp, x: tuple(xp.nonzero(x)), multi_output=True, batch=ragged)


def searchsorted(x1: Any, x2: Any, /, *, side: str = "left", sorter: Any = None) -> Any:
    """Where ``x2``'s elements would be inserted into the sorted ``x1`` (not differentiable)."""

    if isinstance(x2, (int, float)):
        x1, x2 = promote(x1, x2)
    out = searchsorted_p(x1, x2, unwrap_key(sorter), side=side)
    index = out._backend.default_index  # JAX answers int32 even in x64 mode; the standard's is
    if out.value.dtype != index:        # the default indexing dtype
        out = astype_p(out, dtype=index, copy=False)
    return out


def nonzero(x: Any, /) -> tuple[Any, ...]:
    """Indices of the non-zero elements, one array per axis (not differentiable; its shape
    depends on the data, so lazy backends may refuse it)."""
    return nonzero_p(x)
