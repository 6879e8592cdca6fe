"""Indexing: ``x[key]`` and ``x[key] = v`` with their gradients, on every backend.

Basic slicing (negative steps too), boolean masks and integer arrays. Integer-array keys become
one ``take`` on the leading axes flattened, so their gradient is the exact segment sum of
:mod:`agrad._ops.scatter`; an assignment is functional underneath (``where`` over a scatter, or
the backend's ``setitem`` kernel), so immutable backends index like the others.
"""

from __future__ import annotations

import math
from typing import Any

from agrad._base.promotion import backend_of
from agrad._core.batching import getitem_rule, setitem_rule
from agrad._core.primitive import device_of, primitive, shape_of, unbroadcast
from agrad._core.tensor import Tensor
from agrad._ops.data_type_functions import astype
from agrad._ops.manipulation import broadcast_shapes, broadcast_to, flip, reshape
from agrad._ops.scatter import (
    index_arg,
    index_scatter_ref,
    nonnegative,
    scatter_add_p,
    segment_sum_ref,
    take_p,
    unwrap_key,
)
from agrad._ops.searching import where

getitem_p = primitive(
    "getitem",
    lambda xp, x, *, key: x[key],
    vjp=(lambda xp, g, ans, x, *, key: xp.index_scatter(g, shape=shape_of(x), key=key),),
    jvp=(lambda xp, dx, ans, x, *, key: dx[key],),
    batch=getitem_rule,
)


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


def _is_int_array(k: Any) -> bool:
    dt = getattr(k, "dtype", None)
    return dt is not None and "int" in str(dt) and len(getattr(k, "shape", ())) == 1


def positive_steps(key: Any, shape: tuple) -> tuple[Any, tuple[int, ...]]:
    """``key`` with every negative-step slice rewritten as a positive one, and the output axes to
    flip afterwards: ``x[::-1]`` is ``flip(x[0:n])``. PyTorch has no negative steps; this makes
    them work on every backend. Keys holding arrays (advanced indexing) are returned unchanged.
    """
    keys = key if isinstance(key, tuple) else (key,)
    if not any(type(k) is slice and k.step is not None and k.step < 0 for k in keys):
        return key, ()
    if any(not (k is None or k is Ellipsis or isinstance(k, (int, slice))) for k in keys):
        return key, ()
    used = sum(1 for k in keys if k is not None and k is not Ellipsis)
    expanded: list[Any] = []
    for k in keys:
        if k is Ellipsis:
            expanded.extend([slice(None)] * (len(shape) - used))
        else:
            expanded.append(k)
    out, flips, dim, axis = [], [], 0, 0
    for k in expanded:
        if k is None:
            out.append(k)
            axis += 1
            continue
        if isinstance(k, slice):
            if k.step is not None and k.step < 0:
                r = range(*k.indices(shape[dim]))
                k = slice(r[-1], r[0] + 1, -k.step) if len(r) else slice(0, 0)
                flips.append(axis)
            axis += 1
        out.append(k)
        dim += 1
    return tuple(out), tuple(flips)


def getitem(x: Any, key: Any) -> Any:
    """``x[key]``: basic slicing (negative steps too), boolean masks and integer arrays (one or
    several), with gradients."""
    key = index_arg(key)
    if _is_int_array(key):  # x[idx] is take along axis 0: portable, and its VJP a segment sum
        return take_p(x, nonnegative(x, key, 0), axis=0)
    keys = _integer_keys(key)
    if keys is not None:
        return _gather(x, keys)
    key = unwrap_key(key)
    key, flips = positive_steps(key, tuple(x.shape))
    out = getitem_p(x, key=complete_key(key, len(x.shape)))
    return flip(out, axis=flips) if flips else out


def _integer_keys(key: Any) -> tuple | None:
    """The entries of an all-integer key with at least one integer array (``x[i, j]``), else None."""
    if not isinstance(key, tuple):
        return None
    keys = key[:-1] if key and key[-1] is Ellipsis else key
    has_array = False
    for k in keys:
        dt = getattr(k, "dtype", None)
        if dt is not None and "int" in str(dt):
            has_array = True
        elif type(k) is not int:
            return None
    return keys if has_array else None


def _gather(x: Any, keys: tuple) -> Any:
    """``x[i, j, ...]`` with integer arrays, as one ``take`` on the leading axes flattened.

    Portable (the standard only guarantees integer arrays for every axis, array_api_strict
    refuses fewer), and the gradient is ``take``'s exact segment sum for repeated indices.
    """
    shape = tuple(x.shape)
    m = len(keys)
    flat, bshape = _flat_positions(x, keys)
    merged = reshape(x, (math.prod(shape[:m]), *shape[m:]))
    return reshape(take_p(merged, flat, axis=0), (*bshape, *shape[m:]))


def _flat_positions(x: Any, keys: tuple) -> tuple[Any, tuple]:
    """Row numbers of ``x``'s leading ``len(keys)`` axes merged into one, and the broadcast shape
    of the integer arrays: ``x[i, j]`` is row ``i * n1 + j`` of ``x`` reshaped to ``(n0*n1, ...)``."""
    shape = tuple(x.shape)
    m = len(keys)
    if m > len(shape):
        raise IndexError(f"too many indices ({m}) for a tensor of shape {shape}")
    flat, stride = None, 1
    for d in range(m - 1, -1, -1):
        term = (keys[d] % shape[d]) * stride
        flat = term if flat is None else flat + term
        stride *= shape[d]
    bshape = broadcast_shapes(*(tuple(k.shape) for k in keys if hasattr(k, "shape")))
    if isinstance(flat, Tensor):  # positions computed from traced or batched indices
        return reshape(broadcast_to(flat, bshape), (-1,)), bshape
    xp = _xp_of(x)
    return xp.reshape(xp.broadcast_to(flat, bshape), (-1,)), bshape


