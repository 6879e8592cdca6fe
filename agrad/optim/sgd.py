"""SGD with momentum, dampening, Nesterov momentum and weight decay (PyTorch's formulas)."""

from __future__ import annotations

from typing import Any

from agrad.optim.optimizer import Optimizer, ParamsT, descent_direction


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
    uses_step = True

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        maximize: bool = False,
    ) -> None:
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening = 0")
        super().__init__(
            params,
            dict(
                lr=lr,
                momentum=momentum,
                dampening=dampening,
                weight_decay=weight_decay,
                nesterov=nesterov,
                maximize=maximize,
            ),
        )

    def _hyper(self, group: dict[str, Any]) -> dict[str, Any]:
        return {k: group[k] for k in ("lr", "momentum", "dampening", "nesterov", "weight_decay", "maximize")}
