"""vmap and the Jacobians against torch.func and jax, in the same run, one thread.

* per-example gradients of W3's MLP (784-512-512-10, batch 128): ``agrad.vmap(agrad.grad(loss))``
  against ``torch.func.vmap(torch.func.grad(loss))``, ``jax.vmap(jax.grad(loss))`` and the same
  under ``jax.jit`` (compile time apart), and under ``agrad.jit`` against ``jax.jit``;
* per-example gradients of a small model (the digits MLP of ``examples/per_sample_gradients.py``,
  64-128-10, batch 64): vmap against the Python loop over the examples (target >= 10x);
* ``jacrev`` of a 64 -> 64 function: the vmap over the basis against the loop of VJPs it
  replaced (target >= 5x).

Every agrad result is checked against the reference before it is timed.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from bench.harness import time_side_by_side, to_numpy

HEADERS = ["case", "agrad (µs)", "reference", "reference (µs)", "agrad / reference", "target", "met",
           "max err / scale"]


def _mlp_weights(rng: np.random.Generator, sizes: tuple[int, ...]) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / np.sqrt(n_in)
        out.append((rng.uniform(-bound, bound, (n_out, n_in)).astype(np.float32),
                    rng.uniform(-bound, bound, n_out).astype(np.float32)))
    return out


def _loss(xp: Any, log_softmax: Any, params: list, x: Any, y: Any) -> Any:
    """One example's cross-entropy through a ReLU MLP, written once for every framework."""
    h = x
    for i, (w, b) in enumerate(params):
        h = h @ w.T + b
        if i < len(params) - 1:
            h = xp.where(h > 0, h, 0.0)
    return -xp.sum(log_softmax(h) * y)


def _per_example_cases(backend: Any, sizes: tuple[int, ...], batch: int, seed: int) -> dict:
    """Steps computing per-example gradients of the MLP ``sizes`` on ``batch`` examples."""
    import agrad

    rng = np.random.default_rng(seed)
    weights = _mlp_weights(rng, sizes)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = np.eye(sizes[-1], dtype=np.float32)[rng.integers(0, sizes[-1], batch)]

    with agrad.using_backend(backend):
        params = [(agrad.asarray(w), agrad.asarray(b)) for w, b in weights]
        xa, ya = agrad.asarray(x), agrad.asarray(y)

    def loss_a(p, xi, yi):
        return _loss(agrad, lambda h: agrad.nn.functional.log_softmax(h, axis=-1), p, xi, yi)

    per_example = agrad.vmap(agrad.grad(loss_a), in_axes=(None, 0, 0))
    compiled = agrad.jit(per_example)

    def ours():
        with agrad.using_backend(backend):
            return [g for pair in per_example(params, xa, ya) for g in pair]

    def ours_jit():
        with agrad.using_backend(backend):
            return [g for pair in compiled(params, xa, ya) for g in pair]

    def loop():
        with agrad.using_backend(backend):
            each = [agrad.grad(loss_a)(params, xa[i], ya[i]) for i in range(batch)]
            return [agrad.stack([e[k][j] for e in each]) for k in range(len(params)) for j in (0, 1)]

    return {"weights": weights, "x": x, "y": y, "agrad": ours, "agrad.jit": ours_jit, "loop": loop}


def _torch_func(case: dict) -> Any:
    import torch
    from torch.func import grad, vmap

    params = [(torch.tensor(w), torch.tensor(b)) for w, b in case["weights"]]
    x, y = torch.tensor(case["x"]), torch.tensor(case["y"])

    def loss_t(p, xi, yi):
        return _loss(torch, lambda h: torch.log_softmax(h, dim=-1), p, xi, yi)

    per_example = vmap(grad(loss_t), in_dims=(None, 0, 0))
    return lambda: [g for pair in per_example(params, x, y) for g in pair]


def _jax_steps(case: dict) -> tuple[Any, Any, float] | None:
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in case["weights"]]
    x, y = jnp.asarray(case["x"]), jnp.asarray(case["y"])

    def loss_j(p, xi, yi):
        return _loss(jnp, lambda h: jax.nn.log_softmax(h, axis=-1), p, xi, yi)

    eager = jax.vmap(jax.grad(loss_j), in_axes=(None, 0, 0))
    jitted = jax.jit(eager)
    t0 = time.perf_counter()
    jax.block_until_ready(jitted(params, x, y))
    compile_s = time.perf_counter() - t0

    def run(fn):
        return lambda: [g for pair in jax.block_until_ready(fn(params, x, y)) for g in pair]

    return run(eager), run(jitted), compile_s


