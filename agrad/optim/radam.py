"""RAdam: Adam with the variance of its adaptive step rectified (Liu et al., 2019).

While the approximated length of the second moment's moving average ``rho_t`` is at most 5 the
variance is intractable and the step is plain momentum SGD (``lr * m_hat``); after, Adam's
step is scaled by the rectification ``r_t``. Both depend on the step only, so the branch is
taken on the host.
"""

from __future__ import annotations

from typing import Any

from agrad.optim.adam import adam_family, moments
from agrad.optim.optimizer import Optimizer, weight_decayed


def radam_update(
    xp: Any,
    param: Any,
    grad: Any,
    exp_avg: Any,
    exp_avg_sq: Any,
    *,
    step: int,
    beta1: float,
    beta2: float,
    lr: float,
    weight_decay: float,
    eps: float,
    decoupled_weight_decay: bool,
    maximize: bool,
) -> tuple:
    """One RAdam step; kernel name ``"radam_update"``. Returns ``(param, exp_avg, exp_avg_sq)``."""
    param, g = weight_decayed(grad, param, lr, weight_decay, decoupled_weight_decay, maximize)
    exp_avg, exp_avg_sq = moments(g, exp_avg, exp_avg_sq, beta1, beta2)
    bias2 = 1.0 - beta2**step
    corrected = exp_avg / (1.0 - beta1**step)
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    rho_t = rho_inf - 2.0 * step * (beta2**step) / bias2
    if rho_t > 5.0:
        rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
        adaptive = bias2**0.5 / (xp.sqrt(exp_avg_sq) + eps)
        return param - corrected * lr * adaptive * rect, exp_avg, exp_avg_sq
    return param - corrected * lr, exp_avg, exp_avg_sq


class RAdam(Optimizer):
    """PyTorch's ``RAdam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    decoupled_weight_decay=False, *, maximize=False, ...)``."""

    kernel = "radam_update"
    update = staticmethod(radam_update)
    state_names = ("exp_avg", "exp_avg_sq")
    hyperparameters = adam_family(1e-3, decoupled_weight_decay=False)
