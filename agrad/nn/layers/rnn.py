"""``LSTM`` and ``GRU`` (multi-layer, bidirectional, ``batch_first``), PyTorch's gate order,
parameter names (``weight_ih_l0``, ``bias_hh_l1_reverse``...) and initialisation
(U(-1/sqrt(hidden), 1/sqrt(hidden)) for every parameter).

The input projection of all time steps is one matmul; the recurrence is a Python loop over time
steps (each step a handful of primitives), and the outputs are stacked at the end.
"""

from __future__ import annotations

import math
from typing import Any

import agrad
from agrad._core.primitive import device_of
from agrad.nn import init
from agrad.nn.functional.activation import sigmoid
from agrad.nn.functional.layers import dropout
from agrad.nn.module import Module, new_parameter


class _RNNBase(Module):
    gates = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout, self.bidirectional = (
            bias,
            batch_first,
            dropout,
            bidirectional,
        )
        g = self.gates * hidden_size
        dirs = 2 if bidirectional else 1
        for layer in range(num_layers):
            width = input_size if layer == 0 else hidden_size * dirs
            for suffix in self._suffixes(layer):
                setattr(self, f"weight_ih{suffix}", new_parameter((g, width), dtype))
                setattr(self, f"weight_hh{suffix}", new_parameter((g, hidden_size), dtype))
                if bias:
                    setattr(self, f"bias_ih{suffix}", new_parameter((g,), dtype))
                    setattr(self, f"bias_hh{suffix}", new_parameter((g,), dtype))
        bound = 1.0 / math.sqrt(hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _suffixes(self, layer: int) -> list[str]:
        return [f"_l{layer}"] + ([f"_l{layer}_reverse"] if self.bidirectional else [])

    def _weights(self, suffix: str) -> tuple[Any, Any, Any, Any]:
        get = lambda name: getattr(self, f"{name}{suffix}", None)  # noqa: E731
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    def _cell(self, xw: Any, state: tuple, w_hh: Any, b_hh: Any) -> tuple:
        raise NotImplementedError

    def _initial(self, hx: Any, n: int, like: Any) -> list[tuple]:
        raise NotImplementedError

    def _run_direction(self, x: Any, state: tuple, suffix: str, reverse: bool) -> tuple[list, tuple]:
        w_ih, w_hh, b_ih, b_hh = self._weights(suffix)
        xw = agrad.matmul(x, agrad.matrix_transpose(w_ih))  # (L, N, gates*H): all steps at once
        if b_ih is not None:
            xw = xw + b_ih
        steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
        outs = [None] * x.shape[0]
        for t in steps:
            state = self._cell(xw[t], state, w_hh, b_hh)
            outs[t] = state[0]
        return outs, state

    def forward(self, input: Any, hx: Any = None) -> tuple[Any, Any]:
        unbatched = input.ndim == 2
        x = agrad.expand_dims(input, axis=1) if unbatched else input
        if self.batch_first and not unbatched:
            x = agrad.permute_dims(x, (1, 0, 2))
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"{type(self).__name__}: expected {self.input_size} input features, got {x.shape[-1]}"
            )
        states = self._initial(hx, x.shape[1], x)
        finals = []
        k = 0
        for layer in range(self.num_layers):
            outs = []
            for d, suffix in enumerate(self._suffixes(layer)):
                seq, final = self._run_direction(x, states[k], suffix, reverse=d == 1)
                outs.append(agrad.stack(seq, axis=0))
                finals.append(final)
                k += 1
            x = outs[0] if len(outs) == 1 else agrad.concat(outs, axis=-1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = dropout(x, self.dropout, True)
        if self.batch_first and not unbatched:
            x = agrad.permute_dims(x, (1, 0, 2))
        if unbatched:
            x = agrad.squeeze(x, axis=1)
        return x, self._pack(finals, unbatched)

    def _pack(self, finals: list[tuple], unbatched: bool) -> Any:
        parts = [agrad.stack([f[i] for f in finals], axis=0) for i in range(len(finals[0]))]
        if unbatched:
            parts = [agrad.squeeze(p, axis=1) for p in parts]
        return tuple(parts) if len(parts) > 1 else parts[0]

    def _zeros_or(self, h: Any, n: int, like: Any) -> list[Any]:
        count = self.num_layers * (2 if self.bidirectional else 1)
        if h is None:
            be = like._backend
            z = agrad.Tensor(
                be.xp.zeros((n, self.hidden_size), dtype=like.value.dtype, device=device_of(like.value)),
                requires_grad=False,
                backend=be,
            )
            return [z] * count
        if h.ndim == 2:
            h = agrad.expand_dims(h, axis=1)
        if h.shape != (count, n, self.hidden_size):
            raise ValueError(
                f"{type(self).__name__}: the initial state must have shape "
                f"{(count, n, self.hidden_size)}, got {h.shape}"
            )
        return [h[i] for i in range(count)]

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
            f"batch_first={self.batch_first}"
        )


def _gate(z: Any, i: int, h: int) -> Any:
    return z[:, i * h : (i + 1) * h]


class LSTM(_RNNBase):
    """Long short-term memory; returns ``(output, (h_n, c_n))``. Gates in PyTorch's order i, f, g, o."""

    gates = 4

    def _initial(self, hx: Any, n: int, like: Any) -> list[tuple]:
        h0, c0 = (None, None) if hx is None else hx
        return list(zip(self._zeros_or(h0, n, like), self._zeros_or(c0, n, like)))

    def _cell(self, xw: Any, state: tuple, w_hh: Any, b_hh: Any) -> tuple:
        h, c = state
        z = xw + agrad.matmul(h, agrad.matrix_transpose(w_hh))
        if b_hh is not None:
            z = z + b_hh
        hs = self.hidden_size
        i, f, o = sigmoid(_gate(z, 0, hs)), sigmoid(_gate(z, 1, hs)), sigmoid(_gate(z, 3, hs))
        c = f * c + i * agrad.tanh(_gate(z, 2, hs))
        return o * agrad.tanh(c), c


class GRU(_RNNBase):
    """Gated recurrent unit; returns ``(output, h_n)``. Gates in PyTorch's order r, z, n."""

    gates = 3

    def _initial(self, hx: Any, n: int, like: Any) -> list[tuple]:
        return [(h,) for h in self._zeros_or(hx, n, like)]

    def _cell(self, xw: Any, state: tuple, w_hh: Any, b_hh: Any) -> tuple:
        (h,) = state
        hw = agrad.matmul(h, agrad.matrix_transpose(w_hh))
        if b_hh is not None:
            hw = hw + b_hh
        hs = self.hidden_size
        r = sigmoid(_gate(xw, 0, hs) + _gate(hw, 0, hs))
        u = sigmoid(_gate(xw, 1, hs) + _gate(hw, 1, hs))
        cand = agrad.tanh(_gate(xw, 2, hs) + r * _gate(hw, 2, hs))
        return ((1.0 - u) * cand + u * h,)
