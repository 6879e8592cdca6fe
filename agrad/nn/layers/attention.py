"""``MultiheadAttention`` with PyTorch's parameters, masks and return values.

Parameters (names match PyTorch, so state dicts load either way): ``in_proj_weight``
``(3E, E)``, ``in_proj_bias`` ``(3E,)``, ``out_proj.weight``, ``out_proj.bias``. Masks follow
``nn.MultiheadAttention``: a boolean ``attn_mask`` or ``key_padding_mask`` is True where attention
is NOT allowed; a float mask is added to the scores.
"""

from __future__ import annotations

from typing import Any

import agrad
from agrad._core.primitive import device_of
from agrad.nn import init
from agrad.nn.functional.attention import attention, causal_allowed, mask_to_bias
from agrad.nn.layers.linear import Linear
from agrad.nn.module import Module, new_parameter


class MultiheadAttention(Module):
    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        batch_first: bool = False,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(
                f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})"
            )
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = (
            embed_dim,
            num_heads,
            dropout,
            batch_first,
        )
        self.head_dim = embed_dim // num_heads
        self.in_proj_weight = new_parameter((3 * embed_dim, embed_dim), dtype)
        self.register_parameter("in_proj_bias", new_parameter((3 * embed_dim,), dtype) if bias else None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        init.xavier_uniform_(self.in_proj_weight)
        if bias:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def _project(self, x: Any, i: int) -> Any:
        e = self.embed_dim
        w = self.in_proj_weight[i * e : (i + 1) * e]
        y = agrad.matmul(x, agrad.matrix_transpose(w))
        if self.in_proj_bias is not None:
            y = y + self.in_proj_bias[i * e : (i + 1) * e]
        n, length = x.shape[0], x.shape[1]
        return agrad.permute_dims(agrad.reshape(y, (n, length, self.num_heads, self.head_dim)), (0, 2, 1, 3))

    def _bias(self, q: Any, n: int, lq: int, lk: int, attn_mask: Any, key_padding_mask: Any, is_causal: bool):
        be = q._backend
        xp, dtype, device = be.xp, q.value.dtype, device_of(q.value)
        bias = None
        if attn_mask is None and is_causal:
            bias = mask_to_bias(xp, causal_allowed(xp, lq, lk, device), dtype, true_means_blocked=False)
        elif attn_mask is not None:
            bias = mask_to_bias(xp, attn_mask, dtype, true_means_blocked=True)
            if len(bias.shape) == 3:  # (N * heads, L, S)
                bias = xp.reshape(bias, (n, self.num_heads, lq, lk))
        if key_padding_mask is not None:
            kp = mask_to_bias(xp, key_padding_mask, dtype, true_means_blocked=True)
            kp = xp.reshape(kp, (n, 1, 1, lk))
            bias = kp if bias is None else bias + kp
        return bias

    def forward(
        self,
        query: Any,
        key: Any,
        value: Any,
        key_padding_mask: Any = None,
        need_weights: bool = True,
        attn_mask: Any = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Any, Any]:
        """``(output, weights)``; inputs ``(L, N, E)`` (or ``(N, L, E)`` with ``batch_first``, or
        unbatched ``(L, E)``). ``weights`` is ``None`` unless ``need_weights``."""
        unbatched = query.ndim == 2
        if unbatched:
            query, key, value = (agrad.expand_dims(t, axis=1) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = agrad.expand_dims(agrad.asarray(key_padding_mask), axis=0)
        if not self.batch_first or unbatched:
            query, key, value = (agrad.permute_dims(t, (1, 0, 2)) for t in (query, key, value))
        if query.shape[-1] != self.embed_dim:
            raise ValueError(
                f"MultiheadAttention: the query has {query.shape[-1]} features, expected {self.embed_dim}"
            )
        n, lq, lk = query.shape[0], query.shape[1], key.shape[1]
        q, k, v = self._project(query, 0), self._project(key, 1), self._project(value, 2)
        bias = self._bias(q, n, lq, lk, attn_mask, key_padding_mask, is_causal)
        out, weights = attention(q, k, v, bias, self.dropout, self.training)
        out = agrad.reshape(agrad.permute_dims(out, (0, 2, 1, 3)), (n, lq, self.embed_dim))
        out = self.out_proj(out)
        if not self.batch_first or unbatched:
            out = agrad.permute_dims(out, (1, 0, 2))
        if unbatched:
            out = agrad.squeeze(out, axis=1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = agrad.mean(weights, axis=1)
        if unbatched:
            weights = agrad.squeeze(weights, axis=0)
        return out, weights

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, batch_first={self.batch_first}"
