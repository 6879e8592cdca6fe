"""``agrad.checkpoint(f)``: trade compute for memory by recomputing ``f`` in the backward pass.

The forward pass runs ``f`` without recording, so none of its intermediate activations stay
alive; the call becomes one node whose pull-back runs ``f`` again (recording this time) and
back-propagates through that fresh graph. Tensors that ``f`` closes over (a layer's weights)
are found during the forward pass and become inputs of the node, so they receive their
gradients as usual. Under forward mode (``jvp``) ``f`` simply runs: there is nothing to save; under
``vmap`` it also simply runs (its batching is that of the ops inside, which record normally).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from agrad._base.modes import enable_grad, grad_mode, modes, no_grad, using_modes
from agrad._base.pytree import tree_flatten, tree_unflatten
from agrad._core.engine import backprop
from agrad._core.primitive import TENSOR_OPS, Primitive
from agrad._core.tensor import Tensor, _wrap
from agrad._transforms.functional import alias_p


class _ClosureTracker:
    """Collects the tensors that require grad and were made outside the tracked call."""

    def __init__(self, inputs: list[Tensor]) -> None:
        self.made = {id(t) for t in inputs}
        self.outside: dict[int, Tensor] = {}

    def saw(self, args: tuple, out: Any) -> None:
        for a in args:
            if isinstance(a, Tensor) and a.requires_grad and id(a) not in self.made:
                self.outside[id(a)] = a
        for o in out if isinstance(out, tuple) else (out,):
            self.made.add(id(o))


def checkpoint(f: Callable[..., Any]) -> Callable[..., Any]:
    """``f`` with its activations recomputed during the backward pass instead of stored."""

    @functools.wraps(f)
    def wrapped(*args: Any) -> Any:
        leaves, arg_def = tree_flatten(args)
        explicit = [x for x in leaves if isinstance(x, Tensor) and x.requires_grad]
        if modes.levels or modes.batch or not grad_mode.enabled:
            return f(*args)  # forward mode and vmap: nothing is saved for a backward pass here
        tracker = _ClosureTracker(explicit)
        with using_modes(trackers=(*modes.trackers, tracker)), no_grad():
            out = f(*args)
        inputs = explicit + list(tracker.outside.values())
        if not inputs:
            return out
        out_leaves, out_def = tree_flatten(out)
        values = tuple(o.value for o in out_leaves)
        n_explicit = len(explicit)

        def recompute(xp: Any, g: tuple, ans: tuple, *vals: Any) -> list:
            create = xp is TENSOR_OPS
            if create:
                fresh = [alias_p(t) for t in vals[:n_explicit]]
            else:
                fresh = [_wrap(v, t._backend, None, 0) for v, t in zip(vals, explicit)]
                for t in fresh:
                    t.requires_grad = True
            swap = {id(t): a for t, a in zip(explicit, fresh)}
            with enable_grad():
                again = f(*tree_unflatten(arg_def, [swap.get(id(x), x) for x in leaves]))
            outs = tree_flatten(again)[0]
            live = [(o, gi) for o, gi in zip(outs, g) if isinstance(o, Tensor) and o.requires_grad]
            wanted = fresh + inputs[n_explicit:]
            res = backprop([o for o, _ in live], [gi for _, gi in live], inputs=wanted,
                           create_graph=create, stop_at_inputs=True) if live else {}
            return [res[id(w)][1] if id(w) in res else None for w in wanted]

        prim = Primitive(f"checkpoint({getattr(f, '__name__', 'f')})", lambda xp, *v: values,
                         joint_vjp=recompute, multi_output=True)
        return tree_unflatten(out_def, prim(*inputs))

    return wrapped
