"""The reverse-mode graph walk. Iterative (no recursion limit), short enough to read at once.

1. Sort the recorded nodes reachable from the outputs (depth-first, with an explicit stack).
2. Visit them consumers-first; each node turns its output cotangents into input cotangents with
   its primitive's VJP rules; cotangents reaching one tensor from several consumers are summed.
3. Leaves (and any tensors asked for in ``inputs``) receive the result.

Raw mode runs the rules on backend arrays with the backend namespace. ``create_graph`` mode runs
them on Tensors with agrad's namespace, so the backward pass is itself recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agrad._base.modes import grad_mode, modes
from agrad._core import anomaly as _anomaly
from agrad._core import hooks as _hooks
from agrad._core.batching import BatchedOut, BatchedTensor
from agrad._core.primitive import TENSOR_OPS, Node, raw_ops
from agrad._core.tensor import Tensor, _wrap

_RELEASED = (
    "this graph was already released by an earlier backward pass; pass retain_graph=True to "
    "the first backward() to walk it twice, or run the forward pass again"
)


def _toposort(roots: Sequence[Node], stop: dict | None = None) -> list[Node]:
    """Nodes reachable from ``roots``, each after all of the nodes it consumes (post-order).

    Tensors whose id is in ``stop`` are boundaries: the walk does not go past them.
    """
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
        for a, v in zip(node.args, node.vals):
            if isinstance(a, Tensor) and a._node is not None:
                if a.value is not v:
                    raise RuntimeError(_modified_in_place(a, node))
                if id(a._node) not in seen and (stop is None or id(a) not in stop):
                    stack.append((a._node, False))
    return order


def _modified_in_place(a: Tensor, node: Node) -> str:
    return (
        f"a tensor of shape {a.shape} used by agrad.{node.prim.name} was modified in place "
        "afterwards (x[...] = v or x += v), so the graph recorded before no longer describes it. "
        "Use the out-of-place form (y = x + v, or agrad.where) where the earlier value is still "
        "needed, or call backward before modifying it."
    )


def _leading_to(order: list[Node], stop: dict) -> set[int]:
    """The ids of the nodes in ``order`` from which some tensor in ``stop`` can be reached."""
    reach: set[int] = set()
    for node in order:  # post-order: a node's inputs come before it
        for a in node.args:
            if isinstance(a, Tensor) and (id(a) in stop or id(a._node) in reach):
                reach.add(id(node))
                break
    return reach


def _seed(out: Tensor, cotangent: Any, create_graph: bool) -> Any:
    """The starting cotangent: ones for a scalar output, else the caller's (checked) array."""
    if cotangent is None:
        if out.shape != () and out.size != 1:
            raise RuntimeError(
                f"backward() on a tensor of shape {out.shape} needs a cotangent: pass "
                f"gradient=<array of shape {out.shape}>, or reduce it to a scalar first "
                "(e.g. loss.sum() or loss.mean())"
            )
        if isinstance(out, BatchedTensor):  # one example's scalar: an unbatched one
            return _wrap(out._backend.xp.ones((), dtype=out.value.dtype,
                                              device=getattr(out.value, "device", None)),
                         out._backend, None, 0)
        cotangent = out._backend.xp.ones_like(out.value)
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
    stop_at_inputs: bool = False,
) -> dict[int, tuple[Tensor, Any]]:
    """Cotangents of ``outputs`` pulled back to the leaves (or to ``inputs``).

    Returns ``{id(tensor): (tensor, gradient)}``: raw arrays, or Tensors under ``create_graph``.
    ``stop_at_inputs`` treats ``inputs`` as independent variables: the walk neither goes past
    them nor runs rules that cannot reach them (what the functional transforms need).
    """
    retain = create_graph if retain_graph is None else retain_graph
    pending: dict[int, list] = {}  # id(node) -> per-output cotangent (None = zero)
    result: dict[int, tuple[Tensor, Any]] = {}
    wanted = {id(t): t for t in inputs} if inputs is not None else None
    stop = wanted if stop_at_inputs else None
    anomaly = modes.anomaly  # this thread's detect_anomaly: check every cotangent
    roots = []
    if not create_graph and modes.batch and any(isinstance(o, BatchedTensor) for o in outputs):
        raise RuntimeError(
            "backward() of a tensor batched by agrad.vmap: the batch has no single gradient to "
            "store. Inside vmap, use agrad.grad / agrad.vjp (per-example gradients), or call "
            "backward() on the result of vmap."
        )
    for out, ct in zip(outputs, cotangents):
        if not out.requires_grad:
            raise RuntimeError(
                "backward(): this tensor does not require grad, so it has no graph. Create the "
                "inputs with requires_grad=True (agrad.Tensor does so for floating data), and "
                "make sure the computation did not run under agrad.no_grad()."
            )
        g = _seed(out, ct, create_graph)
        _accumulate(out, g, pending, result, stop)
        if out._node is not None and (stop is None or id(out) not in stop):
            roots.append(out._node)

    previous = grad_mode.enabled  # set directly: a context manager per backward() costs ~1 us
    grad_mode.enabled = create_graph
    try:
        order = _toposort(roots, stop)
        reach = _leading_to(order, stop) if stop is not None else None
        for node in reversed(order):
            gs = pending.pop(id(node), None)
            if gs is None or reach is not None and id(node) not in reach:
                continue
            if node.hooks is not None:
                gs = _hooks.run_node_hooks(node, gs, create_graph)
            if wanted is not None:
                _capture(node, gs, wanted, result)
            _pull_back(node, gs, pending, result, stop, create_graph, anomaly)
            if not retain:
                node.release()
        if _hooks.LEAF_HOOKS:
            _hooks.run_leaf_hooks(result, create_graph)
    finally:
        grad_mode.enabled = previous
    return result


