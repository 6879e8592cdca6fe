"""Indexing: ``x[key]`` and its gradient, a scatter-add that is exact with repeated indices.

The standard has no scatter-add. The portable reference sorts the target positions and takes
differences of a cumulative sum (a segment sum), which works on every conforming backend;
backends register native fast paths (``np.add.at``, ``index_put_``, ``.at[].add``) under the
kernel names ``"scatter_add"`` and ``"index_scatter"``.
"""

from __future__ import annotations

import math
from typing import Any

from agrad._primitive import extension, primitive, shape_of


def _widen(xp: Any, v: Any) -> tuple[Any, Any]:
    """Accumulate in 64-bit where the backend has it: the segment sum subtracts running totals."""
    dt = v.dtype
    for narrow, wide in (("float32", "float64"), ("float16", "float64"), ("complex64", "complex128")):
        if dt == getattr(xp, narrow, None) and hasattr(xp, wide):
            try:
                return xp.astype(v, getattr(xp, wide)), dt
            except Exception:  # a device without float64
                break
    return v, dt


def segment_sum_ref(xp: Any, values: Any, *, index: Any, size: int) -> Any:
    """``out[i] = sum(values[j] for j where index[j] == i)`` for ``i < size``, along axis 0.

    Portable: argsort + cumulative_sum + searchsorted, all in the standard.
    """
    order = xp.argsort(index, stable=True)
    s = xp.take(index, order)
    v, dt = _widen(xp, xp.take(values, order, axis=0))
    c = xp.cumulative_sum(v, axis=0, include_initial=True)
    targets = xp.arange(size, dtype=s.dtype, device=getattr(s, "device", None))
    left = xp.searchsorted(s, targets, side="left")
    right = xp.searchsorted(s, targets, side="right")
    out = xp.take(c, right, axis=0) - xp.take(c, left, axis=0)
    return xp.astype(out, dt) if out.dtype != dt else out


scatter_add_p = extension(
    primitive(
        "scatter_add",
        segment_sum_ref,
        vjp=(lambda xp, g, ans, values, *, index, size: xp.take(g, index, axis=0),),
        jvp=(lambda xp, dv, ans, values, *, index, size: xp.scatter_add(dv, index=index, size=size),),
        kernel="scatter_add",
    )
)


def index_scatter_ref(xp: Any, g: Any, *, shape: tuple, key: Any) -> Any:
    """An array of ``shape`` that is zero except ``out[key] += g`` (repeats add up)."""
    n = math.prod(shape)
    positions = xp.reshape(xp.arange(n), shape)[key]
    flat = segment_sum_ref(xp, xp.reshape(g, (-1,)), index=xp.reshape(positions, (-1,)), size=n)
    return xp.reshape(flat, shape)


index_scatter_p = extension(
    primitive(
        "index_scatter",
        index_scatter_ref,
        vjp=(lambda xp, g, ans, v, *, shape, key: g[key],),
        jvp=(lambda xp, dv, ans, v, *, shape, key: xp.index_scatter(dv, shape=shape, key=key),),
        kernel="index_scatter",
    )
)

getitem_p = primitive(
    "getitem",
    lambda xp, x, *, key: x[key],
    vjp=(lambda xp, g, ans, x, *, key: xp.index_scatter(g, shape=shape_of(x), key=key),),
    jvp=(lambda xp, dx, ans, x, *, key: dx[key],),
)


def unwrap_key(key: Any) -> Any:
    """Replace Tensors inside an index key by their backend arrays (indices carry no gradient)."""
    from agrad._tensor import Tensor

    if isinstance(key, Tensor):
        return key.value
    if isinstance(key, tuple):
        return tuple(k.value if isinstance(k, Tensor) else k for k in key)
    return key


def complete_key(key: Any, ndim: int) -> Any:
    """Add the trailing ``...`` that NumPy implies (``x[0]`` on a 3-D array), so every backend
    (array_api_strict refuses partial keys) indexes alike."""
    keys = key if isinstance(key, tuple) else (key,)
    if any(k is Ellipsis for k in keys):
        return key
    used = 0
    for k in keys:
        if k is None:
            continue
        kd = getattr(k, "dtype", None)
        used += len(k.shape) if kd is not None and str(kd).endswith("bool") else 1
    return (*keys, Ellipsis) if used < ndim else key


def _take_vjp(xp: Any, g: Any, ans: Any, x: Any, indices: Any, *, axis: int) -> Any:
    n = len(shape_of(x))
    axis = axis % n
    if axis == 0:
        return xp.scatter_add(g, index=indices, size=shape_of(x)[0])
    perm = (axis, *range(axis), *range(axis + 1, n))
    inv = tuple(perm.index(i) for i in range(n))
    moved = xp.scatter_add(xp.permute_dims(g, perm), index=indices, size=shape_of(x)[axis])
    return xp.permute_dims(moved, inv)


take_p = primitive(
    "take",
    lambda xp, x, indices, *, axis: xp.take(x, indices, axis=axis),
    vjp=(_take_vjp, None),
    jvp=(lambda xp, dx, ans, x, indices, *, axis: xp.take(dx, indices, axis=axis), None),
)


def take(x: Any, indices: Any, /, *, axis: int | None = None) -> Any:
    """Elements of ``x`` at the 1-D integer ``indices`` along ``axis``; repeats add up in the
    gradient."""
    if axis is None:
        if len(x.shape) != 1:
            raise ValueError(f"take: axis is required for a {len(x.shape)}-D input")
        axis = 0
    return take_p(x, unwrap_key(indices), axis=axis)


def _is_int_array(k: Any) -> bool:
    dt = getattr(k, "dtype", None)
    return dt is not None and "int" in str(dt) and len(getattr(k, "shape", ())) == 1


def getitem(x: Any, key: Any) -> Any:
    """``x[key]``: basic slicing, boolean masks and integer arrays, with gradients."""
    key = unwrap_key(key)
    if _is_int_array(key):  # x[idx] is take along axis 0: portable, and its VJP a segment sum
        return take_p(x, key, axis=0)
    return getitem_p(x, key=complete_key(key, len(x.shape)))


def scatter_add(values: Any, index: Any, size: int) -> Any:
    """Sum the rows of ``values`` into ``size`` rows by ``index`` (repeats add up); differentiable."""
    return scatter_add_p(values, index=unwrap_key(index), size=size)


__all__ = ["getitem", "scatter_add", "shape_of"]
