"""The Tensor: a backend array, whether it needs a gradient, and the node that produced it."""

from __future__ import annotations

import math
from typing import Any

from agrad._base import dtypes as _dtypes
from agrad._base.backend import Backend, get_backend, load_backend


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
        from agrad._core.engine import backward

        backward([self], [gradient], retain_graph=retain_graph, create_graph=create_graph,
                 accumulate=accumulate)

    def register_hook(self, fn: Any) -> Any:
        """Call ``fn(grad)`` when a backward pass computes this tensor's gradient; ``fn`` may
        return a replacement gradient. Returns a handle with ``.remove()``."""
        from agrad._core.hooks import register_hook

        return register_hook(self, fn)

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward."""
        from agrad._core.hooks import retain_grad

        retain_grad(self)

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
    # The binary operators, their reflected and in-place forms are installed below the class by
    # ``_install_operators`` (one definition for all of them, not 39 copies).

    def __neg__(self) -> Tensor:
        return negative(self)

    def __pos__(self) -> Tensor:
        return positive(self)

    def __abs__(self) -> Tensor:
        return abs(self)

    def __invert__(self) -> Tensor:
        return bitwise_invert(self)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _binop(equal, self, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _binop(not_equal, self, other)

    __hash__ = object.__hash__  # tensors are dict keys by identity, as in PyTorch

    def __getitem__(self, key: Any) -> Tensor:
        return getitem(self, key)

    def __setitem__(self, key: Any, value: Any) -> None:
        """``x[key] = value``, differentiable in both ``x`` and ``value``.

        Functional underneath (works on immutable backends): the backend array is never
        written; this Tensor gets a new value and a new graph node (see :meth:`_rebind`).
        """
        old = self._before_update()
        if value is self:
            value = old
        self._rebind(setitem(old, key, value), old)

    def _before_update(self) -> Tensor:
        """A Tensor standing for this one's current state, before an in-place update.

        The update is recorded against it, so this Tensor's new node does not point at itself.
        A leaf that requires grad may only be updated under ``agrad.no_grad()`` (optimizer
        steps), as in PyTorch: otherwise its gradient would have nowhere to go.
        """
        if self._node is None and self.requires_grad and grad_mode.enabled:
            raise RuntimeError(
                "in-place update of a leaf tensor that requires grad: its gradient would be lost. "
                "Write y = x + ... (out of place), or update it inside agrad.no_grad() "
                "(e.g. an optimizer step)."
            )
        t = _wrap(self.value, self._backend, self._node, self._idx)
        t.requires_grad = self.requires_grad
        return t

    def _rebind(self, new: Tensor, old: Tensor) -> Tensor:
        """Make this Tensor hold ``new`` (an in-place update, done functionally).

        Under ``no_grad`` only the value changes: a leaf stays a leaf that requires grad.
        A graph recorded *before* the update that used this Tensor no longer describes it: its
        backward pass raises a clear error (the engine compares each input's value with the one
        recorded), as PyTorch's version counter does.
        """
        if new.dtype is not self.dtype:
            raise TypeError(
                f"in-place update of a {self.dtype.name} tensor would give {new.dtype.name}; "
                f"the standard keeps the dtype of the left operand. Write x = x <op> y instead."
            )
        if grad_mode.enabled and new._node is not None:
            self._redirect_inputs(new._node, old)
            self._node, self._idx, self.requires_grad = new._node, new._idx, new.requires_grad
        self.value = new.value
        return self

    def _redirect_inputs(self, node: Any, old: Tensor) -> None:
        """Point the update's inputs that were computed from this Tensor (``x[1:] = x[:-1] * 2``)
        at its old state, so the new node does not feed itself. Walks the inputs' history back
        to this Tensor's previous node, no further."""
        stop = self._node
        stack = [a._node for a in node.args if a is not old and isinstance(a, Tensor) and a._node is not None]
        seen: set[int] = set()
        while stack:
            n = stack.pop()
            if n is stop or id(n) in seen or n.args is None:
                continue
            seen.add(id(n))
            if any(a is self for a in n.args):
                n.args = tuple(old if a is self else a for a in n.args)
            stack.extend(a._node for a in n.args if isinstance(a, Tensor) and a._node is not None)

    def __array_namespace__(self, /, *, api_version: str | None = None) -> Any:
        """agrad itself: the Array API namespace of a Tensor, whatever the backend."""
        if api_version not in (None, "2021.12", "2022.12", "2023.12", "2024.12", "2025.12"):
            raise ValueError(f"agrad implements the Array API 2025.12; got api_version={api_version!r}")
        import agrad

        return agrad

    def __dlpack__(self, **kwargs: Any) -> Any:
        """Export the backend array through DLPack. This leaves the graph: the consumer's array
        carries no gradient (documented graph break, like ``float(x)``)."""
        return self._dlpack_source("__dlpack__")(**kwargs)

    def __dlpack_device__(self) -> tuple:
        return self._dlpack_source("__dlpack_device__")()

    def _dlpack_source(self, method: str) -> Any:
        fn = getattr(self.value, method, None)
        if fn is None:
            raise TypeError(
                f"backend {self._backend.name!r} arrays do not export DLPack (lazy arrays): "
                "compute them first, e.g. tensor.value.compute()"
            )
        return fn

    def to_device(self, device: Any, /, *, stream: Any = None) -> Tensor:
        """This tensor on ``device`` (differentiable: the gradient moves back)."""
        return to_device(self, device, stream=stream)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d Tensor")
        return (self[i] for i in range(self.shape[0]))

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
from agrad._base.promotion import promote, scalar_passthrough  # noqa: E402
from agrad._core.primitive import grad_mode  # noqa: E402
from agrad._ops import elementwise as _ew  # noqa: E402
from agrad._ops.data_type_functions import to_device  # noqa: E402
from agrad._ops.indexing import getitem, setitem  # noqa: E402
from agrad._ops.linear_algebra import matmul_p as matmul  # noqa: E402
from agrad._ops.manipulation import permute_dims, reshape  # noqa: E402
from agrad._ops.statistical import max, mean, sum  # noqa: E402

