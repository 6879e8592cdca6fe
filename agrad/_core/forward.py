"""Forward mode: tangents pushed through each primitive by its JVP rules, tagged by level.

A :class:`ForwardLevel` is one ``jvp`` in progress. It maps primal tensors (by identity) to their
tangent tensors. While levels are active every primitive call takes the special path
(``agrad._core.primitive._special_call``), which, after the primal computation, asks
:func:`push_tangents` to compute the output's tangent at each level from the JVP rules of the
arguments that have one (contributions summed).

Nesting works like JAX's tracer levels: the tangent at level ``k`` is computed with only the
levels below ``k`` active, using agrad's own namespace on Tensors. Those tangent computations
are therefore themselves pushed forward by the outer levels (``jvp`` of ``jvp``) and recorded by
the reverse-mode engine (forward-over-reverse and reverse-over-forward). Levels are processed
outermost first, so that ``ans`` already carries its outer tangents when an inner rule uses it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from agrad._base.modes import modes, next_level_id, using_modes
from agrad._core.primitive import TENSOR_OPS, Primitive, _mode_hooks
from agrad._core.tensor import Tensor


def _key(t: Tensor) -> Any:
    # A recorded tensor is identified by its node and output index: the engine re-wraps node
    # outputs as new Tensor objects (``ans`` in create_graph mode), which must keep the tangent.
    node = t._node
    return id(t) if node is None else (id(node), t._idx)


class ForwardLevel:
    """The tangents of one ``jvp``: ``{key(primal): (primal, tangent)}`` (the primal is kept
    alive, so its id and its node's id cannot be reused while the level lasts)."""

    __slots__ = ("tangents", "id")

    def __init__(self) -> None:
        self.tangents: dict[Any, tuple[Tensor, Tensor]] = {}
        self.id = next_level_id()  # orders it against vmap's batching levels

    def get(self, t: Any) -> Tensor | None:
        entry = self.tangents.get(_key(t))
        return None if entry is None else entry[1]

    def set(self, t: Tensor, tangent: Tensor) -> None:
        self.tangents[_key(t)] = (t, tangent)


@contextlib.contextmanager
def forward_level() -> Iterator[ForwardLevel]:
    """Open a new innermost forward-mode level for the duration of the block."""
    level = ForwardLevel()
    with using_modes(levels=(*modes.levels, level)):
        yield level


class MissingJVPRule(NotImplementedError):
    """Forward mode reached a primitive that has a VJP but no JVP rule."""


def _missing(prim: Primitive, i: int) -> MissingJVPRule:
    return MissingJVPRule(
        f"agrad.{prim.name} has no JVP rule for its argument {i}, so forward mode (jvp, jacfwd, "
        "hessian, hvp) cannot pass through it. Use reverse mode instead (agrad.grad, agrad.vjp, "
        f"agrad.jacrev, or jacrev of jacrev for a Hessian), or add a jvp rule to {prim.name}'s "
        "primitive declaration."
    )


def push_tangents(prim: Primitive, args: tuple, params: dict, out: Any, levels: tuple) -> None:
    """Give ``out`` its tangent at each of ``levels`` (some of this thread's active levels) where
    some argument has one."""
    active = modes.levels
    for level in levels:
        dargs = [level.get(a) if isinstance(a, Tensor) else None for a in args]
        if all(d is None for d in dargs):
            continue
        jvp_rules = prim.jvp or ()
        vjp_rules = prim.vjp or ()
        total: Any = None
        modes.set(levels=active[:active.index(level)])  # only outer levels see the computation
        try:
            if prim.joint_jvp is not None:
                total = prim.joint_jvp(TENSOR_OPS, dargs, out, *args, **params)
                dargs = ()
            for i, d in enumerate(dargs):
                if d is None or i >= len(vjp_rules) and prim.joint_vjp is None:
                    continue
                rule = jvp_rules[i] if i < len(jvp_rules) else None
                if rule is None:
                    if prim.joint_vjp is None and vjp_rules[i] is None:
                        continue  # an argument that is never differentiable (condition, indices)
                    raise _missing(prim, i)
                c = rule(TENSOR_OPS, d, out, *args, **params)
                total = c if total is None else _add(total, c, prim.multi_output)
            if total is not None:
                _store(level, out, total, prim.multi_output)
        finally:
            modes.set(levels=active)


def _add(a: Any, b: Any, multi: bool) -> Any:
    if not multi:
        return a + b
    return tuple(y if x is None else x if y is None else x + y for x, y in zip(a, b))


def _fit(t: Tensor, like: Tensor) -> Tensor:
    """A tangent contribution broadcast to its primal's shape (rules may return a broadcastable
    contribution, e.g. ``da`` for ``a + b`` with a smaller ``a``)."""
    if not isinstance(t, Tensor):
        t = Tensor(t, requires_grad=False, backend=like._backend)
    if t.shape != like.shape:
        t = TENSOR_OPS.broadcast_to(t, like.shape)
    if t.value.dtype != like.value.dtype:
        t = TENSOR_OPS.astype(t, like.dtype)
    return t


def _store(level: ForwardLevel, out: Any, total: Any, multi: bool) -> None:
    if multi:
        for o, t in zip(out, total):
            if t is not None:
                level.set(o, _fit(t, o))
    else:
        level.set(out, _fit(total, out))


_mode_hooks["forward"] = push_tangents
