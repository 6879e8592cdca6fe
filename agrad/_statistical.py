"""Statistical functions (the standard's chapter): reductions and their derivative rules."""

from __future__ import annotations

import math
from typing import Any

from agrad._primitive import primitive, shape_of

Axis = int | tuple[int, ...] | None


def norm_axes(axis: Axis, ndim: int) -> tuple[int, ...]:
    """``axis`` as a sorted tuple of non-negative axes (``None`` means all)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < (ndim or 1):
            raise ValueError(f"axis {a} is out of range for an array of {ndim} dimensions")
        out.append(a % ndim if ndim else 0)
    return tuple(sorted(out))


def keepdims_shape(shape: tuple, axis: Axis) -> tuple:
    """The shape a reduction over ``axis`` has with ``keepdims=True``."""
    axes = norm_axes(axis, len(shape))
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def expand_reduced(xp: Any, g: Any, shape: tuple, axis: Axis, keepdims: bool) -> Any:
    """Broadcast a reduction's cotangent back over the reduced axes of an input of ``shape``."""
    if not keepdims:
        g = xp.reshape(g, keepdims_shape(shape, axis))
    return xp.broadcast_to(g, shape)


def _count(shape: tuple, axis: Axis) -> int:
    return math.prod(shape[i] for i in norm_axes(axis, len(shape)))


def _sum_vjp(xp, g, ans, x, *, axis=None, dtype=None, keepdims=False):
    g = expand_reduced(xp, g, shape_of(x), axis, keepdims)
    return g if dtype is None else xp.astype(g, x.dtype)


sum_p = primitive(
    "sum",
    lambda xp, x, *, axis=None, dtype=None, keepdims=False: xp.sum(
        x, axis=axis, dtype=dtype, keepdims=keepdims
    ),
    vjp=(_sum_vjp,),
    jvp=(lambda xp, dx, ans, x, **kw: xp.sum(dx, **kw),),
)


def _mean_vjp(xp, g, ans, x, *, axis=None, keepdims=False):
    shape = shape_of(x)
    return expand_reduced(xp, g, shape, axis, keepdims) / _count(shape, axis)


mean_p = primitive(
    "mean",
    lambda xp, x, *, axis=None, keepdims=False: xp.mean(x, axis=axis, keepdims=keepdims),
    vjp=(_mean_vjp,),
    jvp=(lambda xp, dx, ans, x, **kw: xp.mean(dx, **kw),),
)


def _extremum_vjp(xp, g, ans, x, *, axis=None, keepdims=False):
    # Ties share the cotangent evenly (PyTorch's amax/amin and JAX's convention).
    shape = shape_of(x)
    hit = x == expand_reduced(xp, ans, shape, axis, keepdims)
    hit = xp.astype(hit, x.dtype)
    count = xp.sum(hit, axis=axis, keepdims=True)
    return expand_reduced(xp, g, shape, axis, keepdims) * hit / count


max_p = primitive(
    "max",
    lambda xp, x, *, axis=None, keepdims=False: xp.max(x, axis=axis, keepdims=keepdims),
    vjp=(_extremum_vjp,),
)
min_p = primitive(
    "min",
    lambda xp, x, *, axis=None, keepdims=False: xp.min(x, axis=axis, keepdims=keepdims),
    vjp=(_extremum_vjp,),
)


def sum(x: Any, /, *, axis: Axis = None, dtype: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Sum over ``axis`` (all axes by default)."""
    return sum_p(x, axis=axis, dtype=_native_dtype(x, dtype), keepdims=keepdims)


def mean(x: Any, /, *, axis: Axis = None, keepdims: bool = False) -> Any:
    """Arithmetic mean over ``axis``."""
    return mean_p(x, axis=axis, keepdims=keepdims)


def max(x: Any, /, *, axis: Axis = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Maximum over ``axis``; tied maxima share the gradient evenly."""
    return max_p(x, axis=axis, keepdims=keepdims)


def min(x: Any, /, *, axis: Axis = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Minimum over ``axis``; tied minima share the gradient evenly."""
    return min_p(x, axis=axis, keepdims=keepdims)


def _native_dtype(x: Any, dtype: Any) -> Any:
    if dtype is None:
        return None
    from agrad._dtypes import to_native
    from agrad._tensor import Tensor

    backend = x._backend if isinstance(x, Tensor) else None
    if backend is None:
        from agrad._backend import get_backend

        backend = get_backend()
    return to_native(backend, dtype)
