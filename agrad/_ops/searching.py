"""Searching functions (the standard's chapter): ``where`` and friends."""

from __future__ import annotations

from typing import Any

from agrad._core.primitive import primitive, shape_of, unbroadcast
from agrad._core.tensor import _wrap
from agrad._ops.promote import promote
from agrad._ops.scatter import unwrap_key


def _where_branch(take_x: bool):
    # The untaken branch gets an exact zero (not 0 * g), so a NaN/inf there cannot leak in.
    def rule(xp: Any, g: Any, ans: Any, cond: Any, x: Any, y: Any) -> Any:
        zero = xp.zeros_like(g)
        picked = xp.where(cond, g, zero) if take_x else xp.where(cond, zero, g)
        return unbroadcast(xp, picked, shape_of(x if take_x else y))

    return rule


where_p = primitive(
    "where",
    lambda xp, cond, x, y: xp.where(cond, x, y),
    vjp=(None, _where_branch(True), _where_branch(False)),
    jvp=(
        None,
        lambda xp, dx, ans, c, x, y: xp.where(c, dx, xp.zeros_like(ans)),
        lambda xp, dy, ans, c, x, y: xp.where(c, xp.zeros_like(ans), dy),
    ),
)


def where(condition: Any, x1: Any, x2: Any, /) -> Any:
    """``x1`` where ``condition`` holds, else ``x2``; gradients flow only to the chosen branch.

    Each branch receives an exact zero where it was not chosen, even if the cotangent there is
    inf or NaN. A branch that is *itself* undefined where it is not chosen (``sqrt`` of a negative)
    still has a NaN derivative there, as in PyTorch and JAX; compute it on safe inputs::

        safe = where(x > 0, x, 1.0)
        y = where(x > 0, sqrt(safe), 0.0)
    """
    return where_p(condition, x1, x2)


argmax_p = primitive("argmax", lambda xp, x, *, axis=None, keepdims=False: xp.argmax(
    x, axis=axis, keepdims=keepdims))
argmin_p = primitive("argmin", lambda xp, x, *, axis=None, keepdims=False: xp.argmin(
    x, axis=axis, keepdims=keepdims))


def argmax(x: Any, /, *, axis: int | None = None, keepdims: bool = False) -> Any:
    """Index of the maximum (not differentiable)."""
    return argmax_p(x, axis=axis, keepdims=keepdims)


def argmin(x: Any, /, *, axis: int | None = None, keepdims: bool = False) -> Any:
    """Index of the minimum (not differentiable)."""
    return argmin_p(x, axis=axis, keepdims=keepdims)


searchsorted_p = primitive("searchsorted", lambda xp, x1, x2, sorter, *, side: xp.searchsorted(
    x1, x2, side=side, sorter=sorter))
nonzero_p = primitive("nonzero", lambda xp, x: tuple(xp.nonzero(x)), multi_output=True)


def searchsorted(x1: Any, x2: Any, /, *, side: str = "left", sorter: Any = None) -> Any:
    """Where ``x2``'s elements would be inserted into the sorted ``x1`` (not differentiable)."""

    if isinstance(x2, (int, float)):
        x1, x2 = promote(x1, x2)
    out = searchsorted_p(x1, x2, unwrap_key(sorter), side=side)
    index = out._backend.default_index  # JAX answers int32 even in x64 mode; the standard's is
    if out.value.dtype != index:        # the default indexing dtype
        out = _wrap(out._backend.xp.astype(out.value, index), out._backend, None, 0)
    return out


def nonzero(x: Any, /) -> tuple[Any, ...]:
    """Indices of the non-zero elements, one array per axis (not differentiable; its shape
    depends on the data, so lazy backends may refuse it)."""
    return nonzero_p(x)
