"""``MultiheadAttention`` with PyTorch's parameters, masks and return values.

Parameters (names match PyTorch, so state dicts load either way): ``in_proj_weight``
``(3E, E)`` or, when ``kdim``/``vdim`` differ from ``embed_dim``, ``q_proj_weight`` ``(E, E)``,
``k_proj_weight`` ``(E, kdim)`` and ``v_proj_weight`` ``(E, vdim)``; ``in_proj_bias`` ``(3E,)``;
``bias_k``/``bias_v`` ``(1, 1, E)`` with ``add_bias_kv``; ``out_proj.weight``, ``out_proj.bias``.
Masks follow ``nn.MultiheadAttention``: a boolean ``attn_mask`` or ``key_padding_mask`` is True
where attention is NOT allowed; a float mask is added to the scores.
"""

from __future__ import annotations

from typing import Any

import agrad as ag
from agrad.nn import init
from agrad.nn.functional import layers as F
from agrad.nn.functional.attention import attention, causal_allowed, mask_to_bias
from agrad.nn.layers.linear import Linear
from agrad.nn.module import Module, new_parameter


class MultiheadAttention(Module):
    """Attention over ``num_heads`` heads of ``embed_dim // num_heads`` features (PyTorch's module)."""

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
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
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.head_dim = embed_dim // num_heads
        self.add_zero_attn = add_zero_attn
        packed = self._qkv_same_embed_dim
        self.register_parameter(
            "in_proj_weight", new_parameter((3 * embed_dim, embed_dim), dtype) if packed else None
        )
        for name, width in (("q", embed_dim), ("k", self.kdim), ("v", self.vdim)):
            w = None if packed else new_parameter((embed_dim, width), dtype)
            self.register_parameter(f"{name}_proj_weight", w)
        self.register_parameter("in_proj_bias", new_parameter((3 * embed_dim,), dtype) if bias else None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        for name in ("bias_k", "bias_v"):
            self.register_parameter(name, new_parameter((1, 1, embed_dim), dtype) if add_bias_kv else None)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """PyTorch's initialisation: Xavier-uniform projections, zero biases, Xavier-normal
        ``bias_k``/``bias_v``."""
        for w in (self.in_proj_weight, self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
            if w is not None:
                init.xavier_uniform_(w)
        for b in (self.in_proj_bias, self.out_proj.bias):
            if b is not None:
                init.zeros_(b)
        for b in (self.bias_k, self.bias_v):
            if b is not None:
                init.xavier_normal_(b)

    def _heads(self, y: Any) -> Any:
        """``(N, L, E)`` -> ``(N, heads, L, head_dim)``."""
        n, length = y.shape[0], y.shape[1]
        return ag.permute_dims(ag.reshape(y, (n, length, self.num_heads, self.head_dim)), (0, 2, 1, 3))

    def _project(self, x: Any, i: int) -> Any:
        """The query (``i=0``), key (1) or value (2) projection of ``x`` ``(N, L, features)``, split
        into heads."""
        e = self.embed_dim
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight[i * e : (i + 1) * e]
        else:
            w = getattr(self, f"{'qkv'[i]}_proj_weight")
        b = None if self.in_proj_bias is None else self.in_proj_bias[i * e : (i + 1) * e]
        return self._heads(F.linear(x, w, b))

    def _extra_keys(self, k: Any, v: Any) -> tuple[Any, Any, int]:
        """Append the learned ``bias_k``/``bias_v`` position (``add_bias_kv``) and then a zero one
        (``add_zero_attn``) to every sequence's keys and values; also returns how many were added."""
        extra = 0
        if self.bias_k is not None:
            n = k.shape[0]
            k, v = (
                ag.concat([t, ag.broadcast_to(self._heads(b), (n, self.num_heads, 1, self.head_dim))], axis=2)
                for t, b in ((k, self.bias_k), (v, self.bias_v))
            )
            extra += 1
        if self.add_zero_attn:
            k, v = (ag.concat([t, ag.zeros_like(t[:, :, :1])], axis=2) for t in (k, v))
            extra += 1
        return k, v, extra

    def _bias(
        self,
        q: Any,
        n: int,
        lk: int,
        extra: int,
        attn_mask: Any,
        key_padding_mask: Any,
        is_causal: bool,
    ) -> Any:
        """The additive bias of the scores ``(N, heads, L, S + extra)`` (broadcastable), or None."""
        lq = q.shape[2]
        bias = None
        if attn_mask is not None:
            bias = mask_to_bias(attn_mask, q, true_means_blocked=True)
            if bias.ndim == 3:  # (N * heads, L, S)
                bias = ag.reshape(bias, (n, self.num_heads, lq, lk))
        elif is_causal:
            bias = mask_to_bias(causal_allowed(lq, lk, q.device), q, true_means_blocked=False)
        if key_padding_mask is not None:
            kp = ag.reshape(mask_to_bias(key_padding_mask, q, true_means_blocked=True), (n, 1, 1, lk))
            bias = kp if bias is None else bias + kp
        if bias is not None and extra:  # the added key positions are never masked
            bias = ag.concat([bias] + [ag.zeros_like(bias[..., :1])] * extra, axis=-1)
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
        unbatched ``(L, E)``). ``weights`` is ``None`` unless ``need_weights``.

        ``is_causal`` without ``attn_mask`` applies a causal mask (with one, it is only PyTorch's
        hint that the mask is causal). As in PyTorch, a query whose every key is masked out gets a
        zero attention output when ``need_weights=False`` (PyTorch's fused path) and NaN otherwise."""
        unbatched = query.ndim == 2
        if unbatched:
            query, key, value = (ag.expand_dims(t, axis=1) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = ag.expand_dims(ag.asarray(key_padding_mask), axis=0)
        if not self.batch_first or unbatched:
            query, key, value = (ag.permute_dims(t, (1, 0, 2)) for t in (query, key, value))
        if query.shape[-1] != self.embed_dim:
            raise ValueError(
                f"MultiheadAttention: the query has {query.shape[-1]} features, expected {self.embed_dim}"
            )
        n, lq, lk = query.shape[0], query.shape[1], key.shape[1]
        q, k, v = self._project(query, 0), self._project(key, 1), self._project(value, 2)
        k, v, extra = self._extra_keys(k, v)
        bias = self._bias(q, n, lk, extra, attn_mask, key_padding_mask, is_causal)
        # only a given mask can block a whole row (a causal one always allows the first key)
        masked = attn_mask is not None or key_padding_mask is not None
        out, weights = attention(
            q, k, v, bias, self.dropout, self.training, zero_blocked_rows=masked and not need_weights
        )
        out = ag.reshape(ag.permute_dims(out, (0, 2, 1, 3)), (n, lq, self.embed_dim))
        out = self.out_proj(out)
        if not self.batch_first or unbatched:
            out = ag.permute_dims(out, (1, 0, 2))
        if unbatched:
            out = ag.squeeze(out, axis=1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = ag.mean(weights, axis=1)
        if unbatched:
            weights = ag.squeeze(weights, axis=0)
        return out, weights

    def extra_repr(self) -> str:
        dims = "" if self._qkv_same_embed_dim else f", kdim={self.kdim}, vdim={self.vdim}"
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}{dims}, batch_first={self.batch_first}"
