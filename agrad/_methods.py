"""The Tensor's operators and methods: the one module that sees both the Tensor and the operations.

The Tensor class (:mod:`agrad._core.tensor`) holds data only; this module, above the chapters
of the standard, installs ``__add__`` and the other operators, indexing, ``.T``, ``.sum()``,
``.backward()``... on it, as JAX installs its array methods late, so the core never imports an
operation. :func:`install` runs once, when the package is imported.
"""

from __future__ import annotations

from typing import Any

from agrad._base.backend import BackendError, load_backend
from agrad._base.promotion import scalar_passthrough
from agrad._core import engine, hooks
from agrad._core.primitive import TENSOR_OPS
from agrad._core.tensor import Tensor
from agrad._ops import elementwise as ew
from agrad._ops import statistical
from agrad._ops.data_type_functions import astype, to_device
from agrad._ops.indexing import getitem, setitem
from agrad._ops.linear_algebra import matmul_p
from agrad._ops.manipulation import permute_dims, reshape
from agrad._ops.promote import promote

_SCALAR_TYPES = (int, float, complex, bool)


def _binop(prim: Any, a: Tensor, b: Any, reflected: bool = False) -> Any:
    tb = type(b)
    if tb is Tensor:  # the fast paths: nothing to convert
        if a.value.dtype == b.value.dtype:
            return prim(b, a) if reflected else prim(a, b)
    else:
        try:
            ok = a._backend.cache["scalars"]
        except KeyError:
            ok = scalar_passthrough(a._backend)
        if tb in ok.get(a.value.dtype, ()):
            return prim(b, a) if reflected else prim(a, b)
    if not (isinstance(b, (Tensor, *_SCALAR_TYPES)) or a._backend.is_array(b)):
        if not hasattr(b, "shape"):
            return NotImplemented
        return prim(b, a) if reflected else prim(a, b)  # another library's array: a clear error
    return prim(*promote(b, a)) if reflected else prim(*promote(a, b))


_BINARY = {
    "add": ew.add_p, "sub": ew.subtract_p, "mul": ew.multiply_p, "truediv": ew.divide_p,
    "floordiv": ew.floor_divide_p, "mod": ew.remainder_p, "pow": ew.pow_p, "matmul": matmul_p,
    "and": ew.bitwise_and_p, "or": ew.bitwise_or_p, "xor": ew.bitwise_xor_p,
    "lshift": ew.bitwise_left_shift_p, "rshift": ew.bitwise_right_shift_p,
}
_COMPARISONS = {"lt": ew.less_p, "le": ew.less_equal_p, "gt": ew.greater_p, "ge": ew.greater_equal_p,
                "eq": ew.equal_p, "ne": ew.not_equal_p}
_UNARY = {"neg": ew.negative_p, "pos": ew.positive_p, "abs": ew.abs_p, "invert": ew.bitwise_invert_p}


def _binary_operators(name: str, prim: Any) -> dict[str, Any]:
    def op(self: Tensor, other: Any) -> Any:
        return _binop(prim, self, other)

    def rop(self: Tensor, other: Any) -> Any:
        return _binop(prim, self, other, reflected=True)

    def iop(self: Tensor, other: Any) -> Tensor:
        old = self._before_update()
        result = _binop(prim, old, old if other is self else other)
        if result is NotImplemented:
            return NotImplemented
        return self._rebind(result, old)

    table = {f"__{name}__": op, f"__r{name}__": rop, f"__i{name}__": iop}
    for dunder, fn in table.items():
        fn.__doc__ = f"The standard's ``{dunder}``: agrad.{prim.name} with agrad's type promotion."
    return table


def _comparison(prim: Any) -> Any:
    def cmp(self: Tensor, other: Any) -> Any:
        return _binop(prim, self, other)

    return cmp


def _unary(prim: Any) -> Any:
    def op(self: Tensor) -> Tensor:
        return prim(self)

    return op


# --- methods that call operations ----------------------------------------------------------------


def _T(self: Tensor) -> Tensor:
    """Reverse the axes (the standard defines it for 2-D; ``mT`` is the batched form)."""
    return permute_dims(self, tuple(range(self.ndim))[::-1])


def _mT(self: Tensor) -> Tensor:
    n = self.ndim
    if n < 2:
        raise ValueError(f"Tensor.mT needs at least 2 dimensions, got shape {self.shape}")
    return permute_dims(self, (*range(n - 2), n - 1, n - 2))


def _getitem(self: Tensor, key: Any) -> Tensor:
    return getitem(self, key)


def _setitem(self: Tensor, key: Any, value: Any) -> None:
    """``x[key] = value``, differentiable in both ``x`` and ``value``.

    Functional underneath (works on immutable backends): the backend array is never
    written; this Tensor gets a new value and a new graph node (see ``Tensor._rebind``).
    """
    old = self._before_update()
    if value is self:
        value = old
    self._rebind(setitem(old, key, value), old)


