"""One random-number generator for every built-in backend.

The standard has no random numbers. To make ``agrad.manual_seed(s)`` give the *same* weights and
dropout masks on every backend, all built-in backends draw from NumPy's counter-based Philox
generator (in float64) and convert the result to the backend's array and dtype.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


class PhiloxRNG:
    """The backend RNG hook: draws in NumPy, returns arrays of the backend via ``convert``."""

    def __init__(self, convert: Callable[[np.ndarray, Any], Any], seed: int = 0) -> None:
        self._convert = convert
        self.seed(seed)

    def seed(self, seed: int) -> None:
        self._gen = np.random.Generator(np.random.Philox(int(seed)))

    def get_state(self) -> dict:
        return self._gen.bit_generator.state

    def set_state(self, state: dict) -> None:
        self._gen.bit_generator.state = state

    def uniform(self, shape: tuple, dtype: Any, low: float = 0.0, high: float = 1.0) -> Any:
        return self._convert(self._gen.uniform(low, high, size=shape), dtype)

    def normal(self, shape: tuple, dtype: Any, mean: float = 0.0, std: float = 1.0) -> Any:
        return self._convert(self._gen.normal(mean, std, size=shape), dtype)

    def integers(self, shape: tuple, low: int, high: int, dtype: Any = None) -> Any:
        return self._convert(self._gen.integers(low, high, size=shape), dtype)

    def permutation(self, n: int, dtype: Any = None) -> Any:
        return self._convert(self._gen.permutation(n), dtype)