def _max_err(ours: list, theirs: list) -> float:
    worst = 0.0
    for a, b in zip(ours, theirs):
        a, b = to_numpy(a), to_numpy(b)
        worst = max(worst, float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30)))
    return worst


def _row(case: str, ours: Any, ref_name: str, ref: Any, count: int, target: float | None = None,
         faster_by: bool = False) -> list[str]:
    """Time ``ours`` against ``ref`` interleaved; ``faster_by``: the target is ref/ours >= target."""
    err = _max_err(ours(), ref())
    med = time_side_by_side({"ours": ours, "ref": ref}, count, warmup=2)
    ratio = med["ours"] / med["ref"]
    if target is None:
        goal, met = "-", "-"
    elif faster_by:
        goal, met = f">= {target:.0f}x faster", "yes" if 1.0 / ratio >= target else "NO"
    else:
        goal, met = f"<= {target:.2f}", "yes" if ratio <= target else "NO"
    return [case, f"{med['ours'] * 1e6:,.0f}", ref_name, f"{med['ref'] * 1e6:,.0f}", f"{ratio:.3f}",
            goal, met, f"{err:.1e}"]


def _jacrev_cases(backend: Any) -> tuple[Any, Any]:
    """``jacrev`` of ``x -> tanh(W2 tanh(W1 x + b))`` (64 -> 64), and the loop of VJPs it replaced."""
    import agrad

    rng = np.random.default_rng(3)
    with agrad.using_backend(backend):
        w1, w2 = (agrad.asarray(rng.standard_normal((64, 64)) * 0.1) for _ in range(2))
        b = agrad.asarray(rng.standard_normal(64))
        x = agrad.asarray(rng.standard_normal(64))

    def f(v):
        return agrad.tanh(w2 @ agrad.tanh(w1 @ v + b))

    def ours():
        with agrad.using_backend(backend):
            return [agrad.jacrev(f)(x)]

    def loop():
        with agrad.using_backend(backend):
            _, pull = agrad.vjp(f, x)
            eye = agrad.eye(64, dtype=x.dtype)
            return [agrad.stack([pull(eye[i])[0] for i in range(64)])]

    return ours, loop


def run(backend: Any, quick: bool = False) -> tuple[list[list[str]], list[str]]:
    """The rows of the table and notes (compile times)."""
    n = 10 if quick else 40
    rows, notes = [], []
    w3 = _per_example_cases(backend, (784, 512, 512, 10), 128, seed=0)
    rows.append(_row("W3 MLP per-example grads (batch 128)", w3["agrad"], "torch.func.vmap(grad)",
                     _torch_func(w3), max(3, n // 4), target=1.0))
    jax_steps = _jax_steps(w3)
    if jax_steps is not None:
        eager, jitted, compile_s = jax_steps
        rows.append(_row("W3 MLP per-example grads (batch 128)", w3["agrad"], "jax.vmap(grad)", eager,
                         max(3, n // 4)))
        rows.append(_row("W3 MLP per-example grads (batch 128)", w3["agrad"], "jax.jit(jax.vmap(grad))",
                         jitted, max(3, n // 4)))
        rows.append(_row("W3 MLP per-example grads, agrad.jit", w3["agrad.jit"], "jax.jit(jax.vmap(grad))",
                         jitted, max(3, n // 4), target=1.0))
        notes.append(f"jax.jit compile time of the W3 per-example gradients: {compile_s:.2f} s "
                     "(not in the step)")
    small = _per_example_cases(backend, (64, 128, 10), 64, seed=1)
    rows.append(_row("digits MLP per-example grads (batch 64)", small["agrad"], "agrad Python loop",
                     small["loop"], n, target=10.0, faster_by=True))
    rows.append(_row("digits MLP per-example grads (batch 64)", small["agrad"], "torch.func.vmap(grad)",
                     _torch_func(small), n))
    ours, loop = _jacrev_cases(backend)
    rows.append(_row("jacrev 64 -> 64", ours, "agrad loop of 64 VJPs", loop, n, target=5.0,
                     faster_by=True))
    return rows, notes