def backward(
    self: Tensor,
    gradient: Any = None,
    *,
    retain_graph: bool = False,
    create_graph: bool = False,
    accumulate: bool = False,
) -> None:
    """Compute the gradient of this tensor with respect to every leaf of its graph.

    As in pygrad, each reached leaf's ``.grad`` is *replaced* by the fresh gradient;
    ``accumulate=True`` adds to it instead (gradient accumulation over micro-batches).
    A non-scalar tensor needs ``gradient`` (the cotangent, same shape). The graph is released
    afterwards unless ``retain_graph``; ``create_graph`` records the backward pass itself so
    the gradients can be differentiated again (implies ``retain_graph``).
    """
    engine.backward([self], [gradient], retain_graph=retain_graph, create_graph=create_graph,
                    accumulate=accumulate)


def register_hook(self: Tensor, fn: Any) -> Any:
    """Call ``fn(grad)`` when a backward pass computes this tensor's gradient; ``fn`` may
    return a replacement gradient. Returns a handle with ``.remove()``."""
    return hooks.register_hook(self, fn)


def retain_grad(self: Tensor) -> None:
    """Keep this non-leaf tensor's gradient in ``.grad`` after backward."""
    hooks.retain_grad(self)


def _to_device(self: Tensor, device: Any, /, *, stream: Any = None) -> Tensor:
    """This tensor on ``device`` (differentiable: the gradient moves back)."""
    return to_device(self, device, stream=stream)


def _clone(self: Tensor) -> Tensor:
    """A copy of this tensor that stays in the graph (``torch.Tensor.clone``): the gradient of
    the copy flows back to this tensor. The values are copied (``astype(..., copy=True)``)."""
    return astype(self, self.dtype, copy=True)


def _numpy(self: Tensor) -> Any:
    """The values as a NumPy array (``torch.Tensor.numpy``). This leaves the graph, like
    ``float(x)``; a lazy backend (Dask) computes. The core imports no NumPy: the array comes
    from agrad's ``numpy`` backend, so that backend must be available."""
    try:
        be = load_backend("numpy")
    except BackendError as e:
        raise RuntimeError(
            f"Tensor.numpy() needs agrad's numpy backend, which is unavailable: {e}. Use "
            "tensor.value for the backend's own array."
        ) from e
    return be.xp.asarray(self.detach().to_backend(be).value)  # asarray: a 0-d array, not a scalar


def _tolist(self: Tensor) -> Any:
    """The values as (nested lists of) Python numbers (``torch.Tensor.tolist``); a 0-d tensor
    gives a number. Leaves the graph, as :meth:`numpy` does (and goes through it)."""
    return _numpy(self).tolist()


def _reduction(fn: Any) -> Any:
    def method(self: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
        return fn(self, axis=axis, keepdims=keepdims)

    method.__doc__ = f"``agrad.{fn.__name__}(self, axis=axis, keepdims=keepdims)``."
    return method


def _reshape(self: Tensor, *shape: Any) -> Tensor:
    """``agrad.reshape``; the shape may be given as one tuple or as separate integers."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return reshape(self, shape)


def _array_namespace(self: Tensor, /, *, api_version: str | None = None) -> Any:
    """agrad itself: the Array API namespace of a Tensor, whatever the backend."""
    if api_version not in (None, "2021.12", "2022.12", "2023.12", "2024.12", "2025.12"):
        raise ValueError(f"agrad implements the Array API 2025.12; got api_version={api_version!r}")
    return TENSOR_OPS.namespace


def install(namespace: Any) -> None:
    """Put the operators and methods on ``Tensor``; make ``namespace`` (the ``agrad`` package)
    what ``__array_namespace__`` returns and what rules see as ``xp`` on Tensors."""
    TENSOR_OPS.bind(namespace)
    methods: dict[str, Any] = {}
    for name, prim in _BINARY.items():
        methods.update(_binary_operators(name, prim))
    methods.update({f"__{n}__": _comparison(p) for n, p in _COMPARISONS.items()})
    methods.update({f"__{n}__": _unary(p) for n, p in _UNARY.items()})
    methods.update({
        "__hash__": object.__hash__,  # tensors are dict keys by identity, as in PyTorch
        "__getitem__": _getitem, "__setitem__": _setitem,
        "__array_namespace__": _array_namespace,
        "T": property(_T), "mT": property(_mT),
        "backward": backward, "register_hook": register_hook, "retain_grad": retain_grad,
        "to_device": _to_device, "reshape": _reshape,
        "clone": _clone, "numpy": _numpy, "tolist": _tolist,
        "sum": _reduction(statistical.sum), "mean": _reduction(statistical.mean),
        "max": _reduction(statistical.max),
        "exp": _unary(ew.exp_p), "log": _unary(ew.log_p), "tanh": _unary(ew.tanh_p),
    })
    for dunder, fn in methods.items():
        if callable(fn) and hasattr(fn, "__name__") and fn is not object.__hash__:
            fn.__name__ = dunder
            fn.__qualname__ = f"Tensor.{dunder}"
        setattr(Tensor, dunder, fn)
