"""W4: a small CNN, (32,1,28,28) -> conv3x3 8 -> ReLU -> maxpool2 -> conv3x3 16 -> ReLU ->
flatten -> linear 10, cross-entropy, one SGD step."""

from __future__ import annotations

import numpy as np

from bench.harness import Inputs, Workload
from bench.workloads._training import initial_weights, steps_for

BATCH = 32


def define(nn):
    def build():
        return nn.Sequential(
            nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3), nn.ReLU(), nn.Flatten(),
            nn.Linear(16 * 11 * 11, 10),
        )

    return build


def make_inputs(rng: np.random.Generator) -> Inputs:
    return {
        **initial_weights(define, rng),
        "x": rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32),
        "y": rng.integers(0, 10, BATCH).astype(np.int64),
    }


def loss_of(F, model, data):
    return F.cross_entropy(model(data["x"]), data["y"])


agrad_step, torch_step = steps_for(define, lambda optim, ps: optim.SGD(ps, lr=0.05), loss_of)

WORKLOAD = Workload(
    name="W4 CNN SGD",
    description="conv3x3 8, ReLU, maxpool 2, conv3x3 16, ReLU, linear 10 on (32,1,28,28), "
    "cross-entropy, forward + backward + SGD step",
    make_inputs=make_inputs,
    agrad_step=agrad_step,
    torch_step=torch_step,
    steps=60,
    warmup=3,
    target_ratio=1.3,
    rtol=1e-3,
    atol=1e-6,
)
