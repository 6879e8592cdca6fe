"""Manipulation functions (the standard's chapter): reshaping, transposing, broadcasting."""

from __future__ import annotations

from typing import Any

from agrad._base.promotion import backend_of
from agrad._core.batching import axes_of, front, lift_rank, moved, shifted
from agrad._core.primitive import primitive, shape_of, unbroadcast
from agrad._ops.scatter import take, unwrap_key


def _inverse_perm(axes: tuple[int, ...]) -> tuple[int, ...]:
    inv = [0] * len(axes)
    for i, a in enumerate(axes):
        inv[a % len(axes)] = i
    return tuple(inv)


# Batching rules (agrad.vmap): the batch axis in front, the example's shape and axes after it.


def _reshape_batch(prim: Any, xp: Any, args: list, dims: list, *, shape: tuple) -> tuple:
    x = moved(xp, args[0], dims[0])
    return prim(x, shape=(x.shape[0], *shape)), 0


def _permute_batch(prim: Any, xp: Any, args: list, dims: list, *, axes: tuple) -> tuple:
    x = moved(xp, args[0], dims[0])
    return prim(x, axes=(0, *(a % len(axes) + 1 for a in axes))), 0


def _broadcast_to_batch(prim: Any, xp: Any, args: list, dims: list, *, shape: tuple) -> tuple:
    x = lift_rank(xp, moved(xp, args[0], dims[0]), len(shape))
    return prim(x, shape=(x.shape[0], *shape)), 0


def _axis_batch(grow: bool) -> Any:
    """expand_dims (``grow``: the axes count in the output) and squeeze."""

    def rule(prim: Any, xp: Any, args: list, dims: list, *, axis: Any) -> tuple:
        x = moved(xp, args[0], dims[0])
        n = x.ndim - 1 + (0 if not grow else 1 if isinstance(axis, int) else len(axis))
        shifted_axes = tuple(a + 1 for a in axes_of(axis, n))
        return prim(x, axis=shifted_axes[0] if isinstance(axis, int) else shifted_axes), 0

    return rule


reshape_p = primitive(
    "reshape",
    lambda xp, x, *, shape: xp.reshape(x, shape),
    vjp=(lambda xp, g, ans, x, *, shape: xp.reshape(g, shape_of(x)),),
    jvp=(lambda xp, dx, ans, x, *, shape: xp.reshape(dx, shape),),
    batch=_reshape_batch,
)
permute_dims_p = primitive(
    "permute_dims",
    lambda xp, x, *, axes: xp.permute_dims(x, axes),
    vjp=(lambda xp, g, ans, x, *, axes: xp.permute_dims(g, _inverse_perm(axes)),),
    jvp=(lambda xp, dx, ans, x, *, axes: xp.permute_dims(dx, axes),),
    batch=_permute_batch,
)
broadcast_to_p = primitive(
    "broadcast_to",
    lambda xp, x, *, shape: xp.broadcast_to(x, shape),
    vjp=(lambda xp, g, ans, x, *, shape: unbroadcast(xp, g, shape_of(x)),),
    jvp=(lambda xp, dx, ans, x, *, shape: xp.broadcast_to(dx, shape),),
    batch=_broadcast_to_batch,
)
expand_dims_p = primitive(
    "expand_dims",
    lambda xp, x, *, axis: xp.expand_dims(x, axis=axis),
    vjp=(lambda xp, g, ans, x, *, axis: xp.reshape(g, shape_of(x)),),
    jvp=(lambda xp, dx, ans, x, *, axis: xp.expand_dims(dx, axis=axis),),
    batch=_axis_batch(grow=True),
)
squeeze_p = primitive(
    "squeeze",
    lambda xp, x, *, axis: xp.squeeze(x, axis=axis),
    vjp=(lambda xp, g, ans, x, *, axis: xp.reshape(g, shape_of(x)),),
    jvp=(lambda xp, dx, ans, x, *, axis: xp.squeeze(dx, axis=axis),),
    batch=_axis_batch(grow=False),
)


def _split_vjp(i: int, xp: Any, g: Any, ans: Any, *arrays: Any, axis: int) -> Any:
    start = sum(shape_of(a)[axis] for a in arrays[:i])
    stop = start + shape_of(arrays[i])[axis]
    key = (slice(None),) * (axis % len(shape_of(g))) + (slice(start, stop), Ellipsis)
    return g[key]


def _slice_vjp(i: int, xp: Any, g: Any, ans: Any, *arrays: Any, axis: int) -> Any:
    key = (slice(None),) * (axis % len(shape_of(g))) + (i, Ellipsis)
    return g[key]


