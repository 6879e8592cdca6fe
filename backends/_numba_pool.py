"""Numba max-pooling: forward and the pull-back of its cotangent to each window's first maximum.

The portable reference builds the ``(N, C, kh*kw, Ho, Wo)`` patch array, reduces it with ``max``,
and for the gradient unfolds again, takes ``argmax`` over the strided patch axis, builds a
one-hot array and folds it back: five full passes. These loops visit each window once. Ties
go to the first maximum in window order (row-major over the kernel), padding is ``-inf``, and a
window of NaNs picks its first NaN, all as the reference does. Imported lazily by
:mod:`agrad_backends._numpy_nn`.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _first_max(x, n, c, oi, oj, kh, kw, sh, sw, ph, pw, dh, dw):  # pragma: no cover (compiled)
    """``(value, row, col)`` of the window's first maximum, NumPy ``argmax``'s rule (the first
    NaN wins; an all ``-inf`` window picks its first slot); ``row`` is -1 if that slot is padding."""
    h, w = x.shape[2], x.shape[3]
    best, bi, bj = 0.0, -1, -1
    for a in range(kh):
        r = oi * sh - ph + a * dh
        for b in range(kw):
            q = oj * sw - pw + b * dw
            inside = 0 <= r < h and 0 <= q < w
            v = x[n, c, r, q] if inside else -np.inf
            if (a == 0 and b == 0) or v > best or v != v:
                best, bi, bj = v, (r if inside else -1), q
                if v != v:
                    return best, bi, bj
    return best, bi, bj


@numba.njit(cache=True, nogil=True, error_model="numpy")
def max_pool_fwd(x, out, kh, kw, sh, sw, ph, pw, dh, dw):  # pragma: no cover (compiled)
    nn, cc, ho, wo = out.shape
    for n in range(nn):
        for c in range(cc):
            for i in range(ho):
                for j in range(wo):
                    out[n, c, i, j] = _first_max(x, n, c, i, j, kh, kw, sh, sw, ph, pw, dh, dw)[0]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def max_pool_bwd(x, g, dx, kh, kw, sh, sw, ph, pw, dh, dw):  # pragma: no cover (compiled)
    """``dx`` (zeros, shaped like ``x``) receives each ``g[n, c, i, j]`` at its window's first max."""
    nn, cc, ho, wo = g.shape
    for n in range(nn):
        for c in range(cc):
            for i in range(ho):
                for j in range(wo):
                    _, r, q = _first_max(x, n, c, i, j, kh, kw, sh, sw, ph, pw, dh, dw)
                    if r >= 0:
                        dx[n, c, r, q] += g[n, c, i, j]
