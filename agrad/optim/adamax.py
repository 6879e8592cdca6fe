"""Adamax: Adam with the infinity norm in place of the second moment (Kingma & Ba, 2015, sec. 7).

``u_t = max(beta2 * u_{t-1}, |g_t| + eps)`` needs no bias correction of its own; the step is
``lr / (1 - beta1**t) * m_t / u_t``.
"""

from __future__ import annotations

from typing import Any

from agrad.optim.adam import adam_family
from agrad.optim.optimizer import Optimizer, descent_direction, lerp


def adamax_update(
    xp: Any,
    param: Any,
    grad: Any,
    exp_avg: Any,
    exp_inf: Any,
    *,
    step: int,
    eps: float,
    beta1: float,
    beta2: float,
    lr: float,
    weight_decay: float,
    maximize: bool,
) -> tuple:
    """One Adamax step; kernel name ``"adamax_update"``. Returns ``(param, exp_avg, exp_inf)``."""
    g = descent_direction(grad, param, weight_decay, maximize)
    exp_avg = lerp(exp_avg, g, 1.0 - beta1)
    exp_inf = xp.maximum(exp_inf * beta2, xp.abs(g) + eps)
    clr = lr / (1.0 - beta1**step)
    return param + (-clr) * exp_avg / exp_inf, exp_avg, exp_inf


class Adamax(Optimizer):
    """PyTorch's ``Adamax(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    foreach=None, *, maximize=False, ...)``; state per parameter: ``step``, ``exp_avg`` and the
    infinity norm ``exp_inf``."""

    kernel = "adamax_update"
    update = staticmethod(adamax_update)
    state_names = ("exp_avg", "exp_inf")
    hyperparameters = adam_family(2e-3, positional_foreach=True)