def _variadic(name: str, fwd: Any, vjp: Any, grow: int) -> Any:
    """A primitive of any number of arrays: one VJP rule for every argument, one joint JVP;
    ``grow``: how many axes the output has beyond the inputs (for the batching rule)."""

    def batch(prim: Any, xp: Any, arrays: list, dims: list, *, axis: int) -> tuple:
        size = next(a.shape[d] for a, d in zip(arrays, dims) if d is not None)
        arrays = [front(xp, a, d, size) for a, d in zip(arrays, dims)]
        return prim(*arrays, axis=axis % (arrays[0].ndim - 1 + grow) + 1), 0

    def joint_jvp(xp: Any, dargs: list, ans: Any, *arrays: Any, axis: int) -> Any:
        # One pass over the tangents (zeros where an input has none): a per-argument rule
        # would build a full-size contribution for each input.
        ds = tuple(xp.zeros_like(a) if d is None else d for d, a in zip(dargs, arrays))
        return fwd(xp, *ds, axis=axis)

    return primitive(name, fwd, variadic_vjp=vjp, joint_jvp=joint_jvp, batch=batch)


concat_p = _variadic("concat", lambda xp, *arrays, axis: xp.concat(arrays, axis=axis), _split_vjp, 0)
stack_p = _variadic("stack", lambda xp, *arrays, axis: xp.stack(arrays, axis=axis), _slice_vjp, 1)


def concat(arrays: tuple[Any, ...] | list[Any], /, *, axis: int | None = 0) -> Any:
    """Join arrays along an existing axis (``axis=None`` flattens first)."""
    arrays = tuple(arrays)
    if axis is None:
        arrays = tuple(reshape(a, (-1,)) for a in arrays)
        axis = 0
    return concat_p(*arrays, axis=axis)


def stack(arrays: tuple[Any, ...] | list[Any], /, *, axis: int = 0) -> Any:
    """Join arrays along a new axis."""
    return stack_p(*tuple(arrays), axis=axis)


def reshape(x: Any, /, shape: tuple[int, ...], *, copy: bool | None = None) -> Any:
    """``x`` with a new shape (one entry may be -1)."""
    return reshape_p(x, shape=tuple(shape))


def permute_dims(x: Any, /, axes: tuple[int, ...]) -> Any:
    """``x`` with its axes reordered."""
    return permute_dims_p(x, axes=tuple(axes))


def broadcast_to(x: Any, /, shape: tuple[int, ...]) -> Any:
    """``x`` broadcast to ``shape``; the gradient sums over the broadcast axes."""
    return broadcast_to_p(x, shape=tuple(shape))


def expand_dims(x: Any, /, axis: int) -> Any:
    """``x`` with a new axis of length 1 at ``axis``."""
    return expand_dims_p(x, axis=axis)


def squeeze(x: Any, /, axis: int | tuple[int, ...]) -> Any:
    """``x`` without the length-1 axes ``axis``."""
    return squeeze_p(x, axis=axis)


# --- flip, roll, tile, repeat -----------------------------------------------------------------


