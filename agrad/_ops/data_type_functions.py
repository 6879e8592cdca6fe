"""Data type functions (the standard's chapter): ``astype`` with its gradient, dtype queries.

``result_type`` and ``can_cast`` follow agrad's own promotion table (``_promotion``), so they
give the same answer on every backend; ``finfo``/``iinfo`` report agrad dtypes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agrad._base import dtypes as _dtypes
from agrad._base.promotion import backend_of, can_cast, result_type
from agrad._core.batching import elementwise
from agrad._core.primitive import device_of, primitive


def _astype_vjp(xp: Any, g: Any, ans: Any, x: Any, *, dtype: Any, copy: bool = True) -> Any:
    # Back to x's dtype; from complex to real keep the real part (the Wirtinger convention).
    if xp.isdtype(g.dtype, "complex floating") and not xp.isdtype(x.dtype, "complex floating"):
        g = xp.real(g)
    return xp.astype(g, x.dtype)


astype_p = primitive(
    "astype",
    lambda xp, x, *, dtype, copy=True: xp.astype(x, dtype, copy=copy),
    vjp=(_astype_vjp,),
    jvp=(lambda xp, dx, ans, x, *, dtype, copy=True: xp.astype(dx, dtype),),
)

to_device_p = primitive(
    "to_device",
    lambda xp, x, *, device: xp.asarray(x, device=device),
    vjp=(lambda xp, g, ans, x, *, device: xp.asarray(g, device=device_of(x)),),
    jvp=(lambda xp, dx, ans, x, *, device: xp.asarray(dx, device=device),),
)


def astype(x: Any, dtype: Any, /, *, copy: bool = True, device: Any = None) -> Any:
    """``x`` converted to ``dtype``; the gradient is converted back to ``x``'s dtype."""
    out = astype_p(x, dtype=_dtypes.to_native(backend_of(x), dtype), copy=copy)
    return out if device is None else to_device(out, device)


def to_device(x: Any, device: Any, /, *, stream: Any = None) -> Any:
    """``x`` on ``device`` of its backend; the gradient moves back to ``x``'s device."""
    if stream is not None:
        raise ValueError("agrad.to_device: stream= is not supported; synchronise explicitly")
    if device == getattr(getattr(x, "value", x), "device", None):
        return x
    return to_device_p(x, device=device)


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
    if kind not in ("bool", "signed integer", "unsigned integer", "real floating", "complex floating"):
        raise ValueError(f"isdtype: unknown kind {kind!r}")
    return dtype.kind == kind


@dataclass(frozen=True)
class finfo_object:
    """Machine limits of a floating dtype (the standard's ``finfo`` result)."""

    bits: int
    eps: float
    max: float
    min: float
    smallest_normal: float
    dtype: _dtypes.DType


@dataclass(frozen=True)
class iinfo_object:
    """Limits of an integer dtype (the standard's ``iinfo`` result)."""

    bits: int
    max: int
    min: int
    dtype: _dtypes.DType


def _dtype_arg(arg: Any) -> tuple[_dtypes.DType, Any]:
    be = backend_of(arg)
    if isinstance(arg, _dtypes.DType):
        return arg, be
    if hasattr(arg, "_backend"):
        return arg.dtype, be
    return _dtypes.from_native(be, getattr(arg, "dtype", arg)), be


_EXTENSION_FINFO = {  # (bits, eps, max, smallest_normal): IEEE binary16 and bfloat16
    _dtypes.float16: (16, 2.0**-10, 65504.0, 2.0**-14),
    _dtypes.bfloat16: (16, 2.0**-7, (2.0 - 2.0**-7) * 2.0**127, 2.0**-126),
}
"""The extension dtypes' limits, fixed by their formats: the same on every backend (and known on
one that lacks the dtype, where the standard's namespace has no ``finfo`` for it)."""


def finfo(type: Any, /) -> finfo_object:  # noqa: A002 - the standard's name
    """Limits of a real or complex floating dtype (or of a tensor's dtype)."""
    d, be = _dtype_arg(type)
    ext = _EXTENSION_FINFO.get(d)
    if ext is not None:
        bits, eps, big, tiny = ext
        return finfo_object(bits, eps, big, -big, tiny, d)
    f = be.xp.finfo(_dtypes.to_native(be, d))
    return finfo_object(int(f.bits), float(f.eps), float(f.max), float(f.min),
                        float(f.smallest_normal), d)


def iinfo(type: Any, /) -> iinfo_object:  # noqa: A002 - the standard's name
    """Limits of an integer dtype (or of a tensor's dtype)."""
    d, be = _dtype_arg(type)
    i = be.xp.iinfo(_dtypes.to_native(be, d))
    return iinfo_object(int(i.bits), int(i.max), int(i.min), d)

astype_p.batch = to_device_p.batch = elementwise  # batching rule (agrad.vmap)


__all__ = ["astype", "can_cast", "finfo", "iinfo", "isdtype", "result_type", "to_device"]
