"""Creation functions (the standard's chapter): new tensors that record no history."""

from __future__ import annotations

from typing import Any

from agrad._base import dtypes as _dtypes
from agrad._base.backend import get_backend
from agrad._core.batching import BatchedTensor, batched, trailing
from agrad._core.primitive import primitive
from agrad._core.tensor import Tensor, _wrap
from agrad._ops.data_type_functions import astype
from agrad._ops.manipulation import broadcast_to, reshape, stack


def _backend_of(like: Any = None):
    return like._backend if isinstance(like, Tensor) else get_backend()


def _make(fn_name: str, *args: Any, dtype: Any = None, device: Any = None, **kw: Any) -> Tensor:
    be = get_backend()
    fn = getattr(be.xp, fn_name)
    value = fn(*args, dtype=_dtypes.to_native(be, dtype), device=device or be.device, **kw)
    return _wrap(value, be, None, 0)


def _make_like(fn_name: str, x: Any, *args: Any, dtype: Any = None, device: Any = None) -> Tensor:
    if isinstance(x, BatchedTensor):  # under vmap: one per example, like the batch
        inner = _make_like(fn_name, x.inner, *args, dtype=dtype, device=device)
        return batched(inner, x.bdim, x.level)
    be = _backend_of(x)
    value = x.value if isinstance(x, Tensor) else x
    fn = getattr(be.xp, fn_name)
    kw = {"dtype": _dtypes.to_native(be, dtype)}
    if device is not None:
        kw["device"] = device
    return _wrap(fn(value, *args, **kw), be, None, 0)


def asarray(obj: Any, /, *, dtype: Any = None, device: Any = None, copy: bool | None = None) -> Tensor:
    """A tensor from Python data or an array, with the standard's dtype inference.

    A Tensor (or a nested list holding Tensors) stays in the graph: ``asarray(t)`` is ``t``
    itself, a dtype change or ``copy=True`` is a differentiable ``astype``, and a list of Tensors
    is stacked. Library code written for the standard calls ``xp.asarray(x)`` on its inputs all
    the time, and must not cut the gradient there.
    """
    if isinstance(obj, Tensor):

        if dtype is not None and obj.dtype != _dtypes.from_native(obj._backend, _dtypes.to_native(
                obj._backend, dtype)):
            return astype(obj, dtype)
        return astype(obj, obj.dtype, copy=True) if copy else obj
    if isinstance(obj, (list, tuple)) and _holds_tensor(obj):

        return stack([asarray(o, dtype=dtype) for o in obj])
    be = get_backend()
    value = be.xp.asarray(obj, dtype=_dtypes.to_native(be, dtype), device=device or be.device,
                          copy=copy)
    return _wrap(value, be, None, 0)


def _holds_tensor(obj: Any) -> bool:
    if isinstance(obj, Tensor):
        return True
    return isinstance(obj, (list, tuple)) and any(_holds_tensor(o) for o in obj)


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


def empty(shape: int | tuple[int, ...], *, dtype: Any = None, device: Any = None) -> Tensor:
    return _make("empty", shape, dtype=dtype, device=device)


def empty_like(x: Any, /, *, dtype: Any = None, device: Any = None) -> Tensor:
    return _make_like("empty_like", x, dtype=dtype, device=device)


def eye(n_rows: int, n_cols: int | None = None, /, *, k: int = 0, dtype: Any = None,
        device: Any = None) -> Tensor:
    return _make("eye", n_rows, n_cols, k=k, dtype=dtype, device=device)


def linspace(start: Any, stop: Any, /, num: int, *, dtype: Any = None, device: Any = None,
             endpoint: bool = True) -> Tensor:
    return _make("linspace", start, stop, num, dtype=dtype, device=device, endpoint=endpoint)


def from_dlpack(x: Any, /, *, device: Any = None, copy: bool | None = None) -> Tensor:
    """A tensor (no grad) from any object that speaks DLPack, on the active backend."""
    be = get_backend()
    value = x.value if isinstance(x, Tensor) else x
    kw = {} if device is None and copy is None else {"device": device, "copy": copy}
    return _wrap(be.xp.from_dlpack(value, **kw), be, None, 0)


def meshgrid(*arrays: Any, indexing: str = "xy") -> list[Any]:
    """Coordinate grids from 1-D arrays (differentiable: reshape + broadcast_to)."""

    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    n = len(arrays)
    sizes = [a.shape[0] for a in arrays]
    if indexing == "xy" and n > 1:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for i, a in enumerate(arrays):
        axis = i if indexing == "ij" or n < 2 else (1, 0, *range(2, n))[i]
        shape = tuple(-1 if d == axis else 1 for d in range(n))
        out.append(broadcast_to(reshape(a, shape), tuple(sizes)))
    return out


def _tri(name: str):

    return primitive(
        name,
        lambda xp, x, *, k: getattr(xp, name)(x, k=k),
        vjp=(lambda xp, g, ans, x, *, k: getattr(xp, name)(g, k=k),),
        jvp=(lambda xp, dx, ans, x, *, k: getattr(xp, name)(dx, k=k),),
        batch=trailing,
    )


tril_p, triu_p = _tri("tril"), _tri("triu")


def tril(x: Any, /, *, k: int = 0) -> Any:
    """The lower triangle of the last two axes (the rest zero); differentiable."""
    return tril_p(x, k=k)


def triu(x: Any, /, *, k: int = 0) -> Any:
    """The upper triangle of the last two axes (the rest zero); differentiable."""
    return triu_p(x, k=k)
