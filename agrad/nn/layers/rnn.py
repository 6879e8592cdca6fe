"""Recurrent layers: ``RNN``, ``LSTM`` and ``GRU`` (multi-layer, bidirectional, ``batch_first``)
and their single-step cells ``RNNCell``, ``LSTMCell`` and ``GRUCell``, with PyTorch's gate order,
parameter names (``weight_ih_l0``, ``bias_hh_l1_reverse``...; ``weight_ih`` for a cell) and
initialisation (U(-1/sqrt(hidden), 1/sqrt(hidden)) for every parameter).

Each kind of recurrence is written once (``_RNNStep``, ``_LSTMStep``, ``_GRUStep``: one time step
from the projected input and the state) and mixed into both its sequence layer and its cell. In a
sequence layer the input projection of all time steps is one matmul; the recurrence is a Python
loop over time steps (each step a handful of primitives), and the outputs are stacked at the end.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import agrad as ag
from agrad.nn import init
from agrad.nn.functional import layers as F
from agrad.nn.functional.activation import relu, sigmoid
from agrad.nn.module import Module, new_parameter

_NONLINEARITIES: dict[str, Callable[[Any], Any]] = {"tanh": ag.tanh, "relu": relu}


def _zeros(shape: tuple[int, ...], like: Any) -> Any:
    return ag.zeros(shape, dtype=like.dtype, device=like.device)


def _checked_state(who: str, h: Any, shape: tuple[int, ...]) -> Any:
    """``h`` (given without its batch axis for an unbatched input) checked against ``shape``."""
    if h.ndim == len(shape) - 1:
        h = ag.expand_dims(h, axis=-2)
    if h.shape != shape:
        raise ValueError(f"{who}: the initial state must have shape {shape}, got {h.shape}")
    return h


def _one_or_tuple(parts: list | tuple) -> Any:
    return tuple(parts) if len(parts) > 1 else parts[0]


class _Recurrence(Module):
    """What every recurrent module has: the parameters of one layer and direction, their
    initialisation and one time step. The kinds (``_RNNStep``...) override the step, the shapes
    (``_RNNBase``, ``_RNNCellBase``) the loop over time; a public class combines one of each."""

    gates = 1
    hidden_size: int
    bias: bool

    def _add_weights(self, suffix: str, width: int, dtype: Any) -> None:
        g = self.gates * self.hidden_size
        setattr(self, f"weight_ih{suffix}", new_parameter((g, width), dtype))
        setattr(self, f"weight_hh{suffix}", new_parameter((g, self.hidden_size), dtype))
        if self.bias:
            setattr(self, f"bias_ih{suffix}", new_parameter((g,), dtype))
            setattr(self, f"bias_hh{suffix}", new_parameter((g,), dtype))

    def reset_parameters(self) -> None:
        """PyTorch's initialisation: every parameter U(-1/sqrt(hidden), 1/sqrt(hidden))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _weights(self, suffix: str) -> tuple[Any, Any, Any, Any]:
        get = lambda name: getattr(self, f"{name}{suffix}", None)  # noqa: E731
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    def _split(self, hx: Any) -> tuple:
        """The state's parts as given by the caller (``None`` for zeros)."""
        return (hx,)

    def _step(self, xw: Any, state: tuple, w_hh: Any, b_hh: Any) -> tuple:
        """The next state from ``xw`` (the input already multiplied by ``weight_ih``, plus
        ``bias_ih``) and the current one; the new hidden state comes first."""
        raise NotImplementedError


def _gate(z: Any, i: int, h: int) -> Any:
    return z[:, i * h : (i + 1) * h]


def _check_nonlinearity(nonlinearity: str) -> str:
    if nonlinearity not in _NONLINEARITIES:
        raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
    return nonlinearity


class _RNNStep(_Recurrence):
    """Elman recurrence ``h' = act(W_ih x + b_ih + W_hh h + b_hh)``, ``act`` tanh or relu."""

    nonlinearity: str = "tanh"

    def _step(self, xw: Any, state: tuple, w_hh: Any, b_hh: Any) -> tuple:
        (h,) = state
        return (_NONLINEARITIES[self.nonlinearity](xw + F.linear(h, w_hh, b_hh)),)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", nonlinearity={self.nonlinearity!r}"


class _LSTMStep(_Recurrence):
    """Long short-term memory; the state is ``(h, c)``. Gates in PyTorch's order i, f, g, o."""

    gates = 4

    def _split(self, hx: Any) -> tuple:
        return (None, None) if hx is None else tuple(hx)

    def _step(self, xw: Any, state: tuple, w_hh: Any, b_hh: Any) -> tuple:
        h, c = state
        z = xw + F.linear(h, w_hh, b_hh)
        hs = self.hidden_size
        i, f, o = sigmoid(_gate(z, 0, hs)), sigmoid(_gate(z, 1, hs)), sigmoid(_gate(z, 3, hs))
        c = f * c + i * ag.tanh(_gate(z, 2, hs))
        return o * ag.tanh(c), c


class _GRUStep(_Recurrence):
    """Gated recurrent unit. Gates in PyTorch's order r, z, n."""

    gates = 3

    def _step(self, xw: Any, state: tuple, w_hh: Any, b_hh: Any) -> tuple:
        (h,) = state
        hw = F.linear(h, w_hh, b_hh)
        hs = self.hidden_size
        r = sigmoid(_gate(xw, 0, hs) + _gate(hw, 0, hs))
        u = sigmoid(_gate(xw, 1, hs) + _gate(hw, 1, hs))
        cand = ag.tanh(_gate(xw, 2, hs) + r * _gate(hw, 2, hs))
        return ((1.0 - u) * cand + u * h,)


