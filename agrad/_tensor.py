"""The Tensor: a backend array, whether it needs a gradient, and the node that produced it."""

from __future__ import annotations

import math
from typing import Any

from agrad import _dtypes
from agrad._backend import Backend, get_backend, load_backend


class Tensor:
    """An array of the active backend that records the operations applied to it.

    ``Tensor(value)`` keeps pygrad's contract: Python numbers and lists become the backend's
    default floating dtype (like ``torch.Tensor``), arrays keep their dtype, and a floating tensor
    requires a gradient unless ``requires_grad=False``. ``.value`` is the backend array, ``.grad``
    the gradient as a backend array (``None`` until a backward pass reaches it).
    """

    __slots__ = ("value", "requires_grad", "_node", "_idx", "_backend", "_grad", "__weakref__")
    __array_priority__ = 1000  # numpy defers binary operators to us: ndarray + Tensor -> Tensor

    def __init__(
        self,
        value: Any,
        requires_grad: bool | None = None,
        dtype: Any = None,
        *,
        backend: str | Backend | None = None,
    ) -> None:
        be = get_backend() if backend is None else (
            backend if isinstance(backend, Backend) else load_backend(backend)
        )
        if isinstance(value, Tensor):
            value = value.value
        native = _dtypes.to_native(be, dtype)
        if be.is_array(value):
            arr = value if native is None else be.xp.astype(value, native)
        elif _is_python_data(value):
            arr = be.asarray(value, dtype=native if native is not None else be.default_float)
        else:  # another library's array: let the backend convert (DLPack / buffer protocol)
            arr = _convert(be, value, native)
        floating = _dtypes.is_floating(_dtypes.from_native(be, arr.dtype))
        if requires_grad is None:
            requires_grad = floating
        elif requires_grad and not floating:
            raise TypeError(
                f"Tensor(requires_grad=True) needs a floating dtype, got "
                f"{_dtypes.from_native(be, arr.dtype)}; pass dtype=agrad.float32 (or float64)."
            )
        self.value = arr
        self.requires_grad = bool(requires_grad)
        self._node = None
        self._idx = 0
        self._backend = be
        self._grad = None

    # --- attributes ---------------------------------------------------------------------------

    @property
    def grad(self) -> Any:
        """The gradient from the last backward pass, as a backend array (or ``None``)."""
        g = self._grad
        return g.value if isinstance(g, Tensor) else g

    @grad.setter
    def grad(self, value: Any) -> None:
        self._grad = value

    @property
    def grad_tensor(self) -> Tensor | None:
        """The gradient as a Tensor; after ``backward(create_graph=True)`` it is differentiable."""
        g = self._grad
        if g is None or isinstance(g, Tensor):
            return g
        return _wrap(g, self._backend, None, 0)

    @property
    def backend(self) -> Backend:
        return self._backend

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def shape(self) -> tuple:
        return tuple(self.value.shape)

    @property
    def dtype(self) -> _dtypes.DType:
        return _dtypes.from_native(self._backend, self.value.dtype)

    @property
    def device(self) -> Any:
        return self.value.device if hasattr(self.value, "device") else self._backend.device

    @property
    def ndim(self) -> int:
        return len(self.value.shape)

    @property
    def size(self) -> int | None:
        shape = self.value.shape
        return None if any(n is None or n != n for n in shape) else math.prod(shape)

    @property
    def T(self) -> Tensor:
        """Reverse the axes (the standard defines it for 2-D; ``mT`` is the batched form)."""
        return permute_dims(self, tuple(range(self.ndim))[::-1])

    @property
    def mT(self) -> Tensor:
        n = self.ndim
        if n < 2:
            raise ValueError(f"Tensor.mT needs at least 2 dimensions, got shape {self.shape}")
        return permute_dims(self, (*range(n - 2), n - 1, n - 2))

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({self.value!r}{grad})"

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d Tensor")
        return int(self.value.shape[0])

    # --- autograd -----------------------------------------------------------------------------

    def backward(
        self,
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
        from agrad._engine import backward

        backward([self], [gradient], retain_graph=retain_graph, create_graph=create_graph,
                 accumulate=accumulate)

    def detach(self) -> Tensor:
        """The same values, cut off from the graph (shares the backend array)."""
        return _wrap(self.value, self._backend, None, 0)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if not self.is_leaf and not requires_grad:
            raise ValueError("requires_grad_(False) on a non-leaf tensor: use .detach() instead")
        if requires_grad and not _dtypes.is_floating(self.dtype):
            raise TypeError(f"only floating tensors can require grad; this one is {self.dtype}")
        self.requires_grad = requires_grad
        return self

    def to_backend(self, backend: str | Backend) -> Tensor:
        """This tensor's values on another backend, as a new leaf (DLPack when both speak it)."""
        be = backend if isinstance(backend, Backend) else load_backend(backend)
        if be is self._backend:
            return self.detach()
        return Tensor(self.value, requires_grad=self.requires_grad, backend=be)

    # --- conversions that leave the graph -----------------------------------------------------

    def _scalar(self, kind: type) -> Any:
        # On a lazy backend (Dask) this computes, as float() of a dask array does: it is the user
        # asking for a number. agrad's own code never calls it (tests/test_backend_dask.py checks
        # that a training step runs no compute at all).
        return kind(self.value)

    def __float__(self) -> float:
        return self._scalar(float)

    def __int__(self) -> int:
        return self._scalar(int)

    def __bool__(self) -> bool:
        return self._scalar(bool)

    def __complex__(self) -> complex:
        return self._scalar(complex)

    def __index__(self) -> int:
        return self._scalar(int)

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            "agrad.Tensor refuses implicit conversion to a NumPy array: it would silently drop "
            "the gradient graph. Use tensor.value (the backend array) or tensor.detach().value."
        )

    # --- operators (each one a primitive; see the chapter modules) ----------------------------

    def __add__(self, other: Any) -> Tensor:
        return add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return subtract(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return subtract(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return multiply(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return multiply(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return divide(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return divide(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return pow(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return pow(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return matmul(other, self)

    def __neg__(self) -> Tensor:
        return negative(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return abs(self)

    def __lt__(self, other: Any) -> Tensor:
        return less(self, other)

    def __le__(self, other: Any) -> Tensor:
        return less_equal(self, other)

    def __gt__(self, other: Any) -> Tensor:
        return greater(self, other)

    def __ge__(self, other: Any) -> Tensor:
        return greater_equal(self, other)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return equal(self, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return not_equal(self, other)

    __hash__ = object.__hash__  # tensors are dict keys by identity, as in PyTorch

    def __getitem__(self, key: Any) -> Tensor:
        return getitem(self, key)

    # --- a few methods PyTorch users reach for ------------------------------------------------

    def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return max(self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return reshape(self, shape)

    def exp(self) -> Tensor:
        return exp(self)

    def log(self) -> Tensor:
        return log(self)

    def tanh(self) -> Tensor:
        return tanh(self)

    def item(self) -> Any:
        """The single value as a Python number (leaves the graph)."""
        if self.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        kind = self.dtype.kind
        py = bool if kind == "bool" else int if "integer" in kind else complex if "complex" in kind else float
        return self._scalar(py)


def _is_python_data(value: Any) -> bool:
    if isinstance(value, (bool, int, float, complex)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_python_data(v) for v in value)
    return False


def _convert(be: Backend, value: Any, native: Any) -> Any:
    """Bring a foreign array (another library's) onto ``be``: DLPack, then asarray, then lists."""
    errors = []
    if hasattr(value, "__dlpack__"):
        try:
            arr = be.xp.from_dlpack(value)
            return arr if native is None else be.xp.astype(arr, native)
        except Exception as e:  # e.g. a device the target cannot read
            errors.append(e)
    try:
        return be.asarray(value, dtype=native)
    except Exception as e:
        errors.append(e)
    if hasattr(value, "tolist"):
        return be.asarray(value.tolist(), dtype=native)
    raise TypeError(
        f"cannot convert a {type(value).__name__} to an array of backend {be.name!r}: {errors}"
    )


def _wrap(value: Any, backend: Backend, node: Any, idx: int) -> Tensor:
    """Make a Tensor without ``__init__``'s conversions: the engine's fast path."""
    t = _new(Tensor)
    t.value = value
    t._backend = backend
    t._node = node
    t._idx = idx
    t.requires_grad = node is not None
    t._grad = None
    return t


_new = object.__new__

# The operators above call these primitives; imported last because those modules import Tensor.
from agrad import _elementwise as _ew  # noqa: E402
from agrad._indexing import getitem  # noqa: E402
from agrad._linalg_ops import matmul_p as matmul  # noqa: E402
from agrad._manipulation import permute_dims, reshape  # noqa: E402
from agrad._statistical import max, mean, sum  # noqa: E402

add, subtract, multiply, divide, pow = _ew.add_p, _ew.subtract_p, _ew.multiply_p, _ew.divide_p, _ew.pow_p
negative, abs, exp, log, tanh = _ew.negative_p, _ew.abs_p, _ew.exp_p, _ew.log_p, _ew.tanh_p
less, less_equal, greater, greater_equal = _ew.less_p, _ew.less_equal_p, _ew.greater_p, _ew.greater_equal_p
equal, not_equal = _ew.equal_p, _ew.not_equal_p
