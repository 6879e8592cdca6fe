"""``Conv1d`` and ``Conv2d`` (stride, padding, dilation, groups), PyTorch's default init."""

from __future__ import annotations

from typing import Any

from agrad.nn import init
from agrad.nn.functional import conv as F
from agrad.nn.module import Module, new_parameter


class _ConvNd(Module):
    _fn: Any = None

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: tuple[int, ...],
        stride: Any,
        padding: Any,
        dilation: Any,
        groups: int,
        bias: bool,
        dtype: Any,
    ) -> None:
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{type(self).__name__}: in_channels ({in_channels}) and out_channels "
                f"({out_channels}) must both be divisible by groups ({groups})"
            )
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.weight = new_parameter((out_channels, in_channels // groups, *kernel_size), dtype)
        self.register_parameter("bias", new_parameter((out_channels,), dtype) if bias else None)
        init.default_layer_init_(self.weight, self.bias)

    def forward(self, x: Any) -> Any:
        return type(self)._fn(
            x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, groups={self.groups}"
        )


class Conv2d(_ConvNd):
    """2-D convolution of ``(N, C, H, W)`` inputs."""

    _fn = staticmethod(F.conv2d)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            F.pair(kernel_size, "kernel_size"),
            stride,
            padding,
            dilation,
            groups,
            bias,
            dtype,
        )


class Conv1d(_ConvNd):
    """1-D convolution of ``(N, C, L)`` inputs."""

    _fn = staticmethod(F.conv1d)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int | str = 0,
        dilation: int = 1,
        groups: int = 1,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        k = kernel_size if isinstance(kernel_size, int) else kernel_size[0]
        super().__init__(in_channels, out_channels, (k,), stride, padding, dilation, groups, bias, dtype)