def _axes_or_all(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    return tuple(a % ndim for a in ((axis,) if isinstance(axis, int) else axis))


flip_p = primitive(
    "flip",
    lambda xp, x, *, axis: xp.flip(x, axis=axis),
    vjp=(lambda xp, g, ans, x, *, axis: xp.flip(g, axis=axis),),
    jvp=(lambda xp, dx, ans, x, *, axis: xp.flip(dx, axis=axis),),
    batch=shifted("axis"),
)


def _neg_shift(shift: Any) -> Any:
    return -shift if isinstance(shift, int) else tuple(-s for s in shift)


def _roll_batch(prim: Any, xp: Any, args: list, dims: list, *, shift: Any, axis: Any) -> tuple:
    x = moved(xp, args[0], dims[0])
    if axis is None:  # the example flattened, rolled, and shaped back
        flat = prim(xp.reshape(x, (x.shape[0], -1)), shift=shift, axis=1)
        return xp.reshape(flat, x.shape), 0
    n = x.ndim - 1
    return prim(x, shift=shift, axis=axis % n + 1 if isinstance(axis, int) else
                tuple(a % n + 1 for a in axis)), 0


roll_p = primitive(
    "roll",
    lambda xp, x, *, shift, axis: xp.roll(x, shift, axis=axis),
    vjp=(lambda xp, g, ans, x, *, shift, axis: xp.roll(g, _neg_shift(shift), axis=axis),),
    jvp=(lambda xp, dx, ans, x, *, shift, axis: xp.roll(dx, shift, axis=axis),),
    batch=_roll_batch,
)


def _tile_vjp(xp: Any, g: Any, ans: Any, x: Any, *, repetitions: tuple) -> Any:
    # The output is (r0*s0, r1*s1, ...): view it as (r0, s0, r1, s1, ...) and sum over the r's.
    shape = shape_of(x)
    reps = (1,) * (len(shape_of(g)) - len(repetitions)) + tuple(repetitions)
    full = (1,) * (len(reps) - len(shape)) + shape
    split = tuple(n for pair in zip(reps, full) for n in pair)
    g = xp.sum(xp.reshape(g, split), axis=tuple(range(0, len(split), 2)))
    return xp.reshape(g, shape)


def _tile_batch(prim: Any, xp: Any, args: list, dims: list, *, repetitions: tuple) -> tuple:
    x = moved(xp, args[0], dims[0])
    n = max(x.ndim - 1, len(repetitions))
    x = lift_rank(xp, x, n)
    reps = (1,) * (n - len(repetitions)) + tuple(repetitions)
    return prim(x, repetitions=(1, *reps)), 0


tile_p = primitive(
    "tile",
    lambda xp, x, *, repetitions: xp.tile(x, repetitions),
    vjp=(_tile_vjp,),
    jvp=(lambda xp, dx, ans, x, *, repetitions: xp.tile(dx, repetitions),),
    batch=_tile_batch,
)


def flip(x: Any, /, *, axis: int | tuple[int, ...] | None = None) -> Any:
    """``x`` with the order of elements reversed along ``axis`` (all axes by default)."""
    return flip_p(x, axis=axis)


def roll(x: Any, /, shift: int | tuple[int, ...], *, axis: int | tuple[int, ...] | None = None) -> Any:
    """``x`` rolled by ``shift`` along ``axis`` (flattened when ``axis`` is None)."""
    return roll_p(x, shift=shift if isinstance(shift, int) else tuple(shift),
                  axis=axis if axis is None or isinstance(axis, int) else tuple(axis))


def tile(x: Any, repetitions: tuple[int, ...], /) -> Any:
    """``x`` repeated ``repetitions[i]`` times along each axis; the gradient sums the copies."""
    return tile_p(x, repetitions=tuple(repetitions))


def repeat(x: Any, repeats: Any, /, *, axis: int | None = None) -> Any:
    """Each element of ``x`` repeated ``repeats`` times along ``axis`` (flattened if None).

    Written as ``take`` with repeated indices, so its gradient is ``take``'s segment sum.
    """

    if axis is None:
        x = reshape(x, (-1,))
        axis = 0
    be = backend_of(x)
    xp = be.xp
    n = tuple(x.shape)[axis]
    reps = unwrap_key(repeats)
    index = xp.repeat(xp.arange(n, device=be.device), reps)
    return take(x, index, axis=axis)


# --- compositions: no primitive of their own ---------------------------------------------------


def moveaxis(x: Any, source: int | tuple[int, ...], destination: int | tuple[int, ...], /) -> Any:
    """``x`` with the axes ``source`` moved to ``destination`` (a permutation)."""
    n = len(x.shape)
    src = _axes_or_all(source, n)
    dst = _axes_or_all(destination, n)
    if len(src) != len(dst):
        raise ValueError(f"moveaxis: source {source} and destination {destination} differ in length")
    order = [a for a in range(n) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute_dims(x, tuple(order))


def unstack(x: Any, /, *, axis: int = 0) -> tuple[Any, ...]:
    """The slices of ``x`` along ``axis``, as a tuple (each one differentiable)."""
    n = len(x.shape)
    axis = axis % n
    return tuple(x[(slice(None),) * axis + (i, Ellipsis)] for i in range(x.shape[axis]))


def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """The shape the given shapes broadcast to (the standard's rules)."""
    ndim = max((len(s) for s in shapes), default=0)
    out = [1] * ndim
    for s in shapes:
        for i, n in enumerate(s, ndim - len(s)):
            if n != 1 and out[i] not in (1, n):
                raise ValueError(f"shapes {shapes} cannot be broadcast together (axis {i - ndim})")
            if n != 1:
                out[i] = n
    return tuple(out)


def broadcast_arrays(*arrays: Any) -> list[Any]:
    """The arrays broadcast to their common shape (each one differentiable)."""
    shape = broadcast_shapes(*(tuple(a.shape) for a in arrays))
    return [broadcast_to(a, shape) for a in arrays]
