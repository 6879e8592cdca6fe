"""``agrad.vmap``: a function of one example, mapped over a batch axis without a Python loop.

As ``jax.vmap`` and ``torch.func.vmap``: ``vmap(f, in_axes, out_axes)(*args)`` equals stacking
``f`` applied to each example, but runs each primitive once for the whole batch through its
batching rule (:mod:`agrad._core.batching`). It composes with every transform: ``vmap(grad(f))``
(per-example gradients), ``grad(vmap(f))``, ``jvp(vmap(f))``, ``vmap(vmap(f))``.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

from agrad._base.modes import modes, using_modes
from agrad._base.pytree import tree_flatten, tree_unflatten
from agrad._core.batching import BatchedTensor, BatchLevel, batched
from agrad._core.tensor import Tensor
from agrad._ops.manipulation import broadcast_to, concat, expand_dims, moveaxis
from agrad._transforms.functional import as_tensor

_RANDOMNESS = ("error", "different", "same")


@contextlib.contextmanager
def batch_level(size: int, randomness: str) -> Iterator[BatchLevel]:
    """Open a new innermost batching level for the duration of the block."""
    level = BatchLevel(size, randomness)
    try:
        with using_modes(batch=(*modes.batch, level)):
            yield level
    finally:
        level.active = False


def vmap(
    fn: Callable,
    in_axes: Any = 0,
    out_axes: Any = 0,
    *,
    axis_size: int | None = None,
    chunk_size: int | None = None,
    randomness: str = "error",
) -> Callable:
    """``fn`` mapped over axis ``in_axes`` of its arguments; results stacked along ``out_axes``.

    ``in_axes``: an int (every argument), ``None`` (not mapped), or a tuple with one entry per
    positional argument, each an int, ``None`` or a pytree prefix of that argument. ``out_axes``
    likewise for the output. ``axis_size`` is needed when no argument is mapped; ``chunk_size``
    maps that many examples at a time (less memory, same result). ``randomness``: ``"error"``
    (random numbers inside raise), ``"different"`` (independent per example) or ``"same"``
    (one draw shared by the batch), as torch.func.
    """
    if randomness not in _RANDOMNESS:
        raise ValueError(f"agrad.vmap: randomness must be one of {_RANDOMNESS}, got {randomness!r}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"agrad.vmap: chunk_size must be a positive int, got {chunk_size!r}")

    @functools.wraps(fn)
    def mapped(*args: Any, **kwargs: Any) -> Any:
        leaves, axes, treedef = _flatten_args(args, in_axes)
        size = _batch_size(leaves, axes, axis_size, fn)
        if chunk_size is None or chunk_size >= size:
            return _run(fn, leaves, axes, treedef, size, out_axes, randomness, kwargs)
        parts = []
        for start in range(0, size, chunk_size):
            stop = min(start + chunk_size, size)
            chunk = [x if a is None else _slice(x, a, start, stop) for x, a in zip(leaves, axes)]
            parts.append(_run(fn, chunk, axes, treedef, stop - start, out_axes, randomness, kwargs))
        return _join_chunks(parts, out_axes)

    return mapped


def _flatten_args(args: tuple, in_axes: Any) -> tuple[list, list, Any]:
    """The argument leaves, each one's mapped axis (or None), and the structure."""
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)
    if isinstance(in_axes, tuple):
        if len(in_axes) != len(args):
            raise ValueError(
                f"agrad.vmap: in_axes has {len(in_axes)} entries but the function got "
                f"{len(args)} positional arguments; give one entry per argument"
            )
        per_arg = in_axes
    elif in_axes is None or isinstance(in_axes, int):
        per_arg = (in_axes,) * len(args)
    else:
        raise TypeError(f"agrad.vmap: in_axes must be an int, None or a tuple, got {in_axes!r}")
    leaves: list = []
    axes: list = []
    for i, (arg, spec) in enumerate(zip(args, per_arg)):
        arg_leaves, _ = tree_flatten(arg)
        leaves.extend(arg_leaves)
        axes.extend(_broadcast_prefix(spec, arg, f"argument {i}"))
    return leaves, axes, tree_flatten(args)[1]


def _broadcast_prefix(spec: Any, tree: Any, where: str) -> list:
    """One axis per leaf of ``tree`` from ``spec``, an int/None or a pytree prefix of ``tree``."""
    if spec is None or isinstance(spec, int):
        return [spec] * len(tree_flatten(tree)[0])
    if isinstance(spec, (tuple, list)) and isinstance(tree, (tuple, list)) and len(spec) == len(tree):
        return [a for s, t in zip(spec, tree) for a in _broadcast_prefix(s, t, where)]
    if isinstance(spec, dict) and isinstance(tree, dict) and spec.keys() == tree.keys():
        return [a for k in tree for a in _broadcast_prefix(spec[k], tree[k], where)]
    raise ValueError(f"agrad.vmap: in_axes entry {spec!r} does not match the structure of {where}")


