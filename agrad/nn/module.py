"""``Module`` and ``Parameter``: the containers a PyTorch user expects, without copies.

Assigning a :class:`Parameter` or a :class:`Module` to an attribute registers it; buffers
(running statistics) are registered with :meth:`Module.register_buffer`. A module is called
directly (``model(x)`` runs ``forward``); nothing is deep-copied, ever: a call shares the
module's parameters.

Moving a model (``.to(backend=..., dtype=...)``) and loading a state dict rebind the ``value`` of
the existing Parameter objects, so an optimizer built before keeps pointing at the right tensors.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

from agrad._base import dtypes as _dtypes
from agrad._base.backend import Backend, get_backend, load_backend
from agrad._core.tensor import Tensor


class Parameter(Tensor):
    """A Tensor that a :class:`Module` registers as trainable (always a leaf, requires grad)."""

    __slots__ = ()

    def __init__(
        self,
        data: Any,
        requires_grad: bool = True,
        dtype: Any = None,
        *,
        backend: str | Backend | None = None,
    ) -> None:
        if isinstance(data, Tensor) and backend is None:
            backend = data._backend
        super().__init__(data, requires_grad=requires_grad, dtype=dtype, backend=backend)

    def __repr__(self) -> str:
        return f"Parameter({self.value!r})"


def _resolve_backend(backend: str | Backend | None) -> Backend | None:
    if backend is None or isinstance(backend, Backend):
        return backend
    return load_backend(backend)


def convert_value(value: Any, backend: Backend, dtype: _dtypes.DType | None) -> Any:
    """``value`` (a Tensor or any library's array) as an array of ``backend`` with ``dtype``."""
    t = value if isinstance(value, Tensor) else Tensor(value, requires_grad=False, backend=backend)
    if t._backend is not backend:
        t = Tensor(t.value, requires_grad=False, backend=backend)
    arr = t.value
    if dtype is not None and t.dtype is not dtype:
        arr = backend.xp.astype(arr, _dtypes.to_native(backend, dtype))
    return arr


class Module:
    """Base class of every layer: parameters, buffers and submodules registered by assignment."""

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # --- registration ---------------------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() has run: call "
                "super().__init__() first in your module's __init__"
            )
        for table in (self._parameters, self._buffers, self._modules):
            table.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif name in self.__dict__.get("_buffer_names", ()):
            self._buffers[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for table in (self._parameters, self._buffers, self._modules):
            table.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, value: Tensor | None) -> None:
        """Register non-trainable state (e.g. running statistics) that belongs in ``state_dict``."""
        if "_buffer_names" not in self.__dict__:
            object.__setattr__(self, "_buffer_names", set())
        self._buffer_names.add(name)
        setattr(self, name, value)

    def register_parameter(self, name: str, value: Parameter | None) -> None:
        """Register ``value`` (``None`` keeps the name free, e.g. ``bias=False``)."""
        if value is None:
            self._parameters.pop(name, None)
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, value)

    def add_module(self, name: str, module: Module | None) -> None:
        setattr(self, name, module)

    # --- calling --------------------------------------------------------------------------------

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # --- traversal ------------------------------------------------------------------------------

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every submodule (each once), depth-first, with dotted names."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            children = [(f"{name}.{k}" if name else k, c) for k, c in m._modules.items() if c is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for k, c in self._modules.items():
            if c is not None:
                yield k, c

    def children(self) -> Iterator[Module]:
        for _, c in self.named_children():
            yield c

    def _named_members(self, table: str) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        for mname, m in self.named_modules():
            for k, v in getattr(m, table).items():
                if v is None or id(v) in seen:
                    continue
                seen.add(id(v))
                yield (f"{mname}.{k}" if mname else k), v

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """Every parameter once (shared ones are not repeated), with its dotted name."""
        return self._named_members("_parameters")

    def parameters(self) -> Iterator[Parameter]:
        for _, p in self.named_parameters():
            yield p

    def named_buffers(self) -> Iterator[tuple[str, Tensor]]:
        return self._named_members("_buffers")

    def buffers(self) -> Iterator[Tensor]:
        for _, b in self.named_buffers():
            yield b

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        for m in self.modules():
            fn(m)
        return self

    # --- modes and gradients --------------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active, batch norm uses batch statistics); returns self."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of every parameter (``None``, or zeros with set_to_none=False)."""
        for p in self.parameters():
            if set_to_none or p._grad is None:
                p._grad = None
            else:
                p._grad = p._backend.xp.zeros_like(p.value)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    # --- state ----------------------------------------------------------------------------------

    def _state_items(self) -> Iterator[tuple[str, Tensor]]:
        """Parameters and buffers under their full names (buffers marked persistent only)."""
        for mname, m in self.named_modules():
            for table in (m._parameters, m._buffers):
                for k, v in table.items():
                    if v is not None:
                        yield (f"{mname}.{k}" if mname else k), v

    def state_dict(self) -> OrderedDict[str, Tensor]:
        """Every parameter and buffer by dotted name, as detached Tensors sharing the arrays."""
        return OrderedDict((k, v.detach()) for k, v in self._state_items())

    def load_state_dict(self, state_dict: Any, strict: bool = True) -> tuple[list[str], list[str]]:
        """Copy ``state_dict``'s values into this module's parameters and buffers.

        Values may be Tensors or arrays of any backend; each is converted to the backend and dtype
        of the tensor it replaces. All keys and shapes are checked and every value is converted
        before anything is assigned, so a failed load leaves the module exactly as it was.
        With ``strict=False`` missing and unexpected keys are returned instead of raising.
        Returns ``(missing_keys, unexpected_keys)``.
        """
        own = dict(self._state_items())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        problems = []
        if strict and (missing or unexpected):
            if missing:
                problems.append(f"missing keys: {', '.join(missing)}")
            if unexpected:
                problems.append(f"unexpected keys: {', '.join(unexpected)}")
        staged = []
        for k, target in own.items():
            if k not in state_dict:
                continue
            value = state_dict[k]
            shape = tuple(value.shape)
            if shape != target.shape:
                problems.append(f"{k}: the checkpoint has shape {shape}, the model {target.shape}")
                continue
            staged.append((target, value))
        if problems:
            raise ValueError(
                f"load_state_dict into {type(self).__name__} failed, nothing was changed; "
                + "; ".join(problems)
            )
        converted = [(t, convert_value(v, t._backend, t.dtype)) for t, v in staged]
        for t, arr in converted:
            t.value = arr
            t._grad = None
        return missing, unexpected

    def to(self, backend: str | Backend | None = None, dtype: _dtypes.DType | None = None) -> Module:
        """Move every parameter and floating buffer to ``backend`` and/or cast it to ``dtype``.

        The Parameter objects stay the same (their ``value`` is rebound), so optimizers created
        earlier still update them; their gradients are dropped. Returns self.
        """
        be = _resolve_backend(backend)
        if dtype is not None and not _dtypes.is_floating(dtype):
            raise TypeError(f"Module.to(dtype=...) needs a floating dtype, got {dtype}")
        items = list(self._state_items())
        new = []
        for _, t in items:
            target = be or t._backend
            cast = dtype if dtype is not None and _dtypes.is_floating(t.dtype) else None
            new.append((t, target, convert_value(t, target, cast)))
        for t, target, arr in new:
            t.value = arr
            t._backend = target
            t._grad = None
        return self

    # --- printing -------------------------------------------------------------------------------

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for k, c in self._modules.items():
            body = repr(c).replace("\n", "\n  ")
            lines.append(f"  ({k}): {body}")
        return lines[0] + ")" if len(lines) == 1 else "\n".join(lines) + "\n)"


def new_parameter(shape: tuple[int, ...], dtype: Any = None, fill: float = 0.0) -> Parameter:
    """A Parameter of ``shape`` on the active backend, filled with ``fill`` (layers then init it)."""

    be = get_backend()
    native = be.default_float if dtype is None else _dtypes.to_native(be, dtype)
    return Parameter(be.xp.full(tuple(shape), fill, dtype=native, device=be.device), backend=be)


def new_buffer(shape: tuple[int, ...], dtype: Any = None, fill: float = 0.0) -> Tensor:
    """A non-trainable tensor for :meth:`Module.register_buffer` (running statistics)."""
    p = new_parameter(shape, dtype, fill)
    return Tensor(p.value, requires_grad=False, backend=p._backend)
