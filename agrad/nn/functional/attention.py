"""Scaled dot-product attention, with PyTorch's mask conventions.

Masks become an additive bias (0 where attention is allowed, -inf where not) added to the scores
before the fused softmax. A boolean mask carries no gradient; a float mask is added as it is, so a
learned bias given as the mask (ALiBi, T5's relative positions) gets its gradient, as in PyTorch.
"""

from __future__ import annotations

import math
from typing import Any

import agrad as ag
from agrad.nn.functional.activation import softmax
from agrad.nn.functional.layers import dropout


def causal_allowed(lq: int, lk: int, device: Any = None) -> Any:
    """Boolean ``(lq, lk)``: query ``i`` may attend keys ``j <= i`` (lower-triangular, aligned to the
    top left as PyTorch's ``is_causal``)."""
    rows = ag.reshape(ag.arange(lq, device=device), (lq, 1))
    cols = ag.reshape(ag.arange(lk, device=device), (1, lk))
    return cols <= rows


def blocked_bias(blocked: Any, dtype: Any, device: Any = None) -> Any:
    """``-inf`` where the boolean ``blocked`` is True, 0 elsewhere, in ``dtype``."""
    return ag.where(blocked, -math.inf, ag.zeros(blocked.shape, dtype=dtype, device=device))


def mask_to_bias(mask: Any, like: Any, *, true_means_blocked: bool) -> Any:
    """An additive bias in ``like``'s dtype from a boolean mask, or a float mask used as it is.

    ``true_means_blocked`` picks the convention: ``nn.MultiheadAttention`` blocks where a boolean
    mask is True, ``scaled_dot_product_attention`` allows where it is True."""
    mask = ag.asarray(mask)
    if mask.dtype == ag.bool:
        return blocked_bias(mask if true_means_blocked else ag.logical_not(mask), like.dtype, like.device)
    if not ag.isdtype(mask.dtype, "real floating"):
        raise TypeError(f"attention masks must be boolean or floating, got {mask.dtype}")
    return mask if mask.dtype == like.dtype else ag.astype(mask, like.dtype)


def attention(
    q: Any,
    k: Any,
    v: Any,
    bias: Any = None,
    dropout_p: float = 0.0,
    training: bool = True,
    scale: float | None = None,
    *,
    zero_blocked_rows: bool = False,
) -> tuple[Any, Any]:
    """``softmax(q k^T * scale + bias) v`` and the attention weights (after dropout).

    With ``zero_blocked_rows`` a query whose every key is blocked (its whole bias row is -inf) gets
    zero weights, a zero output and zero gradients instead of NaN, as PyTorch's
    ``scaled_dot_product_attention`` does; the blocked scores are replaced before the softmax so
    no NaN reaches the backward pass either."""
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = ag.matmul(q, ag.matrix_transpose(k)) * scale
    dead = None
    if bias is not None:
        scores = scores + bias
        if zero_blocked_rows:
            dead = ag.all(bias == -math.inf, axis=-1, keepdims=True)
            scores = ag.where(dead, 0.0, scores)
    weights = softmax(scores, axis=-1)
    if dead is not None:
        weights = ag.where(dead, 0.0, weights)
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
    enable_gqa: bool = False,
) -> Any:
    """PyTorch's ``F.scaled_dot_product_attention`` on ``(..., L, E)`` queries and ``(..., S, E)``
    keys: a boolean ``attn_mask`` is True where attention IS allowed; a float mask is added to the
    scores (and differentiated); ``is_causal`` applies a lower-triangular mask; ``scale`` defaults
    to ``1/sqrt(E)``; a query with every key masked out gets zeros. ``enable_gqa``: grouped-query
    attention, each key and value head (axis -3) serving a group of consecutive query heads.
    ``dropout_p`` always applies, as in PyTorch (pass 0.0 in evaluation)."""
    bias = None
    if is_causal:
        if attn_mask is not None:
            raise ValueError("scaled_dot_product_attention: give attn_mask or is_causal=True, not both")
        allowed = causal_allowed(query.shape[-2], key.shape[-2], query.device)
        bias = mask_to_bias(allowed, query, true_means_blocked=False)
    elif attn_mask is not None:
        bias = mask_to_bias(attn_mask, query, true_means_blocked=False)
    safe = attn_mask is not None  # only a given mask can block a whole row (causal allows key 0)
    if not enable_gqa:
        return attention(query, key, value, bias, dropout_p, True, scale, zero_blocked_rows=safe)[0]
    heads, kv_heads = query.shape[-3], key.shape[-3]
    if heads % kv_heads:
        raise ValueError(
            f"scaled_dot_product_attention: {heads} query heads are no multiple of {kv_heads} key heads"
        )
    # query head h uses key head h // group (PyTorch's repeat_interleave): split the query heads
    # into (kv_heads, group) and broadcast the keys over the group, without copying them
    lead, (lq, lk) = query.shape[:-3], (query.shape[-2], key.shape[-2])
    grouped = (*lead, kv_heads, heads // kv_heads)
    query = ag.reshape(query, (*grouped, lq, query.shape[-1]))
    key, value = (ag.expand_dims(t, axis=-3) for t in (key, value))
    if bias is not None and bias.ndim >= 3:  # it may have a head axis
        bias = ag.reshape(ag.broadcast_to(bias, (*lead, heads, lq, lk)), (*grouped, lq, lk))
    out = attention(query, key, value, bias, dropout_p, True, scale, zero_blocked_rows=safe)[0]
    return ag.reshape(out, (*lead, heads, lq, value.shape[-1]))
