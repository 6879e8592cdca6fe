"""Linear-algebra functions of the main namespace: ``matmul`` and ``matrix_transpose``.

``matmul``'s VJP handles 1-D operands (vector-matrix, matrix-vector, dot) and batch
broadcasting (the cotangent is summed over broadcast batch axes).
"""

from __future__ import annotations

from typing import Any

from agrad._core.primitive import primitive, shape_of, unbroadcast


def _swap_last(xp: Any, a: Any) -> Any:
    return xp.matrix_transpose(a)


def _matmul_da(xp: Any, g: Any, ans: Any, a: Any, b: Any) -> Any:
    sa, sb = shape_of(a), shape_of(b)
    if len(sb) == 1:
        if len(sa) == 1:  # dot product: g is a scalar
            return g * b
        ga = xp.expand_dims(g, axis=-1) * b  # (..., n, 1) * (k,) -> (..., n, k)
    elif len(sa) == 1:  # (k,) @ (..., k, m) -> (..., m)
        ga = xp.matmul(b, xp.expand_dims(g, axis=-1))  # (..., k, 1)
        ga = xp.reshape(ga, tuple(ga.shape)[:-1])
    else:
        ga = xp.matmul(g, _swap_last(xp, b))
    return unbroadcast(xp, ga, sa)


def _matmul_db(xp: Any, g: Any, ans: Any, a: Any, b: Any) -> Any:
    sa, sb = shape_of(a), shape_of(b)
    if len(sa) == 1:
        if len(sb) == 1:
            return g * a
        gb = xp.expand_dims(a, axis=-1) * xp.expand_dims(g, axis=-2)  # (k,1)*(...,1,m)
    elif len(sb) == 1:  # (..., n, k) @ (k,) -> (..., n)
        gb = xp.matmul(_swap_last(xp, a), xp.expand_dims(g, axis=-1))  # (..., k, 1)
        gb = xp.reshape(gb, tuple(gb.shape)[:-1])
    else:
        gb = xp.matmul(_swap_last(xp, a), g)
    return unbroadcast(xp, gb, sb)


def _matmul_fwd(xp: Any, a: Any, b: Any) -> Any:
    sa, sb = shape_of(a), shape_of(b)
    if not sa or not sb or sa[-1] != sb[-2 if len(sb) > 1 else 0]:
        raise ValueError(
            f"cannot matrix-multiply shapes {sa} @ {sb}: "
            + ("matmul needs at least 1-D operands (use * for scalars)" if not sa or not sb else
               f"the last axis of the first ({sa[-1]}) must equal the "
               f"{'second-to-last' if len(sb) > 1 else 'only'} axis of the second "
               f"({sb[-2 if len(sb) > 1 else 0]})")
        )
    return xp.matmul(a, b)


matmul_p = primitive(
    "matmul",
    _matmul_fwd,
    vjp=(_matmul_da, _matmul_db),
    jvp=(
        lambda xp, da, ans, a, b: xp.matmul(da, b),
        lambda xp, db, ans, a, b: xp.matmul(a, db),
    ),
)
matrix_transpose_p = primitive(
    "matrix_transpose",
    lambda xp, x: xp.matrix_transpose(x),
    vjp=(lambda xp, g, ans, x: xp.matrix_transpose(g),),
    jvp=(lambda xp, dx, ans, x: xp.matrix_transpose(dx),),
)


def matmul(x1: Any, x2: Any, /) -> Any:
    """Matrix product with NumPy's rules for 1-D operands and batch broadcasting."""
    return matmul_p(x1, x2)


def matrix_transpose(x: Any, /) -> Any:
    """Swap the last two axes."""
    return matrix_transpose_p(x)
