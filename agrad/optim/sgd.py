"""SGD with momentum, dampening, Nesterov momentum and weight decay (PyTorch's formulas)."""

from __future__ import annotations

from typing import Any

from agrad.optim.optimizer import Optimizer, descent_direction


def sgd_update(
    xp: Any,
    param: Any,
    grad: Any,
    momentum_buffer: Any,
    *,
    step: int,
    lr: float,
    momentum: float,
    dampening: float,
    nesterov: bool,
    weight_decay: float,
    maximize: bool,
) -> tuple:
    """One SGD step; kernel name ``"sgd_update"``. Returns ``(param, momentum_buffer)``.

    On the first step (``step == 1``) the momentum buffer starts as the gradient itself.
    """
    g = descent_direction(grad, param, weight_decay, maximize)
    if momentum:
        buf = g if step == 1 else momentum * momentum_buffer + (1.0 - dampening) * g
        g = g + momentum * buf if nesterov else buf
        momentum_buffer = buf
    return param - lr * g, momentum_buffer


class SGD(Optimizer):
    kernel = "sgd_update"
    update = staticmethod(sgd_update)
    state_names = ("momentum_buffer",)
    hyperparameters = dict(
        lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False
    )

    def _check_defaults(self, defaults: dict[str, Any]) -> None:
        if defaults["nesterov"] and (defaults["momentum"] <= 0 or defaults["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening = 0")
