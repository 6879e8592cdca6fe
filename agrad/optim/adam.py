"""Adam and AdamW (optional AMSGrad), with bias correction.

``m_hat = m / (1 - beta1**t)`` and ``v_hat = v / (1 - beta2**t)`` with ``t`` counted from 1 per
parameter; AdamW decays the weights directly (``p *= 1 - lr * wd``) instead of adding
``wd * p`` to the gradient.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from agrad.optim.optimizer import Hyper, Optimizer, implementation_flags, lerp, nonnegative, weight_decayed


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
    param, g = weight_decayed(grad, param, lr, weight_decay, decoupled_weight_decay, maximize)
    exp_avg, exp_avg_sq = moments(g, exp_avg, exp_avg_sq, beta1, beta2)
    bias1 = 1.0 - beta1**step
    bias2_sqrt = math.sqrt(1.0 - beta2**step)
    if amsgrad:
        max_exp_avg_sq = xp.maximum(max_exp_avg_sq, exp_avg_sq)
        second = max_exp_avg_sq
    else:
        second = exp_avg_sq
    denom = xp.sqrt(second) / bias2_sqrt + eps
    return param - (lr / bias1) * (exp_avg / denom), exp_avg, exp_avg_sq, max_exp_avg_sq


def moments(g: Any, exp_avg: Any, exp_avg_sq: Any, beta1: float, beta2: float) -> tuple[Any, Any]:
    """The running averages of the gradient and of its square that the Adam family keeps."""
    return lerp(exp_avg, g, 1.0 - beta1), beta2 * exp_avg_sq + (1.0 - beta2) * (g * g)


def _betas_invalid(betas: tuple[float, float]) -> bool:
    b1, b2 = betas
    return not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0)


BETAS = Hyper((0.9, 0.999), convert=tuple, invalid=_betas_invalid, error="betas must lie in [0, 1), got {}")
"""The Adam family's ``betas`` (the averages' decay rates), shared by Adamax, NAdam and RAdam."""
EPS = Hyper(1e-8, invalid=lambda eps: eps < 0, error="invalid eps {}")


def adam_family(lr: float, *, positional_foreach: bool = False, **own: Any) -> dict[str, Any]:
    """The hyper-parameter table of PyTorch's Adamax, NAdam and RAdam: ``lr, betas, eps,
    weight_decay``, the optimizer's ``own`` ones, then keyword-only ``maximize`` and PyTorch's
    implementation flags."""
    return dict(
        lr=lr,
        betas=BETAS,
        eps=EPS,
        weight_decay=nonnegative(0.0, "weight_decay"),
        **own,
        maximize=Hyper(False, keyword_only=True),
        **implementation_flags(positional_foreach=positional_foreach),
    )


class Adam(Optimizer):
    kernel = "adam_update"
    update = staticmethod(adam_update)
    state_names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    hyperparameters = dict(lr=1e-3, betas=BETAS, eps=EPS, weight_decay=0.0, amsgrad=False, maximize=False)
    _decoupled = False

    def _hyper(self, group: Mapping[str, Any]) -> dict[str, Any]:
        return super()._hyper({**group, "decoupled_weight_decay": self._decoupled})


class AdamW(Adam):
    hyperparameters = {**Adam.hyperparameters, "weight_decay": 1e-2}
    _decoupled = True
