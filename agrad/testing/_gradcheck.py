"""``gradcheck``: the engine's gradients against central finite differences, in float64.

The scalar ``phi(x) = sum_k <u_k, f(x)_k>`` with random cotangents ``u_k`` (never all-ones: they
hide errors that cancel across output elements) is differentiated by the engine and by central
differences. Small inputs are checked element by element; large ones along random directions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agrad._base.modes import enable_grad, no_grad
from agrad._core.engine import backprop
from agrad._core.tensor import Tensor, _wrap


class GradcheckError(AssertionError):
    """The engine's gradient disagrees with finite differences."""


def _outputs(f: Callable, args: tuple) -> tuple[Tensor, ...]:
    out = f(*args)
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def gradcheck(
    f: Callable[..., Any],
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-6,
    rtol: float = 1e-5,
    seed: int = 0,
    max_elementwise: int = 64,
    directions: int = 6,
) -> bool:
    """Check ``f``'s gradients with respect to every Tensor in ``inputs`` that requires grad.

    ``inputs`` should be float64 tensors. Returns ``True`` or raises :class:`GradcheckError`
    naming the input, the element (or direction) and both values.
    """
    diff_idx = [i for i, a in enumerate(inputs) if isinstance(a, Tensor) and a.requires_grad]
    if not diff_idx:
        raise ValueError("gradcheck: no input requires grad; nothing to check")
    be = inputs[diff_idx[0]]._backend
    xp = be.xp
    state = be.rng.get_state()
    be.rng.seed(seed)
    try:
        outs = _outputs(f, inputs)
        cots = [be.rng.normal(o.shape, o.value.dtype) for o in outs]
        wanted = [inputs[i] for i in diff_idx]
        grads = backprop(outs, cots, inputs=wanted)

        def phi(args: tuple) -> Any:
            """The scalar as a 0-d backend array (not yet a float: lazy backends batch them)."""
            with no_grad():
                vals = _outputs(f, args)
            total = None
            for o, c in zip(vals, cots):
                term = xp.sum(o.value * c)
                total = term if total is None else total + term
            return total

        for i in diff_idx:
            x = inputs[i]
            g = grads.get(id(x), (x, xp.zeros_like(x.value)))[1]
            _check_input(phi, inputs, i, x, g, be, eps, atol, rtol, max_elementwise, directions)
    finally:
        be.rng.set_state(state)
    return True


def _check_input(phi, inputs, i, x, g, be, eps, atol, rtol, max_elementwise, directions):
    """Every probe of input ``i`` is built first and judged in one array expression, so a lazy
    backend computes once per input instead of twice per element; failures are then itemised."""
    xp = be.xp
    n = x.size
    where, plus, minus, analytic = [], [], [], []

    def probe(label: str, direction: Any) -> None:
        shifted = [list(inputs), list(inputs)]
        shifted[0][i] = _wrap(x.value + eps * direction, be, None, 0)
        shifted[1][i] = _wrap(x.value - eps * direction, be, None, 0)
        where.append(label)
        plus.append(phi(tuple(shifted[0])))
        minus.append(phi(tuple(shifted[1])))
        analytic.append(xp.sum(g * direction))

    if n <= max_elementwise:
        flat_ids = xp.arange(n)
        for j in range(n):
            onehot = xp.astype(xp.reshape(flat_ids == j, x.shape), x.value.dtype)
            probe(f"input {i}, element {j} (flat index)", onehot)
    else:
        for k in range(directions):
            probe(f"input {i}, random direction {k}", be.rng.normal(x.shape, x.value.dtype))
    numeric = (xp.stack(plus) - xp.stack(minus)) / (2 * eps)
    engine = xp.stack(analytic)
    if bool(xp.all(xp.abs(numeric - engine) <= atol + rtol * xp.abs(numeric))):
        return
    for k, label in enumerate(where):
        _compare(float(numeric[k]), float(engine[k]), atol, rtol, label)


def _compare(numeric: float, analytic: float, atol: float, rtol: float, where: str) -> None:
    if not abs(numeric - analytic) <= atol + rtol * abs(numeric):
        raise GradcheckError(
            f"gradcheck failed at {where}: finite differences give {numeric!r}, "
            f"the engine gives {analytic!r} (difference {abs(numeric - analytic):.3g})"
        )


def gradgradcheck(f: Callable[..., Any], *inputs: Any, seed: int = 0, **kwargs: Any) -> bool:
    """Check second derivatives: :func:`gradcheck` of the function ``x -> d<u, f(x)>/dx``.

    The first gradient (with a fixed random cotangent ``u``) is computed by the engine with
    ``create_graph=True``, so this checks that the backward pass is itself recorded correctly:
    every VJP rule run on Tensors through agrad's namespace, then differentiated again.
    """
    diff_idx = [i for i, a in enumerate(inputs) if isinstance(a, Tensor) and a.requires_grad]
    if not diff_idx:
        raise ValueError("gradgradcheck: no input requires grad; nothing to check")
    be = inputs[diff_idx[0]]._backend
    state = be.rng.get_state()
    be.rng.seed(seed + 1)
    try:
        cots = [be.rng.normal(o.shape, o.value.dtype) for o in _outputs(f, inputs)]
    finally:
        be.rng.set_state(state)

    def first_gradient(*args: Any) -> tuple[Tensor, ...]:
        args = list(args)
        for i in diff_idx:  # gradcheck's shifted copies are constants: make them variables again
            if not args[i].requires_grad:
                args[i] = _wrap(args[i].value, be, None, 0)
                args[i].requires_grad = True
        with enable_grad():
            outs = _outputs(f, tuple(args))
            live = [(o, _wrap(c, be, None, 0)) for o, c in zip(outs, cots) if o.requires_grad]
            res = backprop([o for o, _ in live], [c for _, c in live],
                           inputs=[args[i] for i in diff_idx], create_graph=True) if live else {}
            grads = []
            for i in diff_idx:
                g = res.get(id(args[i]), (None, None))[1]
                if g is None:
                    g = args[i] * 0.0
                elif not g.requires_grad:  # a constant gradient: tie it to x (d/dx = 0)
                    g = g + args[i] * 0.0
                grads.append(g)
        return tuple(grads)

    return gradcheck(first_gradient, *inputs, seed=seed, **kwargs)
