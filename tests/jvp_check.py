"""Check agrad's forward mode (``agrad.jvp``) against central finite differences.

A random tangent per input goes through ``agrad.jvp``; the output tangents must match the
central differences of ``f`` along the same directions. Primitives without a JVP rule make
``agrad.jvp`` raise ``NotImplementedError`` naming them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import agrad
from agrad._engine import no_grad
from agrad._tensor import Tensor, _wrap
from tests.helpers import to_np


def _tuple(out: Any) -> tuple:
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def jvp_check(f: Any, *inputs: Tensor, eps: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-6,
              seed: int = 0) -> None:
    """Raise ``AssertionError`` if ``agrad.jvp(f, ...)`` disagrees with finite differences."""
    be = inputs[0]._backend
    state = be.rng.get_state()
    be.rng.seed(seed)
    try:
        directions = [be.rng.normal(t.shape, t.value.dtype) for t in inputs]
    finally:
        be.rng.set_state(state)
    _, tangents = agrad.jvp(f, tuple(inputs), tuple(_wrap(d, be, None, 0) for d in directions))

    def shifted(sign: float) -> tuple:
        moved = [_wrap(t.value + sign * eps * d, be, None, 0) for t, d in zip(inputs, directions)]
        with no_grad():
            return _tuple(f(*moved))

    plus, minus = shifted(1.0), shifted(-1.0)
    for k, analytic in enumerate(_tuple(tangents)):
        numeric = (to_np(plus[k]) - to_np(minus[k])) / (2 * eps)
        analytic = np.broadcast_to(to_np(analytic), numeric.shape)
        np.testing.assert_allclose(analytic, numeric, rtol=rtol, atol=atol,
                                   err_msg=f"JVP of output {k} disagrees with finite differences")
