"""Gradient hooks: ``Tensor.register_hook(fn)`` and ``Tensor.retain_grad()``.

A hook receives the tensor's finished gradient (a Tensor; differentiable under
``create_graph=True``) and may return a replacement (or ``None`` to keep it). Hooks of a
non-leaf tensor live on the node that produced it (they go with the graph: a released node
drops them) and run when the walk reaches that node, before the gradient flows further; hooks of
a leaf run on its total gradient at the end of the pass and go when the leaf dies. Nothing is
counted globally: a backward pass looks only at the nodes it walks and the leaves it reaches.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from agrad._core.tensor import Tensor, _wrap

Hook = Callable[[Tensor], Any]

LEAF_HOOKS: dict[int, tuple[weakref.ref, list[Hook]]] = {}
"""``{id(leaf): (weakref to the leaf, its hooks)}``; an entry leaves with its tensor."""


def _forget(ref: weakref.ref, key: int) -> None:
    entry = LEAF_HOOKS.get(key)
    if entry is not None and entry[0] is ref:
        del LEAF_HOOKS[key]


class RemovableHandle:
    """Returned by ``register_hook``; ``handle.remove()`` unregisters the hook."""

    __slots__ = ("_hooks", "_fn", "_key", "__weakref__")

    def __init__(self, hooks: list[Hook], fn: Hook, key: int | None) -> None:
        self._hooks, self._fn, self._key = hooks, fn, key

    def remove(self) -> None:
        hooks, self._hooks = self._hooks, None
        if hooks is None:
            return
        if self._fn in hooks:
            hooks.remove(self._fn)
        entry = LEAF_HOOKS.get(self._key) if self._key is not None else None
        if entry is not None and entry[1] is hooks and not hooks:
            del LEAF_HOOKS[self._key]


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
        entry = LEAF_HOOKS.get(key)
        if entry is None or entry[0]() is not t:
            ref = weakref.ref(t, lambda r, key=key: _forget(r, key))
            entry = LEAF_HOOKS[key] = (ref, [])
        hooks = entry[1]
    else:
        if node.args is None:
            raise RuntimeError("register_hook on a tensor whose graph was already released by a "
                               "backward pass: run the forward pass again")
        key = None
        if node.hooks is None:
            node.hooks = {}
        hooks = node.hooks.setdefault(t._idx, [])
    hooks.append(fn)
    return RemovableHandle(hooks, fn, key)


def retain_grad(t: Tensor) -> None:
    """Keep a non-leaf tensor's gradient in ``.grad`` after backward (leaves always keep it)."""
    if t._node is None:
        return
    hooks = t._node.hooks or {}
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
    table = node.hooks
    if table:
        for idx, fns in table.items():
            if fns and gs[idx] is not None:
                gs[idx] = _apply(fns, gs[idx], node.backend, create_graph)
    return gs


def run_leaf_hooks(result: dict, create_graph: bool) -> None:
    """Apply leaf hooks to the leaves' total gradients in a backprop ``result`` (in place)."""
    for key, (t, g) in list(result.items()):
        entry = LEAF_HOOKS.get(key)
        if entry is not None and entry[0]() is t and entry[1]:
            result[key] = (t, _apply(entry[1], g, t._backend, create_graph))
