"""The Tensor: a backend array, whether it needs a gradient, and the node that produced it.

This module holds the data and what needs no operation: conversions, attributes, the in-place
update protocol. The operators and the methods that call operations (``x + y``, ``x[k]``,
``x.sum()``, ``x.backward()``) are installed on the class by :mod:`agrad._methods`, above the
operations, so the core never imports them.
"""

from __future__ import annotations

import math
from typing import Any

from agrad._base import dtypes as _dtypes
from agrad._base.backend import Backend, get_backend, load_backend
from agrad._base.modes import grad_mode, modes


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

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({self.value!r}{grad})"

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d Tensor")
        return int(self.value.shape[0])

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
        if modes.trace:  # under agrad.jit a traced value has no Python value yet
            modes.trace[-1].check_scalar(self, kind)
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

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d Tensor")
        return (self[i] for i in range(self.shape[0]))

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
