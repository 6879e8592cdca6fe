"""Helpers for the agrad.nn / agrad.optim tests: PyTorch references and second-order checks."""

from __future__ import annotations

from typing import Any

import numpy as np

import agrad
from agrad._core.engine import backprop
from tests.helpers import assert_close, tensor_from_np, to_np


def np_rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def f64(mod: agrad.nn.Module) -> agrad.nn.Module:
    """The module in float64, as the torch comparisons run."""
    return mod.to(dtype=agrad.float64)


def x_of(*shape: int, seed: int = 0, scale: float = 1.0) -> np.ndarray:
    """Standard-normal test data (times ``scale``) from a seeded generator."""
    return np_rng(seed).normal(size=shape) * scale


def torch_state_from(module: agrad.nn.Module) -> dict:
    import torch

    return {k: torch.tensor(to_np(v)) for k, v in module.state_dict().items()}


def check_against_torch(
    ag_mod: Any,
    t_mod: Any,
    inputs: list[np.ndarray],
    *,
    pick=lambda out: out,
    seed: int = 0,
    rtol: float = 1e-7,
    atol: float = 1e-9,
    load: bool = True,
) -> None:
    """Same weights in both; compare the forward output, the input gradients and every parameter
    gradient, with a random upstream gradient."""
    import torch

    t_mod.double()
    t_mod.zero_grad()
    ag_mod.zero_grad()
    if load:
        t_mod.load_state_dict(torch_state_from(ag_mod))
    xs = [tensor_from_np(a, requires_grad=a.dtype.kind == "f") for a in inputs]
    ts = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in inputs]
    y = pick(ag_mod(*xs))
    yt = pick(t_mod(*ts))
    assert_close(y, yt.detach().numpy(), rtol=rtol, atol=atol)
    g = np_rng(seed + 100).normal(size=tuple(yt.shape))
    y.backward(agrad.get_backend().asarray(g))
    yt.backward(torch.tensor(g))
    for x, t in zip(xs, ts):
        if t.grad is None:  # the output does not depend on this input (attention weights vs values)
            assert x.grad is None or not np.any(to_np(x.grad))
        elif t.requires_grad:
            assert_close(x.grad, t.grad.numpy(), rtol=rtol, atol=atol)
    t_params = dict(t_mod.named_parameters())
    for name, p in ag_mod.named_parameters():
        if t_params[name].grad is None:
            assert p.grad is None or not np.any(to_np(p.grad)), name
            continue
        assert p.grad is not None, f"no gradient reached {name}"
        assert_close(p.grad, t_params[name].grad.numpy(), rtol=rtol, atol=atol)


def first_order(f: Any, seed: int = 7):
    """``x -> d<u, f(x)>/dx`` built with ``create_graph=True``, so gradcheck of it checks second
    derivatives (u is a fixed random cotangent)."""
    cache: dict = {}

    def grads(*xs: Any) -> tuple:
        with agrad.enable_grad():
            xs = [x if x.requires_grad else x.requires_grad_(True) for x in xs]
            out = f(*xs)
            if "u" not in cache:
                cache["u"] = out._backend.asarray(np_rng(seed).normal(size=out.shape), dtype=out.value.dtype)
            res = backprop([out], [cache["u"]], inputs=list(xs), create_graph=True)
        # a gradient that does not depend on any input (a bias's) has no second derivative to check
        return tuple(g for g in (res[id(x)][1] for x in xs) if g.requires_grad)

    return grads
