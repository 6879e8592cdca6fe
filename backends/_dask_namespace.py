"""``array_api_compat.dask.array`` plus the few standard functions it lacks or gets wrong.

* ``take_along_axis`` and ``from_dlpack`` are missing;
* ``eye(n, m, k=k)`` with ``n != m`` builds a graph that cannot be computed (dask 2026.8:
  "Missing dependency");
* ``reshape`` refuses to split or merge axes unevenly across chunks: it then retries on one
  chunk per array (correct, less parallel);
* ``fft.*`` refuses an axis split over several chunks: the wrappers rechunk those axes first;
* ``linalg`` handles 2-D arrays only and lacks ``det``, ``slogdet``, ``eigh``, ``pinv``,
  ``cross``...: every decomposition runs NumPy's batched routine per block of whole matrices
  through ``dask.array.apply_gufunc`` (still lazy, batched over the leading axes).

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

    def reshape(x: Any, /, shape: tuple[int, ...], *, copy: bool | None = None) -> Any:
        try:
            return cda.reshape(x, shape, copy=copy)
        except NotImplementedError:  # uneven split/merge across chunks
            return cda.reshape(x.rechunk(-1), shape, copy=copy)

    ns.eye, ns.take_along_axis, ns.from_dlpack = eye, take_along_axis, from_dlpack
    ns.reshape = reshape
    ns.fft = _fft_namespace(cda.fft)
    ns.linalg = _linalg_namespace(cda.linalg)
    return ns


def _linalg_namespace(linalg: Any) -> types.ModuleType:
    """``linalg`` whose matrix functions are NumPy's, applied lazily to whole-matrix blocks."""
    import dask.array as da
    import numpy as np

    ns = types.ModuleType("agrad_backends.dask_namespace.linalg")
    for name in dir(linalg):
        if not name.startswith("__"):
            setattr(ns, name, getattr(linalg, name))

    def gufunc(f: Any, signature: str, *arrays: Any, **kw: Any) -> Any:
        arrays = [a.rechunk({-2: -1, -1: -1}) if a.ndim >= 2 else a.rechunk(-1) for a in arrays]
        outputs = signature.split("->")[1].count("(")
        dtypes = arrays[0].dtype if outputs == 1 else [arrays[0].dtype] * outputs
        return da.apply_gufunc(f, signature, *arrays, output_dtypes=dtypes, **kw)

    def results(kind: Any, out: Any) -> Any:
        return kind(*out)

    ns.det = lambda x, /: gufunc(np.linalg.det, "(i,j)->()", x)
    ns.inv = lambda x, /: gufunc(np.linalg.inv, "(i,j)->(i,j)", x)
    ns.pinv = lambda x, /, *, rtol=None: gufunc(
        lambda a: np.linalg.pinv(a, rcond=1e-15 if rtol is None else rtol), "(i,j)->(j,i)", x)
    ns.eigvalsh = lambda x, /: gufunc(np.linalg.eigvalsh, "(i,j)->(i)", x)
    ns.svdvals = lambda x, /: gufunc(lambda a: np.linalg.svd(a, compute_uv=False), "(i,j)->(k)", x,
                                     output_sizes={"k": min(x.shape[-2:])})

    def cholesky(x: Any, /, *, upper: bool = False) -> Any:
        lower = gufunc(np.linalg.cholesky, "(i,j)->(i,j)", x)
        return lower.mT.conj() if upper else lower

    def solve(a: Any, b: Any, /) -> Any:
        if b.ndim == 1:
            return gufunc(np.linalg.solve, "(i,j),(j)->(i)", a, b)
        return gufunc(np.linalg.solve, "(i,j),(j,k)->(i,k)", a, b)

    def slogdet(x: Any, /) -> Any:
        sign, logabs = gufunc(lambda a: np.linalg.slogdet(a), "(i,j)->(),()", x)
        return results(linalg.SlogdetResult, (sign, logabs))

    def eigh(x: Any, /) -> Any:
        w, v = gufunc(lambda a: tuple(np.linalg.eigh(a)), "(i,j)->(i),(i,j)", x)
        return results(linalg.EighResult, (w, v))

    def qr(x: Any, /, *, mode: str = "reduced") -> Any:
        m, n = x.shape[-2:]
        k = m if mode == "complete" else min(m, n)
        q, r = gufunc(lambda a: tuple(np.linalg.qr(a, mode=mode)), "(i,j)->(i,k),(k,j)", x,
                      output_sizes={"k": k})
        return results(linalg.QRResult, (q, r))

    def svd(x: Any, /, *, full_matrices: bool = True) -> Any:
        m, n = x.shape[-2:]
        k = min(m, n)
        sizes = {"k": k, "p": m if full_matrices else k, "q": n if full_matrices else k}
        u, s, vh = gufunc(lambda a: tuple(np.linalg.svd(a, full_matrices=full_matrices)),
                          "(i,j)->(i,p),(k),(q,j)", x, output_sizes=sizes)
        return results(linalg.SVDResult, (u, s, vh))

    def cross(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
        x1, x2 = da.broadcast_arrays(x1, x2)
        ax = axis % x1.ndim
        x1, x2 = x1.rechunk({ax: -1}), x2.rechunk({ax: -1})
        return da.map_blocks(lambda a, b: np.cross(a, b, axis=ax), x1, x2, dtype=x1.dtype)

    def matrix_rank(x: Any, /, *, rtol: Any = None) -> Any:
        return gufunc(lambda a: np.linalg.matrix_rank(a, rtol=rtol), "(i,j)->()", x)

    for f in (cholesky, solve, slogdet, eigh, qr, svd, cross, matrix_rank):
        setattr(ns, f.__name__, f)
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
