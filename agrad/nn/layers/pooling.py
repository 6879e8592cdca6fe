"""Pooling: ``MaxPool2d``, ``AvgPool2d`` (PyTorch's ``ceil_mode``, ``return_indices``,
``count_include_pad``, ``divisor_override``) and the adaptive poolings
``AdaptiveAvgPool1d/2d`` and ``AdaptiveMaxPool1d/2d``."""

from __future__ import annotations

from typing import Any

from agrad.nn.functional import conv as F
from agrad.nn.module import Module


class MaxPool2d(Module):
    """The maximum of each window of ``(N, C, H, W)`` inputs."""

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride, padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, x: Any) -> Any:
        return F.max_pool2d(
            x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode, self.return_indices
        )

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class AvgPool2d(Module):
    """The mean of each window of ``(N, C, H, W)`` inputs."""

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    def forward(self, x: Any) -> Any:
        return F.avg_pool2d(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AdaptivePool(Module):
    _fn: Any = None

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Any) -> Any:
        return type(self)._fn(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class _AdaptiveMaxPool(_AdaptivePool):
    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, x: Any) -> Any:
        return type(self)._fn(x, self.output_size, self.return_indices)


class AdaptiveAvgPool2d(_AdaptivePool):
    """The mean over PyTorch's adaptive bins: any ``(N, C, H, W)`` to ``(N, C, *output_size)``."""

    _fn = staticmethod(F.adaptive_avg_pool2d)


class AdaptiveAvgPool1d(_AdaptivePool):
    """The mean over PyTorch's adaptive bins: any ``(N, C, L)`` to ``(N, C, output_size)``."""

    _fn = staticmethod(F.adaptive_avg_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMaxPool):
    """The maximum over PyTorch's adaptive bins: any ``(N, C, H, W)`` to ``(N, C, *output_size)``."""

    _fn = staticmethod(F.adaptive_max_pool2d)


class AdaptiveMaxPool1d(_AdaptiveMaxPool):
    """The maximum over PyTorch's adaptive bins: any ``(N, C, L)`` to ``(N, C, output_size)``."""

    _fn = staticmethod(F.adaptive_max_pool1d)
