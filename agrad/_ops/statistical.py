"""Statistical functions (the standard's chapter): reductions and their derivative rules."""

from __future__ import annotations

import math
from typing import Any

from agrad._base.backend import get_backend
from agrad._base.dtypes import to_native
from agrad._core.batching import reduction, shifted
from agrad._core.primitive import device_of, primitive, shape_of
from agrad._core.tensor import Tensor
from agrad._ops.elementwise import _cj

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


def _extremum_jvp(xp, dx, ans, x, *, axis=None, keepdims=False):
    shape = shape_of(x)
    hit = xp.astype(x == expand_reduced(xp, ans, shape, axis, keepdims), dx.dtype)
    count = xp.sum(hit, axis=axis, keepdims=keepdims)
    return xp.sum(dx * hit, axis=axis, keepdims=keepdims) / count


max_p = primitive(
    "max",
    lambda xp, x, *, axis=None, keepdims=False: xp.max(x, axis=axis, keepdims=keepdims),
    vjp=(_extremum_vjp,),
    jvp=(_extremum_jvp,),
)
min_p = primitive(
    "min",
    lambda xp, x, *, axis=None, keepdims=False: xp.min(x, axis=axis, keepdims=keepdims),
    vjp=(_extremum_vjp,),
    jvp=(_extremum_jvp,),
)


# --- prod: the gradient is the product of the *other* elements, computed without division --------


def _to_last(xp: Any, x: Any, axes: tuple[int, ...]) -> tuple[Any, tuple[int, ...]]:
    """``x`` with ``axes`` moved to the end and merged into one; the permutation used."""
    n = len(shape_of(x))
    perm = tuple(a for a in range(n) if a not in axes) + axes
    moved = xp.permute_dims(x, perm)
    kept = tuple(shape_of(moved))[: n - len(axes)]
    return xp.reshape(moved, (*kept, -1)), perm


def _from_last(xp: Any, y: Any, shape: tuple, perm: tuple[int, ...]) -> Any:
    moved_shape = tuple(shape[p] for p in perm)
    inv = tuple(perm.index(i) for i in range(len(perm)))
    return xp.permute_dims(xp.reshape(y, moved_shape), inv)


def _exclusive_cumprod(xp: Any, x: Any) -> Any:
    """``out[..., k] = prod(x[..., :k])`` along the last axis."""
    n = tuple(x.shape)[-1]
    return xp.cumulative_prod(x, axis=-1, include_initial=True)[..., :n]


def _others_product(xp: Any, x: Any, axes: tuple[int, ...]) -> Any:
    """``prod`` over ``axes`` of every element but the one at each position (zero-safe)."""
    shape = shape_of(x)
    flat, perm = _to_last(xp, x, axes)
    left = _exclusive_cumprod(xp, flat)
    right = xp.flip(_exclusive_cumprod(xp, xp.flip(flat, axis=-1)), axis=-1)
    return _from_last(xp, left * right, shape, perm)


def _prod_vjp(xp, g, ans, x, *, axis=None, dtype=None, keepdims=False):
    shape = shape_of(x)
    axes = norm_axes(axis, len(shape))
    if not axes:
        return xp.astype(g, x.dtype) if dtype is not None else g
    others = _others_product(xp, x, axes)

    g = expand_reduced(xp, g, shape, axis, keepdims)
    return g * _cj(xp, xp.astype(others, g.dtype) if dtype is not None else others)


def _prod_jvp(xp, dx, ans, x, *, axis=None, dtype=None, keepdims=False):
    axes = norm_axes(axis, len(shape_of(x)))
    if not axes:
        return dx
    return xp.sum(dx * _others_product(xp, x, axes), axis=axis, dtype=dtype, keepdims=keepdims)


prod_p = primitive(
    "prod",
    lambda xp, x, *, axis=None, dtype=None, keepdims=False: xp.prod(
        x, axis=axis, dtype=dtype, keepdims=keepdims
    ),
    vjp=(_prod_vjp,),
    jvp=(_prod_jvp,),
)


# --- var and std ---------------------------------------------------------------------------------


def _centered(xp: Any, x: Any, axis: Axis) -> Any:
    return x - xp.mean(x, axis=axis, keepdims=True)