def _batch_size(leaves: list, axes: list, axis_size: int | None, fn: Callable) -> int:
    sizes = {}
    for i, (x, a) in enumerate(zip(leaves, axes)):
        if a is None:
            continue
        shape = getattr(x, "shape", None)
        if shape is None:
            raise TypeError(
                f"agrad.vmap: leaf {i} of the arguments is a {type(x).__name__}, which has no "
                "axis to map; give it in_axes=None"
            )
        if not -len(shape) <= a < len(shape):
            raise ValueError(
                f"agrad.vmap: in_axes={a} is out of range for leaf {i} of shape {tuple(shape)}"
            )
        sizes[i] = shape[a]
    if not sizes:
        if axis_size is None:
            raise ValueError(
                f"agrad.vmap({getattr(fn, '__name__', 'fn')}): no argument is mapped (every "
                "in_axes is None); pass axis_size= to say how many copies to make"
            )
        return axis_size
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"leaf {i}: {n}" for i, n in sizes.items())
        raise ValueError(f"agrad.vmap: the mapped axes have different sizes ({listed}); they must agree")
    size = next(iter(sizes.values()))
    if axis_size is not None and axis_size != size:
        raise ValueError(f"agrad.vmap: axis_size={axis_size} but the mapped axes have size {size}")
    return size


def _run(fn: Callable, leaves: list, axes: list, treedef: Any, size: int, out_axes: Any,
         randomness: str, kwargs: dict) -> Any:
    with batch_level(size, randomness) as level:
        wrapped = []
        for x, a in zip(leaves, axes):
            if a is None:
                wrapped.append(x)
                continue
            t = as_tensor(x, "vmap")
            wrapped.append(batched(t, a % t.ndim, level))
        out = fn(*tree_unflatten(treedef, wrapped), **kwargs)
        o_leaves, o_def = tree_flatten(out)
        o_axes = _out_axes(out_axes, out, len(o_leaves))
        result = [_unbatch(o, a, level, i) for i, (o, a) in enumerate(zip(o_leaves, o_axes))]
    return tree_unflatten(o_def, result)


def _out_axes(out_axes: Any, out: Any, n: int) -> list:
    if out_axes is None or isinstance(out_axes, int):
        return [out_axes] * n
    if isinstance(out, (tuple, list)) and isinstance(out_axes, (tuple, list)) \
            and len(out) == len(out_axes):
        return [a for s, t in zip(out_axes, out) for a in _broadcast_prefix(s, t, "the output")]
    return _broadcast_prefix(out_axes, out, "the output")


def _unbatch(o: Any, axis: int | None, level: BatchLevel, i: int) -> Any:
    """Output leaf ``o`` of the vmapped function as a whole-batch tensor, batch at ``axis``."""
    if not isinstance(o, Tensor):
        if isinstance(o, (bool, int, float, complex)):
            o = as_tensor(o, "vmap")
        else:
            raise TypeError(
                f"agrad.vmap: output leaf {i} is a {type(o).__name__}; the vmapped function must "
                "return Tensors (or numbers), optionally nested in tuples, lists and dicts"
            )
    mine = isinstance(o, BatchedTensor) and o.level is level
    if axis is None:
        if mine:
            raise ValueError(
                f"agrad.vmap: output leaf {i} depends on the mapped inputs but its out_axes is None"
            )
        return o
    n = o.ndim + 1
    if not -n <= axis < n:
        raise ValueError(f"agrad.vmap: out_axes={axis} is out of range for an output of {n} axes")
    if not mine:  # the same for every example: copies
        o = broadcast_to(expand_dims(o, axis=0), (level.size, *o.shape))
        return o if axis % n == 0 else moveaxis(o, 0, axis % n)
    if o.bdim == axis % n:
        return o.inner
    return moveaxis(o.inner, o.bdim, axis % n)


def _slice(x: Any, axis: int, start: int, stop: int) -> Any:
    t = as_tensor(x, "vmap")
    key = (slice(None),) * (axis % t.ndim) + (slice(start, stop),)
    return t[key]


def _join_chunks(parts: list, out_axes: Any) -> Any:
    leaves0, treedef = tree_flatten(parts[0])
    per_part = [tree_flatten(p)[0] for p in parts]
    axes = _out_axes(out_axes, parts[0], len(leaves0))
    joined = []
    for k, a in enumerate(axes):
        if a is None:
            joined.append(per_part[0][k])
        else:
            joined.append(concat([p[k] for p in per_part], axis=a))
    return tree_unflatten(treedef, joined)
