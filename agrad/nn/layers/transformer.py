"""``TransformerEncoderLayer`` and ``TransformerDecoderLayer`` (post-norm, or pre-norm with
``norm_first=True``), with PyTorch's submodule names so state dicts load either way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agrad.nn import functional_activation as act
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


class _FeedForwardBlock(Module):
    """What both layers share: the feed-forward sub-block and the residual wiring."""

    def _init_ff(
        self,
        d_model: int,
        dim_feedforward: int,
        dropout: float,
        activation: Any,
        eps: float,
        norm_first: bool,
        n_norms: int,
        dtype: Any,
    ) -> None:
        self.linear1 = Linear(d_model, dim_feedforward, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, dtype=dtype)
        for i in range(1, n_norms + 1):
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=eps, dtype=dtype))
            setattr(self, f"dropout{i}", Dropout(dropout))
        self.norm_first = norm_first
        self.activation = _activation(activation)

    def _ff(self, x: Any, out_dropout: Dropout) -> Any:
        return out_dropout(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def _residual(self, x: Any, norm: LayerNorm, block: Callable[[Any], Any]) -> Any:
        return x + block(norm(x)) if self.norm_first else norm(x + block(x))


class TransformerEncoderLayer(_FeedForwardBlock):
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
        self.self_attn = MultiheadAttention(d_model, nhead, dropout, batch_first=batch_first, dtype=dtype)
        self._init_ff(d_model, dim_feedforward, dropout, activation, layer_norm_eps, norm_first, 2, dtype)

    def forward(
        self, src: Any, src_mask: Any = None, src_key_padding_mask: Any = None, is_causal: bool = False
    ) -> Any:
        def sa(x: Any) -> Any:
            out = self.self_attn(
                x,
                x,
                x,
                key_padding_mask=src_key_padding_mask,
                need_weights=False,
                attn_mask=src_mask,
                is_causal=is_causal,
            )[0]
            return self.dropout1(out)

        x = self._residual(src, self.norm1, sa)
        return self._residual(x, self.norm2, lambda y: self._ff(y, self.dropout2))


class TransformerDecoderLayer(_FeedForwardBlock):
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
        self.self_attn = MultiheadAttention(d_model, nhead, dropout, batch_first=batch_first, dtype=dtype)
        self.multihead_attn = MultiheadAttention(
            d_model, nhead, dropout, batch_first=batch_first, dtype=dtype
        )
        self._init_ff(d_model, dim_feedforward, dropout, activation, layer_norm_eps, norm_first, 3, dtype)

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
        def sa(x: Any) -> Any:
            out = self.self_attn(
                x,
                x,
                x,
                key_padding_mask=tgt_key_padding_mask,
                need_weights=False,
                attn_mask=tgt_mask,
                is_causal=tgt_is_causal,
            )[0]
            return self.dropout1(out)

        def cross(x: Any) -> Any:
            out = self.multihead_attn(
                x,
                memory,
                memory,
                key_padding_mask=memory_key_padding_mask,
                need_weights=False,
                attn_mask=memory_mask,
                is_causal=memory_is_causal,
            )[0]
            return self.dropout2(out)

        x = self._residual(tgt, self.norm1, sa)
        x = self._residual(x, self.norm2, cross)
        return self._residual(x, self.norm3, lambda y: self._ff(y, self.dropout3))
