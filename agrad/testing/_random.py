"""Reproducible random tensors from the backend's RNG hook (the same numbers on every backend)."""

from __future__ import annotations

from typing import Any

from agrad._base import dtypes as _dtypes
from agrad._base.backend import get_backend
from agrad._core.tensor import Tensor


def _draw(kind: str, shape: Any, dtype: Any, seed: int | None, requires_grad: bool, **kw) -> Tensor:
    be = get_backend()
    rng = be.rng
    if seed is not None:
        state = rng.get_state()
        rng.seed(seed)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    native = _dtypes.to_native(be, dtype) if dtype is not None else be.default_float
    try:
        value = getattr(rng, kind)(shape, native, **kw)
    finally:
        if seed is not None:
            rng.set_state(state)
    return Tensor(value, requires_grad=requires_grad, backend=be)


def randn(*shape: int, dtype: Any = None, seed: int | None = None, requires_grad: bool = True) -> Tensor:
    """Standard-normal tensor; ``seed`` makes it reproducible without touching the global stream."""
    return _draw("normal", shape, dtype, seed, requires_grad)


def rand(*shape: int, dtype: Any = None, seed: int | None = None, low: float = 0.0,
         high: float = 1.0, requires_grad: bool = True) -> Tensor:
    """Uniform tensor in ``[low, high)``."""
    return _draw("uniform", shape, dtype, seed, requires_grad, low=low, high=high)
