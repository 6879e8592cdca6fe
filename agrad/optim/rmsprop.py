"""RMSprop (optionally centred, with momentum) and Adagrad, with PyTorch's formulas."""

from __future__ import annotations

from typing import Any

from agrad.optim.optimizer import Optimizer, descent_direction


def rmsprop_update(
    xp: Any,
    param: Any,
    grad: Any,
    square_avg: Any,
    grad_avg: Any,
    momentum_buffer: Any,
    *,
    step: int,
    lr: float,
    alpha: float,
    eps: float,
    weight_decay: float,
    momentum: float,
    centered: bool,
    maximize: bool,
) -> tuple:
    """One RMSprop step; kernel name ``"rmsprop_update"``.

    Returns ``(param, square_avg, grad_avg, momentum_buffer)``.
    """
    g = descent_direction(grad, param, weight_decay, maximize)
    square_avg = alpha * square_avg + (1.0 - alpha) * (g * g)
    if centered:
        grad_avg = grad_avg + (1.0 - alpha) * (g - grad_avg)
        avg = xp.sqrt(square_avg - grad_avg * grad_avg) + eps
    else:
        avg = xp.sqrt(square_avg) + eps
    if momentum > 0:
        momentum_buffer = momentum * momentum_buffer + g / avg
        return param - lr * momentum_buffer, square_avg, grad_avg, momentum_buffer
    return param - lr * (g / avg), square_avg, grad_avg, momentum_buffer


class RMSprop(Optimizer):
    kernel = "rmsprop_update"
    update = staticmethod(rmsprop_update)
    state_names = ("square_avg", "grad_avg", "momentum_buffer")
    hyperparameters = dict(
        lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False, maximize=False
    )


def adagrad_update(
    xp: Any,
    param: Any,
    grad: Any,
    sum_sq: Any,
    *,
    step: int,
    lr: float,
    lr_decay: float,
    weight_decay: float,
    eps: float,
    maximize: bool,
) -> tuple:
    """One Adagrad step; kernel name ``"adagrad_update"``. Returns ``(param, sum_sq)``."""
    g = descent_direction(grad, param, weight_decay, maximize)
    clr = lr / (1.0 + (step - 1) * lr_decay)
    sum_sq = sum_sq + g * g
    return param - clr * (g / (xp.sqrt(sum_sq) + eps)), sum_sq


class Adagrad(Optimizer):
    kernel = "adagrad_update"
    update = staticmethod(adagrad_update)
    state_names = ("sum",)
    hyperparameters = dict(
        lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10, maximize=False
    )

    def _initial_state(self, xp: Any, p: Any, group: dict[str, Any]) -> dict[str, Any]:
        return {"sum": xp.full_like(p.value, group["initial_accumulator_value"])}