def _setitem_integer(x: Any, keys: tuple, value: Any) -> Any:
    """``x[i, j] = value`` with integer arrays, portably (array_api_strict has no fancy
    ``__setitem__``): rows of ``x`` merged as in ``_gather``, then ``where(hit, scattered, x)``.
    Repeated indices add up their values (the standard leaves that case unspecified)."""
    shape = tuple(x.shape)
    m = len(keys)
    rows, rest = math.prod(shape[:m]), shape[m:]
    flat, bshape = _flat_positions(x, keys)
    if isinstance(flat, Tensor):  # traced positions: the mask is part of the program too
        ones = astype(flat == flat, x.dtype)
        hit = reshape(scatter_add_p(ones, index=flat.value, size=rows) != 0, (rows,) + (1,) * len(rest))
        flat = flat.value
    else:
        xp = _xp_of(x)
        hit = segment_sum_ref(xp, xp.ones(flat.shape, dtype=x.value.dtype, device=x.device),
                              index=flat, size=rows) != 0
        hit = xp.reshape(hit, (rows,) + (1,) * len(rest))
    values = reshape(broadcast_to(value, (*bshape, *rest)), (-1, *rest))
    placed = scatter_add_p(values, index=flat, size=rows)
    return reshape(where(hit, placed, reshape(x, (rows, *rest))), shape)


def _xp_of(x: Any) -> Any:

    return backend_of(x).xp


def _setitem_fwd(xp: Any, x: Any, v: Any, *, key: Any) -> Any:
    try:  # a copy, then NumPy-style assignment: the input array is never written
        out = xp.asarray(x, copy=True)
        out[key] = v
        return out
    except TypeError:  # an immutable backend (JAX): rebuild through a scatter
        return _setitem_ref(xp, x, v, key=key)


def _setitem_ref(xp: Any, x: Any, v: Any, *, key: Any) -> Any:
    """Portable ``x[key] = v``: ``where(hit, scatter(v), x)``, no assignment at all.

    The scatter is a segment sum (cumulative-sum differences), so a non-finite ``v`` would
    spread NaN: immutable backends register a native ``setitem`` kernel instead."""
    shape = shape_of(x)
    region = x[key]
    vb = xp.broadcast_to(xp.asarray(v, dtype=x.dtype, device=device_of(x)),
                         shape_of(region))
    hit = index_scatter_ref(xp, xp.ones_like(region), shape=shape, key=key) != 0
    return xp.where(hit, index_scatter_ref(xp, vb, shape=shape, key=key), x)


def _setitem_dx(xp: Any, g: Any, ans: Any, x: Any, v: Any, *, key: Any) -> Any:
    hit = xp.index_scatter(xp.ones_like(g[key]), shape=shape_of(x), key=key) != 0
    return xp.where(hit, xp.zeros_like(g), g)


setitem_p = primitive(
    "setitem",
    _setitem_fwd,
    vjp=(_setitem_dx, lambda xp, g, ans, x, v, *, key: unbroadcast(xp, g[key], shape_of(v))),
    jvp=(
        lambda xp, dx, ans, x, v, *, key: _setitem_dx(xp, dx, ans, x, v, key=key),
        lambda xp, dv, ans, x, v, *, key: xp.index_scatter(
            xp.broadcast_to(dv, shape_of(ans[key])), shape=shape_of(ans), key=key),
    ),
    kernel="setitem",  # immutable backends register their functional update (JAX: .at[].set)
    batch=setitem_rule,
)


def setitem(x: Any, key: Any, value: Any) -> Any:
    """A new tensor: ``x`` with ``x[key]`` replaced by ``value`` (what ``x[key] = value`` records).

    Differentiable in ``x`` (zero cotangent on the overwritten elements) and in ``value`` (the
    cotangent of the region, summed over broadcast axes). Repeated integer indices: which
    write wins is unspecified, as in the standard.
    """
    key = index_arg(key)
    keys = (key,) if _is_int_array(key) else _integer_keys(key)
    if keys is None:
        key = unwrap_key(key)
    key, flips = positive_steps(key, tuple(x.shape))
    key = complete_key(key, len(x.shape))
    if flips:  # value was given in the negative-step order: reverse it the same way
        region_shape = tuple(getitem_p(x, key=key).shape)
        value = flip(_broadcast_value(value, region_shape, x), axis=flips)
    if not isinstance(value, Tensor):
        be = backend_of(x)
        value = Tensor(be.xp.asarray(value, dtype=x.value.dtype, device=be.device),
                       requires_grad=False, backend=be)
    elif value.dtype is not x.dtype:
        value = astype(value, x.dtype)
    if keys is not None:
        return _setitem_integer(x, keys, value)
    return setitem_p(x, value, key=key)


def _broadcast_value(value: Any, shape: tuple, like: Any) -> Any:

    if not isinstance(value, Tensor):
        be = like._backend
        value = Tensor(be.xp.asarray(value, dtype=like.value.dtype, device=be.device),
                       requires_grad=False, backend=be)
    return broadcast_to(value, shape)


__all__ = ["getitem", "setitem"]
