"""Check agrad's forward mode (``agrad.jvp``) against central finite differences and reverse mode.

A random tangent ``v`` per input goes through ``agrad.jvp``; the output tangents ``J v`` must match
the central differences of ``f`` along the same directions, and agree with reverse mode
(``agrad.vjp``) to rounding: ``<u, J v> = <J^T u, v>`` for a random cotangent ``u``. Primitives
without a JVP rule make ``agrad.jvp`` raise ``NotImplementedError`` naming them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import agrad
from agrad._base.modes import no_grad
from agrad._core.tensor import Tensor, _wrap
from tests.helpers import to_np


def _tuple(out: Any) -> tuple:
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def _normal(be: Any, shapes: list, dtypes: list, seed: int) -> list:
    state = be.rng.get_state()
    be.rng.seed(seed)
    try:
        return [be.rng.normal(s, d) for s, d in zip(shapes, dtypes)]
    finally:
        be.rng.set_state(state)


def jvp_check(f: Any, *inputs: Tensor, eps: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-6,
              seed: int = 0) -> None:
    """Raise ``AssertionError`` if ``agrad.jvp(f, ...)`` disagrees with finite differences or with
    ``agrad.vjp``."""
    be = inputs[0]._backend
    directions = _normal(be, [t.shape for t in inputs], [t.value.dtype for t in inputs], seed)
    out, tangents = agrad.jvp(f, tuple(inputs), tuple(_wrap(d, be, None, 0) for d in directions))

    def shifted(sign: float) -> tuple:
        moved = [_wrap(t.value + sign * eps * d, be, None, 0) for t, d in zip(inputs, directions)]
        with no_grad():
            return _tuple(f(*moved))

    plus, minus = shifted(1.0), shifted(-1.0)
    jv = []
    for k, analytic in enumerate(_tuple(tangents)):
        numeric = (to_np(plus[k]) - to_np(minus[k])) / (2 * eps)
        jv.append(to_np(analytic))
        assert jv[k].shape == numeric.shape, f"output {k}: tangent {jv[k].shape}, primal {numeric.shape}"
        np.testing.assert_allclose(jv[k], numeric, rtol=rtol, atol=atol,
                                   err_msg=f"JVP of output {k} disagrees with finite differences")

    outs = _tuple(out)
    us = _normal(be, [o.shape for o in outs], [o.value.dtype for o in outs], seed + 1)
    out2, pull = agrad.vjp(f, *inputs)
    for k, (a, b) in enumerate(zip(outs, _tuple(out2))):  # the same primal computation either way
        np.testing.assert_array_equal(to_np(a), to_np(b), err_msg=f"jvp and vjp disagree on output {k}")
    u_tensors = [_wrap(u, be, None, 0) for u in us]
    jtu = pull(type(out)(u_tensors) if isinstance(out, (tuple, list)) else u_tensors[0])
    lhs = sum(float(np.sum(to_np(u) * j)) for u, j in zip(us, jv))
    rhs = sum(float(np.sum(to_np(g) * to_np(d))) for g, d in zip(jtu, directions))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-9, atol=1e-9,
                               err_msg="forward mode <u, J v> disagrees with reverse mode <J^T u, v>")


def hvp_check(f: Any, *inputs: Tensor, rtol: float = 1e-7, atol: float = 1e-8, seed: int = 0) -> None:
    """Raise ``AssertionError`` if forward-over-reverse Hessian-vector products (``agrad.hvp``, what
    ``agrad.hessian`` builds on: JVP rules applied to the VJP rules' computations) disagree with
    reverse-over-reverse ones, for the scalar ``<u, f(x)**2>`` with a random ``u`` (squared, so that the
    cotangent reaching ``f``'s VJP rules depends on ``x`` even where ``f`` is linear)."""
    be = inputs[0]._backend
    with no_grad():
        outs = _tuple(f(*inputs))
    us = [_wrap(u, be, None, 0) for u in
          _normal(be, [o.shape for o in outs], [o.value.dtype for o in outs], seed + 2)]
    vs = [_wrap(v, be, None, 0) for v in
          _normal(be, [t.shape for t in inputs], [t.value.dtype for t in inputs], seed + 3)]
    nums = tuple(range(len(inputs)))

    def scalar(*xs: Any) -> Any:
        return sum(agrad.sum(o * o * u) for o, u in zip(_tuple(f(*xs)), us))

    def along_v(*xs: Any) -> Any:
        return sum(agrad.sum(g * v) for g, v in zip(agrad.grad(scalar, argnums=nums)(*xs), vs))

    forward = _tuple(agrad.hvp(scalar, inputs, vs))
    reverse = agrad.grad(along_v, argnums=nums)(*inputs)
    for k, (a, b) in enumerate(zip(forward, reverse)):
        np.testing.assert_allclose(to_np(a), to_np(b), rtol=rtol, atol=atol,
                                   err_msg=f"forward-over-reverse HVP disagrees with reverse-over-reverse "
                                           f"for input {k}")
