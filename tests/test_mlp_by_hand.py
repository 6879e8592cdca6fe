"""A two-layer MLP written with bare Tensors and gradient descent trains on every backend."""

import agrad
from agrad import Tensor
from agrad.testing import randn


def test_hand_written_mlp_loss_falls(backend):
    x = randn(64, 4, seed=1, requires_grad=False)
    # a smooth target: y = sin(x0) + x1 * x2
    xp = backend.xp
    y = Tensor(xp.reshape(xp.sin(x.value[:, 0]) + x.value[:, 1] * x.value[:, 2], (64, 1)),
               requires_grad=False)
    w1 = randn(4, 32, seed=2) * 0.5
    w1 = Tensor(w1.value)
    b1 = Tensor(xp.zeros((32,), dtype=backend.default_float))
    w2 = Tensor((randn(32, 1, seed=3) * 0.2).value)
    b2 = Tensor(xp.zeros((1,), dtype=backend.default_float))
    params = [w1, b1, w2, b2]
    losses = []
    for _ in range(300):
        h = agrad.maximum(x @ w1 + b1, 0.0)
        loss = ((h @ w2 + b2 - y) ** 2).mean()
        loss.backward()
        losses.append(float(loss))
        for p in params:
            p.value = p.value - 0.05 * p.grad
        agrad.materialize(params)  # lazy backends: keep each step's graph one step long
    assert losses[-1] < 0.25 * losses[0], (losses[0], losses[-1])
