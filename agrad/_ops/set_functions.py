"""Set functions (the standard's chapter): ``unique_*``. None is differentiable (the values of a
set are not a smooth function of the input); their results never require grad."""

from __future__ import annotations

from typing import Any, NamedTuple

from agrad._core.batching import front, moved, ragged
from agrad._core.primitive import device_of, primitive
from agrad._ops.promote import promote


class UniqueAllResult(NamedTuple):
    values: Any
    indices: Any
    inverse_indices: Any
    counts: Any


class UniqueCountsResult(NamedTuple):
    values: Any
    counts: Any


class UniqueInverseResult(NamedTuple):
    values: Any
    inverse_indices: Any


def _unique_all_fwd(xp: Any, x: Any) -> tuple[Any, ...]:
    try:
        return tuple(xp.unique_all(x))
    except NotImplementedError:  # PyTorch: built from unique_inverse and unique_counts
        values, inverse = xp.unique_inverse(x)
        counts = xp.unique_counts(x)[1]
        flat = xp.reshape(inverse, (-1,))
        order = xp.argsort(flat, stable=True)
        targets = xp.arange(values.shape[0], dtype=flat.dtype, device=device_of(x))
        first = xp.searchsorted(xp.take(flat, order), targets, side="left")
        return values, xp.take(order, first), inverse, counts


unique_all_p = primitive("unique_all", _unique_all_fwd, multi_output=True)
unique_counts_p = primitive("unique_counts", lambda xp, x: tuple(xp.unique_counts(x)), multi_output=True)
unique_inverse_p = primitive("unique_inverse", lambda xp, x: tuple(xp.unique_inverse(x)),
                             multi_output=True)
unique_values_p = primitive("unique_values", lambda xp, x: xp.unique_values(x))


def unique_all(x: Any, /) -> UniqueAllResult:
    """Unique values, the index of each one's first occurrence, the inverse indices, the counts."""
    return UniqueAllResult(*unique_all_p(x))


def unique_counts(x: Any, /) -> UniqueCountsResult:
    """Unique values and how often each occurs."""
    return UniqueCountsResult(*unique_counts_p(x))


def unique_inverse(x: Any, /) -> UniqueInverseResult:
    """Unique values and, for each element of ``x``, the index of its value among them."""
    return UniqueInverseResult(*unique_inverse_p(x))


def unique_values(x: Any, /) -> Any:
    """The unique values of ``x``."""
    return unique_values_p(x)


isin_p = primitive("isin", lambda xp, x1, x2, *, invert: xp.isin(x1, x2, invert=invert))


def isin(x1: Any, x2: Any, /, *, invert: bool = False) -> Any:
    """Whether each element of ``x1`` occurs in ``x2`` (not differentiable)."""

    return isin_p(*promote(x1, x2), invert=invert)


def _isin_batch(prim, xp, args, dims, *, invert):
    """Membership is element-wise in ``x1``; a batched ``x2`` compares each example's sets."""
    (x1, x2), (d1, d2) = args, dims
    if d2 is None:
        return prim(x1, x2, invert=invert), d1
    size = x2.shape[d2]
    a = front(xp, x1, d1, size)
    b = xp.reshape(moved(xp, x2, d2), (size, 1, -1))
    hit = xp.any(xp.reshape(a, (size, -1, 1)) == b, axis=-1)
    hit = xp.reshape(hit, a.shape)
    return (xp.logical_not(hit) if invert else hit), 0


# Batching rules (agrad.vmap): unique_* have one output size per example.
isin_p.batch = _isin_batch
for _p in (unique_all_p, unique_counts_p, unique_inverse_p, unique_values_p):
    _p.batch = ragged
