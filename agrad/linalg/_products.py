"""Products and views: ``diagonal``, ``trace``, ``cross``, ``outer``, ``tensordot``, ``vecdot``.

``diagonal`` and ``cross`` are primitives; the others are compositions of differentiable
functions (so their gradients, JVPs and higher derivatives come for free).
"""

from __future__ import annotations

import math
from typing import Any

from agrad._primitive import primitive, shape_of, unbroadcast
from agrad.linalg._common import eye_like


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
    from agrad._statistical import sum

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
    from agrad._manipulation import expand_dims

    if len(shape_of(x1)) != 1 or len(shape_of(x2)) != 1:
        raise ValueError(f"agrad.linalg.outer: needs two 1-D arrays, got {shape_of(x1)} and {shape_of(x2)}")
    return expand_dims(x1, axis=-1) * x2


def _tensordot_axes(axes: Any, n1: int, n2: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    if isinstance(axes, int):
        if not 0 <= axes <= min(n1, n2):
            raise ValueError(f"agrad.linalg.tensordot: axes={axes} out of range for {n1}-D and {n2}-D inputs")
        return tuple(range(n1 - axes, n1)), tuple(range(axes))
    a1, a2 = axes
    return tuple(a % n1 for a in a1), tuple(a % n2 for a in a2)


def tensordot(x1: Any, x2: Any, /, *, axes: int | tuple = 2) -> Any:
    """Sum products over ``axes`` (the last ``axes`` of ``x1`` with the first of ``x2``, or two
    explicit axis lists): one ``permute_dims`` + ``reshape`` + ``matmul`` per operand."""
    from agrad._linalg_ops import matmul
    from agrad._manipulation import permute_dims, reshape

    s1, s2 = shape_of(x1), shape_of(x2)
    c1, c2 = _tensordot_axes(axes, len(s1), len(s2))
    if [s1[a] for a in c1] != [s2[a] for a in c2]:
        raise ValueError(
            f"agrad.linalg.tensordot: contracted axes {c1} of {s1} and {c2} of {s2} differ in size"
        )
    free1 = tuple(i for i in range(len(s1)) if i not in c1)
    free2 = tuple(i for i in range(len(s2)) if i not in c2)
    k = math.prod(s1[a] for a in c1)
    left = reshape(permute_dims(x1, free1 + c1), (math.prod(s1[i] for i in free1), k))
    right = reshape(permute_dims(x2, c2 + free2), (k, math.prod(s2[i] for i in free2)))
    return reshape(matmul(left, right), tuple(s1[i] for i in free1) + tuple(s2[i] for i in free2))


def vecdot(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """The dot product along ``axis`` (broadcasting the others); real inputs."""
    from agrad._statistical import sum

    return sum(x1 * x2, axis=axis)