negative, positive, abs, exp, log, tanh = (_ew.negative_p, _ew.positive_p, _ew.abs_p, _ew.exp_p,
                                           _ew.log_p, _ew.tanh_p)
bitwise_invert, equal, not_equal = _ew.bitwise_invert_p, _ew.equal_p, _ew.not_equal_p
_SCALAR_TYPES = (int, float, complex, bool)


def _binop(prim: Any, a: Any, b: Any, reflected: bool = False) -> Any:
    tb = type(b)
    if tb is Tensor:  # the fast paths: nothing to convert
        if a.value.dtype == b.value.dtype:
            return prim(b, a) if reflected else prim(a, b)
    else:
        try:
            ok = a._backend._agrad_scalar_ok
        except AttributeError:
            ok = scalar_passthrough(a._backend)
        if tb in ok.get(a.value.dtype, ()):
            return prim(b, a) if reflected else prim(a, b)
    if not (isinstance(b, (Tensor, *_SCALAR_TYPES)) or a._backend.is_array(b)):
        if not hasattr(b, "shape"):
            return NotImplemented
        return prim(b, a) if reflected else prim(a, b)  # another library's array: a clear error
    return prim(*promote(b, a)) if reflected else prim(*promote(a, b))


def _install_operators() -> None:
    """``__add__``, ``__radd__``, ``__iadd__`` ... for every binary operator of the standard."""
    table = {
        "add": _ew.add_p, "sub": _ew.subtract_p, "mul": _ew.multiply_p, "truediv": _ew.divide_p,
        "floordiv": _ew.floor_divide_p, "mod": _ew.remainder_p, "pow": _ew.pow_p, "matmul": matmul,
        "and": _ew.bitwise_and_p, "or": _ew.bitwise_or_p, "xor": _ew.bitwise_xor_p,
        "lshift": _ew.bitwise_left_shift_p, "rshift": _ew.bitwise_right_shift_p,
    }
    for name, prim in table.items():

        def op(self: Tensor, other: Any, prim: Any = prim) -> Any:
            return _binop(prim, self, other)

        def rop(self: Tensor, other: Any, prim: Any = prim) -> Any:
            return _binop(prim, self, other, reflected=True)

        def iop(self: Tensor, other: Any, prim: Any = prim) -> Tensor:
            old = self._before_update()
            result = _binop(prim, old, old if other is self else other)
            if result is NotImplemented:
                return NotImplemented
            return self._rebind(result, old)

        for fn, dunder in ((op, f"__{name}__"), (rop, f"__r{name}__"), (iop, f"__i{name}__")):
            fn.__name__ = fn.__qualname__ = dunder
            fn.__doc__ = f"The standard's ``{dunder}``: agrad.{prim.name} with agrad's type promotion."
            setattr(Tensor, dunder, fn)
    comparisons = {"lt": _ew.less_p, "le": _ew.less_equal_p, "gt": _ew.greater_p,
                   "ge": _ew.greater_equal_p}
    for name, prim in comparisons.items():

        def cmp(self: Tensor, other: Any, prim: Any = prim) -> Any:
            return _binop(prim, self, other)

        cmp.__name__ = cmp.__qualname__ = f"__{name}__"
        setattr(Tensor, f"__{name}__", cmp)


_install_operators()
