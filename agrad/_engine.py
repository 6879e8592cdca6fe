"""The reverse-mode graph walk. Iterative (no recursion limit), short enough to read at once.

1. Sort the recorded nodes reachable from the outputs (depth-first, with an explicit stack).
2. Visit them consumers-first; each node turns its output cotangents into input cotangents with
   its primitive's VJP rules; cotangents reaching one tensor from several consumers are summed.
3. Leaves (and any tensors asked for in ``inputs``) receive the result.

Raw mode runs the rules on backend arrays with the backend namespace. ``create_graph`` mode runs
them on Tensors with agrad's namespace, so the backward pass is itself recorded.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from agrad._primitive import TENSOR_OPS, Node, grad_mode, raw_ops
from agrad._tensor import Tensor, _wrap


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Record nothing inside the block (this thread only): inference and optimizer updates."""
    previous = grad_mode.enabled
    grad_mode.enabled = False
    try:
        yield
    finally:
        grad_mode.enabled = previous


@contextlib.contextmanager
def enable_grad() -> Iterator[None]:
    """Record again inside a :func:`no_grad` block."""
    previous = grad_mode.enabled
    grad_mode.enabled = True
    try:
        yield
    finally:
        grad_mode.enabled = previous


def is_grad_enabled() -> bool:
    return grad_mode.enabled


_RELEASED = (
    "this graph was already released by an earlier backward pass; pass retain_graph=True to "
    "the first backward() to walk it twice, or run the forward pass again"
)


def _toposort(roots: Sequence[Node]) -> list[Node]:
    """Nodes reachable from ``roots``, each after all of the nodes it consumes (post-order)."""
    order: list[Node] = []
    seen: set[int] = set()
    stack: list[tuple[Node, bool]] = [(n, False) for n in roots]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.args is None:
            raise RuntimeError(f"backward through agrad.{node.prim.name}: {_RELEASED}")
        stack.append((node, True))
        for a in node.args:
            if isinstance(a, Tensor) and a._node is not None and id(a._node) not in seen:
                stack.append((a._node, False))
    return order


def _seed(out: Tensor, cotangent: Any, create_graph: bool) -> Any:
    """The starting cotangent: ones for a scalar output, else the caller's (checked) array."""
    if cotangent is None:
        if out.size != 1:
            raise RuntimeError(
                f"backward() on a tensor of shape {out.shape} needs a cotangent: pass "
                f"gradient=<array of shape {out.shape}>, or reduce it to a scalar first "
                "(e.g. loss.sum() or loss.mean())"
            )
        xp = out._backend.xp
        cotangent = xp.ones_like(out.value)
    if isinstance(cotangent, Tensor):
        if create_graph:
            return cotangent
        cotangent = cotangent.value
    elif not out._backend.is_array(cotangent):
        cotangent = out._backend.asarray(cotangent, dtype=out.value.dtype)
    if tuple(cotangent.shape) != out.shape:
        raise ValueError(
            f"backward(): the cotangent has shape {tuple(cotangent.shape)} but the output has "
            f"shape {out.shape}; they must match"
        )
    return _wrap(cotangent, out._backend, None, 0) if create_graph else cotangent


def backprop(
    outputs: Sequence[Tensor],
    cotangents: Sequence[Any],
    *,
    inputs: Sequence[Tensor] | None = None,
    create_graph: bool = False,
    retain_graph: bool | None = None,
) -> dict[int, tuple[Tensor, Any]]:
    """Cotangents of ``outputs`` pulled back to the leaves (or to ``inputs``).

    Returns ``{id(tensor): (tensor, gradient)}``: raw arrays, or Tensors under ``create_graph``.
    """
    retain = create_graph if retain_graph is None else retain_graph
    pending: dict[int, list] = {}  # id(node) -> per-output cotangent (None = zero)
    result: dict[int, tuple[Tensor, Any]] = {}
    wanted = {id(t): t for t in inputs} if inputs is not None else None
    roots = []
    for out, ct in zip(outputs, cotangents):
        if not out.requires_grad:
            raise RuntimeError(
                "backward(): this tensor does not require grad, so it has no graph. Create the "
                "inputs with requires_grad=True (agrad.Tensor does so for floating data), and "
                "make sure the computation did not run under agrad.no_grad()."
            )
        g = _seed(out, ct, create_graph)
        _accumulate(out, g, pending, result, wanted)
        if out._node is not None:
            roots.append(out._node)

    with grad_mode_for(create_graph):
        for node in reversed(_toposort(roots)):
            gs = pending.pop(id(node), None)
            if gs is None:
                continue
            if wanted is not None:
                _capture(node, gs, wanted, result)
            _pull_back(node, gs, pending, result, wanted, create_graph)
            if not retain:
                node.release()
    return result


def grad_mode_for(create_graph: bool) -> contextlib.AbstractContextManager:
    return enable_grad() if create_graph else no_grad()


def _pull_back(node: Node, gs: list, pending: dict, result: dict, wanted, create_graph: bool):
    prim, backend, params = node.prim, node.backend, node.params
    if create_graph:
        xp = TENSOR_OPS
        args = node.args
        if prim.multi_output:
            ans = tuple(_wrap(o, backend, node, i) for i, o in enumerate(node.out))
        else:
            ans = _wrap(node.out, backend, node, 0)
    else:
        xp = raw_ops(backend)
        args = node.vals
        ans = node.out
    if prim.multi_output:
        g = tuple(gi if gi is not None else xp.zeros_like(a) for gi, a in zip(gs, ans))
    else:
        g = gs[0]
    for i, a in enumerate(node.args):
        if isinstance(a, Tensor) and a.requires_grad:
            rule = prim.vjp[i] if i < len(prim.vjp) else None
            if rule is None:
                continue
            gi = rule(xp, g, ans, *args, **params)
            if gi is None:
                continue
            if gi.dtype != a.value.dtype and not create_graph:
                gi = backend.xp.astype(gi, a.value.dtype)
            _accumulate(a, gi, pending, result, wanted)


def _accumulate(t: Tensor, g: Any, pending: dict, result: dict, wanted) -> None:
    node = t._node
    if node is None:
        entry = result.get(id(t))
        result[id(t)] = (t, g if entry is None else entry[1] + g)
        return
    slots = pending.get(id(node))
    if slots is None:
        n = len(node.out) if node.prim.multi_output else 1
        slots = pending[id(node)] = [None] * n
    old = slots[t._idx]
    slots[t._idx] = g if old is None else old + g


def _capture(node: Node, gs: list, wanted: dict, result: dict) -> None:
    """Record the finished cotangent of any requested non-leaf tensor produced by ``node``."""
    for t in wanted.values():
        if t._node is node and gs[t._idx] is not None:
            result[id(t)] = (t, gs[t._idx])


def backward(
    outputs: Sequence[Tensor],
    cotangents: Sequence[Any],
    *,
    retain_graph: bool = False,
    create_graph: bool = False,
    accumulate: bool = False,
) -> None:
    """``Tensor.backward``: store the fresh gradients on the leaves (or add them)."""
    grads = backprop(outputs, cotangents, create_graph=create_graph,
                     retain_graph=retain_graph or create_graph)
    for t, g in grads.values():
        if accumulate and t._grad is not None:
            old = t._grad
            if isinstance(old, Tensor) and not isinstance(g, Tensor):
                old = old.value
            t._grad = old + g
        else:
            t._grad = g
