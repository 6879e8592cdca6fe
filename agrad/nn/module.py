"""``Module`` and ``Parameter``: the containers a PyTorch user expects, without copies.

Assigning a :class:`Parameter` or a :class:`Module` to an attribute registers it; buffers
(running statistics) are registered with :meth:`Module.register_buffer`. A module is called
directly (``model(x)`` runs ``forward``); nothing is deep-copied, ever: a call shares the
module's parameters.

Moving a model (``.to(backend=..., dtype=...)``) and loading a state dict rebind the ``value`` of
the existing Parameter objects, so an optimizer built before keeps pointing at the right tensors.

Hooks work as in ``torch.nn``: forward pre-hooks and forward hooks may replace a call's arguments
and result; full backward hooks see the gradients with respect to the module's tensor inputs and
outputs. These come from two identity nodes recorded around the call (one over the inputs, one
over the outputs) whose pull-backs run the hooks, so they compose with ``create_graph`` and the
functional transforms like any other node. :func:`functional_call` runs a module with other
tensors in place of its parameters and buffers (``torch.func.functional_call``).
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from agrad._base import dtypes as _dtypes
from agrad._base.backend import Backend, get_backend, load_backend
from agrad._base.modes import grad_mode
from agrad._core.primitive import TENSOR_OPS, Primitive
from agrad._core.tensor import Tensor, _wrap
from agrad._ops.manipulation import stack


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


# --- hook bookkeeping ------------------------------------------------------------------------

_HOOK_TABLES = ("_forward_pre_hooks", "_forward_hooks", "_backward_pre_hooks", "_backward_hooks")
_NO_HOOKS: Mapping[int, Any] = MappingProxyType({})


class HookHandle:
    """Returned by the ``register_*_hook`` methods: ``remove()`` unregisters the hook.

    Removing twice is harmless; ``with module.register_forward_hook(h): ...`` removes it on exit.
    """

    __slots__ = ("_hooks", "id")
    _ids = itertools.count()

    def __init__(self, hooks: OrderedDict) -> None:
        self._hooks: OrderedDict | None = hooks
        self.id = next(HookHandle._ids)

    def remove(self) -> None:
        hooks, self._hooks = self._hooks, None
        if hooks is not None:
            hooks.pop(self.id, None)

    def __enter__(self) -> HookHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


class _InHooks(threading.local):
    """The modules whose hooks this thread is running: calling one of them from inside its own
    hook runs its plain ``forward`` (where ``torch.nn`` would recurse until the stack overflows)."""

    def __init__(self) -> None:
        self.ids: set[int] = set()


_in_hooks = _InHooks()


def _call_hook(module: Module, hook: Callable[..., Any], *args: Any) -> Any:
    ids, key = _in_hooks.ids, id(module)
    outer = key in ids
    ids.add(key)
    try:
        return hook(module, *args)
    finally:
        if not outer:
            ids.discard(key)


def _check_callable(hook: Any) -> None:
    if not callable(hook):
        raise TypeError(f"a module hook must be callable, got {type(hook).__name__}")


def _check_name(name: Any, what: str) -> None:
    """Names are attribute names and the parts of dotted paths (``torch.nn``'s rules)."""
    if not isinstance(name, str):
        raise TypeError(f"{what} name should be a string, got {type(name).__name__}")
    if name == "":
        raise KeyError(f"{what} name can't be the empty string")
    if "." in name:
        raise KeyError(f"{what} name can't contain '.', got {name!r}")


class Module:
    """Base class of every layer: parameters, buffers and submodules registered by assignment."""

    training: bool

    # Hook tables, ``{handle id: entry}`` in calling order; created per instance by __init__ (the
    # class-level empty ones serve only modules built without it, e.g. unpickled old ones).
    _forward_pre_hooks: Mapping[int, tuple[Callable[..., Any], bool]] = _NO_HOOKS
    _forward_hooks: Mapping[int, tuple[Callable[..., Any], bool]] = _NO_HOOKS
    _backward_pre_hooks: Mapping[int, Callable[..., Any]] = _NO_HOOKS
    _backward_hooks: Mapping[int, Callable[..., Any]] = _NO_HOOKS

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        for table in _HOOK_TABLES:
            object.__setattr__(self, table, OrderedDict())

    # --- registration ---------------------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() has run: call "
                "super().__init__() first in your module's __init__"
            )
        if isinstance(value, Parameter):
            kind = self._parameters
        elif isinstance(value, Module):
            kind = self._modules
        elif name in self.__dict__.get("_buffer_names", ()):
            kind = self._buffers
        else:
            kind = None
        for table in (self._parameters, self._buffers, self._modules):
            if table is not kind:
                table.pop(name, None)
        if kind is not None:
            kind[name] = value  # a reassigned name keeps its place (state_dict order, as torch)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for table in (self._parameters, self._buffers, self._modules):
            table.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, value: Tensor | None) -> None:
        """Register non-trainable state (e.g. running statistics) that belongs in ``state_dict``."""
        _check_name(name, "buffer")
        if "_buffer_names" not in self.__dict__:
            object.__setattr__(self, "_buffer_names", set())
        self._buffer_names.add(name)
        setattr(self, name, value)

    def register_parameter(self, name: str, value: Parameter | None) -> None:
        """Register ``value`` (``None`` keeps the name free, e.g. ``bias=False``)."""
        _check_name(name, "parameter")
        if value is None:
            self._parameters.pop(name, None)
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, value)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as the submodule ``name`` (as ``self.name = module`` does)."""
        _check_name(name, "module")
        setattr(self, name, module)

    register_module = add_module

    # --- hooks ----------------------------------------------------------------------------------

    def _add_hook(self, table: str, entry: Any, prepend: bool) -> HookHandle:
        hooks = self.__dict__.get(table)
        if hooks is None:  # a module built without Module.__init__ (see the class attributes)
            hooks = OrderedDict()
            object.__setattr__(self, table, hooks)
        handle = HookHandle(hooks)
        hooks[handle.id] = entry
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_pre_hook(
        self, hook: Callable[..., Any], *, prepend: bool = False, with_kwargs: bool = False
    ) -> HookHandle:
        """Call ``hook(module, args)`` before each ``forward``; it may return new arguments.

        A result that is not ``None`` replaces ``args`` (a non-tuple becomes a one-element
        tuple). With ``with_kwargs=True`` the hook is ``hook(module, args, kwargs)`` and returns
        ``None`` or ``(args, kwargs)``. Hooks run in registration order (``prepend=True`` puts
        this one first). Returns a handle whose ``remove()`` unregisters it.
        """
        _check_callable(hook)
        return self._add_hook("_forward_pre_hooks", (hook, bool(with_kwargs)), prepend)

    def register_forward_hook(
        self, hook: Callable[..., Any], *, prepend: bool = False, with_kwargs: bool = False
    ) -> HookHandle:
        """Call ``hook(module, args, output)`` after each ``forward``; it may return a new output.

        ``args`` are the arguments ``forward`` received (after the pre-hooks). A result that is
        not ``None`` replaces the output. With ``with_kwargs=True`` the hook is
        ``hook(module, args, kwargs, output)``. Returns a handle whose ``remove()`` unregisters it.
        """
        _check_callable(hook)
        return self._add_hook("_forward_hooks", (hook, bool(with_kwargs)), prepend)

    def register_full_backward_pre_hook(
        self, hook: Callable[..., Any], *, prepend: bool = False
    ) -> HookHandle:
        """Call ``hook(module, grad_output)`` when the gradients of the outputs are known.

        ``grad_output`` has one entry per output (``None`` for non-tensor outputs or outputs
        that do not require grad); the hook may return a replacement tuple of the same length,
        which then flows into the module. Returns a handle whose ``remove()`` unregisters it.
        """
        _check_callable(hook)
        return self._add_hook("_backward_pre_hooks", hook, prepend)

    def register_full_backward_hook(
        self, hook: Callable[..., Any], *, prepend: bool = False
    ) -> HookHandle:
        """Call ``hook(module, grad_input, grad_output)`` when the gradients of the inputs are known.

        ``grad_input`` has one entry per positional argument of the call (the gradient of a
        tensor argument, ``None`` for anything else or a tensor that needs no gradient);
        ``grad_output`` one per output. The hook may return a replacement ``grad_input`` of the
        same length, which then flows on to whatever produced the inputs. If no input needs a
        gradient the hook runs with ``grad_input`` all ``None`` (and may not replace it).
        Returns a handle whose ``remove()`` unregisters it.
        """
        _check_callable(hook)
        return self._add_hook("_backward_hooks", hook, prepend)

    # --- calling --------------------------------------------------------------------------------

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks
                or self._backward_pre_hooks) or id(self) in _in_hooks.ids:
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    def _call_with_hooks(self, args: tuple, kwargs: dict) -> Any:
        """``forward`` wrapped in this module's hooks, in ``torch.nn.Module.__call__``'s order."""
        for hook, with_kwargs in list(self._forward_pre_hooks.values()):
            if with_kwargs:
                res = _call_hook(self, hook, args, kwargs)
                if res is not None:
                    if not (isinstance(res, tuple) and len(res) == 2):
                        raise RuntimeError(
                            "a forward pre-hook registered with with_kwargs=True must return None "
                            f"or a tuple (new_args, new_kwargs), got {type(res).__name__}"
                        )
                    args, kwargs = res
            else:
                res = _call_hook(self, hook, args)
                if res is not None:
                    args = res if isinstance(res, tuple) else (res,)
        backward = None
        if (self._backward_hooks or self._backward_pre_hooks) and grad_mode.enabled:
            backward = _BackwardHooks(self)
            args = backward.wrap_inputs(tuple(args))
        result = self.forward(*args, **kwargs)
        for hook, with_kwargs in list(self._forward_hooks.values()):
            extra = (args, kwargs, result) if with_kwargs else (args, result)
            res = _call_hook(self, hook, *extra)
            if res is not None:
                result = res
        if backward is not None:
            result = backward.wrap_outputs(result)
        return result

    # --- traversal ------------------------------------------------------------------------------

    def named_modules(
        self, memo: set[Module] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """This module and every submodule, depth-first (parents first), with dotted names.

        A module reachable by several paths comes once, under its first name, unless
        ``remove_duplicate=False``. ``memo`` (modules to leave out) is ``torch.nn``'s argument.
        """
        seen: set[int] = set() if memo is None else {id(m) for m in memo}
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            if remove_duplicate:
                seen.add(id(m))
                if memo is not None:
                    memo.add(m)
            yield name, m
            children = [(f"{name}.{k}" if name else k, c) for k, c in m._modules.items() if c is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct submodules with their names (one registered under two names comes once)."""
        seen: set[int] = set()
        for k, c in self._modules.items():
            if c is not None and id(c) not in seen:
                seen.add(id(c))
                yield k, c

    def children(self) -> Iterator[Module]:
        for _, c in self.named_children():
            yield c

    def get_submodule(self, target: str) -> Module:
        """The submodule at the dotted path ``target`` (``""`` is this module)."""
        m: Module = self
        if target == "":
            return m
        for part in target.split("."):
            child = m._modules.get(part)
            if child is None:
                raise AttributeError(f"{type(m).__name__} has no submodule {part!r} (looking up {target!r})")
            m = child
        return m

    def _named_members(
        self, table: str, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        mods = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse
                else [(prefix, self)])
        for mname, m in mods:
            for k, v in getattr(m, table).items():
                if v is None or id(v) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(v))
                yield (f"{mname}.{k}" if mname else k), v

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """Every parameter once (shared ones are not repeated unless ``remove_duplicate=False``),
        with its dotted name; ``recurse=False`` gives this module's own only."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every submodule, then on this module (children first, as in
        ``torch.nn``: e.g. ``model.apply(init_weights)``); returns self."""
        for c in self.children():
            c.apply(fn)
        fn(self)
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
        """Forget the gradients of every parameter: ``None``, or, with ``set_to_none=False``,
        zeros for those that have one (as ``torch.nn.Module.zero_grad``)."""
        for p in self.parameters():
            if set_to_none or p._grad is None:
                p._grad = None
            else:
                p._grad = p._backend.xp.zeros_like(p.value)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Make every parameter require a gradient or not (freezing a part); returns self."""
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
        """``torch.nn.Module``'s layout: ``Name(extra)``, or one line per extra line and child."""
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({k}): " + repr(c).replace("\n", "\n  ") for k, c in self._modules.items()]
        lines = extra_lines + child_lines
        body = ""
        if len(extra_lines) == 1 and not child_lines:
            body = extra_lines[0]
        elif lines:
            body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{type(self).__name__}({body})"


