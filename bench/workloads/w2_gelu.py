"""W2: GELU (tanh form) summed over 1e6 float32 values, forward + backward.

Compared with PyTorch's fused ``torch.nn.functional.gelu(approximate="tanh")``. agrad uses
``agrad.nn.functional.gelu(x, approximate="tanh")`` once that exists, else the same formula
composed from agrad ops (the table says which ran).
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from bench.harness import Inputs, Workload

N = 1_000_000
C = math.sqrt(2.0 / math.pi)


def composed_gelu(x):
    """0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), from agrad's elementwise ops."""
    import agrad

    return 0.5 * x * (1.0 + agrad.tanh(C * (x + 0.044715 * (x * x * x))))


def agrad_gelu():
    """``agrad.nn.functional.gelu`` (tanh form) when it exists, else :func:`composed_gelu`."""
    try:
        from agrad.nn.functional import gelu
    except ImportError:
        return composed_gelu
    if "approximate" not in inspect.signature(gelu).parameters:
        return composed_gelu
    return lambda x: gelu(x, approximate="tanh")


def variant() -> str:
    return "composed" if agrad_gelu() is composed_gelu else "agrad.nn.functional.gelu"


def make_inputs(rng: np.random.Generator) -> Inputs:
    return {"x": rng.standard_normal(N).astype(np.float32)}


def agrad_step(inputs: Inputs, backend):
    import agrad

    x = agrad.Tensor(backend.asarray(inputs["x"]), requires_grad=True, backend=backend)
    gelu = agrad_gelu()

    def step():
        y = gelu(x).sum()
        y.backward()
        return y, x.grad

    return step


def torch_step(inputs: Inputs):
    import torch

    x = torch.tensor(inputs["x"], requires_grad=True)
    gelu = torch.nn.functional.gelu

    def step():
        x.grad = None
        y = gelu(x, approximate="tanh").sum()
        y.backward()
        return y, x.grad

    return step


WORKLOAD = Workload(
    name="W2 GELU",
    description="GELU (tanh) + sum over 1e6 float32, forward + backward; torch's fused GELU",
    make_inputs=make_inputs,
    agrad_step=agrad_step,
    torch_step=torch_step,
    steps=40,
    warmup=3,
    target_ratio=1.0,
    rtol=1e-4,  # float32 sums of 1e6 terms in different orders
    atol=1e-5,
    variant=variant,
)
