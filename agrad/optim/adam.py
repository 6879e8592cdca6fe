"""Adam and AdamW (optional AMSGrad), with bias correction.

``m_hat = m / (1 - beta1**t)`` and ``v_hat = v / (1 - beta2**t)`` with ``t`` counted from 1 per
parameter; AdamW decays the weights directly (``p *= 1 - lr * wd``) instead of adding
``wd * p`` to the gradient.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from agrad.optim.optimizer import Hyper, Optimizer, descent_direction


def adam_update(
    xp: Any,
    param: Any,
    grad: Any,
    exp_avg: Any,
    exp_avg_sq: Any,
    max_exp_avg_sq: Any,
    *,
    step: int,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    decoupled_weight_decay: bool,
    amsgrad: bool,
    maximize: bool,
) -> tuple:
    """One Adam/AdamW step; kernel name ``"adam_update"``.

    Returns ``(param, exp_avg, exp_avg_sq, max_exp_avg_sq)``.
    """
    if decoupled_weight_decay and weight_decay:
        g = descent_direction(grad, param, 0.0, maximize)
        param = param * (1.0 - lr * weight_decay)
    else:
        g = descent_direction(grad, param, weight_decay, maximize)
    exp_avg = exp_avg + (1.0 - beta1) * (g - exp_avg)
    exp_avg_sq = beta2 * exp_avg_sq + (1.0 - beta2) * (g * g)
    bias1 = 1.0 - beta1**step
    bias2_sqrt = math.sqrt(1.0 - beta2**step)
    if amsgrad:
        max_exp_avg_sq = xp.maximum(max_exp_avg_sq, exp_avg_sq)
        second = max_exp_avg_sq
    else:
        second = exp_avg_sq
    denom = xp.sqrt(second) / bias2_sqrt + eps
    return param - (lr / bias1) * (exp_avg / denom), exp_avg, exp_avg_sq, max_exp_avg_sq


def _betas_invalid(betas: tuple[float, float]) -> bool:
    b1, b2 = betas
    return not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0)


class Adam(Optimizer):
    kernel = "adam_update"
    update = staticmethod(adam_update)
    state_names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    hyperparameters = dict(
        lr=1e-3,
        betas=Hyper(
            (0.9, 0.999), convert=tuple, invalid=_betas_invalid, error="betas must lie in [0, 1), got {}"
        ),
        eps=Hyper(1e-8, invalid=lambda eps: eps < 0, error="invalid eps {}"),
        weight_decay=0.0,
        amsgrad=False,
        maximize=False,
    )
    _decoupled = False

    def _hyper(self, group: Mapping[str, Any]) -> dict[str, Any]:
        b1, b2 = group["betas"]
        return super()._hyper({**group, "beta1": b1, "beta2": b2, "decoupled_weight_decay": self._decoupled})


class AdamW(Adam):
    hyperparameters = {**Adam.hyperparameters, "weight_decay": 1e-2}
    _decoupled = True
