"""``erf``: the error function from standard operations only (it is not in the Array API).

W. J. Cody's rational Chebyshev approximations (Math. Comp. 23, 1969; the SPECFUN routine CALERF),
accurate to float64 rounding. The three intervals are all evaluated and chosen with ``where`` (no
branching on values, so lazy backends work); each is fed a safe input so the unused ones cannot
overflow. Registered as an extension so that derivative rules (exact GELU) can call ``xp.erf``.
"""

from __future__ import annotations

import math
from typing import Any

from agrad._core.batching import elementwise
from agrad._core.primitive import extension, primitive

_A = (
    3.16112374387056560e00,
    1.13864154151050156e02,
    3.77485237685302021e02,
    3.20937758913846947e03,
    1.85777706184603153e-1,
)
_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03, 2.84423683343917062e03)
_C = (
    5.64188496988670089e-1,
    8.88314979438837594e00,
    6.61191906371416295e01,
    2.98635138197400131e02,
    8.81952221241769090e02,
    1.71204761263407058e03,
    2.05107837782607147e03,
    1.23033935479799725e03,
    2.15311535474403846e-8,
)
_D = (
    1.57449261107098347e01,
    1.17693950891312499e02,
    5.37181101862009858e02,
    1.62138957456669019e03,
    3.29079923573345963e03,
    4.36261909014324716e03,
    3.43936767414372164e03,
    1.23033935480374942e03,
)
_P = (
    3.05326634961232344e-1,
    3.60344899949804439e-1,
    1.25781726111229246e-1,
    1.60837851487422766e-2,
    6.58749161529837803e-4,
    1.63153871373020978e-2,
)
_Q = (
    2.56852019228982242e00,
    1.87295284992346725e00,
    5.27905102951428412e-1,
    6.05183413124413191e-2,
    2.33520497626869185e-3,
)
_SQRPI = 5.6418958354775628695e-1  # 1 / sqrt(pi)
_THRESH = 0.46875
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _ratio(t: Any, num: tuple, den: tuple, lead: float) -> Any:
    """CALERF's nested evaluation: ``(lead*t^n + num...) / (t^n + den...)`` in Horner form."""
    xnum = lead * t
    xden = t
    for a, b in zip(num[:-1], den[:-1]):
        xnum = (xnum + a) * t
        xden = (xden + b) * t
    return (xnum + num[-1]) / (xden + den[-1])


def _exp_neg_square(xp: Any, y: Any) -> Any:
    """``exp(-y*y)`` split as CALERF does, keeping the rounding error of ``y*y`` out."""
    ysq = xp.trunc(y * 16.0) / 16.0
    return xp.exp(-ysq * ysq) * xp.exp(-(y - ysq) * (y + ysq))


def erf_ref(xp: Any, x: Any) -> Any:
    """``erf(x)`` element-wise for a real floating array."""
    y = xp.abs(x)
    small = y <= _THRESH
    mid = y <= 4.0
    ys = xp.where(small, y, 0.0)
    yt = xp.minimum(xp.maximum(y, _THRESH), 4.0)
    yb = xp.maximum(y, 4.0)
    # |x| <= 0.46875: erf directly.
    r_small = ys * _ratio(ys * ys, _A[:4], _B, _A[4])
    # 0.46875 < |x| <= 4 and |x| > 4: erfc, then erf = 1 - erfc.
    erfc_mid = _ratio(yt, _C[:8], _D, _C[8]) * _exp_neg_square(xp, yt)
    z = 1.0 / (yb * yb)
    tail = z * _ratio(z, _P[:5], _Q, _P[5])
    erfc_big = (_SQRPI - tail) / yb * _exp_neg_square(xp, xp.minimum(yb, 27.0))
    erfc = xp.where(mid, erfc_mid, erfc_big)
    r = xp.where(small, r_small, 1.0 - erfc)
    return xp.where(x < 0, -r, r)


def _erf_dx(xp: Any, g: Any, ans: Any, x: Any) -> Any:
    return g * (TWO_OVER_SQRT_PI * xp.exp(-(x * x)))


erf_p = extension(primitive("erf", erf_ref, vjp=(_erf_dx,), jvp=(_erf_dx,), kernel="erf"))


def erf(x: Any) -> Any:
    """The error function ``2/sqrt(pi) * integral_0^x exp(-t^2) dt``, differentiable."""
    return erf_p(x)


erf_p.batch = elementwise  # batching rule (agrad.vmap)