def new_parameter(shape: tuple[int, ...], dtype: Any = None, fill: float = 0.0) -> Parameter:
    """A Parameter of ``shape`` on the active backend, filled with ``fill`` (layers then init it)."""

    be = get_backend()
    native = be.default_float if dtype is None else _dtypes.to_native(be, dtype)
    return Parameter(be.xp.full(tuple(shape), fill, dtype=native, device=be.device), backend=be)


def new_buffer(shape: tuple[int, ...], dtype: Any = None, fill: float = 0.0) -> Tensor:
    """A non-trainable tensor for :meth:`Module.register_buffer` (running statistics)."""
    p = new_parameter(shape, dtype, fill)
    return Tensor(p.value, requires_grad=False, backend=p._backend)


# --- full backward hooks ---------------------------------------------------------------------------


class _BackwardHooks:
    """One call's full backward hooks (``torch.utils.hooks.BackwardHook``'s design).

    The call's tensor inputs go through one identity node and its tensor outputs through another.
    The backward pass reaches the output node first: its pull-back sees ``grad_output``, runs the
    backward pre-hooks (which may replace it) and keeps it; the input node's pull-back then sees
    ``grad_input`` and runs the backward hooks (which may replace it). Each call has its own
    object, so a module used twice in one graph gets its hooks called once per use.
    """

    __slots__ = ("module", "n_inputs", "input_idx", "in_backend", "n_outputs", "output_idx",
                 "out_backend", "grad_outputs")

    def __init__(self, module: Module) -> None:
        self.module = module
        self.n_inputs = self.n_outputs = 0
        self.input_idx: list[int] | None = None
        self.output_idx: list[int] | None = None
        self.in_backend = self.out_backend = None
        self.grad_outputs: tuple | None = None

    def wrap_inputs(self, args: tuple) -> tuple:
        self.n_inputs = len(args)
        idx = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        if not idx:
            return args
        self.input_idx, self.in_backend = idx, args[idx[0]]._backend
        new = list(args)
        for i, t in zip(idx, _INPUT_HOOK(*(args[i] for i in idx), hooks=self)):
            new[i] = t
        return tuple(new)

    def wrap_outputs(self, result: Any) -> Any:
        outs = result if isinstance(result, tuple) else (result,)
        self.n_outputs = len(outs)
        idx = [i for i, o in enumerate(outs) if isinstance(o, Tensor) and o.requires_grad]
        if not idx:
            return result
        self.output_idx, self.out_backend = idx, outs[idx[0]]._backend
        new = list(outs)
        for i, t in zip(idx, _OUTPUT_HOOK(*(outs[i] for i in idx), hooks=self)):
            new[i] = t
        if not isinstance(result, tuple):
            return new[0]
        return tuple(new) if type(result) is tuple else type(result)(*new)  # a namedtuple stays one

    def output_grads(self, create: bool, g: tuple) -> list:
        """The output node's pull-back: record ``grad_output`` (after the pre-hooks)."""
        m, idx = self.module, self.output_idx
        grads: list = [None] * self.n_outputs
        for j, i in enumerate(idx):
            grads[i] = _as_tensor(g[j], self.out_backend)
        grad_outputs = tuple(grads)
        for hook in list(m._backward_pre_hooks.values()):
            res = _call_hook(m, hook, grad_outputs)
            if res is not None:
                grad_outputs = _replacement(res, len(grad_outputs), "backward pre-hook", "grad_output")
        self.grad_outputs = grad_outputs
        if self.input_idx is None:  # no input needs a gradient: the hooks run now, informed only
            none = (None,) * self.n_inputs
            for hook in list(m._backward_hooks.values()):
                res = _call_hook(m, hook, none, grad_outputs)
                if res is not None and not (isinstance(res, tuple) and all(r is None for r in res)):
                    raise RuntimeError(
                        f"a backward hook of {type(m).__name__} returned a grad_input, but no input "
                        "of this call requires grad: it must return None"
                    )
            self.grad_outputs = None
        return [_cotangent(grad_outputs[i], g[j], create, self.out_backend, "grad_output")
                for j, i in enumerate(idx)]

    def input_grads(self, create: bool, g: tuple) -> list:
        """The input node's pull-back: run the backward hooks on ``grad_input``."""
        if self.grad_outputs is None:
            # the gradient reached the inputs without passing through this call's outputs
            # (e.g. a second-order pass through the first one's gradient): as in torch, no hook
            return list(g)
        m, idx = self.module, self.input_idx
        grads: list = [None] * self.n_inputs
        for j, i in enumerate(idx):
            grads[i] = _as_tensor(g[j], self.in_backend)
        grad_input = tuple(grads)
        for hook in list(m._backward_hooks.values()):
            res = _call_hook(m, hook, grad_input, self.grad_outputs)
            if res is not None:
                grad_input = _replacement(res, len(grad_input), "backward hook", "grad_input")
        self.grad_outputs = None
        return [_cotangent(grad_input[i], g[j], create, self.in_backend, "grad_input")
                for j, i in enumerate(idx)]


