"""W1: the seed's scalar function ``((x**3 + x**2 + x + 1) - 1)**2``, forward + backward.

A 0-d float32 tensor: this measures per-operation dispatch overhead (eight primitives forward,
their VJPs backward), not arithmetic.
"""

from __future__ import annotations

import numpy as np

from bench.harness import Inputs, Workload


def make_inputs(rng: np.random.Generator) -> Inputs:
    return {"x": np.asarray(rng.uniform(0.5, 1.5), dtype=np.float32)}


def f(x):
    return ((x**3 + x**2 + x + 1) - 1) ** 2


def agrad_step(inputs: Inputs, backend):
    import agrad

    x = agrad.Tensor(backend.asarray(inputs["x"]), requires_grad=True, backend=backend)

    def step():
        y = f(x)
        y.backward()
        return y, x.grad

    return step


def torch_step(inputs: Inputs):
    import torch

    x = torch.tensor(inputs["x"], requires_grad=True)

    def step():
        x.grad = None  # agrad's backward replaces .grad; torch would accumulate
        y = f(x)
        y.backward()
        return y, x.grad

    return step


WORKLOAD = Workload(
    name="W1 scalar",
    description="seed's `((x**3+x**2+x+1)-1)**2`, 0-d float32, forward + backward",
    make_inputs=make_inputs,
    agrad_step=agrad_step,
    torch_step=torch_step,
    steps=2000,
    warmup=50,
    target_ratio=1.0,
    rtol=1e-5,
)
