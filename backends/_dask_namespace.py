"""``array_api_compat.dask.array`` plus the few standard functions it lacks or gets wrong.

* ``take_along_axis`` and ``from_dlpack`` are missing;
* ``eye(n, m, k=k)`` with ``n != m`` builds a graph that cannot be computed (dask 2026.8:
  "Missing dependency");
* ``fft.*`` refuses an axis split over several chunks: the wrappers rechunk those axes first.

Each replacement is built from Dask's own operations, so arrays stay lazy.
"""

from __future__ import annotations

import types
from typing import Any


def make_namespace() -> types.ModuleType:
    import array_api_compat.dask.array as cda
    import dask.array as da
    import numpy as np

    ns = types.ModuleType("agrad_backends.dask_namespace")
    for name in dir(cda):
        if not name.startswith("__") or name in ("__array_namespace_info__", "__array_api_version__"):
            setattr(ns, name, getattr(cda, name))

    def eye(n_rows: int, n_cols: int | None = None, /, *, k: int = 0, dtype: Any = None,
            device: Any = None) -> Any:
        n_cols = n_rows if n_cols is None else n_cols
        rows = da.arange(n_rows)[:, None]
        cols = da.arange(n_cols)[None, :]
        return (rows + k == cols).astype(dtype if dtype is not None else cda.float64)

    def take_along_axis(x: Any, indices: Any, /, *, axis: int = -1) -> Any:
        axis = axis % x.ndim
        shape = list(np.broadcast_shapes(
            tuple(1 if i == axis else n for i, n in enumerate(x.shape)),
            tuple(1 if i == axis else n for i, n in enumerate(indices.shape)),
        ))
        x = da.broadcast_to(x, tuple(shape[:axis] + [x.shape[axis]] + shape[axis + 1:]))
        indices = da.broadcast_to(indices, tuple(shape[:axis] + [indices.shape[axis]] + shape[axis + 1:]))
        x = x.rechunk({axis: -1})
        indices = indices.rechunk({i: x.chunks[i] for i in range(x.ndim) if i != axis} | {axis: -1})
        return da.map_blocks(np.take_along_axis, x, indices, axis=axis, dtype=x.dtype,
                             chunks=indices.chunks)

    def from_dlpack(x: Any, /, *, device: Any = None, copy: bool | None = None) -> Any:
        return da.from_array(np.from_dlpack(x))

    ns.eye, ns.take_along_axis, ns.from_dlpack = eye, take_along_axis, from_dlpack
    ns.fft = _fft_namespace(cda.fft)
    return ns


def _fft_namespace(fft: Any) -> types.ModuleType:
    """``fft`` whose transforms first gather each transformed axis into one chunk."""
    ns = types.ModuleType("agrad_backends.dask_namespace.fft")
    for name in dir(fft):
        if not name.startswith("__"):
            setattr(ns, name, getattr(fft, name))

    def one_chunk_along(f: Any, several_axes: bool) -> Any:
        def transform(x: Any, /, *args: Any, **kw: Any) -> Any:
            if several_axes:
                axes = kw.get("axes")
                axes = range(x.ndim) if axes is None else axes
            else:
                axes = (kw.get("axis", -1),)
            return f(x.rechunk({a % x.ndim: -1 for a in axes}), *args, **kw)

        return transform

    for name in ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft"):
        setattr(ns, name, one_chunk_along(getattr(fft, name), False))
    for name in ("fftn", "ifftn", "rfftn", "irfftn"):
        setattr(ns, name, one_chunk_along(getattr(fft, name), True))
    return ns
