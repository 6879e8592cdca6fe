"""Check the JVP rules of a recorded graph against central finite differences.

agrad's forward mode belongs to another module; this helper only needs the rules. It replays a
recorded graph in order, pushing a random tangent through every node's JVP rules (contributions
of several arguments summed), and compares the output tangents with finite differences.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agrad._engine import _toposort, no_grad
from agrad._primitive import raw_ops
from agrad._tensor import Tensor, _wrap
from tests.helpers import to_np


def _outputs(f, args) -> tuple:
    out = f(*args)
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def jvp_check(f: Any, *inputs: Tensor, eps: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-6,
              seed: int = 0) -> None:
    """Raise ``AssertionError`` if the JVP rules along ``f``'s graph disagree with finite differences.

    Also raises ``NotImplementedError`` naming a primitive on the path that has no JVP rule.
    """
    be = inputs[0]._backend
    xp = raw_ops(be)
    state = be.rng.get_state()
    be.rng.seed(seed)
    try:
        directions = [be.rng.normal(t.shape, t.value.dtype) for t in inputs]
    finally:
        be.rng.set_state(state)
    outs = _outputs(f, inputs)
    tangent: dict[tuple[int, int], Any] = {(id(t), -1): d for t, d in zip(inputs, directions)}

    def tangent_of(a: Any) -> Any:
        if not isinstance(a, Tensor):
            return None
        if a._node is None:
            return tangent.get((id(a), -1))
        return tangent.get((id(a._node), a._idx))

    for node in _toposort([o._node for o in outs if o._node is not None]):
        total = None
        for i, a in enumerate(node.args):
            d = tangent_of(a)
            if d is None:
                continue
            rule = node.prim.jvp[i] if node.prim.jvp is not None and i < len(node.prim.jvp) else None
            if rule is None:
                if node.prim.vjp is not None and node.prim.vjp[i] is not None:
                    raise NotImplementedError(f"agrad.{node.prim.name} has no JVP rule for argument {i}")
                continue
            c = rule(xp, d, node.out, *node.vals, **node.params)
            total = c if total is None else total + c
        if total is not None:
            if node.prim.multi_output:
                raise NotImplementedError(f"multi-output {node.prim.name}")
            tangent[(id(node), 0)] = total

    def shifted(sign: float) -> tuple:
        moved = [_wrap(t.value + sign * eps * d, be, None, 0) for t, d in zip(inputs, directions)]
        with no_grad():
            return _outputs(f, moved)

    plus, minus = shifted(1.0), shifted(-1.0)
    for k, o in enumerate(outs):
        numeric = (to_np(plus[k]) - to_np(minus[k])) / (2 * eps)
        analytic = tangent_of(o)
        analytic = np.zeros_like(numeric) if analytic is None else to_np(analytic)
        analytic = np.broadcast_to(analytic, numeric.shape)
        np.testing.assert_allclose(analytic, numeric, rtol=rtol, atol=atol,
                                   err_msg=f"JVP of output {k} disagrees with finite differences")
