"""``TransformerEncoderLayer`` and ``TransformerDecoderLayer`` (post-norm, or pre-norm with
``norm_first=True``), the stacks ``TransformerEncoder`` and ``TransformerDecoder`` and the whole
``Transformer``, with PyTorch's submodule names (``encoder.layers.0.self_attn.in_proj_weight``,
``decoder.norm.weight``...) so state dicts load either way.

PyTorch's fast paths (nested tensors, the fused encoder kernel) and its mask-content checks
(``mask_check``, detecting that a mask is causal) change no numbers; their arguments are accepted
and ignored, since reading a mask's values would need a Python branch on array values.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import agrad as ag
from agrad._core.tensor import Tensor
from agrad.nn import init
from agrad.nn.functional import activation as act
from agrad.nn.functional.attention import blocked_bias, causal_allowed
from agrad.nn.layers.attention import MultiheadAttention
from agrad.nn.layers.containers import ModuleList
from agrad.nn.layers.dropout import Dropout
from agrad.nn.layers.linear import Linear
from agrad.nn.layers.normalization import LayerNorm
from agrad.nn.module import Module, Parameter

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
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        for name in self._attentions:
            attn = MultiheadAttention(
                d_model, nhead, dropout, bias=bias, batch_first=batch_first, dtype=dtype
            )
            setattr(self, name, attn)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        for i in range(1, len(self._attentions) + 2):
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
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


def _copy_member(value: Any, memo: dict[int, Any]) -> Any:
    if value is None:
        return None
    if id(value) not in memo:
        if isinstance(value, Module):
            memo[id(value)] = _clone(value, memo)
        elif isinstance(value, Parameter):
            memo[id(value)] = Parameter(
                value.value, requires_grad=value.requires_grad, backend=value._backend
            )
        else:
            memo[id(value)] = Tensor(value.value, requires_grad=False, backend=value._backend)
    return memo[id(value)]


def _clone(module: Module, memo: dict[int, Any] | None = None) -> Module:
    """An independent copy of ``module``: what PyTorch's ``copy.deepcopy`` of a layer gives (the same
    values, separate Parameters, shared ones still shared), without copying any array: arrays are
    never mutated (training rebinds a Parameter's ``value``), so the copies may share them."""
    memo = {} if memo is None else memo
    new = copy.copy(module)
    memo[id(module)] = new
    for table in ("_parameters", "_buffers", "_modules"):
        fresh = OrderedDict((k, _copy_member(v, memo)) for k, v in getattr(module, table).items())
        object.__setattr__(new, table, fresh)
        for k, v in fresh.items():
            object.__setattr__(new, k, v)
    if "_buffer_names" in module.__dict__:
        object.__setattr__(new, "_buffer_names", set(module._buffer_names))
    return new


class _Stack(Module):
    """``num_layers`` copies of one layer (``layers.0``...) and an optional final ``norm``; PyTorch
    deep-copies the given layer, so every copy starts from its weights and the layer itself is not
    used."""

    def __init__(self, layer: Module, num_layers: int, norm: Module | None = None) -> None:
        super().__init__()
        self.layers = ModuleList(_clone(layer) for _ in range(num_layers))
        self.num_layers = num_layers
        self.norm = norm

    def _run(self, x: Any, **kwargs: Any) -> Any:
        for layer in self.layers:
            x = layer(x, **kwargs)
        return x if self.norm is None else self.norm(x)


class TransformerEncoder(_Stack):
    """A stack of ``TransformerEncoderLayer``s, then ``norm`` if given."""

    def __init__(
        self,
        encoder_layer: TransformerEncoderLayer,
        num_layers: int,
        norm: Module | None = None,
        enable_nested_tensor: bool = True,
        mask_check: bool = True,
    ) -> None:
        super().__init__(encoder_layer, num_layers, norm)

    def forward(
        self, src: Any, mask: Any = None, src_key_padding_mask: Any = None, is_causal: bool | None = None
    ) -> Any:
        """``is_causal=True`` says ``mask`` is causal (or applies one when no mask is given)."""
        return self._run(
            src, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal)
        )


class TransformerDecoder(_Stack):
    """A stack of ``TransformerDecoderLayer``s attending to ``memory``, then ``norm`` if given."""

    def __init__(
        self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm: Module | None = None
    ) -> None:
        super().__init__(decoder_layer, num_layers, norm)

    def forward(
        self,
        tgt: Any,
        memory: Any,
        tgt_mask: Any = None,
        memory_mask: Any = None,
        tgt_key_padding_mask: Any = None,
        memory_key_padding_mask: Any = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Any:
        return self._run(
            tgt,
            memory=memory,
            tgt_mask=tgt_mask,
            memory_mask=memory_mask,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=memory_key_padding_mask,
            tgt_is_causal=bool(tgt_is_causal),
            memory_is_causal=memory_is_causal,
        )


class Transformer(Module):
    """PyTorch's encoder-decoder ``Transformer`` (``encoder``, ``decoder``, each with a final
    LayerNorm); every weight matrix Xavier-uniform initialised, as in PyTorch."""

    def __init__(
        self,
        d_model: int = 512,
        nhead: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable = "relu",
        custom_encoder: Module | None = None,
        custom_decoder: Module | None = None,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        kw: dict[str, Any] = dict(
            dim_feedforward=dim_feedforward,
            dropout=dropout,
            activation=activation,
            layer_norm_eps=layer_norm_eps,
            batch_first=batch_first,
            norm_first=norm_first,
            bias=bias,
            dtype=dtype,
        )
        if custom_encoder is None:
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
            custom_encoder = TransformerEncoder(
                TransformerEncoderLayer(d_model, nhead, **kw), num_encoder_layers, norm
            )
        if custom_decoder is None:
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
            custom_decoder = TransformerDecoder(
                TransformerDecoderLayer(d_model, nhead, **kw), num_decoder_layers, norm
            )
        self.encoder, self.decoder = custom_encoder, custom_decoder
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    def forward(
        self,
        src: Any,
        tgt: Any,
        src_mask: Any = None,
        tgt_mask: Any = None,
        memory_mask: Any = None,
        src_key_padding_mask: Any = None,
        tgt_key_padding_mask: Any = None,
        memory_key_padding_mask: Any = None,
        src_is_causal: bool | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Any:
        """Encode ``src``, then decode ``tgt`` against it; ``(S, N, E)`` and ``(T, N, E)`` inputs
        (``(N, S, E)``... with ``batch_first``, or unbatched ``(S, E)``), output shaped as ``tgt``."""
        batch_axis = 0 if self.batch_first else 1
        if src.ndim == 3 and src.shape[batch_axis] != tgt.shape[batch_axis]:
            raise ValueError("Transformer: the batch number of src and tgt must be equal")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ValueError(
                f"Transformer: the feature number of src and tgt must be equal to d_model ({self.d_model})"
            )
        memory = self.encoder(
            src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal
        )
        return self.decoder(
            tgt,
            memory,
            tgt_mask=tgt_mask,
            memory_mask=memory_mask,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=memory_key_padding_mask,
            tgt_is_causal=tgt_is_causal,
            memory_is_causal=memory_is_causal,
        )

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> Any:
        """The float causal mask ``(sz, sz)``: ``-inf`` above the diagonal (the future), 0 elsewhere;
        on the active backend, in its default floating dtype unless ``dtype`` is given."""
        dtype = ag.get_backend().default_float if dtype is None else dtype
        return blocked_bias(ag.logical_not(causal_allowed(sz, sz, device)), dtype, device)
