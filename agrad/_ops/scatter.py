"""Gathers and their exact gradients: ``take``, ``take_along_axis`` and the scatter-adds.

The standard has no scatter-add. The portable reference sorts the target positions and takes
differences of a cumulative sum (a segment sum), which works on every conforming backend;
backends register native fast paths (``np.add.at``, ``index_put_``, ``.at[].add``) under the
kernel names ``"scatter_add"`` and ``"index_scatter"``.
"""

from __future__ import annotations

import math
from typing import Any

from agrad._base.backend import get_backend
from agrad._base.modes import modes
from agrad._core.batching import BatchedTensor, front, index_scatter_rule, lift_rank, moved
from agrad._core.primitive import TENSOR_OPS, device_of, extension, primitive, shape_of
from agrad._core.tensor import Tensor


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
    targets = xp.arange(size, dtype=s.dtype, device=device_of(s))
    left = xp.searchsorted(s, targets, side="left")
    right = xp.searchsorted(s, targets, side="right")
    out = xp.take(c, right, axis=0) - xp.take(c, left, axis=0)
    return xp.astype(out, dt) if out.dtype != dt else out


def _scatter_add_batch(prim: Any, xp: Any, args: list, dims: list, *, index: Any, size: int) -> tuple:
    """Batched values: scatter along the axis after the batch. A batched ``index`` (a
    BatchedTensor parameter): each example's rows offset into its own block of ``size`` rows."""
    v, d = args[0], dims[0]
    if not isinstance(index, BatchedTensor):
        v = moved(xp, v, d, 1)
        return prim(v, index=index, size=size), 1
    level = index.level
    b = level.size
    idx = moved(xp, index.inner, index.bdim)
    offsets = xp.reshape(xp.arange(b, dtype=idx.dtype, device=device_of(idx.value)) * size, (b, 1))
    v = front(xp, v, d, b)
    flat = prim(xp.reshape(v, (-1, *v.shape[2:])), index=unwrap_key(xp.reshape(idx + offsets, (-1,))),
                size=b * size)
    return xp.reshape(flat, (b, size, *flat.shape[1:])), 0


_scatter_add_batch.batched_params = True  # it reads a batched ``index``

scatter_add_p = extension(
    primitive(
        "scatter_add",
        segment_sum_ref,
        vjp=(lambda xp, g, ans, values, *, index, size: xp.take(g, index, axis=0),),
        jvp=(lambda xp, dv, ans, values, *, index, size: xp.scatter_add(dv, index=index, size=size),),
        kernel="scatter_add",
        batch=_scatter_add_batch,
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
        batch=index_scatter_rule,
    )
)

def unwrap_key(key: Any) -> Any:
    """Replace Tensors inside an index key by their backend arrays (indices carry no gradient).
    Indices batched by ``vmap`` stay BatchedTensors: the batching rules read them."""
    if isinstance(key, Tensor):
        return key if isinstance(key, BatchedTensor) else key.value
    if isinstance(key, tuple):
        return tuple(k.value if isinstance(k, Tensor) and not isinstance(k, BatchedTensor) else k
                     for k in key)
    return key


def index_arg(key: Any) -> Any:
    """An index key for code that computes positions from it (negative indices, several integer
    arrays): backend arrays, except where a transform must see that computation, which then
    runs on the Tensors: under ``agrad.jit`` (the positions are part of the program) and for
    indices batched by ``vmap``."""
    if not modes.trace:
        return unwrap_key(key)
    return key


def _take_vjp(xp: Any, g: Any, ans: Any, x: Any, indices: Any, *, axis: int) -> Any:
    n = len(shape_of(x))
    axis = axis % n
    indices = unwrap_key(indices)  # a Tensor when traced by agrad.jit: its array is the value
    if axis == 0:
        return xp.scatter_add(g, index=indices, size=shape_of(x)[0])
    perm = (axis, *range(axis), *range(axis + 1, n))
    inv = tuple(perm.index(i) for i in range(n))
    moved = xp.scatter_add(xp.permute_dims(g, perm), index=indices, size=shape_of(x)[axis])
    return xp.permute_dims(moved, inv)


def _take_batch(prim: Any, xp: Any, args: list, dims: list, *, axis: int) -> tuple:
    (x, indices), (dx, di) = args, dims
    if di is None:  # the same indices for every example
        x = moved(xp, x, dx)
        return prim(x, indices, axis=axis % (x.ndim - 1) + 1), 0
    # Each example's indices: a take_along_axis with them spread over the other axes.
    b = indices.shape[di]
    x = front(xp, x, dx, b)
    n = x.ndim - 1
    axis = axis % n + 1
    idx = moved(xp, indices, di)
    k = idx.shape[1]
    idx = xp.reshape(idx, tuple(b if i == 0 else k if i == axis else 1 for i in range(n + 1)))
    shape = tuple(k if i == axis else s for i, s in enumerate(x.shape))
    return xp.take_along_axis(x, xp.broadcast_to(idx, shape), axis=axis), 0


