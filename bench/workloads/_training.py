"""Shared plumbing for the training-step workloads (W3-W5): one model definition per workload,
written once against an ``nn`` namespace (``agrad.nn`` or ``torch.nn``), the same initial weights
in both frameworks (drawn once from the seed, shipped in the inputs), and a step that does
``zero_grad -> forward -> loss -> backward -> optimizer step``.

A step returns the loss and every parameter's gradient (sorted by name), so the cross-check
compares the whole backward pass, not just the loss.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bench.harness import Inputs

PARAM = "param:"  # inputs key prefix of the initial weights


def initial_weights(define: Callable[[Any], Any], rng: np.random.Generator) -> Inputs:
    """The model's parameters, float32, drawn from ``rng`` (uniform in +-1/sqrt(fan_in), as
    torch's Linear/Conv default; LayerNorm keeps ones/zeros, embeddings are N(0, 1))."""
    import torch

    torch.manual_seed(int(rng.integers(2**31)))
    model = define(torch.nn)()
    return {PARAM + k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}


def _data(inputs: Inputs) -> dict[str, np.ndarray]:
    return {k: v for k, v in inputs.items() if not k.startswith(PARAM)}


def _weights(inputs: Inputs) -> dict[str, np.ndarray]:
    return {k[len(PARAM):]: v for k, v in inputs.items() if k.startswith(PARAM)}


def agrad_training_step(define, make_optimizer, loss_of, inputs: Inputs, backend):
    """``define(agrad.nn)`` with the shipped weights on ``backend``; ``make_optimizer(agrad.optim,
    params)``; ``loss_of(F, model, data)`` with ``F = agrad.nn.functional`` and ``data`` the
    non-weight inputs as Tensors."""
    import agrad

    with agrad.using_backend(backend):
        model = define(agrad.nn)().to(dtype=agrad.float32)  # agrad's default float is float64
        model.load_state_dict({k: backend.asarray(v) for k, v in _weights(inputs).items()})
        data = {k: agrad.Tensor(backend.asarray(v), requires_grad=False, backend=backend)
                for k, v in _data(inputs).items()}
    params = sorted(model.named_parameters())
    opt = make_optimizer(agrad.optim, [p for _, p in params])
    F = agrad.nn.functional

    def step():
        # nn's cross_entropy builds its class indices on the active backend (not its input's)
        with agrad.using_backend(backend):
            opt.zero_grad()
            loss = loss_of(F, model, data)
            loss.backward()
            opt.step()
        return (loss, *(p.grad for _, p in params))

    return step


def torch_training_step(define, make_optimizer, loss_of, inputs: Inputs):
    import torch

    model = define(torch.nn)()
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in _weights(inputs).items()})
    data = {k: torch.from_numpy(v.copy()) for k, v in _data(inputs).items()}
    params = sorted(model.named_parameters())
    opt = make_optimizer(torch.optim, [p for _, p in params])
    F = torch.nn.functional

    def step():
        opt.zero_grad()
        loss = loss_of(F, model, data)
        loss.backward()
        opt.step()
        return (loss, *(p.grad for _, p in params))

    return step


def steps_for(define, make_optimizer, loss_of):
    """The ``(agrad_step, torch_step)`` builders of a :class:`bench.harness.Workload`."""
    return (
        lambda inputs, backend: agrad_training_step(define, make_optimizer, loss_of, inputs, backend),
        lambda inputs: torch_training_step(define, make_optimizer, loss_of, inputs),
    )
