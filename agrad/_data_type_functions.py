"""Data type functions (the standard's chapter): ``astype`` with its gradient, dtype queries."""

from __future__ import annotations

from typing import Any

from agrad import _dtypes
from agrad._primitive import primitive

astype_p = primitive(
    "astype",
    lambda xp, x, *, dtype, copy=True: xp.astype(x, dtype, copy=copy),
    vjp=(lambda xp, g, ans, x, *, dtype, copy=True: xp.astype(g, x.dtype),),
    jvp=(lambda xp, dx, ans, x, *, dtype, copy=True: xp.astype(dx, dtype),),
)


def astype(x: Any, dtype: Any, /, *, copy: bool = True, device: Any = None) -> Any:
    """``x`` converted to ``dtype``; the gradient is converted back to ``x``'s dtype."""
    from agrad._backend import get_backend
    from agrad._tensor import Tensor

    backend = x._backend if isinstance(x, Tensor) else get_backend()
    return astype_p(x, dtype=_dtypes.to_native(backend, dtype), copy=copy)


def isdtype(dtype: Any, kind: Any) -> bool:
    """Whether ``dtype`` (an agrad dtype) is of ``kind`` (a dtype, a kind name, or a tuple)."""
    if isinstance(kind, tuple):
        return any(isdtype(dtype, k) for k in kind)
    if isinstance(kind, _dtypes.DType):
        return dtype is kind
    if kind == "integral":
        return dtype.kind in ("signed integer", "unsigned integer")
    if kind == "numeric":
        return dtype.kind != "bool"
    return dtype.kind == kind
