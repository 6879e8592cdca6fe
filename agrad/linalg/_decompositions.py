"""Decompositions: ``cholesky``, ``qr``, ``eigh``/``eigvalsh``, ``svd``/``svdvals``.

Derivative rules (real inputs) follow PyTorch's and JAX's, so gradients agree with theirs:

* ``cholesky`` and ``eigh`` read one triangle of a symmetric input; their gradients are the
  *symmetric* matrices of the tangent space (perturb ``A`` symmetrically to compare).
* ``eigh`` needs distinct eigenvalues: with a repeated eigenvalue the eigenvectors are not unique
  and the eigenvector gradient contains ``1 / (w_j - w_i) = inf``. The eigenvalue gradient alone
  (``eigvalsh``, or a loss that ignores the eigenvectors) stays finite.
* ``svd`` likewise needs distinct non-zero singular values for ``U``/``Vh`` gradients; with
  ``full_matrices=True`` the cotangent of the extra columns of ``U`` / rows of ``Vh`` is ignored
  (they are arbitrary), as in PyTorch.
* ``qr``: ``mode="reduced"`` with ``M >= N`` (or square ``"complete"``); other shapes raise in
  backward.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from agrad._core.batching import trailing
from agrad._core.primitive import primitive, shape_of
from agrad._ops.linear_algebra import matrix_transpose
from agrad._ops.rule_constants import eye_like, tril_mask
from agrad.linalg._common import diag_embed, mT, require_matrix, require_real_grad, sym

EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
QRResult = namedtuple("QRResult", ["Q", "R"])
SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])


def _half_diagonal_tril(xp: Any, m: Any) -> Any:
    """``Phi(M)``: the lower triangle of ``M`` with its diagonal halved."""
    return m * (tril_mask(xp, m) - 0.5 * eye_like(xp, m))


# --- cholesky --------------------------------------------------------------------------------------


def _cholesky_vjp(xp: Any, g: Any, ans: Any, a: Any) -> Any:
    require_real_grad("cholesky", a)
    l_inv = xp.linalg.inv(ans)
    p = _half_diagonal_tril(xp, xp.matmul(mT(xp, ans), g * tril_mask(xp, g)))
    return sym(xp, xp.matmul(mT(xp, l_inv), xp.matmul(p, l_inv)))


def _cholesky_jvp(xp: Any, da: Any, ans: Any, a: Any) -> Any:
    l_inv = xp.linalg.inv(ans)
    inner = xp.matmul(l_inv, xp.matmul(sym(xp, da), mT(xp, l_inv)))
    return xp.matmul(ans, _half_diagonal_tril(xp, inner))


cholesky_p = primitive(
    "linalg.cholesky", lambda xp, a: xp.linalg.cholesky(a), vjp=(_cholesky_vjp,), jvp=(_cholesky_jvp,)
)


def cholesky(x: Any, /, *, upper: bool = False) -> Any:
    """The Cholesky factor of a symmetric positive-definite matrix (lower, or upper if asked)."""
    require_matrix("cholesky", x, square=True)
    low = cholesky_p(x)
    if upper:

        return matrix_transpose(low)
    return low


# --- qr --------------------------------------------------------------------------------------------


def _copy_lower_to_upper(xp: Any, m: Any) -> Any:
    strict = m * tril_mask(xp, m, -1)
    return strict + mT(xp, strict) + m * eye_like(xp, m)


def _qr_vjp(xp: Any, g: Any, ans: Any, a: Any, *, mode: str) -> Any:
    require_real_grad("qr", a)
    rows, cols = shape_of(a)[-2:]
    if rows < cols or (mode == "complete" and rows != cols):
        raise NotImplementedError(
            f"agrad.linalg.qr: the gradient is implemented for mode='reduced' with M >= N (or square "
            f"'complete'); got shape {shape_of(a)} with mode={mode!r}. Differentiate qr(A[..., :, :M]) "
            "or use a tall matrix."
        )
    q, r = ans
    gq, gr = g
    m = xp.matmul(r, mT(xp, gr)) - xp.matmul(mT(xp, gq), q)
    b = gq + xp.matmul(q, _copy_lower_to_upper(xp, m))
    return mT(xp, xp.linalg.solve(r, mT(xp, b)))  # b R^{-T}


def _qr_jvp(xp: Any, da: Any, ans: Any, a: Any, *, mode: str) -> Any:
    # JAX's rule (real case): dA R^{-1} split into a skew part (dQ) and a triangular part (dR).
    q, r = ans
    da_rinv = mT(xp, xp.linalg.solve(mT(xp, r), mT(xp, da)))
    qt = xp.matmul(mT(xp, q), da_rinv)
    low = qt * tril_mask(xp, qt, -1)
    skew = low - mT(xp, low)
    return xp.matmul(q, skew - qt) + da_rinv, xp.matmul(qt - skew, r)


qr_p = primitive(
    "linalg.qr",
    lambda xp, a, *, mode: tuple(xp.linalg.qr(a, mode=mode)),
    vjp=(_qr_vjp,),
    jvp=(_qr_jvp,),
    multi_output=True,
)


def qr(x: Any, /, *, mode: str = "reduced") -> QRResult:
    """``(Q, R)`` with orthonormal ``Q`` and upper-triangular ``R``; see module doc for gradients."""
    require_matrix("qr", x)
    if mode not in ("reduced", "complete"):
        raise ValueError(f"agrad.linalg.qr: mode must be 'reduced' or 'complete', got {mode!r}")
    return QRResult(*qr_p(x, mode=mode))


# --- eigh ------------------------------------------------------------------------------------------


def _inverse_gaps(xp: Any, w: Any, like: Any) -> Any:
    """``F[i, j] = 1 / (w[j] - w[i])`` off the diagonal, 0 on it (distinct eigenvalues)."""
    eye = eye_like(xp, like)
    gaps = xp.expand_dims(w, axis=-2) - xp.expand_dims(w, axis=-1)
    return (1 - eye) / (gaps + eye)


def _eigh_vjp(xp: Any, g: Any, ans: Any, a: Any) -> Any:
    require_real_grad("eigh", a)
    w, v = ans
    gw, gv = g
    k = xp.matmul(mT(xp, v), gv)
    inner = _inverse_gaps(xp, w, v) * (k - mT(xp, k)) * 0.5 + diag_embed(xp, gw, v)
    return xp.matmul(v, xp.matmul(inner, mT(xp, v)))


def _eigh_jvp(xp: Any, da: Any, ans: Any, a: Any) -> Any:
    w, v = ans
    m = xp.matmul(mT(xp, v), xp.matmul(sym(xp, da), v))
    return xp.linalg.diagonal(m), xp.matmul(v, _inverse_gaps(xp, w, v) * m)


eigh_p = primitive(
    "linalg.eigh", lambda xp, a: tuple(xp.linalg.eigh(a)), vjp=(_eigh_vjp,), jvp=(_eigh_jvp,),
    multi_output=True,
)


def eigh(x: Any, /) -> EighResult:
    """Eigenvalues (ascending) and eigenvectors of a symmetric matrix; see module doc."""
    require_matrix("eigh", x, square=True)
    return EighResult(*eigh_p(x))


def eigvalsh(x: Any, /) -> Any:
    """Eigenvalues of a symmetric matrix; gradient ``V diag(g) V^T`` (finite even if repeated)."""
    return eigh(x).eigenvalues


# --- svd -------------------------------------------------------------------------------------------


def _svd_vjp(xp: Any, g: Any, ans: Any, a: Any, *, full_matrices: bool) -> Any:
    require_real_grad("svd", a)
    m, n = shape_of(a)[-2:]
    k = min(m, n)
    u, s, vh = ans
    gu, gs, gvh = g
    if full_matrices and m != n:  # the extra columns/rows are arbitrary: ignore their cotangent
        u, gu = u[..., :, :k], gu[..., :, :k]
        vh, gvh = vh[..., :k, :], gvh[..., :k, :]
    v, gv = mT(xp, vh), mT(xp, gvh)
    uu = xp.matmul(mT(xp, u), gu)
    vv = xp.matmul(mT(xp, v), gv)
    s_row, s_col = xp.expand_dims(s, axis=-2), xp.expand_dims(s, axis=-1)
    eye = eye_like(xp, u, k)
    gaps = s_row * s_row - s_col * s_col + eye
    inner = ((uu - mT(xp, uu)) * s_row + s_col * (vv - mT(xp, vv))) / gaps + diag_embed(xp, gs, u)
    if m > k:
        gu_s = gu / s_row
        left = xp.matmul(u, inner) + gu_s - xp.matmul(u, xp.matmul(mT(xp, u), gu_s))
        return xp.matmul(left, vh)
    if n > k:
        gv_s = mT(xp, gv / s_row)
        right = xp.matmul(inner, vh) + gv_s - xp.matmul(xp.matmul(gv_s, v), vh)
        return xp.matmul(u, right)
    return xp.matmul(u, xp.matmul(inner, vh))


def _svd_jvp(xp: Any, da: Any, ans: Any, a: Any, *, full_matrices: bool) -> Any:
    # JAX's rule (real case). The extra columns of a full, non-square U (or rows of Vh) are
    # arbitrary, so they have no derivative.
    m, n = shape_of(a)[-2:]
    if full_matrices and m != n:
        raise NotImplementedError(
            "agrad.linalg.svd: forward-mode derivatives need full_matrices=False for a non-square matrix"
        )
    u, s, vh = ans
    v = mT(xp, vh)
    ds_mat = xp.matmul(mT(xp, u), xp.matmul(da, v))
    s_row, s_col = xp.expand_dims(s, axis=-2), xp.expand_dims(s, axis=-1)
    eye = eye_like(xp, u, shape_of(s)[-1])
    f = (1 - eye) / (s_row * s_row - s_col * s_col + eye)
    dss, sds = ds_mat * s_row, s_col * ds_mat
    du = xp.matmul(u, f * (dss + mT(xp, dss)))
    dv = xp.matmul(v, f * (sds + mT(xp, sds)))
    if m > n:
        dav = xp.matmul(da, v)
        du = du + (dav - xp.matmul(u, xp.matmul(mT(xp, u), dav))) / s_row
    elif n > m:
        dau = xp.matmul(mT(xp, da), u)
        dv = dv + (dau - xp.matmul(v, xp.matmul(vh, dau))) / s_row
    return du, xp.linalg.diagonal(ds_mat), mT(xp, dv)


svd_p = primitive(
    "linalg.svd",
    lambda xp, a, *, full_matrices: tuple(xp.linalg.svd(a, full_matrices=full_matrices)),
    vjp=(_svd_vjp,),
    jvp=(_svd_jvp,),
    multi_output=True,
)


def svd(x: Any, /, *, full_matrices: bool = True) -> SVDResult:
    """``(U, S, Vh)`` with ``x = U diag(S) Vh``; see module doc for gradients."""
    require_matrix("svd", x)
    return SVDResult(*svd_p(x, full_matrices=full_matrices))


def svdvals(x: Any, /) -> Any:
    """Singular values (descending); gradient ``U diag(g) Vh``."""
    return svd(x, full_matrices=False).S


# Batching rule (agrad.vmap): matrix functions act on the last two axes; the batch leads.
cholesky_p.batch = qr_p.batch = eigh_p.batch = svd_p.batch = trailing
