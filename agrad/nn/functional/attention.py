"""Scaled dot-product attention, with PyTorch's mask conventions.

Masks are turned into an additive bias (0 where attention is allowed, -inf where not) built on
raw arrays (masks carry no gradient) and added to the scores before the fused softmax.
"""

from __future__ import annotations

import math
from typing import Any

import agrad as ag
from agrad._core.primitive import device_of
from agrad._core.tensor import Tensor
from agrad.nn.functional.activation import softmax
from agrad.nn.functional.layers import dropout


def _raw(m: Any) -> Any:
    return m.value if isinstance(m, Tensor) else m


def causal_allowed(xp: Any, lq: int, lk: int, device: Any) -> Any:
    """Boolean ``(lq, lk)``: query ``i`` may attend keys ``j <= i`` (a lower-triangular mask)."""
    rows = xp.reshape(xp.arange(lq, device=device), (lq, 1))
    cols = xp.reshape(xp.arange(lk, device=device), (1, lk))
    return cols <= rows


def mask_to_bias(xp: Any, mask: Any, dtype: Any, *, true_means_blocked: bool) -> Any:
    """An additive float bias from a boolean mask (or a float mask, used as it is)."""
    mask = _raw(mask)
    if "bool" not in str(mask.dtype):
        return xp.astype(mask, dtype)
    blocked = mask if true_means_blocked else xp.logical_not(mask)
    zero = xp.zeros(mask.shape, dtype=dtype, device=device_of(mask))
    return xp.where(blocked, xp.full(mask.shape, -math.inf, dtype=dtype, device=device_of(mask)), zero)


def attention(
    q: Any,
    k: Any,
    v: Any,
    bias: Any = None,
    dropout_p: float = 0.0,
    training: bool = True,
    scale: float | None = None,
) -> tuple[Any, Any]:
    """``softmax(q k^T * scale + bias) v`` and the attention weights (after dropout)."""
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = ag.matmul(q, ag.matrix_transpose(k)) * scale
    if bias is not None:
        scores = scores + bias
    weights = softmax(scores, axis=-1)
    if dropout_p > 0.0 and training:
        weights = dropout(weights, dropout_p, True)
    return ag.matmul(weights, v), weights


def scaled_dot_product_attention(
    query: Any,
    key: Any,
    value: Any,
    attn_mask: Any = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
) -> Any:
    """PyTorch's ``F.scaled_dot_product_attention``: a boolean ``attn_mask`` is True where attention
    IS allowed; a float mask is added to the scores; ``is_causal`` applies a lower-triangular mask."""
    xp = query._backend.xp
    dtype = query.value.dtype
    bias = None
    if is_causal:
        if attn_mask is not None:
            raise ValueError("scaled_dot_product_attention: give attn_mask or is_causal=True, not both")
        allowed = causal_allowed(xp, query.shape[-2], key.shape[-2], device_of(query.value))
        bias = mask_to_bias(xp, allowed, dtype, true_means_blocked=False)
    elif attn_mask is not None:
        bias = mask_to_bias(xp, attn_mask, dtype, true_means_blocked=False)
    return attention(query, key, value, bias, dropout_p, True, scale)[0]
