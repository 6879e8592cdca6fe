"""Utility functions (the standard's chapter): ``all``, ``any`` (not differentiable) and ``diff``."""

from __future__ import annotations

from typing import Any

from agrad._core.batching import reduction
from agrad._core.primitive import primitive
from agrad._ops.manipulation import concat
from agrad._ops.statistical import Axis, _axis_param

all_p = primitive("all", lambda xp, x, *, axis=None, keepdims=False: xp.all(
    x, axis=axis, keepdims=keepdims))
any_p = primitive("any", lambda xp, x, *, axis=None, keepdims=False: xp.any(
    x, axis=axis, keepdims=keepdims))

def all(x: Any, /, *, axis: Axis = None, keepdims: bool = False) -> Any:
    """Whether every element along ``axis`` is true (not differentiable)."""
    return all_p(x, axis=_axis_param(axis), keepdims=keepdims)


def any(x: Any, /, *, axis: Axis = None, keepdims: bool = False) -> Any:
    """Whether any element along ``axis`` is true (not differentiable)."""
    return any_p(x, axis=_axis_param(axis), keepdims=keepdims)


def diff(x: Any, /, *, axis: int = -1, n: int = 1, prepend: Any = None, append: Any = None) -> Any:
    """``n``-th forward difference along ``axis`` (a composition of slicing and ``subtract``)."""

    if prepend is not None or append is not None:
        parts = [p for p in (prepend, x, append) if p is not None]
        x = concat(parts, axis=axis)
    ndim = len(x.shape)
    axis = axis % ndim
    lead = (slice(None),) * axis
    for _ in range(n):
        x = x[(*lead, slice(1, None), Ellipsis)] - x[(*lead, slice(None, -1), Ellipsis)]
    return x


all_p.batch = any_p.batch = reduction  # batching rule (agrad.vmap)
