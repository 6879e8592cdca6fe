"""NumPy kernels that replace the core's portable references (same results, faster).

``scatter_add`` (the segment sum behind every gather's gradient) hands rows of several values,
at least ``NUMBA_MIN_SIZE`` elements in all, to a Numba loop
(:mod:`agrad_backends._numba_segment_sum`, imported on first use) and everything else to
``np.add.at``; ``python -m bench`` measures all three against
the core's sort+cumsum reference. ``index_scatter`` (the gradient of ``x[key]``) assigns when
no position can be hit twice and falls back to ``np.add.at`` for integer-array keys.
agrad.nn's kernels (convolution, pooling, GELU, erf, cross-entropy, Adam) are in
:mod:`agrad_backends._numpy_nn`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from agrad_backends._einsum_path import planned_einsum
from agrad_backends._keys import hits_each_position_once
from agrad_backends._numba_config import use_numba, use_parallel
from agrad_backends._numpy_nn import KERNELS as NN_KERNELS

_NUMBA_DTYPES = frozenset(map(np.dtype, ("float32", "float64", "complex64", "complex128")))


def index_scatter(xp: Any, g: Any, *, shape: tuple, key: Any) -> np.ndarray:
    """``zeros(shape)`` with ``g`` added at ``key``; repeated indices add up (``np.add.at``)."""
    out = np.zeros(shape, dtype=np.result_type(g))
    if hits_each_position_once(key):
        out[key] = g
    else:
        np.add.at(out, key, g)
    return out


def scatter_add(xp: Any, values: Any, *, index: Any, size: int) -> np.ndarray:
    """Rows of ``values`` summed into ``size`` rows by ``index`` (negative indices wrap)."""
    values = np.asarray(values)
    index = np.asarray(index)
    out = np.zeros((size, *values.shape[1:]), dtype=values.dtype)
    if math.prod(values.shape[1:]) == 1:
        # one value per row: NumPy 2's np.add.at has a fast 1-D path that beats the Numba loop
        # (100000 rows: 68 us vs 90 us); a 2-D np.add.at is 10x slower than the same data 1-D
        np.add.at(out.reshape(size), index, values.reshape(values.shape[0]))
    elif values.dtype in _NUMBA_DTYPES and index.dtype.kind in "iu" and use_numba(values.size):
        _numba_scatter_add(values, index, out)
    else:
        np.add.at(out, index, values)
    return out


def _numba_scatter_add(values: np.ndarray, index: np.ndarray, out: np.ndarray) -> None:
    from agrad_backends import _numba_segment_sum as seg

    n = values.shape[0]
    if index.shape != (n,):
        raise ValueError(
            f"scatter_add: index must be 1-D with one entry per row of values; got index shape "
            f"{index.shape} for values of shape {values.shape}"
        )
    d = math.prod(values.shape[1:])
    rows = np.ascontiguousarray(values.reshape(n, d))
    idx = np.ascontiguousarray(index, dtype=np.int64)
    parallel = d >= 2 * seg.COLUMN_BLOCK and use_parallel(values.size)
    kernel = seg.segment_sum_rows_parallel if parallel else seg.segment_sum_rows
    bad = kernel(rows, idx, out.reshape(out.shape[0], d))
    if bad >= 0:
        size = out.shape[0]
        raise IndexError(
            f"scatter_add: index[{bad}] = {index[bad]} is out of range for {size} rows "
            f"(valid: {-size} to {size - 1})"
        )


KERNELS = {
    "index_scatter": index_scatter,
    "scatter_add": scatter_add,
    "einsum": planned_einsum,
    **NN_KERNELS,
}
