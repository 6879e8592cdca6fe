"""User-defined derivative rules: ``agrad.custom_vjp`` and ``agrad.custom_jvp`` (JAX-style).

``custom_vjp``::

    @agrad.custom_vjp
    def f(x): ...
    def f_fwd(x): return f(x), residuals        # residuals: anything bwd needs
    def f_bwd(residuals, g): return (cotangent for x,)   # one entry per positional argument
    f.defvjp(f_fwd, f_bwd)

The call becomes one node of the graph whose pull-back is ``f_bwd``. ``f_fwd`` runs with
recording on, so residuals that depend on the inputs keep that dependence: a backward pass with
``create_graph=True`` (or ``grad(grad(f))``) differentiates ``f_bwd``'s agrad ops, including
through the residuals. Forward mode cannot pass through a custom VJP (as in JAX): it raises.

``custom_jvp``: ``f.defjvp(rule)`` with ``rule(primals, tangents) -> (out, tangent_out)``. Under
forward mode the rule replaces differentiation of ``f``; reverse mode differentiates ``f``
itself (the rule is not transposed).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from agrad._base.modes import enable_grad, grad_mode, modes, no_grad, suspended_levels
from agrad._base.pytree import tree_flatten, tree_unflatten
from agrad._core.batching import precomputed
from agrad._core.forward import _fit
from agrad._core.primitive import TENSOR_OPS, Primitive
from agrad._core.tensor import Tensor, _wrap


class custom_vjp:  # noqa: N801 - JAX's name
    """Decorate a function to give it a hand-written VJP (see the module doc)."""

    def __init__(self, fun: Callable[..., Any]) -> None:
        self.fun = fun
        self.fwd: Callable[..., Any] | None = None
        self.bwd: Callable[..., Any] | None = None
        self._in_fwd = threading.local()
        functools.update_wrapper(self, fun)

    def defvjp(self, fwd: Callable[..., Any], bwd: Callable[..., Any]) -> custom_vjp:
        self.fwd, self.bwd = fwd, bwd
        return self

    def __call__(self, *args: Any) -> Any:
        if self.fwd is None:
            raise TypeError(f"custom_vjp {self.fun.__name__}: call .defvjp(fwd, bwd) before using it")
        leaves, arg_def = tree_flatten(args)
        tensors = [x for x in leaves if isinstance(x, Tensor)]
        inside_fwd = getattr(self._in_fwd, "on", False)  # fwd may call f itself, as in JAX
        recording = grad_mode.enabled and any(t.requires_grad for t in tensors)
        if inside_fwd or not recording and not modes.levels:
            return self.fun(*args)
        self._in_fwd.on = True
        try:
            with enable_grad():
                out, res = self.fwd(*args)
        finally:
            self._in_fwd.on = False
        out_leaves, out_def = tree_flatten(out)
        backend = tensors[0]._backend
        values = tuple(o.value if isinstance(o, Tensor) else o for o in out_leaves)
        positions = [i for i, x in enumerate(leaves) if isinstance(x, Tensor)]
        bwd, name = self.bwd, self.fun.__name__

        def pull_back(xp: Any, g: tuple, ans: tuple, *vals: Any) -> list:
            create = xp is TENSOR_OPS
            gts = [gi if isinstance(gi, Tensor) else _wrap(gi, backend, None, 0) for gi in g]
            with enable_grad() if create else no_grad():
                cts = bwd(res, tree_unflatten(out_def, gts))
            if not isinstance(cts, (tuple, list)) or len(cts) != len(args):
                raise TypeError(
                    f"custom_vjp {name}: bwd must return a tuple with one cotangent per positional "
                    f"argument ({len(args)}), got {type(cts).__name__}"
                    + (f" of length {len(cts)}" if isinstance(cts, (tuple, list)) else "")
                )
            flat: list = []
            for a, c in zip(args, cts):
                n = len(tree_flatten(a)[0])
                flat.extend([None] * n if c is None else tree_flatten(c)[0])
            picked = [flat[i] for i in positions]
            if create:
                return picked
            return [c.value if isinstance(c, Tensor) else c for c in picked]

        prim = Primitive(f"custom_vjp({name})", lambda xp, *v: values, joint_vjp=pull_back,
                         multi_output=True, batch=precomputed(out_leaves))
        return tree_unflatten(out_def, prim(*tensors))


class custom_jvp:  # noqa: N801 - JAX's name
    """Decorate a function to give it a hand-written JVP (see the module doc)."""

    def __init__(self, fun: Callable[..., Any]) -> None:
        self.fun = fun
        self.rule: Callable[..., Any] | None = None
        functools.update_wrapper(self, fun)

    def defjvp(self, rule: Callable[..., Any]) -> custom_jvp:
        self.rule = rule
        return self

    def __call__(self, *args: Any) -> Any:
        if self.rule is None:
            raise TypeError(f"custom_jvp {self.fun.__name__}: call .defjvp(rule) before using it")
        levels = modes.levels
        leaves, arg_def = tree_flatten(args)
        k = max((i for i, lv in enumerate(levels) for x in leaves
                 if isinstance(x, Tensor) and lv.get(x) is not None), default=None)
        if k is None:
            return self.fun(*args)
        level = levels[k]
        tangents = [_tangent_or_zeros(level, x) if isinstance(x, Tensor) else None for x in leaves]
        with suspended_levels(levels[:k]):
            out, t_out = self.rule(args, tree_unflatten(arg_def, tangents))
        out_leaves, out_def = tree_flatten(out)
        t_leaves, _ = tree_flatten(t_out)
        for o, t in zip(out_leaves, t_leaves):
            if isinstance(o, Tensor) and t is not None:
                level.set(o, _fit(t, o))
        return out


def _tangent_or_zeros(level: Any, x: Tensor) -> Tensor:
    t = level.get(x)
    return _wrap(x._backend.xp.zeros_like(x.value), x._backend, None, 0) if t is None else t
