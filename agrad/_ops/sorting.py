"""Sorting functions (the standard's chapter): ``sort`` with its gradient, ``argsort``.

``sort``'s gradient sends each cotangent back to the element that landed there: the inverse of
the ``argsort`` permutation, applied with ``take_along_axis`` (so it is differentiable again).
"""

from __future__ import annotations

from typing import Any

from agrad._core.batching import shifted
from agrad._core.primitive import primitive


def _perm(xp: Any, x: Any, axis: int, descending: bool, stable: bool) -> Any:
    return xp.argsort(x, axis=axis, descending=descending, stable=stable)


def _sort_vjp(xp, g, ans, x, *, axis, descending, stable):
    inverse = xp.argsort(_perm(xp, x, axis, descending, stable), axis=axis)
    return xp.take_along_axis(g, inverse, axis=axis)


sort_p = primitive(
    "sort",
    lambda xp, x, *, axis, descending, stable: xp.sort(x, axis=axis, descending=descending, stable=stable),
    vjp=(_sort_vjp,),
    jvp=(lambda xp, dx, ans, x, *, axis, descending, stable: xp.take_along_axis(
        dx, _perm(xp, x, axis, descending, stable), axis=axis),),
)
argsort_p = primitive("argsort", lambda xp, x, *, axis, descending, stable: _perm(
    xp, x, axis, descending, stable))


def sort(x: Any, /, *, axis: int = -1, descending: bool = False, stable: bool = True) -> Any:
    """``x`` sorted along ``axis``; ties keep their order (``stable``), so gradients of equal
    elements go back to them in order."""
    return sort_p(x, axis=axis, descending=descending, stable=True if stable is None else stable)


def argsort(x: Any, /, *, axis: int = -1, descending: bool = False, stable: bool = True) -> Any:
    """Indices that sort ``x`` along ``axis`` (not differentiable)."""
    return argsort_p(x, axis=axis, descending=descending, stable=stable)


sort_p.batch = argsort_p.batch = shifted("axis")  # batching rule (agrad.vmap)