def _as_tensor(g: Any, backend: Backend) -> Tensor:
    return g if isinstance(g, Tensor) else _wrap(g, backend, None, 0)


def _replacement(res: Any, n: int, who: str, what: str) -> tuple:
    if isinstance(res, Tensor) and n == 1:
        res = (res,)
    if not isinstance(res, (tuple, list)) or len(res) != n:
        got = f"a {type(res).__name__}" + (f" of length {len(res)}" if isinstance(res, (tuple, list)) else "")
        raise RuntimeError(f"a {who} must return None or a tuple of {n} {what} entries, got {got}")
    return tuple(res)


def _cotangent(new: Any, old: Any, create: bool, backend: Backend, what: str) -> Any:
    """A hook's gradient in the form the engine walks: a Tensor when the backward pass is recorded
    (``create_graph``), else the backend array. ``None`` stops the gradient there."""
    if new is None:
        return None
    arr = new.value if isinstance(new, Tensor) else new
    if tuple(arr.shape) != tuple(old.shape):
        raise ValueError(
            f"a module backward hook replaced a {what} of shape {tuple(old.shape)} by one of shape "
            f"{tuple(arr.shape)}; a hook must keep the shape"
        )
    if create:
        return new if isinstance(new, Tensor) else _wrap(new, backend, None, 0)
    return arr