def _pull_back(node: Node, gs: list, pending: dict, result: dict, stop, create_graph: bool,
               anomaly: bool) -> None:
    prim, backend, params = node.prim, node.backend, node.params
    if create_graph:
        xp = TENSOR_OPS
        joint_rule = prim.joint_vjp
        args = node.args
        if prim.multi_output:
            ans = tuple(_ans(o, backend, node, i) for i, o in enumerate(node.out))
        else:
            ans = _ans(node.out, backend, node, 0)
    else:
        xp = raw_ops(backend)
        joint_rule = prim.joint_vjp if prim.vjp_kernel is None else prim.raw_joint_vjp(backend)
        args = node.vals
        ans = node.out
    if prim.multi_output:
        g = tuple(gi if gi is not None else xp.zeros_like(a) for gi, a in zip(gs, ans))
    else:
        g = gs[0]
    joint = joint_rule(xp, g, ans, *args, **params) if joint_rule is not None else None
    if joint is NotImplemented:  # a fused pull-back declined: the portable rules run
        joint = prim.joint_vjp(xp, g, ans, *args, **params) if prim.joint_vjp is not None else None
    vjp, each = prim.vjp, prim.variadic_vjp
    for i, a in enumerate(node.args):
        if isinstance(a, Tensor) and a.requires_grad:
            if joint is not None:
                gi = joint[i]
            elif each is not None:
                gi = each(i, xp, g, ans, *args, **params)
            else:
                rule = vjp[i] if i < len(vjp) else None
                if rule is None:
                    continue
                gi = rule(xp, g, ans, *args, **params)
            if gi is None:
                continue
            if anomaly:
                _anomaly.check_backward(node, i, gi)
            if not create_graph:
                want, got = a.value.dtype, gi.dtype
                if got is not want and got != want:
                    gi = backend.xp.astype(gi, want)
            _accumulate(a, gi, pending, result, stop)


def _ans(out: Any, backend: Any, node: Node, i: int) -> Tensor:
    """Output ``i`` of ``node`` as a Tensor recorded by it (batched if ``vmap`` batched it)."""
    if isinstance(out, BatchedOut):
        return out.wrap(node, i)
    return _wrap(out, backend, node, i)


def _accumulate(t: Tensor, g: Any, pending: dict, result: dict, stop) -> None:
    node = t._node
    if node is None or stop is not None and id(t) in stop:
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
    if modes.trace:
        raise RuntimeError(
            "backward() inside agrad.jit: write the step with agrad.grad / agrad.value_and_grad "
            "(jit(value_and_grad(loss))), whose gradients are part of the compiled program"
        )
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
