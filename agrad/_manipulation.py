"""Manipulation functions (the standard's chapter): reshaping, transposing, broadcasting."""

from __future__ import annotations

from typing import Any

from agrad._primitive import primitive, shape_of, unbroadcast


def _inverse_perm(axes: tuple[int, ...]) -> tuple[int, ...]:
    inv = [0] * len(axes)
    for i, a in enumerate(axes):
        inv[a % len(axes)] = i
    return tuple(inv)


reshape_p = primitive(
    "reshape",
    lambda xp, x, *, shape: xp.reshape(x, shape),
    vjp=(lambda xp, g, ans, x, *, shape: xp.reshape(g, shape_of(x)),),
    jvp=(lambda xp, dx, ans, x, *, shape: xp.reshape(dx, shape),),
)
permute_dims_p = primitive(
    "permute_dims",
    lambda xp, x, *, axes: xp.permute_dims(x, axes),
    vjp=(lambda xp, g, ans, x, *, axes: xp.permute_dims(g, _inverse_perm(axes)),),
    jvp=(lambda xp, dx, ans, x, *, axes: xp.permute_dims(dx, axes),),
)
broadcast_to_p = primitive(
    "broadcast_to",
    lambda xp, x, *, shape: xp.broadcast_to(x, shape),
    vjp=(lambda xp, g, ans, x, *, shape: unbroadcast(xp, g, shape_of(x)),),
    jvp=(lambda xp, dx, ans, x, *, shape: xp.broadcast_to(dx, shape),),
)
expand_dims_p = primitive(
    "expand_dims",
    lambda xp, x, *, axis: xp.expand_dims(x, axis=axis),
    vjp=(lambda xp, g, ans, x, *, axis: xp.reshape(g, shape_of(x)),),
    jvp=(lambda xp, dx, ans, x, *, axis: xp.expand_dims(dx, axis=axis),),
)
squeeze_p = primitive(
    "squeeze",
    lambda xp, x, *, axis: xp.squeeze(x, axis=axis),
    vjp=(lambda xp, g, ans, x, *, axis: xp.reshape(g, shape_of(x)),),
    jvp=(lambda xp, dx, ans, x, *, axis: xp.squeeze(dx, axis=axis),),
)


def reshape(x: Any, /, shape: tuple[int, ...], *, copy: bool | None = None) -> Any:
    """``x`` with a new shape (one entry may be -1)."""
    return reshape_p(x, shape=tuple(shape))


def permute_dims(x: Any, /, axes: tuple[int, ...]) -> Any:
    """``x`` with its axes reordered."""
    return permute_dims_p(x, axes=tuple(axes))


def broadcast_to(x: Any, /, shape: tuple[int, ...]) -> Any:
    """``x`` broadcast to ``shape``; the gradient sums over the broadcast axes."""
    return broadcast_to_p(x, shape=tuple(shape))


def expand_dims(x: Any, /, axis: int = 0) -> Any:
    """``x`` with a new axis of length 1 at ``axis``."""
    return expand_dims_p(x, axis=axis)


def squeeze(x: Any, /, axis: int | tuple[int, ...]) -> Any:
    """``x`` without the length-1 axes ``axis``."""
    return squeeze_p(x, axis=axis)
