"""Activation modules: thin wrappers over ``agrad.nn.functional``."""

from __future__ import annotations

from typing import Any

from agrad.nn.functional import activation as F
from agrad.nn.module import Module


class ReLU(Module):
    def forward(self, x: Any) -> Any:
        return F.relu(x)


class Sigmoid(Module):
    def forward(self, x: Any) -> Any:
        return F.sigmoid(x)


class Tanh(Module):
    def forward(self, x: Any) -> Any:
        return F.tanh(x)


class SiLU(Module):
    def forward(self, x: Any) -> Any:
        return F.silu(x)


class GELU(Module):
    """Exact GELU (``approximate="none"``, with erf) or its tanh approximation."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, x: Any) -> Any:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Softmax(Module):
    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Any) -> Any:
        return F.softmax(x, self.dim)


class LogSoftmax(Softmax):
    def forward(self, x: Any) -> Any:
        return F.log_softmax(x, self.dim)
