"""``gradcheck``: the engine's gradients against central finite differences, in float64.

The scalar ``phi(x) = sum_k <u_k, f(x)_k>`` with random cotangents ``u_k`` (never all-ones: an
all-ones cotangent hid pygrad's conv bug) is differentiated by the engine and by central
differences. Small inputs are checked element by element; large ones along random directions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agrad._engine import backprop, enable_grad, no_grad
from agrad._tensor import Tensor, _wrap


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

        def phi(args: tuple) -> float:
            with no_grad():
                vals = _outputs(f, args)
            return sum(float(xp.sum(o.value * c)) for o, c in zip(vals, cots))

        for i in diff_idx:
            x = inputs[i]
            g = grads.get(id(x), (x, xp.zeros_like(x.value)))[1]
            _check_input(phi, inputs, i, x, g, be, eps, atol, rtol, max_elementwise, directions)
    finally:
        be.rng.set_state(state)
    return True


def _check_input(phi, inputs, i, x, g, be, eps, atol, rtol, max_elementwise, directions):
    xp = be.xp
    n = x.size

    def shifted(direction: Any) -> tuple[float, float]:
        plus = list(inputs)
        minus = list(inputs)
        plus[i] = _wrap(x.value + eps * direction, be, None, 0)
        minus[i] = _wrap(x.value - eps * direction, be, None, 0)
        return phi(tuple(plus)), phi(tuple(minus))

    if n <= max_elementwise:
        flat_ids = xp.arange(n)
        for j in range(n):
            onehot = xp.astype(xp.reshape(flat_ids == j, x.shape), x.value.dtype)
            p, m = shifted(onehot)
            numeric = (p - m) / (2 * eps)
            analytic = float(xp.sum(g * onehot))
            _compare(numeric, analytic, atol, rtol, f"input {i}, element {j} (flat index)")
    else:
        for k in range(directions):
            v = be.rng.normal(x.shape, x.value.dtype)
            p, m = shifted(v)
            numeric = (p - m) / (2 * eps)
            analytic = float(xp.sum(g * v))
            _compare(numeric, analytic, atol, rtol, f"input {i}, random direction {k}")


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
