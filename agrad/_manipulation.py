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


def _split_rule(i: int):
    def rule(xp: Any, g: Any, ans: Any, *arrays: Any, axis: int) -> Any:
        start = sum(shape_of(a)[axis] for a in arrays[:i])
        stop = start + shape_of(arrays[i])[axis]
        key = (slice(None),) * (axis % len(shape_of(g))) + (slice(start, stop), Ellipsis)
        return g[key]

    return rule


def _concat_fwd(xp: Any, *arrays: Any, axis: int) -> Any:
    return xp.concat(arrays, axis=axis)


def _stack_rule(i: int):
    def rule(xp: Any, g: Any, ans: Any, *arrays: Any, axis: int) -> Any:
        key = (slice(None),) * (axis % len(shape_of(g))) + (i, Ellipsis)
        return g[key]

    return rule


_MAX_ARITY = 256  # rules are per argument; concat/stack of more arrays is chunked


def _variadic(name: str, fwd: Any, rule: Any) -> Any:
    def joint_jvp(xp: Any, dargs: list, ans: Any, *arrays: Any, axis: int) -> Any:
        # One pass over the tangents (zeros where an input has none): a per-argument rule
        # would build a full-size contribution for each input.
        ds = tuple(xp.zeros_like(a) if d is None else d for d, a in zip(dargs, arrays))
        return fwd(xp, *ds, axis=axis)

    return primitive(name, fwd, vjp=tuple(rule(i) for i in range(_MAX_ARITY)), joint_jvp=joint_jvp)


concat_p = _variadic("concat", _concat_fwd, _split_rule)
stack_p = _variadic("stack", lambda xp, *arrays, axis: xp.stack(arrays, axis=axis), _stack_rule)


def concat(arrays: tuple[Any, ...] | list[Any], /, *, axis: int | None = 0) -> Any:
    """Join arrays along an existing axis (``axis=None`` flattens first)."""
    arrays = tuple(arrays)
    if axis is None:
        arrays = tuple(reshape(a, (-1,)) for a in arrays)
        axis = 0
    if len(arrays) > _MAX_ARITY:
        return concat_p(*(concat(arrays[i:i + _MAX_ARITY], axis=axis)
                          for i in range(0, len(arrays), _MAX_ARITY)), axis=axis)
    return concat_p(*arrays, axis=axis)


def stack(arrays: tuple[Any, ...] | list[Any], /, *, axis: int = 0) -> Any:
    """Join arrays along a new axis."""
    arrays = tuple(arrays)
    if len(arrays) > _MAX_ARITY:
        parts = [stack(arrays[i:i + _MAX_ARITY], axis=axis) for i in range(0, len(arrays), _MAX_ARITY)]
        return concat(parts, axis=axis)
    return stack_p(*arrays, axis=axis)


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
