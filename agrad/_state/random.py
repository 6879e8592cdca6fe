"""``agrad.manual_seed``: one seed, the same random numbers on every backend.

The built-in backends all draw from one Philox stream (computed in NumPy, converted), so after
``manual_seed(s)`` a model's initial weights and its dropout masks are identical on numpy,
array_api_strict and torch. Random draws go through :func:`uniform` / :func:`normal` /
:func:`bernoulli_mask`, which use the backend's ``rng`` hook (the standard has no random numbers).
"""

from __future__ import annotations

from typing import Any

from agrad._base import backend as _backend
from agrad._base import dtypes as _dtypes
from agrad._base.backend import Backend, get_backend


def manual_seed(seed: int) -> None:
    """Seed the random stream of every loaded backend (and of the active one) with ``seed``."""
    seed = int(seed)
    backends = {id(b): b for b in _backend._instances.values()}
    active = get_backend()
    backends[id(active)] = active
    for be in backends.values():
        _rng(be).seed(seed)


def _rng(be: Backend) -> Any:
    if be.rng is None:
        raise RuntimeError(
            f"backend {be.name!r} has no random-number hook (Backend.rng), so agrad cannot draw "
            "random initial weights or dropout masks on it; register the backend with an rng"
        )
    return be.rng


def _native(be: Backend, dtype: Any) -> Any:
    return be.default_float if dtype is None else _dtypes.to_native(be, dtype)


def uniform(
    shape: tuple, low: float, high: float, *, dtype: Any = None, backend: Backend | None = None
) -> Any:
    """A raw array of ``backend`` drawn uniformly from ``[low, high)``."""
    be = backend or get_backend()
    return _rng(be).uniform(tuple(shape), _native(be, dtype), low, high)


def normal(
    shape: tuple, mean: float = 0.0, std: float = 1.0, *, dtype: Any = None, backend: Backend | None = None
) -> Any:
    """A raw array of ``backend`` drawn from N(mean, std**2)."""
    be = backend or get_backend()
    return _rng(be).normal(tuple(shape), _native(be, dtype), mean, std)
