"""Loss functions. Cross-entropy is one fused primitive (log-softmax and NLL together).

``cross_entropy`` reduces every variant (class indices or probabilities, ``weight``,
``ignore_index``, ``label_smoothing``) to one coefficient matrix ``M`` with
``loss_row = -sum_c M[row, c] * log_softmax(z)[row, c]``; its VJP is
``softmax(z) * sum_c M - M``. Kernel entry point ``"cross_entropy"``:
``fn(xp, logits, coef) -> per-row losses`` on ``(R, C)`` arrays (classes on the last axis).
Ignored rows (``ignore_index``) get a zero row in ``M`` and leave the mean's denominator, as
in PyTorch.
"""

from __future__ import annotations

from typing import Any

import agrad as ag
from agrad._core.batching import leading
from agrad._core.primitive import primitive
from agrad._core.tensor import Tensor
from agrad.amp import float32_op
from agrad.nn.functional.activation import _log_softmax_ref, log_softmax, sigmoid


def _ce_fwd(xp: Any, z: Any, m: Any) -> Any:
    return -xp.sum(m * _log_softmax_ref(xp, z, axis=-1), axis=-1)


def _ce_dz_coef(xp: Any, z: Any, m: Any) -> Any:
    """``d loss_row / d z = softmax(z) * sum_c M - M`` (row by row)."""
    return xp.softmax(z, axis=-1) * xp.sum(m, axis=-1, keepdims=True) - m


def _ce_dz(xp: Any, g: Any, ans: Any, z: Any, m: Any) -> Any:
    return xp.expand_dims(g, axis=-1) * _ce_dz_coef(xp, z, m)


def _ce_dm(xp: Any, g: Any, ans: Any, z: Any, m: Any) -> Any:
    return -xp.expand_dims(g, axis=-1) * xp.log_softmax(z, axis=-1)


def _ce_jvp_z(xp: Any, dz: Any, ans: Any, z: Any, m: Any) -> Any:
    return xp.sum(dz * _ce_dz_coef(xp, z, m), axis=-1)


def _ce_jvp_m(xp: Any, dm: Any, ans: Any, z: Any, m: Any) -> Any:
    return -xp.sum(dm * xp.log_softmax(z, axis=-1), axis=-1)


cross_entropy_p = primitive(
    "cross_entropy", _ce_fwd, vjp=(_ce_dz, _ce_dm), jvp=(_ce_jvp_z, _ce_jvp_m), kernel="cross_entropy"
)


def _reduce(losses: Any, reduction: str, denom: Any = None) -> Any:
    if reduction == "none":
        return losses
    if reduction == "sum":
        return ag.sum(losses)
    if reduction == "mean":
        return ag.mean(losses) if denom is None else ag.sum(losses) / denom
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _classes_last(x: Any) -> Any:
    """``(N, C, d1, ...)`` as ``(N*d1*..., C)``; ``(N, C)`` and ``(C,)`` pass through."""
    if x.ndim <= 2:
        return x
    perm = (0, *range(2, x.ndim), 1)
    return ag.reshape(ag.permute_dims(x, perm), (-1, x.shape[1]))


def _as_tensor(t: Any, like: Tensor) -> Tensor:
    return t if isinstance(t, Tensor) else Tensor(t, requires_grad=False, backend=like._backend)


def _class_ids(ag: Any, c: int, target: Any) -> Any:
    """``[[0, 1, ..., c-1]]`` on the target's backend (which need not be the active one)."""
    with ag.using_backend(target.backend):
        return ag.reshape(ag.arange(c, dtype=target.dtype), (1, c))


