"""``Linear``, ``Identity`` and ``Flatten``."""

from __future__ import annotations

from typing import Any

from agrad.nn import init
from agrad.nn.functional import layers as F
from agrad.nn.module import Module, new_parameter


class Identity(Module):
    def forward(self, x: Any) -> Any:
        return x


class Linear(Module):
    """``y = x @ W.T + b`` with ``W`` ``(out_features, in_features)``; PyTorch's default init."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = new_parameter((out_features, in_features), dtype)
        self.register_parameter("bias", new_parameter((out_features,), dtype) if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.default_layer_init_(self.weight, self.bias)

    def forward(self, x: Any) -> Any:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
        )


class Flatten(Module):
    """Merge axes ``start_dim..end_dim`` (by default all but the batch axis)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Any) -> Any:
        return F.flatten(x, self.start_dim, self.end_dim)
