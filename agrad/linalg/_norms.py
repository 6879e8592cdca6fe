"""Norms: ``vector_norm`` (a primitive with safe subgradients), ``matrix_norm``, ``matrix_rank``.

At the zero vector every ``vector_norm`` is non-differentiable; agrad returns the subgradient 0
(no NaN), like JAX. ``inf``/``-inf`` norms share the cotangent evenly among tied entries.
"""

from __future__ import annotations

import math
from typing import Any

from agrad._core.batching import reduction, trailing
from agrad._core.primitive import primitive, shape_of
from agrad._ops.elementwise import abs
from agrad._ops.manipulation import expand_dims
from agrad._ops.scatter import unwrap_key
from agrad._ops.statistical import expand_reduced, max, min, sum
from agrad.linalg._common import require_matrix, require_real_grad
from agrad.linalg._decompositions import svdvals


def _nonzero(xp: Any, a: Any) -> Any:
    """``a`` with zeros replaced by 1: a safe divisor/base where the numerator is 0 anyway."""
    return xp.where(a == 0, 1.0, a)


def _norm_slope(xp: Any, x: Any, norm: Any, *, axis: Any, keepdims: bool, ord: float) -> Any:  # noqa: A002
    """``d norm / d x`` element-wise (a subgradient where the norm has a kink)."""
    shape = shape_of(x)
    n = expand_reduced(xp, norm, shape, axis, keepdims)
    if ord == 0:
        return xp.zeros_like(x)
    if ord == 1:
        return xp.sign(x)
    if ord == 2:
        return x / _nonzero(xp, n)
    ax = xp.abs(x)
    if math.isinf(ord):
        hit = xp.astype(ax == n, x.dtype)
        return xp.sign(x) * hit / xp.sum(hit, axis=axis, keepdims=True)
    return xp.sign(x) * (_nonzero(xp, ax) / _nonzero(xp, n)) ** (ord - 1)


def _vector_norm_vjp(xp: Any, g: Any, ans: Any, x: Any, **kw: Any) -> Any:
    require_real_grad("vector_norm", x)
    slope = _norm_slope(xp, x, ans, **kw)
    return expand_reduced(xp, g, shape_of(x), kw["axis"], kw["keepdims"]) * slope


def _vector_norm_jvp(xp: Any, dx: Any, ans: Any, x: Any, **kw: Any) -> Any:
    slope = _norm_slope(xp, x, ans, **kw)
    return xp.sum(slope * dx, axis=kw["axis"], keepdims=kw["keepdims"])


vector_norm_p = primitive(
    "linalg.vector_norm",
    lambda xp, x, *, axis, keepdims, ord: xp.linalg.vector_norm(  # noqa: A006 - the standard's name
        x, axis=axis, keepdims=keepdims, ord=ord
    ),
    vjp=(_vector_norm_vjp,),
    jvp=(_vector_norm_jvp,),
)


def vector_norm(
    x: Any, /, *, axis: int | tuple[int, ...] | None = None, keepdims: bool = False, ord: float = 2  # noqa: A002
) -> Any:
    """The ``ord``-norm over ``axis`` (all axes by default); the zero vector gets gradient 0."""
    if isinstance(ord, bool) or not isinstance(ord, (int, float)):
        raise TypeError(f"agrad.linalg.vector_norm: ord must be a number, got {ord!r}")
    if isinstance(axis, list):
        axis = tuple(axis)
    return vector_norm_p(x, axis=axis, keepdims=keepdims, ord=float(ord))


def matrix_norm(x: Any, /, *, keepdims: bool = False, ord: float | str | None = "fro") -> Any:  # noqa: A002
    """Matrix norms over the last two axes: ``'fro'``, ``'nuc'``, ``2``, ``-2``, ``1``, ``-1``,
    ``inf``, ``-inf``; built from differentiable pieces (``vector_norm``, ``svdvals``, ``abs``)."""

    require_matrix("matrix_norm", x)
    if ord is None or ord == "fro":
        return vector_norm(x, axis=(-2, -1), keepdims=keepdims)
    if ord == "nuc":
        out = sum(svdvals(x), axis=-1)
    elif ord in (2, -2):
        out = (max if ord == 2 else min)(svdvals(x), axis=-1)
    elif ord in (1, -1, math.inf, -math.inf):
        # 1: largest column sum of |x| (sum over rows, axis -2); inf: largest row sum (axis -1).
        sums = sum(abs(x), axis=-2 if ord in (1, -1) else -1)
        out = (max if ord > 0 else min)(sums, axis=-1)
    else:
        raise ValueError(
            f"agrad.linalg.matrix_norm: ord must be one of 'fro', 'nuc', 1, -1, 2, -2, inf, -inf; got {ord!r}"
        )
    if keepdims:
        out = expand_dims(expand_dims(out, axis=-1), axis=-1)
    return out


matrix_rank_p = primitive(
    "linalg.matrix_rank", lambda xp, x, *, rtol=None: xp.linalg.matrix_rank(x, rtol=rtol)
)


def matrix_rank(x: Any, /, *, rtol: float | Any | None = None) -> Any:
    """The number of singular values above ``rtol * largest`` (an integer: not differentiable)."""

    require_matrix("matrix_rank", x)
    return matrix_rank_p(x, rtol=unwrap_key(rtol))


vector_norm_p.batch = reduction  # batching rules (agrad.vmap)
matrix_rank_p.batch = trailing
