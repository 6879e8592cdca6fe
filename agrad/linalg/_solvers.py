"""Inverse-type functions: ``solve``, ``inv``, ``det``, ``slogdet``, ``pinv``, ``matrix_power``.

Derivatives assume a non-singular matrix (``pinv``: full rank). At a singular matrix ``det``'s
gradient (the adjugate) is computed through ``inv`` and is not finite; ``slogdet``'s logabsdet is
``-inf`` there and its gradient undefined, as in PyTorch and JAX.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from agrad._core.batching import matrix_rule, trailing
from agrad._core.primitive import TENSOR_OPS, primitive, shape_of, unbroadcast
from agrad._ops.linear_algebra import matmul
from agrad._ops.manipulation import expand_dims, squeeze
from agrad._ops.rule_constants import eye_like
from agrad.linalg._common import batch_shape, col, mT, require_matrix, require_real_grad

SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])

# --- solve ---------------------------------------------------------------------------------------


def _broadcast_pair(xp: Any, a: Any, b: Any) -> tuple[Any, Any]:
    batch = batch_shape(shape_of(a), shape_of(b))
    return (xp.broadcast_to(a, batch + shape_of(a)[-2:]), xp.broadcast_to(b, batch + shape_of(b)[-2:]))


def _solve_fwd(xp: Any, a: Any, b: Any) -> Any:
    a, b = _broadcast_pair(xp, a, b)
    return xp.linalg.solve(a, b)


def _solve_db(xp: Any, g: Any, ans: Any, a: Any, b: Any) -> Any:
    require_real_grad("solve", a)
    a, _ = _broadcast_pair(xp, a, b)
    return unbroadcast(xp, xp.linalg.solve(mT(xp, a), g), shape_of(b))


def _solve_da(xp: Any, g: Any, ans: Any, a: Any, b: Any) -> Any:
    gb = _solve_db(xp, g, ans, a, ans)  # unbroadcast to ans's (full) shape: no summing yet
    return unbroadcast(xp, -xp.matmul(gb, mT(xp, ans)), shape_of(a))


solve_p = primitive(
    "linalg.solve",
    _solve_fwd,
    vjp=(_solve_da, _solve_db),
    jvp=(
        lambda xp, da, ans, a, b: -_solve_fwd(xp, a, xp.matmul(da, ans)),
        lambda xp, db, ans, a, b: _solve_fwd(xp, a, db),
    ),
)


def solve(x1: Any, x2: Any, /) -> Any:
    """The solution ``X`` of ``x1 @ X = x2``; a 1-D ``x2`` is one right-hand-side vector.

    Batch dimensions broadcast. Gradients: ``dB = solve(A^T, g)``, ``dA = -dB X^T``.
    """
    require_matrix("solve", x1, square=True)
    if len(shape_of(x2)) == 1:

        return squeeze(solve_p(x1, expand_dims(x2, axis=-1)), axis=-1)
    require_matrix("solve", x2)
    return solve_p(x1, x2)


# --- inv, det, slogdet ---------------------------------------------------------------------------


def _inv_vjp(xp: Any, g: Any, ans: Any, a: Any) -> Any:
    require_real_grad("inv", a)
    inv_t = mT(xp, ans)
    return -xp.matmul(inv_t, xp.matmul(g, inv_t))


inv_p = primitive(
    "linalg.inv",
    lambda xp, a: xp.linalg.inv(a),
    vjp=(_inv_vjp,),
    jvp=(lambda xp, da, ans, a: -xp.matmul(ans, xp.matmul(da, ans)),),
)


def _det_vjp(xp: Any, g: Any, ans: Any, a: Any) -> Any:
    require_real_grad("det", a)
    return col(xp, g * ans) * mT(xp, xp.linalg.inv(a))


def _trace_of_solve(xp: Any, a: Any, da: Any) -> Any:
    """``trace(A^{-1} dA)``: the derivative of ``log|det A|`` along ``dA``."""
    return xp.sum(xp.linalg.diagonal(xp.linalg.solve(a, da)), axis=-1)


det_p = primitive(
    "linalg.det",
    lambda xp, a: xp.linalg.det(a),
    vjp=(_det_vjp,),
    jvp=(lambda xp, da, ans, a: ans * _trace_of_solve(xp, a, da),),
)


def _slogdet_vjp(xp: Any, g: Any, ans: Any, a: Any) -> Any:
    require_real_grad("slogdet", a)
    return col(xp, g[1]) * mT(xp, xp.linalg.inv(a))  # the sign is piecewise constant


slogdet_p = primitive(
    "linalg.slogdet",
    lambda xp, a: tuple(xp.linalg.slogdet(a)),
    vjp=(_slogdet_vjp,),
    jvp=(lambda xp, da, ans, a: (xp.zeros_like(ans[0]), _trace_of_solve(xp, a, da)),),
    multi_output=True,
)


def inv(x: Any, /) -> Any:
    """The inverse of a (batch of) square matrix; gradient ``-X^{-T} g X^{-T}``."""
    require_matrix("inv", x, square=True)
    return inv_p(x)


def det(x: Any, /) -> Any:
    """The determinant; gradient ``g * det(A) * A^{-T}`` (non-singular ``A``)."""
    require_matrix("det", x, square=True)
    return det_p(x)


def slogdet(x: Any, /) -> SlogdetResult:
    """``(sign, logabsdet)`` of the determinant; only ``logabsdet`` carries a gradient."""
    require_matrix("slogdet", x, square=True)
    return SlogdetResult(*slogdet_p(x))


# --- pinv ----------------------------------------------------------------------------------------


def _pinv_vjp(xp: Any, g: Any, ans: Any, a: Any, *, rtol: Any = None) -> Any:
    # Golub & Pereyra: valid where the rank is constant near ``a`` (e.g. full rank).
    require_real_grad("pinv", a)
    x = ans  # (..., n, m) for a of shape (..., m, n)
    xt, gt = mT(xp, x), mT(xp, g)
    proj_cols = eye_like(xp, a, shape_of(a)[-2]) - xp.matmul(a, x)  # I_m - A X
    proj_rows = eye_like(xp, a, shape_of(a)[-1]) - xp.matmul(x, a)  # I_n - X A
    return (
        -xp.matmul(xt, xp.matmul(g, xt))
        + xp.matmul(proj_cols, xp.matmul(gt, xp.matmul(x, xt)))
        + xp.matmul(xp.matmul(xt, x), xp.matmul(gt, proj_rows))
    )


def _pinv_jvp(xp: Any, da: Any, ans: Any, a: Any, *, rtol: Any = None) -> Any:
    x, dat = ans, mT(xp, da)
    xt = mT(xp, x)
    proj_cols = eye_like(xp, a, shape_of(a)[-2]) - xp.matmul(a, x)
    proj_rows = eye_like(xp, a, shape_of(a)[-1]) - xp.matmul(x, a)
    return (
        -xp.matmul(x, xp.matmul(da, x))
        + xp.matmul(xp.matmul(x, xt), xp.matmul(dat, proj_cols))
        + xp.matmul(proj_rows, xp.matmul(dat, xp.matmul(xt, x)))
    )


pinv_p = primitive(
    "linalg.pinv",
    lambda xp, a, *, rtol=None: xp.linalg.pinv(a, rtol=rtol),
    vjp=(_pinv_vjp,),
    jvp=(_pinv_jvp,),
)


def pinv(x: Any, /, *, rtol: float | None = None) -> Any:
    """The Moore-Penrose pseudo-inverse; differentiable where the rank does not change."""
    require_matrix("pinv", x)
    if rtol is not None and not isinstance(rtol, (int, float)):
        raise TypeError("agrad.linalg.pinv: rtol must be a Python float here (array rtol unsupported)")
    return pinv_p(x, rtol=rtol)


# --- matrix_power --------------------------------------------------------------------------------


def matrix_power(x: Any, n: int, /) -> Any:
    """``x`` multiplied by itself ``n`` times (``n < 0``: of its inverse), by repeated squaring.

    Built from ``matmul`` and ``inv``, so its derivatives are theirs.
    """

    require_matrix("matrix_power", x, square=True)
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"agrad.linalg.matrix_power: n must be a Python int, got {type(n).__name__}")
    if n == 0:  # the identity, kept on the graph (with a zero gradient) so backward still works
        return x * 0 + eye_like(TENSOR_OPS, x)
    base = inv(x) if n < 0 else x
    n = abs(n)
    result = None
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result


# Batching rules (agrad.vmap): matrix functions act on the last two axes; the batch leads.
inv_p.batch = det_p.batch = slogdet_p.batch = pinv_p.batch = trailing
solve_p.batch = matrix_rule
