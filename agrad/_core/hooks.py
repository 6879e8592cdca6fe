"""Gradient hooks: ``Tensor.register_hook(fn)`` and ``Tensor.retain_grad()``.

A hook receives the tensor's finished gradient (a Tensor; differentiable under
``create_graph=True``) and may return a replacement (or ``None`` to keep it). Hooks of a
non-leaf tensor live on the node that produced it and run when the walk reaches that node, before
the gradient flows further; hooks of a leaf run on its total gradient at the end of the pass.
Registering a hook raises ``agrad._core.primitive.BWD_ACTIVE``, the only thing the engine checks on
the plain path (once per backward pass); the count drops again when the hook is removed or its
tensor dies.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from agrad._core.primitive import adjust_flags
from agrad._core.tensor import Tensor, _wrap

Hook = Callable[[Tensor], Any]

_LEAF_HOOKS: dict[int, tuple[weakref.ref, list[Hook]]] = {}


class RemovableHandle:
    """Returned by ``register_hook``; ``handle.remove()`` unregisters the hook."""

    __slots__ = ("_hooks", "_fn", "_key", "_done", "__weakref__")

    def __init__(self, hooks: list[Hook], fn: Hook, key: int | None) -> None:
        self._hooks, self._fn, self._key, self._done = hooks, fn, key, False
        adjust_flags(bwd=1)

    def remove(self) -> None:
        if self._done:
            return
        self._done = True
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)
        if self._key is not None and not self._hooks:
            _LEAF_HOOKS.pop(self._key, None)
        adjust_flags(bwd=-1)


def register_hook(t: Tensor, fn: Hook) -> RemovableHandle:
    """Call ``fn(grad)`` whenever a backward pass computes ``t``'s gradient (see module doc)."""
    if not callable(fn):
        raise TypeError(f"register_hook needs a callable, got {type(fn).__name__}")
    if not t.requires_grad:
        raise RuntimeError(
            "register_hook on a tensor that does not require grad: no gradient will ever reach "
            "it. Create it with requires_grad=True (or call .requires_grad_())."
        )
    node = t._node
    if node is None:
        key = id(t)
        entry = _LEAF_HOOKS.get(key)
        if entry is None or entry[0]() is not t:
            entry = _LEAF_HOOKS[key] = (weakref.ref(t), [])
        hooks, owner = entry[1], t
    else:
        key = None
        table = getattr(node, "hooks", None)
        if table is None:
            table = node.hooks = {}
        hooks, owner = table.setdefault(t._idx, []), node
    hooks.append(fn)
    handle = RemovableHandle(hooks, fn, key)
    weakref.finalize(owner, handle.remove)
    return handle


def retain_grad(t: Tensor) -> None:
    """Keep a non-leaf tensor's gradient in ``.grad`` after backward (leaves always keep it)."""
    if t._node is None:
        return
    hooks = getattr(t._node, "hooks", None) or {}
    if any(getattr(fn, "_agrad_retain", False) for fn in hooks.get(t._idx, ())):
        return
    ref = weakref.ref(t)

    def keep(grad: Tensor) -> None:
        owner = ref()
        if owner is not None:
            owner._grad = grad if grad.requires_grad else grad.value

    keep._agrad_retain = True  # type: ignore[attr-defined]
    register_hook(t, keep)


def _apply(fns: list[Hook], g: Any, backend, create_graph: bool) -> Any:
    for fn in list(fns):
        gt = g if isinstance(g, Tensor) else _wrap(g, backend, None, 0)
        new = fn(gt)
        if new is None:
            continue
        if create_graph:
            g = new if isinstance(new, Tensor) else _wrap(new, backend, None, 0)
        else:
            g = new.value if isinstance(new, Tensor) else new
        if tuple(g.shape) != tuple(gt.shape):
            raise ValueError(
                f"gradient hook {getattr(fn, '__name__', fn)!r} returned shape {tuple(g.shape)} "
                f"for a gradient of shape {tuple(gt.shape)}; a hook must keep the shape"
            )
    return g


def run_node_hooks(node: Any, gs: list, create_graph: bool) -> list:
    """The finished output cotangents of ``node`` after its tensors' hooks."""
    table = getattr(node, "hooks", None)
    if table:
        for idx, fns in table.items():
            if fns and gs[idx] is not None:
                gs[idx] = _apply(fns, gs[idx], node.backend, create_graph)
    return gs


def run_leaf_hooks(result: dict, create_graph: bool) -> None:
    """Apply leaf hooks to the leaves' total gradients in a backprop ``result`` (in place)."""
    if not _LEAF_HOOKS:
        return
    for key, (t, g) in list(result.items()):
        entry = _LEAF_HOOKS.get(key)
        if entry is not None and entry[0]() is t and entry[1]:
            result[key] = (t, _apply(entry[1], g, t._backend, create_graph))