take_p = primitive(
    "take",
    lambda xp, x, indices, *, axis: xp.take(x, indices, axis=axis),
    vjp=(_take_vjp, None),
    jvp=(lambda xp, dx, ans, x, indices, *, axis: xp.take(dx, indices, axis=axis), None),
    batch=_take_batch,
)


def nonnegative(x: Any, indices: Any, axis: int) -> Any:
    """Negative indices counted from the end, as NumPy does; torch's ``take`` rejects them and
    the segment-sum gradient needs positions in ``[0, n)``."""
    if isinstance(indices, Tensor):  # batched by vmap
        return TENSOR_OPS.where(indices < 0, indices + x.shape[axis], indices)
    xp = (x._backend if isinstance(x, Tensor) else get_backend()).xp
    return xp.where(indices < 0, indices + x.shape[axis], indices)


def take(x: Any, indices: Any, /, *, axis: int | None = None) -> Any:
    """Elements of ``x`` at the 1-D integer ``indices`` along ``axis`` (negative ones count from
    the end); repeats add up in the gradient."""
    if axis is None:
        if len(x.shape) != 1:
            raise ValueError(f"take: axis is required for a {len(x.shape)}-D input")
        axis = 0
    return take_p(x, nonnegative(x, index_arg(indices), axis), axis=axis)


def _along_axis_positions(xp: Any, indices: Any, shape: tuple, axis: int) -> Any:
    """Flat positions in an array of ``shape`` addressed by ``take_along_axis(.., indices, axis)``."""
    n = len(shape)
    ishape = shape_of(indices)
    flat = None
    stride = 1
    for d in range(n - 1, -1, -1):
        if d == axis:
            idx = indices
        else:
            grid = xp.arange(ishape[d], dtype=indices.dtype, device=device_of(indices))
            idx = xp.reshape(grid, tuple(ishape[d] if i == d else 1 for i in range(n)))
        term = idx * stride
        flat = term if flat is None else flat + term
        stride *= shape[d]
    return xp.reshape(xp.broadcast_to(flat, ishape), (-1,))


def _take_along_axis_vjp(xp: Any, g: Any, ans: Any, x: Any, indices: Any, *, axis: int) -> Any:
    shape = shape_of(x)
    # integer positions: never recorded (but batched by vmap when the indices are)
    raw = x._backend.xp if hasattr(x, "_backend") and not isinstance(indices, Tensor) else xp
    positions = _along_axis_positions(raw, indices, shape, axis % len(shape))
    flat = xp.scatter_add(xp.reshape(g, (-1,)), index=positions, size=math.prod(shape))
    return xp.reshape(flat, shape)


def _take_along_axis_batch(prim: Any, xp: Any, args: list, dims: list, *, axis: int) -> tuple:
    b = next(a.shape[d] for a, d in zip(args, dims) if d is not None)
    x = front(xp, args[0], dims[0], b)
    n = x.ndim - 1
    idx = lift_rank(xp, front(xp, args[1], dims[1], b), n)
    shape = tuple(idx.shape[i] if i == axis % n + 1 else s for i, s in enumerate(x.shape))
    return prim(x, xp.broadcast_to(idx, shape), axis=axis % n + 1), 0


take_along_axis_p = primitive(
    "take_along_axis",
    lambda xp, x, indices, *, axis: xp.take_along_axis(x, indices, axis=axis),
    vjp=(_take_along_axis_vjp, None),
    jvp=(lambda xp, dx, ans, x, indices, *, axis: xp.take_along_axis(dx, indices, axis=axis), None),
    batch=_take_along_axis_batch,
)


def take_along_axis(x: Any, indices: Any, /, *, axis: int = -1) -> Any:
    """Elements of ``x`` at ``indices`` along ``axis`` (same shape elsewhere); repeated
    indices add up in the gradient."""
    return take_along_axis_p(x, unwrap_key(indices), axis=axis)


def scatter_add(values: Any, index: Any, size: int) -> Any:
    """Sum the rows of ``values`` into ``size`` rows by ``index`` (repeats add up); differentiable."""
    return scatter_add_p(values, index=unwrap_key(index), size=size)


__all__ = ["scatter_add", "take", "take_along_axis"]