def _identity(xp: Any, *vals: Any, hooks: _BackwardHooks) -> tuple:
    return tuple(vals)


def _identity_jvp(xp: Any, dargs: Sequence[Any], ans: Any, *args: Any, hooks: _BackwardHooks) -> tuple:
    return tuple(dargs)  # forward mode passes straight through (the hooks are reverse-mode only)


_INPUT_HOOK = Primitive(
    "module_backward_hook(inputs)", _identity, multi_output=True, joint_jvp=_identity_jvp,
    joint_vjp=lambda xp, g, ans, *vals, hooks: hooks.input_grads(xp is TENSOR_OPS, g),
)
_OUTPUT_HOOK = Primitive(
    "module_backward_hook(outputs)", _identity, multi_output=True, joint_jvp=_identity_jvp,
    joint_vjp=lambda xp, g, ans, *vals, hooks: hooks.output_grads(xp is TENSOR_OPS, g),
)
# Not declared with ``primitive()``: they are bookkeeping of one module call, like custom_vjp's
# nodes, not operations of the namespace (the primitive table lists those).


# --- functional_call -----------------------------------------------------------------------------

_MISSING = object()


def functional_call(
    module: Module,
    parameters_and_buffers: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    args: Any = None,
    kwargs: Mapping[str, Any] | None = None,
    *,
    tie_weights: bool = True,
    strict: bool = False,
) -> Any:
    """Call ``module(*args, **kwargs)`` with the given tensors in place of its parameters and
    buffers (by dotted name, as in ``state_dict``), as ``torch.func.functional_call`` does.

    The module is left exactly as it was afterwards, even when the call raises. The result is
    differentiable with respect to the given tensors, so a model becomes a pure function of its
    weights: ``agrad.grad(lambda p: loss(functional_call(model, p, (x,))))(params)``.

    ``parameters_and_buffers`` is a dict, or a tuple of dicts with distinct keys; names not given
    keep the module's own tensors. ``args`` that is not a tuple is the single argument.
    ``tie_weights``: a tensor registered under several names (shared weights) takes the value
    given for any of them (giving different values for the names of one tensor is an error).
    ``strict``: every parameter and buffer must be given, and nothing else.
    """
    values = _merge(parameters_and_buffers)
    if tie_weights:
        values = _untie(module, values)
    if strict:
        _check_keys(module, values)
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    tables: dict[int, tuple[OrderedDict, list]] = {}  # each touched table as it was, in order
    swapped: list[tuple[str, Module, str, Any, Any]] = []  # (key, module, name, value, old attr)
    try:
        for key, value in values.items():
            path, _, name = key.rpartition(".")
            m = module.get_submodule(path)
            for table in (m._parameters, m._buffers):
                tables.setdefault(id(table), (table, list(table.items())))
            old_attr = m.__dict__.get(name, _MISSING)
            swapped.append((key, m, name, _swap(m, name, value), old_attr))
        return module(*args, **(kwargs or {}))
    finally:
        write_back = isinstance(parameters_and_buffers, dict)
        for key, m, name, value, old_attr in reversed(swapped):
            if write_back and key in parameters_and_buffers:
                # forward rebound it (``self.buf = ...``): the caller's dict gets the new tensor,
                # as torch's does; the module gets its own back
                current = m.__dict__.get(name, _MISSING)
                if current is not value and current is not _MISSING:
                    parameters_and_buffers[key] = current
            if old_attr is _MISSING:
                m.__dict__.pop(name, None)
            else:
                m.__dict__[name] = old_attr
        for table, items in tables.values():
            table.clear()
            table.update(items)