class _RNNBase(_Recurrence):
    """A stack of recurrent layers over a whole sequence (PyTorch's ``RNNBase``)."""

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
        dirs = 2 if bidirectional else 1
        for layer in range(num_layers):
            width = input_size if layer == 0 else hidden_size * dirs
            for suffix in self._suffixes(layer):
                self._add_weights(suffix, width, dtype)
        self.reset_parameters()

    def flatten_parameters(self) -> None:
        """A no-op, kept so PyTorch code that packs cuDNN weights runs unchanged."""

    def _suffixes(self, layer: int) -> list[str]:
        return [f"_l{layer}"] + ([f"_l{layer}_reverse"] if self.bidirectional else [])

    def _run_direction(self, x: Any, state: tuple, suffix: str, reverse: bool) -> tuple[list, tuple]:
        w_ih, w_hh, b_ih, b_hh = self._weights(suffix)
        xw = F.linear(x, w_ih, b_ih)  # (L, N, gates*H): all steps at once
        steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
        outs = [None] * x.shape[0]
        for t in steps:
            state = self._step(xw[t], state, w_hh, b_hh)
            outs[t] = state[0]
        return outs, state

    def _initial(self, hx: Any, n: int, like: Any) -> list[tuple]:
        """One state tuple per layer and direction, from ``hx`` (``(layers*dirs, N, H)`` parts)."""
        count = self.num_layers * (2 if self.bidirectional else 1)
        parts = []
        for h in self._split(hx):
            if h is None:
                parts.append([_zeros((n, self.hidden_size), like)] * count)
            else:
                h = _checked_state(type(self).__name__, h, (count, n, self.hidden_size))
                parts.append([h[i] for i in range(count)])
        return list(zip(*parts))

    def forward(self, input: Any, hx: Any = None) -> tuple[Any, Any]:
        """``(output, final state)``; ``input`` ``(L, N, input_size)`` (``(N, L, input_size)`` with
        ``batch_first``, or unbatched ``(L, input_size)``)."""
        unbatched = input.ndim == 2
        x = ag.expand_dims(input, axis=1) if unbatched else input
        if self.batch_first and not unbatched:
            x = ag.permute_dims(x, (1, 0, 2))
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
                outs.append(ag.stack(seq, axis=0))
                finals.append(final)
                k += 1
            x = outs[0] if len(outs) == 1 else ag.concat(outs, axis=-1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        if self.batch_first and not unbatched:
            x = ag.permute_dims(x, (1, 0, 2))
        if unbatched:
            x = ag.squeeze(x, axis=1)
        return x, self._pack(finals, unbatched)

    def _pack(self, finals: list[tuple], unbatched: bool) -> Any:
        parts = [ag.stack([f[i] for f in finals], axis=0) for i in range(len(finals[0]))]
        if unbatched:
            parts = [ag.squeeze(p, axis=1) for p in parts]
        return _one_or_tuple(parts)

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
            f"batch_first={self.batch_first}"
        )


class _RNNCellBase(_Recurrence):
    """One time step of a recurrence (PyTorch's ``RNNCellBase``): ``input`` ``(N, input_size)``
    or unbatched ``(input_size,)``; the state defaults to zeros."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self._add_weights("", input_size, dtype)
        self.reset_parameters()

    def forward(self, input: Any, hx: Any = None) -> Any:
        who = type(self).__name__
        if input.ndim not in (1, 2):
            raise ValueError(f"{who}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        unbatched = input.ndim == 1
        x = ag.expand_dims(input, axis=0) if unbatched else input
        shape = (x.shape[0], self.hidden_size)
        state = tuple(
            _zeros(shape, x) if h is None else _checked_state(who, h, shape) for h in self._split(hx)
        )
        w_ih, w_hh, b_ih, b_hh = self._weights("")
        state = self._step(F.linear(x, w_ih, b_ih), state, w_hh, b_hh)
        if unbatched:
            state = tuple(ag.squeeze(s, axis=0) for s in state)
        return _one_or_tuple(state)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNN(_RNNStep, _RNNBase):
    """Elman RNN with tanh or relu; returns ``(output, h_n)``."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype: Any = None,
    ) -> None:
        nonlinearity = _check_nonlinearity(nonlinearity)
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, dtype
        )
        self.nonlinearity = nonlinearity


class LSTM(_LSTMStep, _RNNBase):
    """Long short-term memory; returns ``(output, (h_n, c_n))``. Gates in PyTorch's order i, f, g, o."""


class GRU(_GRUStep, _RNNBase):
    """Gated recurrent unit; returns ``(output, h_n)``. Gates in PyTorch's order r, z, n."""


class RNNCell(_RNNStep, _RNNCellBase):
    """One Elman step; returns ``h'``."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        dtype: Any = None,
    ) -> None:
        nonlinearity = _check_nonlinearity(nonlinearity)
        super().__init__(input_size, hidden_size, bias, dtype)
        self.nonlinearity = nonlinearity


class LSTMCell(_LSTMStep, _RNNCellBase):
    """One LSTM step; ``hx`` is ``(h, c)`` and it returns ``(h', c')``."""


class GRUCell(_GRUStep, _RNNCellBase):
    """One GRU step; returns ``h'``."""