def _dof(shape: tuple, axis: Axis, correction: float) -> float:
    return _count(shape, axis) - correction


def _var_vjp(xp, g, ans, x, *, axis=None, correction=0.0, keepdims=False):
    shape = shape_of(x)
    g = expand_reduced(xp, g, shape, axis, keepdims)
    return g * (2 / _dof(shape, axis, correction)) * _centered(xp, x, axis)


def _var_jvp(xp, dx, ans, x, *, axis=None, correction=0.0, keepdims=False):
    scale = 2 / _dof(shape_of(x), axis, correction)
    return xp.sum(dx * _centered(xp, x, axis), axis=axis, keepdims=keepdims) * scale


var_p = primitive(
    "var",
    lambda xp, x, *, axis=None, correction=0.0, keepdims=False: xp.var(
        x, axis=axis, correction=correction, keepdims=keepdims),
    vjp=(_var_vjp,),
    jvp=(_var_jvp,),
)
# d std = d var / (2 std)
std_p = primitive(
    "std",
    lambda xp, x, *, axis=None, correction=0.0, keepdims=False: xp.std(
        x, axis=axis, correction=correction, keepdims=keepdims),
    vjp=(lambda xp, g, ans, x, **kw: _var_vjp(xp, g / (2 * ans), ans, x, **kw),),
    jvp=(lambda xp, dx, ans, x, **kw: _var_jvp(xp, dx, ans, x, **kw) / (2 * ans),),
)


# --- cumulative sum and product -----------------------------------------------------------------


def _along(xp: Any, x: Any, axis: int, start: int, stop: int | None = None) -> Any:
    n = len(shape_of(x))
    return x[(slice(None),) * (axis % n) + (slice(start, stop), Ellipsis)]


def _reverse_cumsum(xp: Any, g: Any, axis: int) -> Any:
    return xp.flip(xp.cumulative_sum(xp.flip(g, axis=axis), axis=axis), axis=axis)


def _cumsum_vjp(xp, g, ans, x, *, axis, dtype=None, include_initial=False):
    if include_initial:  # out[k] = sum(x[:k]): x[j] feeds out[j+1:]
        g = _along(xp, g, axis, 1)
    g = _reverse_cumsum(xp, g, axis)
    return xp.astype(g, x.dtype) if dtype is not None else g


cumulative_sum_p = primitive(
    "cumulative_sum",
    lambda xp, x, *, axis, dtype=None, include_initial=False: xp.cumulative_sum(
        x, axis=axis, dtype=dtype, include_initial=include_initial),
    vjp=(_cumsum_vjp,),
    jvp=(lambda xp, dx, ans, x, **kw: xp.cumulative_sum(dx, **kw),),
)


def _cumprod_partials(xp: Any, x: Any, axis: int) -> Any:
    """``P[..., j, k] = prod(x[i] for i <= k if i != j)`` for ``k >= j``, else 0, along ``axis``
    moved last. O(n^2) in the axis length, but exact with zeros (no division by ``x``)."""
    n = tuple(x.shape)[-1]
    i = xp.arange(n, device=device_of(x))
    j = xp.reshape(i, (n, 1))
    rows = xp.expand_dims(x, axis=-2)  # (..., 1, n): row j will skip element j
    ones = xp.ones_like(rows)
    skipped = xp.where(i == j, ones, rows)  # (..., n, n)
    partial = xp.cumulative_prod(skipped, axis=-1)
    return xp.where(i >= j, partial, xp.zeros_like(partial))


def _cumprod_core(xp: Any, x: Any, axis: int, include_initial: bool) -> tuple[Any, Any]:
    moved = xp.moveaxis(x, axis, -1)
    partials = _cumprod_partials(xp, moved, -1)
    if include_initial:  # out[0] = 1, out[k+1] = prod(x[:k+1])
        shape = tuple(partials.shape)
        zero = xp.zeros((*shape[:-1], 1), dtype=partials.dtype, device=device_of(x))
        partials = xp.concat([zero, partials], axis=-1)
    return moved, partials


