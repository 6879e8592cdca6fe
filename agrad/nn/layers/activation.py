"""Activation modules: thin wrappers over ``agrad.nn.functional`` (PyTorch's names, arguments
and defaults); ``PReLU`` owns its slopes. ``Unflatten``, the inverse of ``Flatten``, is here too.

``inplace=True`` rebinds the input Tensor to the result (functionally, see
:mod:`agrad.nn.functional.activation`), so PyTorch code that passes it keeps working.
"""

from __future__ import annotations

import math
from typing import Any

from agrad._ops.manipulation import reshape
from agrad.nn.functional import activation as F
from agrad.nn.module import Module, new_parameter


class _Inplace(Module):
    """An activation with PyTorch's ``inplace`` flag."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class ReLU(_Inplace):
    def forward(self, x: Any) -> Any:
        return F.relu(x, self.inplace)


class Sigmoid(Module):
    def forward(self, x: Any) -> Any:
        return F.sigmoid(x)


class Tanh(Module):
    def forward(self, x: Any) -> Any:
        return F.tanh(x)


class SiLU(_Inplace):
    def forward(self, x: Any) -> Any:
        return F.silu(x, self.inplace)


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


class LeakyReLU(_Inplace):
    """``x if x > 0 else negative_slope * x``."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__(inplace)
        self.negative_slope = negative_slope

    def forward(self, x: Any) -> Any:
        return F.leaky_relu(x, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return ", ".join(filter(None, [f"negative_slope={self.negative_slope}", super().extra_repr()]))


class ELU(_Inplace):
    """``x if x > 0 else alpha * (exp(x) - 1)``."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__(inplace)
        self.alpha = alpha

    def forward(self, x: Any) -> Any:
        return F.elu(x, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return ", ".join(filter(None, [f"alpha={self.alpha}", super().extra_repr()]))


class SELU(_Inplace):
    """Scaled ELU with the self-normalising constants."""

    def forward(self, x: Any) -> Any:
        return F.selu(x, self.inplace)


class PReLU(Module):
    """Leaky ReLU with learned slopes: one shared (``num_parameters=1``) or one per channel
    (axis 1), all starting at ``init``; the parameter is ``weight`` of shape ``(num_parameters,)``."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype: Any = None) -> None:
        super().__init__()
        self.num_parameters, self.init = num_parameters, init
        self.weight = new_parameter((num_parameters,), dtype, init)

    def forward(self, x: Any) -> Any:
        return F.prelu(x, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class Softplus(Module):
    """``log(1 + exp(beta * x)) / beta``, linear where ``beta * x > threshold``."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x: Any) -> Any:
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Mish(_Inplace):
    """``x * tanh(softplus(x))``."""

    def forward(self, x: Any) -> Any:
        return F.mish(x, self.inplace)


class Hardswish(_Inplace):
    """``x * relu6(x + 3) / 6``."""

    def forward(self, x: Any) -> Any:
        return F.hardswish(x, self.inplace)

    def extra_repr(self) -> str:
        return ""  # PyTorch's Hardswish shows no arguments


class Unflatten(Module):
    """Split axis ``dim`` into ``unflattened_size`` (one entry may be -1): the inverse of ``Flatten``."""

    def __init__(self, dim: int, unflattened_size: tuple[int, ...] | list[int]) -> None:
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)) or not all(
            isinstance(n, int) and not isinstance(n, bool) for n in unflattened_size
        ):
            raise TypeError(f"Unflatten: unflattened_size must be a tuple of ints, got {unflattened_size!r}")
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x: Any) -> Any:
        shape = tuple(x.shape)
        if not -len(shape) <= self.dim < len(shape):
            raise IndexError(f"Unflatten: dim {self.dim} is out of range for an input of shape {shape}")
        d = self.dim % len(shape)
        sizes = self.unflattened_size
        known = math.prod(n for n in sizes if n != -1)
        if (known != shape[d]) if -1 not in sizes else (known == 0 or shape[d] % known):
            raise ValueError(
                f"Unflatten: sizes {sizes} do not multiply up to the size {shape[d]} of axis {d} "
                f"of the input {shape}"
            )
        return reshape(x, (*shape[:d], *sizes, *shape[d + 1 :]))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
