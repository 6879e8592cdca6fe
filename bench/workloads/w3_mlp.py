"""W3: MLP 784-512-512-10 with ReLU, softmax cross-entropy, batch 128, one Adam step.

agrad.nn + agrad.optim against torch.nn + torch.optim (non-foreach Adam would be slower; torch
picks its default, the foreach implementation, on CPU).
"""

from __future__ import annotations

import numpy as np

from bench.harness import Inputs, Workload
from bench.workloads._training import initial_weights, steps_for

BATCH, SIZES = 128, (784, 512, 512, 10)


def define(nn):
    def build():
        return nn.Sequential(
            nn.Linear(SIZES[0], SIZES[1]), nn.ReLU(),
            nn.Linear(SIZES[1], SIZES[2]), nn.ReLU(),
            nn.Linear(SIZES[2], SIZES[3]),
        )

    return build


def make_inputs(rng: np.random.Generator) -> Inputs:
    return {
        **initial_weights(define, rng),
        "x": rng.standard_normal((BATCH, SIZES[0])).astype(np.float32),
        "y": rng.integers(0, SIZES[-1], BATCH).astype(np.int64),
    }


def loss_of(F, model, data):
    return F.cross_entropy(model(data["x"]), data["y"])


agrad_step, torch_step = steps_for(define, lambda optim, ps: optim.Adam(ps, lr=1e-3), loss_of)

WORKLOAD = Workload(
    name="W3 MLP Adam",
    description="MLP 784-512-512-10, ReLU, cross-entropy, batch 128, forward + backward + Adam step",
    make_inputs=make_inputs,
    agrad_step=agrad_step,
    torch_step=torch_step,
    steps=100,
    warmup=3,
    target_ratio=1.0,
    rtol=1e-3,  # float32 matmuls summed in different orders
    atol=1e-6,
)
