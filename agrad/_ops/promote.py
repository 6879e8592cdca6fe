"""Operands converted to their common dtype before a binary primitive sees them.

The dtype arithmetic is the standard's table in :mod:`agrad._base.promotion`; here the operand(s)
that must change go through the differentiable ``astype``. The fast path (both operands of one
dtype, or a scalar of the operand's kind) costs one dtype comparison; nothing else is done there.
"""

from __future__ import annotations

from typing import Any

from agrad._base import dtypes as _dtypes
from agrad._base.backend import get_backend
from agrad._base.dtypes import DType
from agrad._base.promotion import _SCALARS, _dtype_of, backend_of, promote_types, scalar_result
from agrad._core.tensor import _wrap
from agrad._ops.data_type_functions import astype_p


def promote(x1: Any, x2: Any) -> tuple[Any, Any]:
    """``x1`` and ``x2`` (Tensors, backend arrays or Python scalars) converted to their common dtype.

    Called by every binary element-wise function and operator before the primitive. Returns the
    operands unchanged when they already agree (the common case), else with the differentiable
    ``astype`` applied to the operand(s) that must change.
    """
    s1 = type(x1) in _SCALARS
    s2 = type(x2) in _SCALARS
    if s1 and s2:
        be = get_backend()
        x1 = _wrap(be.xp.asarray(x1, device=be.device), be, None, 0)
        s1 = False
    if s2 or s1:
        arr, scalar = (x1, x2) if s2 else (x2, x1)
        backend = backend_of(arr)
        d = _dtype_of(arr, backend)
        want = scalar_result(d, scalar, backend)
        if want is d:
            return x1, x2
        arr = _astype(arr, want, backend)
        return (arr, x2) if s2 else (x1, arr)
    b1 = getattr(x1, "_backend", None)
    b2 = getattr(x2, "_backend", None)
    if b1 is not b2 and b1 is not None and b2 is not None:
        return x1, x2  # two backends: the primitive raises the clear error
    v1 = x1 if b1 is None else x1.value
    v2 = x2 if b2 is None else x2.value
    if v1.dtype == v2.dtype:
        return x1, x2
    backend = b1 or b2 or backend_of(None)
    d1, d2 = _dtypes.from_native(backend, v1.dtype), _dtypes.from_native(backend, v2.dtype)
    want = promote_types(d1, d2)
    return (x1 if d1 is want else _astype(x1, want, backend),
            x2 if d2 is want else _astype(x2, want, backend))


def _astype(x: Any, dtype: DType, backend: Any) -> Any:
    return astype_p(x, dtype=_dtypes.to_native(backend, dtype), copy=False)