def stack_module_state(models: Sequence[Module]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The parameters and buffers of same-shaped ``models``, each stacked along a new leading
    axis, as ``torch.func.stack_module_state``: an ensemble runs as one
    ``agrad.vmap(lambda p, b, x: functional_call(model, (p, b), (x,)), in_axes=(0, 0, None))``.
    The stacked parameters are new leaves that require grad (detached from the models)."""
    models = list(models)
    if not models:
        raise ValueError("stack_module_state: needs at least one model")
    names = [n for n, _ in models[0].named_parameters()]
    for m in models[1:]:
        if [n for n, _ in m.named_parameters()] != names:
            raise ValueError("stack_module_state: the models must have the same parameter names")

    def stacked(tables: list[dict[str, Any]], grad: bool) -> dict[str, Any]:
        out = {}
        for key in tables[0]:
            t = stack([tab[key].detach() for tab in tables])
            out[key] = t.requires_grad_() if grad and _dtypes.is_floating(t.dtype) else t
        return out

    params = stacked([dict(m.named_parameters()) for m in models], True)
    buffers = stacked([dict(m.named_buffers()) for m in models], False)
    return params, buffers


def _merge(given: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    if isinstance(given, Mapping):
        return dict(given)
    if not isinstance(given, Sequence) or not all(isinstance(d, Mapping) for d in given):
        raise ValueError(
            "functional_call: parameters_and_buffers must be a dict, or a tuple/list of dicts, "
            f"got {type(given).__name__}"
        )
    merged: dict[str, Any] = {}
    repeated = []
    for d in given:
        for k, v in d.items():
            if k in merged:
                repeated.append(k)
            merged[k] = v
    if repeated:
        raise ValueError(
            f"functional_call: {sorted(set(repeated))} appeared in several dictionaries; which "
            "value to use is ambiguous"
        )
    return merged


def _all_names(module: Module) -> dict[str, Tensor]:
    """Every parameter and buffer under every name it has (shared ones under each)."""
    named: dict[str, Tensor] = dict(module.named_parameters(remove_duplicate=False))
    named.update(module.named_buffers(remove_duplicate=False))
    return named


def _untie(module: Module, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with every name of a shared tensor given the value given for one of them."""
    groups: dict[int, list[str]] = {}
    for name, t in _all_names(module).items():
        groups.setdefault(id(t), []).append(name)
    out = dict(values)
    for names in groups.values():
        if len(names) < 2:
            continue
        given = [n for n in names if n in values]
        if not given:
            continue
        if len({id(values[n]) for n in given}) > 1:
            raise ValueError(
                f"functional_call got several values for {sorted(names)}, which are one tensor "
                "(tied weights); give one of them, or pass tie_weights=False"
            )
        for n in names:
            out[n] = values[given[0]]
    return out


def _check_keys(module: Module, values: dict[str, Any]) -> None:
    own = _all_names(module)
    unexpected = [k for k in values if k not in own]
    missing = [k for k in own if k not in values]
    problems = []
    if unexpected:
        problems.append(f"Unexpected key(s): {', '.join(map(repr, unexpected))}.")
    if missing:
        problems.append(f"Missing key(s): {', '.join(map(repr, missing))}.")
    if problems:
        raise RuntimeError(
            f"Error(s) in reparametrizing for {type(module).__name__}:\n\t" + "\n\t".join(problems)
        )


def _swap(m: Module, name: str, value: Any) -> Any:
    """Put ``value`` in the place of ``m``'s tensor ``name`` (its table entry, if registered, and
    its attribute), bypassing registration so the tables keep their order. Returns the value set
    (a backend array or number becomes a constant Tensor on the backend of the one it replaces)."""
    table = m._parameters if name in m._parameters else m._buffers if name in m._buffers else None
    if value is not None and not isinstance(value, Tensor):
        like = table.get(name) if table is not None else None
        be = like._backend if isinstance(like, Tensor) else None
        value = Tensor(value, requires_grad=False, backend=be)
    if table is not None:
        table[name] = value
    object.__setattr__(m, name, value)
    return value
