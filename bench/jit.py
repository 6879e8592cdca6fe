"""``agrad.jit`` against eager agrad, torch eager, ``torch.compile`` and ``jax.jit``, same run,
one thread, on code written with the standard's functions only (what our users write):

* W1: the seed's scalar ``((x**3 + x**2 + x + 1) - 1)**2``, value and gradient (per-call cost);
* W2: GELU composed from ``tanh`` over 1e6 float32, summed, value and gradient (memory-bound);
* W3: W3's MLP 784-512-512-10 written with ``matmul``/``where``/``log_softmax`` on a batch of
  128, loss and the gradients of all weights.

Each is ``value_and_grad`` of one function; compile times (the first call) are reported apart
from the step times. Every result is checked against torch before it is timed.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from bench.harness import time_side_by_side
from bench.vmap import _loss, _max_err, _mlp_weights

HEADERS = ["workload", "agrad eager (µs)", "agrad.jit (µs)", "torch eager (µs)",
           "torch.compile (µs)", "jax.jit (µs)", "jit / jax.jit", "jit / eager",
           "compile s: agrad.jit / torch.compile / jax.jit", "max err / scale"]
C = math.sqrt(2.0 / math.pi)


def w1(xp: Any, x: Any) -> Any:
    return ((x * x * x + x * x + x + 1) - 1) ** 2


def w2(xp: Any, x: Any) -> Any:
    return xp.sum(0.5 * x * (1.0 + xp.tanh(C * (x + 0.044715 * (x * x * x)))))


def w3(xp: Any, log_softmax: Any, params: list, x: Any, y: Any) -> Any:
    """The mean of :func:`bench.vmap._loss` (one example's cross-entropy) over the batch."""
    return _loss(xp, log_softmax, params, x, y) / x.shape[0]


def _inputs(rng: np.random.Generator) -> dict:
    weights = _mlp_weights(rng, (784, 512, 512, 10))
    return {
        "W1 scalar": (np.asarray(rng.uniform(0.5, 1.5), dtype=np.float32),),
        "W2 GELU 1e6": (rng.standard_normal(1_000_000).astype(np.float32),),
        "W3 MLP (batch 128)": (weights, rng.standard_normal((128, 784)).astype(np.float32),
                               np.eye(10, dtype=np.float32)[rng.integers(0, 10, 128)]),
    }


def _agrad(name: str, data: tuple, backend: Any) -> tuple[Any, Any]:
    import agrad

    lsm = lambda h: agrad.nn.functional.log_softmax(h, axis=-1)  # noqa: E731
    with agrad.using_backend(backend):
        if name == "W3 MLP (batch 128)":
            params = [(agrad.asarray(w), agrad.asarray(b)) for w, b in data[0]]
            args = (params, agrad.asarray(data[1]), agrad.asarray(data[2]))
            fn = agrad.value_and_grad(lambda p, x, y: w3(agrad, lsm, p, x, y))
        else:
            args = (agrad.asarray(data[0]),)
            f = w1 if name == "W1 scalar" else w2
            fn = agrad.value_and_grad(lambda x: f(agrad, x))
    jitted = agrad.jit(fn)

    def flat(out: Any) -> list:
        value, grads = out
        return [value, *(g for pair in grads for g in pair)] if isinstance(grads, list) else [value, grads]

    def eager() -> list:
        with agrad.using_backend(backend):
            return flat(fn(*args))

    def compiled() -> list:
        with agrad.using_backend(backend):
            return flat(jitted(*args))

    return eager, compiled


def _torch(name: str, data: tuple) -> tuple[Any, Any, float]:
    import torch

    lsm = lambda h: torch.log_softmax(h, dim=-1)  # noqa: E731
    if name == "W3 MLP (batch 128)":
        params = [(torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True))
                  for w, b in data[0]]
        x, y = torch.tensor(data[1]), torch.tensor(data[2])
        leaves = [t for pair in params for t in pair]

        def f() -> Any:
            return w3(torch, lsm, params, x, y)
    else:
        xt = torch.tensor(data[0], requires_grad=True)
        leaves = [xt]
        g = w1 if name == "W1 scalar" else w2

        def f() -> Any:
            return g(torch, xt)

    def run(fun: Any) -> Any:
        def step() -> list:
            for t in leaves:
                t.grad = None
            out = fun()
            out.backward()
            return [out.detach(), *(t.grad for t in leaves)]
        return step

    try:
        compiled = torch.compile(f)
        t0 = time.perf_counter()
        run(compiled)()
        compile_s = time.perf_counter() - t0
        compiled_step = run(compiled)
    except Exception:  # no C++ compiler, or an unsupported build
        compiled_step, compile_s = None, float("nan")
    return run(f), compiled_step, compile_s


def _jax(name: str, data: tuple) -> tuple[Any, float] | None:
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    lsm = lambda h: jax.nn.log_softmax(h, axis=-1)  # noqa: E731
    if name == "W3 MLP (batch 128)":
        args = ([(jnp.asarray(w), jnp.asarray(b)) for w, b in data[0]], jnp.asarray(data[1]),
                jnp.asarray(data[2]))
        fn = jax.jit(jax.value_and_grad(lambda p, x, y: w3(jnp, lsm, p, x, y)))
    else:
        args = (jnp.asarray(data[0]),)
        g = w1 if name == "W1 scalar" else w2
        fn = jax.jit(jax.value_and_grad(lambda x: g(jnp, x)))
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    compile_s = time.perf_counter() - t0

    def step() -> list:
        value, grads = jax.block_until_ready(fn(*args))
        return [value, *(g for pair in grads for g in pair)] if isinstance(grads, list) else [value, grads]

    return step, compile_s


def run(backend: Any, quick: bool = False) -> list[list[str]]:
    rows = []
    for name, data in _inputs(np.random.default_rng(0)).items():
        counts = {"W1 scalar": 2000, "W2 GELU 1e6": 40, "W3 MLP (batch 128)": 40}
        n = max(5, counts[name] // 10) if quick else counts[name]
        eager, compiled = _agrad(name, data, backend)
        t0 = time.perf_counter()
        compiled()
        agrad_compile = time.perf_counter() - t0
        torch_eager, torch_compiled, torch_compile_s = _torch(name, data)
        steps = {"eager": eager, "jit": compiled, "torch": torch_eager}
        if torch_compiled is not None:
            steps["torch.compile"] = torch_compiled
        jx = _jax(name, data)
        if jx is not None:
            steps["jax.jit"], jax_compile = jx
        err = max(_max_err(eager(), torch_eager()), _max_err(compiled(), torch_eager()))
        med = time_side_by_side(steps, n, warmup=2)

        def us(k: str, med: dict = med) -> str:
            return f"{med[k] * 1e6:,.1f}" if k in med else "-"

        rows.append([
            name, us("eager"), us("jit"), us("torch"), us("torch.compile"), us("jax.jit"),
            f"{med['jit'] / med['jax.jit']:.2f}" if "jax.jit" in med else "-",
            f"{med['jit'] / med['eager']:.2f}",
            f"{agrad_compile:.2f} / {torch_compile_s:.1f} / " + (f"{jax_compile:.2f}" if jx else "-"),
            f"{err:.1e}",
        ])
        print(" | ".join(rows[-1]), flush=True)
    return rows
