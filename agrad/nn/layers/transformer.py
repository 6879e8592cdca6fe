"""``TransformerEncoderLayer`` and ``TransformerDecoderLayer`` (post-norm, or pre-norm with
``norm_first=True``), with PyTorch's submodule names so state dicts load either way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agrad.nn.functional import activation as act
from agrad.nn.layers.attention import MultiheadAttention
from agrad.nn.layers.dropout import Dropout
from agrad.nn.layers.linear import Linear
from agrad.nn.layers.normalization import LayerNorm
from agrad.nn.module import Module

_ACTIVATIONS: dict[str, Callable[[Any], Any]] = {"relu": act.relu, "gelu": act.gelu}


def _activation(activation: str | Callable[[Any], Any]) -> Callable[[Any], Any]:
    if callable(activation):
        return activation
    if activation not in _ACTIVATIONS:
        raise ValueError(f"transformer activation must be 'relu', 'gelu' or a callable, got {activation!r}")
    return _ACTIVATIONS[activation]


class _TransformerLayer(Module):
    """What both layers share: attention blocks (``_attentions`` names them), the feed-forward
    block, one LayerNorm and one Dropout per block, and the residual wiring."""

    _attentions: tuple[str, ...] = ()

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        for name in self._attentions:
            setattr(
                self, name, MultiheadAttention(d_model, nhead, dropout, batch_first=batch_first, dtype=dtype)
            )
        self.linear1 = Linear(d_model, dim_feedforward, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, dtype=dtype)
        for i in range(1, len(self._attentions) + 2):
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, dtype=dtype))
            setattr(self, f"dropout{i}", Dropout(dropout))
        self.norm_first = norm_first
        self.activation = _activation(activation)

    def _block(self, i: int, x: Any, fn: Callable[[Any], Any]) -> Any:
        """Residual block ``i`` (1-based): ``x + drop(fn(norm(x)))`` or ``norm(x + drop(fn(x)))``."""
        norm, drop = getattr(self, f"norm{i}"), getattr(self, f"dropout{i}")
        if self.norm_first:
            return x + drop(fn(norm(x)))
        return norm(x + drop(fn(x)))

    def _attend(self, name: str, memory: Any, mask: Any, padding: Any, causal: bool) -> Callable[[Any], Any]:
        attn = getattr(self, name)

        def fn(x: Any) -> Any:
            kv = x if memory is None else memory
            return attn(
                x, kv, kv, key_padding_mask=padding, need_weights=False, attn_mask=mask, is_causal=causal
            )[0]

        return fn

    def _feed_forward(self, x: Any) -> Any:
        return self.linear2(self.dropout(self.activation(self.linear1(x))))


class TransformerEncoderLayer(_TransformerLayer):
    """Self-attention then feed-forward, each with a residual connection and a LayerNorm."""

    _attentions = ("self_attn",)

    def forward(
        self, src: Any, src_mask: Any = None, src_key_padding_mask: Any = None, is_causal: bool = False
    ) -> Any:
        x = self._block(1, src, self._attend("self_attn", None, src_mask, src_key_padding_mask, is_causal))
        return self._block(2, x, self._feed_forward)


class TransformerDecoderLayer(_TransformerLayer):
    """Self-attention, cross-attention to ``memory``, then feed-forward."""

    _attentions = ("self_attn", "multihead_attn")

    def forward(
        self,
        tgt: Any,
        memory: Any,
        tgt_mask: Any = None,
        memory_mask: Any = None,
        tgt_key_padding_mask: Any = None,
        memory_key_padding_mask: Any = None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ) -> Any:
        x = self._block(
            1, tgt, self._attend("self_attn", None, tgt_mask, tgt_key_padding_mask, tgt_is_causal)
        )
        cross = self._attend("multihead_attn", memory, memory_mask, memory_key_padding_mask, memory_is_causal)
        x = self._block(2, x, cross)
        return self._block(3, x, self._feed_forward)