@float32_op
def cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Any:
    """PyTorch's ``F.cross_entropy``: logits ``(N, C)`` or ``(N, C, d1, ...)`` against class indices
    ``(N, d1, ...)`` or class probabilities (same shape as ``input``)."""
    if input.ndim < 1:
        raise ValueError("cross_entropy: input must have a class axis, got a 0-d tensor")
    target = _as_tensor(target, input)
    c = input.shape[1] if input.ndim > 1 else input.shape[0]
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    z = _classes_last(input)
    xp_dtype = input.dtype
    w = None if weight is None else ag.astype(_as_tensor(weight, input), xp_dtype)
    if w is not None and w.shape != (c,):
        raise ValueError(f"cross_entropy: weight must have shape ({c},), got {w.shape}")
    eps = label_smoothing
    if target.dtype.kind in ("signed integer", "unsigned integer"):
        expected = (input.shape[0], *input.shape[2:]) if input.ndim > 1 else ()
        if target.shape != expected:
            raise ValueError(
                f"cross_entropy: class-index targets must have shape {expected} for input {input.shape}, "
                f"got {target.shape}"
            )
        t = ag.reshape(target, (-1, 1)) if input.ndim > 1 else ag.reshape(target, (1, 1))
        classes = _class_ids(ag, c, target)
        onehot = ag.astype(t == classes, xp_dtype)
        keep = ag.astype(t != ignore_index, xp_dtype)  # (R, 1)
        wrow = keep if w is None else keep * ag.sum(onehot * w, axis=1, keepdims=True)
        smooth = keep * (1.0 if w is None else w) * (eps / c)
        m = (1.0 - eps) * onehot * wrow + smooth
        denom = ag.sum(wrow)
    else:
        if target.shape != input.shape:
            raise ValueError(
                f"cross_entropy: probability targets must have the input's shape {input.shape}, "
                f"got {target.shape}"
            )
        q = _classes_last(target)
        q = (1.0 - eps) * q + eps / c if eps else q
        m = q if w is None else q * w
        denom = None
    zz = z if input.ndim > 1 else ag.reshape(z, (1, c))
    losses = cross_entropy_p(zz, m)
    if reduction == "none":
        shape = (input.shape[0], *input.shape[2:]) if input.ndim > 1 else ()
        return ag.reshape(losses, shape)
    return _reduce(losses, reduction, denom)


@float32_op
def nll_loss(
    input: Any, target: Any, weight: Any = None, ignore_index: int = -100, reduction: str = "mean"
) -> Any:
    """Negative log-likelihood of log-probabilities ``input`` ``(N, C, ...)`` at class indices."""
    target = _as_tensor(target, input)
    c = input.shape[1] if input.ndim > 1 else input.shape[0]
    lp = _classes_last(input) if input.ndim > 1 else ag.reshape(input, (1, c))
    t = ag.reshape(target, (-1, 1))
    onehot = ag.astype(t == _class_ids(ag, c, target), input.dtype)
    keep = ag.astype(t != ignore_index, input.dtype)
    wrow = (
        keep if weight is None else keep * ag.sum(onehot * _as_tensor(weight, input), axis=1, keepdims=True)
    )
    losses = -ag.sum(lp * onehot, axis=1) * ag.reshape(wrow, (-1,))
    if reduction == "none":
        return ag.reshape(losses, (input.shape[0], *input.shape[2:]) if input.ndim > 1 else ())
    return _reduce(losses, reduction, ag.sum(wrow))


@float32_op
def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Any:
    d = input - target
    return _reduce(d * d, reduction)


@float32_op
def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Any:
    return _reduce(ag.abs(input - target), reduction)


@float32_op
def huber_loss(input: Any, target: Any, reduction: str = "mean", delta: float = 1.0) -> Any:
    """Quadratic within ``delta`` of the target, linear beyond (PyTorch's ``F.huber_loss``)."""
    d = ag.abs(input - target)
    small = d < delta
    quad = 0.5 * d * d
    lin = delta * (d - 0.5 * delta)
    return _reduce(ag.where(small, quad, lin), reduction)


@float32_op
def smooth_l1_loss(input: Any, target: Any, reduction: str = "mean", beta: float = 1.0) -> Any:
    """Huber loss divided by ``beta`` (PyTorch's ``F.smooth_l1_loss``); ``beta=0`` is the L1 loss."""
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    return (
        huber_loss(input, target, reduction, beta) / beta if beta > 0 else l1_loss(input, target, reduction)
    )


