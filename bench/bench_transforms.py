"""Costs of issue 4's machinery (run with one thread: OMP_NUM_THREADS=1 python bench/bench_transforms.py).

* the seed scalar example (forward + backward), which must not slow down: the special modes cost
  one global flag check per primitive call and one per backward pass;
* forward mode on an MLP: ``jvp`` against the plain forward pass (should be a small multiple);
* ``grad`` against ``loss.backward()``, ``hvp`` (forward-over-reverse) against ``grad``.
"""

from __future__ import annotations

import time

import agrad
from agrad import Tensor
from agrad.testing import randn


def best(fn, n: int, reps: int = 5) -> float:
    """Best-of-``reps`` mean time of ``fn`` in microseconds."""
    fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - t) / n * 1e6)
    return min(times)


def main() -> None:
    x = Tensor(1.0)

    def seed():
        (((x**3 + x**2 + x + 1) - 1) ** 2).backward()

    print(f"seed scalar forward+backward: {best(seed, 5000):8.2f} us")

    layers = [(randn(64, 64, seed=i) * 0.1, randn(64, seed=100 + i)) for i in range(6)]
    xb = randn(32, 64, seed=7, requires_grad=False)
    v = randn(32, 64, seed=8, requires_grad=False)

    def mlp(h):
        for w, b in layers:
            h = agrad.tanh(h @ w + b)
        return agrad.sum(h * h)

    with agrad.no_grad():
        fwd = best(lambda: mlp(xb), 200)
    jvp = best(lambda: agrad.jvp(mlp, (xb,), (v,)), 200)
    grad = best(lambda: agrad.grad(mlp)(xb), 200)
    hvp = best(lambda: agrad.hvp(mlp, (xb,), (v,)), 50)
    print(f"MLP 6x64, batch 32: forward {fwd:8.1f} us, jvp {jvp:8.1f} us ({jvp / fwd:.1f}x), "
          f"grad {grad:8.1f} us ({grad / fwd:.1f}x), hvp {hvp:8.1f} us ({hvp / grad:.1f}x grad)")


if __name__ == "__main__":
    main()
