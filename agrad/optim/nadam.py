"""NAdam: Adam with Nesterov momentum (Dozat, 2016), with PyTorch's momentum schedule.

The momentum coefficient grows with the step, ``mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))``,
and the bias correction divides by ``1 - prod(mu_1..mu_t)``, the ``mu_product`` each parameter
keeps as a host number (PyTorch's state key).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agrad.optim.adam import adam_family, moments
from agrad.optim.optimizer import Optimizer, nonnegative, weight_decayed


def nadam_momentum(beta1: float, momentum_decay: float, step: int) -> float:
    """NAdam's momentum coefficient ``mu_t`` at step ``t`` (counted from 1)."""
    return beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))


def nadam_update(
    xp: Any,
    param: Any,
    grad: Any,
    exp_avg: Any,
    exp_avg_sq: Any,
    *,
    mu_product: float,
    step: int,
    beta1: float,
    beta2: float,
    lr: float,
    weight_decay: float,
    momentum_decay: float,
    eps: float,
    decoupled_weight_decay: bool,
    maximize: bool,
) -> tuple:
    """One NAdam step; kernel name ``"nadam_update"``. ``mu_product`` is ``mu_1 * ... * mu_t``,
    this step's coefficient included. Returns ``(param, exp_avg, exp_avg_sq)``."""
    param, g = weight_decayed(grad, param, lr, weight_decay, decoupled_weight_decay, maximize)
    mu = nadam_momentum(beta1, momentum_decay, step)
    mu_next = nadam_momentum(beta1, momentum_decay, step + 1)
    exp_avg, exp_avg_sq = moments(g, exp_avg, exp_avg_sq, beta1, beta2)
    denom = xp.sqrt(exp_avg_sq / (1.0 - beta2**step)) + eps
    param = param + (-lr * (1.0 - mu) / (1.0 - mu_product)) * g / denom
    param = param + (-lr * mu_next / (1.0 - mu_product * mu_next)) * exp_avg / denom
    return param, exp_avg, exp_avg_sq


class NAdam(Optimizer):
    """PyTorch's ``NAdam(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    momentum_decay=4e-3, decoupled_weight_decay=False, *, maximize=False, ...)``."""

    kernel = "nadam_update"
    update = staticmethod(nadam_update)
    state_names = ("exp_avg", "exp_avg_sq")
    hyperparameters = adam_family(
        2e-3, momentum_decay=nonnegative(4e-3, "momentum_decay"), decoupled_weight_decay=False
    )

    def _advance(self, state: dict[str, Any], group: Mapping[str, Any]) -> dict[str, Any]:
        scalars = super()._advance(state, group)
        mu = nadam_momentum(group["betas"][0], group["momentum_decay"], scalars["step"])
        state["mu_product"] = state.get("mu_product", 1.0) * mu
        return {**scalars, "mu_product": state["mu_product"]}
