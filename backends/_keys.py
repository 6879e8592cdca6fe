"""Index keys, as the backends' scatter kernels see them."""

from __future__ import annotations

from typing import Any


def hits_each_position_once(key: Any) -> bool:
    """A key of ints, slices, Ellipsis, None and boolean masks: every position is selected at
    most once, so the gradient scatter ``out[key] = g`` is exact (no repeats to add up)."""
    keys = key if isinstance(key, tuple) else (key,)
    return all(
        k is None or k is Ellipsis or isinstance(k, (int, slice))
        or str(getattr(k, "dtype", "")).endswith("bool")
        for k in keys
    )
