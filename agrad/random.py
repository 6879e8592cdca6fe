"""``agrad.random``: random tensors from the one stream every backend shares.

All draws go through the active backend's random-number hook (``Backend.rng``; the standard has
none). The built-in backends share one Philox stream, so ``agrad.random.seed(s)`` followed by the
same calls gives the same numbers on numpy, array_api_strict, torch, jax, dask and cupy. Results
are constants (``requires_grad=False`` unless asked); :func:`permutation` and :func:`choice` of a
tensor gather its elements differentiably.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agrad._base import dtypes as _dtypes
from agrad._base.backend import Backend, get_backend
from agrad._core.batching import random_draw
from agrad._core.tensor import Tensor, _wrap
from agrad._ops.data_type_functions import astype
from agrad._ops.manipulation import reshape
from agrad._ops.scatter import take
from agrad._ops.searching import searchsorted
from agrad._ops.statistical import cumulative_sum, sum
from agrad._state.random import _rng, manual_seed

Shape = int | Sequence[int]

__all__ = ["bernoulli", "choice", "get_state", "normal", "permutation", "randint", "seed",
           "set_state", "uniform"]


def _shape(shape: Shape) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, int) else tuple(int(n) for n in shape)


def _float(be: Backend, dtype: Any) -> Any:
    native = be.default_float if dtype is None else _dtypes.to_native(be, dtype)
    if not _dtypes.is_floating(_dtypes.from_native(be, native)):
        raise TypeError(f"agrad.random: a floating dtype is needed here, got {dtype}")
    return native


def seed(s: int) -> None:
    """Seed the stream of every loaded backend (the same as ``agrad.manual_seed``)."""
    manual_seed(s)


def get_state(backend: Backend | None = None) -> dict:
    """The active (or given) backend's stream state, for :func:`set_state` (checkpoints)."""
    return _rng(backend or get_backend()).get_state()


def set_state(state: dict, backend: Backend | None = None) -> None:
    """Continue the stream exactly where :func:`get_state` saw it."""
    _rng(backend or get_backend()).set_state(state)


def normal(shape: Shape = (), mean: float = 0.0, std: float = 1.0, *, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Samples of N(mean, std**2), in the backend's default floating dtype unless ``dtype``."""
    be = get_backend()
    native = _float(be, dtype)
    t = random_draw(_shape(shape), lambda s: _wrap(
        _rng(be).normal(s, native, float(mean), float(std)), be, None, 0))
    return t.requires_grad_() if requires_grad else t


def uniform(shape: Shape = (), low: float = 0.0, high: float = 1.0, *, dtype: Any = None,
            requires_grad: bool = False) -> Tensor:
    """Samples uniform on ``[low, high)``."""
    be = get_backend()
    native = _float(be, dtype)
    t = random_draw(_shape(shape), lambda s: _wrap(
        _rng(be).uniform(s, native, float(low), float(high)), be, None, 0))
    return t.requires_grad_() if requires_grad else t


def randint(low: int, high: int | None = None, shape: Shape = (), *, dtype: Any = None) -> Tensor:
    """Integers uniform on ``[low, high)`` (``randint(n)``: on ``[0, n)``), default integer dtype."""
    if high is None:
        low, high = 0, low
    if high <= low:
        raise ValueError(f"agrad.random.randint: need low < high, got low={low}, high={high}")
    be = get_backend()
    native = be.default_int if dtype is None else _dtypes.to_native(be, dtype)
    return random_draw(_shape(shape), lambda s: _wrap(
        _rng(be).integers(s, int(low), int(high), native), be, None, 0))


def permutation(x: int | Tensor) -> Tensor:
    """A random permutation of ``range(x)``, or of a tensor's first axis (differentiable in it)."""
    be = x._backend if isinstance(x, Tensor) else get_backend()
    n = x.shape[0] if isinstance(x, Tensor) else int(x)
    perm = _wrap(_rng(be).permutation(n, be.default_index), be, None, 0)
    return take(x, perm, axis=0) if isinstance(x, Tensor) else perm


def bernoulli(p: float | Tensor, shape: Shape | None = None, *, dtype: Any = None) -> Tensor:
    """0/1 samples that are 1 with probability ``p`` (a number, or a tensor of probabilities
    whose shape and floating dtype the result takes, as ``torch.bernoulli``)."""
    if isinstance(p, Tensor):
        if shape is not None and _shape(shape) != p.shape:
            raise ValueError(f"agrad.random.bernoulli: shape {shape} differs from p's {p.shape}")
        draw = uniform(p.shape, dtype=p.dtype)
        return astype(draw < p.detach(), p.dtype if dtype is None else dtype)
    draw = uniform(() if shape is None else shape, dtype=dtype)
    return astype(draw < float(p), draw.dtype)


def choice(a: int | Tensor, shape: Shape = (), *, replace: bool = True, p: Tensor | None = None) -> Tensor:
    """Samples from ``range(a)`` or from a 1-D tensor's elements (gathered differentiably).

    Without ``p`` every element is equally likely; with ``p`` (probabilities, normalised here)
    draws use the inverse of its cumulative sum. ``replace=False`` draws distinct elements
    (without ``p`` only: a weighted draw without replacement depends on earlier draws).
    """
    be = a._backend if isinstance(a, Tensor) else get_backend()
    n = a.shape[0] if isinstance(a, Tensor) else int(a)
    out_shape = _shape(shape)
    count = 1
    for d in out_shape:
        count *= d
    if not replace:
        if p is not None:
            raise NotImplementedError("agrad.random.choice: replace=False with p is not supported")
        if count > n:
            raise ValueError(f"agrad.random.choice: cannot draw {count} distinct elements of {n}")
        index = permutation(n)[:count]
    elif p is None:
        index = randint(0, n, (count,), dtype=_dtypes.from_native(be, be.default_index))
    else:
        if p.shape != (n,):
            raise ValueError(f"agrad.random.choice: p has shape {p.shape}, expected ({n},)")
        cdf = cumulative_sum(p.detach()) / sum(p.detach())
        u = uniform((count,), dtype=p.dtype)
        index = searchsorted(cdf, u, side="right")
        index = _wrap(be.xp.clip(index.value, 0, n - 1), be, None, 0)  # rounding at the top end
    if not isinstance(a, Tensor):
        return _wrap(be.xp.reshape(index.value, out_shape), be, None, 0)
    return reshape(take(a, index, axis=0), out_shape + a.shape[1:])