def _cumprod_vjp(xp, g, ans, x, *, axis, dtype=None, include_initial=False):

    axis = axis % len(shape_of(x))
    _, partials = _cumprod_core(xp, x, axis, include_initial)
    gm = xp.expand_dims(xp.moveaxis(g, axis, -1), axis=-2)  # (..., 1, m)
    grad = xp.sum(gm * _cj(xp, xp.astype(partials, gm.dtype)), axis=-1)  # (..., n)
    grad = xp.moveaxis(grad, -1, axis)
    return xp.astype(grad, x.dtype) if dtype is not None else grad


def _cumprod_jvp(xp, dx, ans, x, *, axis, dtype=None, include_initial=False):
    axis = axis % len(shape_of(x))
    _, partials = _cumprod_core(xp, x, axis, include_initial)
    dm = xp.expand_dims(xp.moveaxis(dx, axis, -1), axis=-1)  # (..., n, 1)
    out = xp.sum(dm * partials, axis=-2)
    return xp.moveaxis(out, -1, axis)


cumulative_prod_p = primitive(
    "cumulative_prod",
    lambda xp, x, *, axis, dtype=None, include_initial=False: xp.cumulative_prod(
        x, axis=axis, dtype=dtype, include_initial=include_initial),
    vjp=(_cumprod_vjp,),
    jvp=(_cumprod_jvp,),
)

# --- non-differentiable reductions -------------------------------------------------------------

count_nonzero_p = primitive("count_nonzero", lambda xp, x, *, axis=None, keepdims=False:
                            xp.count_nonzero(x, axis=axis, keepdims=keepdims))


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

    backend = x._backend if isinstance(x, Tensor) else None
    if backend is None:

        backend = get_backend()
    return to_native(backend, dtype)


def prod(x: Any, /, *, axis: Axis = None, dtype: Any = None, keepdims: bool = False) -> Any:
    """Product over ``axis``; its gradient is the product of the other elements (no division, so
    zeros in ``x`` are fine)."""
    return prod_p(x, axis=_axis_param(axis), dtype=_native_dtype(x, dtype), keepdims=keepdims)


def var(x: Any, /, *, axis: Axis = None, correction: float = 0.0, keepdims: bool = False) -> Any:
    """Variance over ``axis`` with ``N - correction`` degrees of freedom."""
    return var_p(x, axis=_axis_param(axis), correction=correction, keepdims=keepdims)


def std(x: Any, /, *, axis: Axis = None, correction: float = 0.0, keepdims: bool = False) -> Any:
    """Standard deviation over ``axis``; its gradient is infinite/NaN where it is 0."""
    return std_p(x, axis=_axis_param(axis), correction=correction, keepdims=keepdims)


def _cumulative(prim: Any, x: Any, axis: int | None, dtype: Any, include_initial: bool) -> Any:
    if axis is None:
        if len(x.shape) > 1:
            raise ValueError(f"agrad.{prim.name}: axis is required for a {len(x.shape)}-D input")
        axis = 0
    return prim(x, axis=axis, dtype=_native_dtype(x, dtype), include_initial=include_initial)


def cumulative_sum(x: Any, /, *, axis: int | None = None, dtype: Any = None,
                   include_initial: bool = False) -> Any:
    """Running sum along ``axis``; its gradient is the reversed running sum of the cotangent."""
    return _cumulative(cumulative_sum_p, x, axis, dtype, include_initial)


def cumulative_prod(x: Any, /, *, axis: int | None = None, dtype: Any = None,
                    include_initial: bool = False) -> Any:
    """Running product along ``axis``; its gradient is exact with zeros in ``x`` (no division;
    O(n^2) work in the length of ``axis``)."""
    return _cumulative(cumulative_prod_p, x, axis, dtype, include_initial)


def count_nonzero(x: Any, /, *, axis: Axis = None, keepdims: bool = False) -> Any:
    """Number of non-zero elements along ``axis`` (not differentiable)."""
    return count_nonzero_p(x, axis=_axis_param(axis), keepdims=keepdims)


def _axis_param(axis: Axis) -> Axis:
    """Hashable, canonical ``axis`` (lists become tuples)."""
    return axis if axis is None or isinstance(axis, int) else tuple(axis)


# Batching rules (agrad.vmap): the same reductions over the shifted axes.
for _p in (sum_p, mean_p, max_p, min_p, prod_p, var_p, std_p, count_nonzero_p):
    _p.batch = reduction
cumulative_sum_p.batch = cumulative_prod_p.batch = shifted("axis")
