"""Products and views: ``diagonal``, ``trace``, ``cross``, ``outer``.

``diagonal`` and ``cross`` are primitives; the others are compositions of differentiable
functions (so their gradients, JVPs and higher derivatives come for free). ``tensordot`` and
``vecdot`` are the main namespace's (``agrad._ops.contractions``), re-exported by ``agrad.linalg``.
"""

from __future__ import annotations

from typing import Any

from agrad._core.batching import leading, trailing
from agrad._core.primitive import primitive, shape_of, unbroadcast
from agrad._ops.manipulation import expand_dims
from agrad._ops.rule_constants import eye_like
from agrad._ops.statistical import sum


def _diagonal_vjp(xp: Any, g: Any, ans: Any, x: Any, *, offset: int) -> Any:
    """Scatter ``g`` back onto diagonal ``offset``: ``rows @ diag(g) @ cols`` with 0/1 selectors."""
    n, m = shape_of(x)[-2:]
    length = shape_of(g)[-1]
    rows = eye_like(xp, x, n, length, -max(-offset, 0))  # rows[i, l] = (i == l + max(-offset, 0))
    cols = eye_like(xp, x, length, m, max(offset, 0))  # cols[l, j] = (j == l + max(offset, 0))
    return xp.matmul(rows * xp.expand_dims(g, axis=-2), cols)


diagonal_p = primitive(
    "linalg.diagonal",
    lambda xp, x, *, offset: xp.linalg.diagonal(x, offset=offset),
    vjp=(_diagonal_vjp,),
    jvp=(lambda xp, dx, ans, x, *, offset: xp.linalg.diagonal(dx, offset=offset),),
)


def diagonal(x: Any, /, *, offset: int = 0) -> Any:
    """Diagonal ``offset`` of each matrix in the batch (``offset > 0``: above the main one)."""
    if len(shape_of(x)) < 2:
        raise ValueError(f"agrad.linalg.diagonal: expected a batch of matrices, got shape {shape_of(x)}")
    return diagonal_p(x, offset=offset)


def trace(x: Any, /, *, offset: int = 0, dtype: Any = None) -> Any:
    """The sum of diagonal ``offset`` of each matrix."""

    return sum(diagonal(x, offset=offset), axis=-1, dtype=dtype)


def _cross_rule(first: bool):
    # d<g, a x b>/da = b x g ;  d<g, a x b>/db = g x a
    def rule(xp: Any, g: Any, ans: Any, a: Any, b: Any, *, axis: int) -> Any:
        if first:
            return unbroadcast(xp, xp.linalg.cross(b, g, axis=axis), shape_of(a))
        return unbroadcast(xp, xp.linalg.cross(g, a, axis=axis), shape_of(b))

    return rule


cross_p = primitive(
    "linalg.cross",
    lambda xp, a, b, *, axis: xp.linalg.cross(a, b, axis=axis),
    vjp=(_cross_rule(True), _cross_rule(False)),
    jvp=(
        lambda xp, da, ans, a, b, *, axis: xp.linalg.cross(da, b, axis=axis),
        lambda xp, db, ans, a, b, *, axis: xp.linalg.cross(a, db, axis=axis),
    ),
)


def cross(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """The cross product of 3-vectors along ``axis`` (a negative axis of the broadcast shape)."""
    s1, s2 = shape_of(x1), shape_of(x2)
    if axis >= 0:
        raise ValueError(f"agrad.linalg.cross: axis must be negative (counted from the end), got {axis}")
    if -axis > min(len(s1), len(s2)) or s1[axis] != 3 or s2[axis] != 3:
        raise ValueError(
            f"agrad.linalg.cross: axis {axis} must have size 3 in both inputs, got {s1} and {s2}"
        )
    return cross_p(x1, x2, axis=axis)


def outer(x1: Any, x2: Any, /) -> Any:
    """The outer product of two 1-D arrays."""

    if len(shape_of(x1)) != 1 or len(shape_of(x2)) != 1:
        raise ValueError(f"agrad.linalg.outer: needs two 1-D arrays, got {shape_of(x1)} and {shape_of(x2)}")
    return expand_dims(x1, axis=-1) * x2


diagonal_p.batch = trailing  # batching rules (agrad.vmap); cross's axis is negative
cross_p.batch = leading
