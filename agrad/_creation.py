"""Creation functions (the standard's chapter): new tensors that record no history."""

from __future__ import annotations

from typing import Any

from agrad import _dtypes
from agrad._backend import get_backend
from agrad._tensor import Tensor, _wrap


def _backend_of(like: Any = None):
    return like._backend if isinstance(like, Tensor) else get_backend()


def _make(fn_name: str, *args: Any, dtype: Any = None, device: Any = None, **kw: Any) -> Tensor:
    be = get_backend()
    fn = getattr(be.xp, fn_name)
    value = fn(*args, dtype=_dtypes.to_native(be, dtype), device=device or be.device, **kw)
    return _wrap(value, be, None, 0)


def _make_like(fn_name: str, x: Any, *args: Any, dtype: Any = None, device: Any = None) -> Tensor:
    be = _backend_of(x)
    value = x.value if isinstance(x, Tensor) else x
    fn = getattr(be.xp, fn_name)
    kw = {"dtype": _dtypes.to_native(be, dtype)}
    if device is not None:
        kw["device"] = device
    return _wrap(fn(value, *args, **kw), be, None, 0)


def asarray(obj: Any, /, *, dtype: Any = None, device: Any = None, copy: bool | None = None) -> Tensor:
    """A tensor from Python data or an array, with the standard's dtype inference (no grad)."""
    if isinstance(obj, Tensor):
        be = obj._backend
        value = obj.value
        if dtype is not None:
            value = be.xp.astype(value, _dtypes.to_native(be, dtype))
        return _wrap(value, be, None, 0)
    be = get_backend()
    value = be.xp.asarray(obj, dtype=_dtypes.to_native(be, dtype), device=device or be.device,
                          copy=copy)
    return _wrap(value, be, None, 0)


def zeros(shape: int | tuple[int, ...], *, dtype: Any = None, device: Any = None) -> Tensor:
    return _make("zeros", shape, dtype=dtype, device=device)


def ones(shape: int | tuple[int, ...], *, dtype: Any = None, device: Any = None) -> Tensor:
    return _make("ones", shape, dtype=dtype, device=device)


def full(shape: int | tuple[int, ...], fill_value: Any, *, dtype: Any = None,
         device: Any = None) -> Tensor:
    return _make("full", shape, fill_value, dtype=dtype, device=device)


def arange(start: Any, /, stop: Any = None, step: Any = 1, *, dtype: Any = None,
           device: Any = None) -> Tensor:
    return _make("arange", start, stop, step, dtype=dtype, device=device)


def zeros_like(x: Any, /, *, dtype: Any = None, device: Any = None) -> Tensor:
    return _make_like("zeros_like", x, dtype=dtype, device=device)


def ones_like(x: Any, /, *, dtype: Any = None, device: Any = None) -> Tensor:
    return _make_like("ones_like", x, dtype=dtype, device=device)


def full_like(x: Any, /, fill_value: Any, *, dtype: Any = None, device: Any = None) -> Tensor:
    return _make_like("full_like", x, fill_value, dtype=dtype, device=device)


def tensor(data: Any, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Like ``torch.tensor``: the standard's dtype inference, grad only when asked."""
    t = asarray(data, dtype=dtype)
    if requires_grad:
        t.requires_grad_(True)
    return t