@float32_op
def kl_div(input: Any, target: Any, reduction: str = "mean", log_target: bool = False) -> Any:
    """Kullback-Leibler divergence of log-probabilities ``input`` from ``target`` (PyTorch's
    ``F.kl_div``): pointwise ``target * (log(target) - input)``, or with ``log_target=True``
    ``exp(target) * (target - input)``.

    ``0 * log 0`` counts as 0 (PyTorch's ``xlogy``), with gradient 0 there instead of NaN.
    ``reduction='batchmean'`` divides the sum by the batch size, the true KL divergence per sample;
    ``'mean'`` divides by the number of elements, as PyTorch does (and warns about).
    """
    if log_target:
        losses = ag.exp(target) * (target - input)
    else:
        zero = target == 0
        safe = ag.where(zero, ag.ones_like(target), target)  # log(1) = 0 where target is 0
        losses = target * ag.log(safe) - target * input
    if reduction == "batchmean":
        total = ag.sum(losses)
        return total / input.shape[0] if input.ndim else total
    return _reduce(losses, reduction)


@float32_op
def cosine_embedding_loss(
    input1: Any, input2: Any, target: Any, margin: float = 0.0, reduction: str = "mean"
) -> Any:
    """``1 - cos(x1, x2)`` where ``target == 1``, ``max(0, cos(x1, x2) - margin)`` where ``target == -1``
    (PyTorch's ``F.cosine_embedding_loss``; cosine over the last axis of ``(N, D)`` or ``(D,)``,
    each squared norm offset by 1e-12 as PyTorch does)."""
    if input1.ndim not in (1, 2):
        raise ValueError(f"cosine_embedding_loss: inputs must be 1-d or 2-d, got {input1.ndim}-d")
    axis = input1.ndim - 1
    dot = ag.sum(input1 * input2, axis=axis)
    mag1 = ag.sum(input1 * input1, axis=axis) + 1e-12
    mag2 = ag.sum(input2 * input2, axis=axis) + 1e-12
    cos = dot / ag.sqrt(mag1 * mag2)
    zeros = ag.zeros_like(cos)
    pos = ag.where(target == 1, 1.0 - cos, zeros)
    neg = ag.where(target == -1, ag.clip(cos - margin, min=0.0), zeros)
    return _reduce(pos + neg, reduction)


@float32_op
def margin_ranking_loss(
    input1: Any, input2: Any, target: Any, margin: float = 0.0, reduction: str = "mean"
) -> Any:
    """``max(0, -target * (x1 - x2) + margin)`` (PyTorch's ``F.margin_ranking_loss``): ``target``
    1 asks for ``x1`` to rank above ``x2`` by ``margin``, -1 for the opposite."""
    return _reduce(ag.clip(-target * (input1 - input2) + margin, min=0.0), reduction)


@float32_op
def binary_cross_entropy(input: Any, target: Any, weight: Any = None, reduction: str = "mean") -> Any:
    """BCE on probabilities; the logs are clamped at -100 as in PyTorch."""
    log_p = ag.maximum(ag.log(input), -100.0)
    log_q = ag.maximum(ag.log(1.0 - input), -100.0)
    loss = -(target * log_p + (1.0 - target) * log_q)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


@float32_op
def binary_cross_entropy_with_logits(
    input: Any, target: Any, weight: Any = None, reduction: str = "mean", pos_weight: Any = None
) -> Any:
    """BCE on logits, stable: ``(1 - t) x + (1 + (pw - 1) t) softplus(-x)``."""
    softplus_neg = ag.log1p(ag.exp(-ag.abs(input))) + ag.maximum(-input, 0.0)  # log(1 + exp(-x))
    if pos_weight is None:
        loss = (1.0 - target) * input + softplus_neg
    else:
        loss = (1.0 - target) * input + (1.0 + (pos_weight - 1.0) * target) * softplus_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cosine_embedding_loss",
    "cross_entropy",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "log_softmax",
    "margin_ranking_loss",
    "mse_loss",
    "nll_loss",
    "sigmoid",
    "smooth_l1_loss",
]


cross_entropy_p.batch = leading  # batching rule (agrad.vmap): rows of the last axis
