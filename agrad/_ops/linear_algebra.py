"""Linear-algebra functions of the main namespace: ``matmul`` and ``matrix_transpose``.

``matmul``'s VJP handles 1-D operands (vector-matrix, matrix-vector, dot) and batch
broadcasting (the cotangent is summed over broadcast batch axes).

Autocast: inside ``agrad.autocast(dtype)`` ``matmul`` (the function and the ``@`` operator, which
calls the primitive directly) first converts its floating operands to the autocast dtype with the
differentiable ``astype``, so gradients flow back in the operands' own dtypes. That happens in the
primitive's call (:class:`AutocastPrimitive`); outside autocast it costs one thread-local read.
:func:`autocast_operands` is the conversion, shared with ``agrad.amp``'s op decorators.
"""

from __future__ import annotations

from typing import Any

from agrad._base import dtypes as _dtypes
from agrad._base.backend import get_backend
from agrad._base.modes import autocast_mode
from agrad._core.batching import matrix_rule, trailing
from agrad._core.primitive import PRIMITIVES, Primitive, primitive, shape_of, unbroadcast
from agrad._core.tensor import Tensor
from agrad._ops.data_type_functions import astype_p


def _autocast_one(x: Any, dtype: _dtypes.DType) -> Any:
    if isinstance(x, Tensor):
        be = x._backend
    elif x is None or type(x) in (int, float, complex, bool):
        return x
    else:
        be = get_backend()
        if not be.is_array(x):
            return x  # not an array of ours (a shape, another library's array): left to the op
    d = _dtypes.from_native(be, x.value.dtype if isinstance(x, Tensor) else x.dtype)
    if d is dtype or d.kind != "real floating" or d is _dtypes.float64:
        return x
    return astype_p(x, dtype=_dtypes.to_native(be, dtype), copy=False)


def autocast_operands(args: tuple, dtype: _dtypes.DType) -> tuple:
    """``args`` with each floating operand converted to ``dtype`` (differentiably).

    PyTorch's eligibility rule: real floating Tensors (and backend arrays) other than ``float64``
    are converted; ``float64``, complex, integer and boolean operands, Python scalars and
    anything else pass unchanged. An operand already of ``dtype`` is not touched (no node).
    """
    return tuple(_autocast_one(a, dtype) for a in args)


class AutocastPrimitive(Primitive):
    """A primitive on autocast's lower-precision list: inside ``agrad.autocast`` its operands are
    converted to the autocast dtype before the ordinary call (PyTorch's CPU list: matmul...)."""

    __slots__ = ()

    def __call__(self, *args: Any, **params: Any) -> Any:
        dtype = autocast_mode.dtype
        if dtype is not None:
            args = autocast_operands(args, dtype)
        return Primitive.__call__(self, *args, **params)


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


matmul_p = AutocastPrimitive(
    "matmul",
    _matmul_fwd,
    vjp=(_matmul_da, _matmul_db),
    jvp=(
        lambda xp, da, ans, a, b: xp.matmul(da, b),
        lambda xp, db, ans, a, b: xp.matmul(a, db),
    ),
    batch=matrix_rule,
)
PRIMITIVES.setdefault(matmul_p.name, matmul_p)  # what primitive() does (no kernel to declare)
matrix_transpose_p = primitive(
    "matrix_transpose",
    lambda xp, x: xp.matrix_transpose(x),
    vjp=(lambda xp, g, ans, x: xp.matrix_transpose(g),),
    jvp=(lambda xp, dx, ans, x: xp.matrix_transpose(dx),),
    batch=trailing,
)


def matmul(x1: Any, x2: Any, /) -> Any:
    """Matrix product with NumPy's rules for 1-D operands and batch broadcasting (in the autocast
    dtype inside ``agrad.autocast``)."""
    return matmul_p(x1, x2)


def matrix_transpose(x: Any, /) -> Any:
    """Swap the last two axes."""
    return matrix_transpose_p(x)
