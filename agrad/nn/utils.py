"""Gradient clipping: ``clip_grad_norm_`` and ``clip_grad_value_`` (rebind ``.grad``, never mutate).

No Python branch on values (lazy backends): the scale ``min(1, max_norm / (norm + 1e-6))`` is
applied as an array operation, as PyTorch does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from agrad._core.tensor import Tensor, _wrap


def _with_grads(parameters: Iterable[Tensor] | Tensor) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p for p in params if p.grad is not None]


def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float, norm_type: float = 2.0) -> Tensor:
    """Scale all gradients together so their joint ``norm_type``-norm is at most ``max_norm``.

    Returns the total norm before clipping (a Tensor).
    """
    params = _with_grads(parameters)
    if not params:
        raise ValueError("clip_grad_norm_: no parameter has a gradient; call backward() first")
    be = params[0]._backend
    xp = be.xp
    grads = [p.grad for p in params]
    if math.isinf(norm_type):
        total = xp.max(xp.stack([xp.max(xp.abs(g)) for g in grads]))
    else:
        parts = [xp.sum(xp.abs(g) ** norm_type) for g in grads]
        total = xp.sum(xp.stack(parts)) ** (1.0 / norm_type)
    scale = xp.clip(max_norm / (total + 1e-6), max=1.0)
    for p in params:
        p.grad = p.grad * xp.astype(scale, p.grad.dtype)
    return _wrap(total, be, None, 0)


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float) -> None:
    """Clamp every gradient element to ``[-clip_value, clip_value]``."""
    for p in _with_grads(parameters):
        p.grad = p._backend.xp.clip(p.grad, -clip_value, clip_value)
