"""Adadelta (Zeiler, 2012): steps scaled by the ratio of running RMS of past updates and gradients.

``delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * g``, so the step has the parameter's
units and ``lr`` (default 1) only scales it.
"""

from __future__ import annotations

from typing import Any

from agrad.optim.optimizer import Hyper, Optimizer, descent_direction, implementation_flags, nonnegative


def adadelta_update(
    xp: Any,
    param: Any,
    grad: Any,
    square_avg: Any,
    acc_delta: Any,
    *,
    step: int,
    lr: float,
    rho: float,
    eps: float,
    weight_decay: float,
    maximize: bool,
) -> tuple:
    """One Adadelta step; kernel name ``"adadelta_update"``. Returns ``(param, square_avg, acc_delta)``."""
    g = descent_direction(grad, param, weight_decay, maximize)
    square_avg = rho * square_avg + (1.0 - rho) * (g * g)
    delta = xp.sqrt(acc_delta + eps) / xp.sqrt(square_avg + eps) * g
    acc_delta = rho * acc_delta + (1.0 - rho) * (delta * delta)
    return param - lr * delta, square_avg, acc_delta


class Adadelta(Optimizer):
    """PyTorch's ``Adadelta(params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
    maximize=False, ...)``."""

    kernel = "adadelta_update"
    update = staticmethod(adadelta_update)
    state_names = ("square_avg", "acc_delta")
    hyperparameters = dict(
        lr=1.0,
        rho=Hyper(0.9, invalid=lambda rho: not 0.0 <= rho <= 1.0, error="invalid rho {}"),
        eps=nonnegative(1e-6, "eps"),
        weight_decay=nonnegative(0.0, "weight_decay"),
        maximize=Hyper(False, keyword_only=True),
        **implementation_flags(positional_foreach=True),
    )
