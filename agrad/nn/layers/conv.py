"""Convolutions: ``Conv1d``, ``Conv2d``, ``Conv3d`` (stride, padding, dilation, groups,
``padding_mode``), ``ConvTranspose1d`` and ``ConvTranspose2d`` (plus ``output_padding`` and
``forward(x, output_size)``), and ``Unfold`` / ``Fold``; PyTorch's parameter names, layouts and
default init, so PyTorch state_dicts load unchanged."""

from __future__ import annotations

from typing import Any

from agrad.nn import init
from agrad.nn.functional import conv as F
from agrad.nn.functional.padding import pad
from agrad.nn.module import Module, new_parameter

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


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
        padding_mode: str = "zeros",
        transposed: bool = False,
        output_padding: Any = 0,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{name}: in_channels ({in_channels}) and out_channels "
                f"({out_channels}) must both be divisible by groups ({groups})"
            )
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        if transposed and padding_mode != "zeros":
            raise ValueError(f"{name}: only padding_mode='zeros' is supported, as in PyTorch")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.padding_mode, self.transposed, self.output_padding = padding_mode, transposed, output_padding
        # PyTorch's layouts: (out, in // groups, *k), transposed (in, out // groups, *k).
        lead = (in_channels, out_channels // groups) if transposed else (out_channels, in_channels // groups)
        self.weight = new_parameter((*lead, *kernel_size), dtype)
        self.register_parameter("bias", new_parameter((out_channels,), dtype) if bias else None)
        init.default_layer_init_(self.weight, self.bias)

    def _explicit_padding(self) -> tuple[int, ...]:
        nd = len(self.kernel_size)
        stride, dilation = F.ntuple(self.stride, nd, "stride"), F.ntuple(self.dilation, nd, "dilation")
        return F._padding(self.padding, self.kernel_size, dilation, stride, type(self).__name__)

    def forward(self, x: Any) -> Any:
        padding = self.padding
        if self.padding_mode != "zeros":
            # PyTorch pads explicitly with the mode, then convolves without padding.
            widths = [w for p in reversed(self._explicit_padding()) for w in (p, p)]
            x, padding = pad(x, widths, mode=self.padding_mode), 0
        return type(self)._fn(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, groups={self.groups}"
        )
        if self.transposed:
            s += f", output_padding={self.output_padding}"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode!r}"
        return s


class Conv3d(_ConvNd):
    """3-D convolution of ``(N, C, D, H, W)`` inputs (``weight`` ``(out, in // groups, kd, kh, kw)``)."""

    _fn = staticmethod(F.conv3d)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int, int],
        stride: int | tuple[int, int, int] = 1,
        padding: int | tuple[int, int, int] | str = 0,
        dilation: int | tuple[int, int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            F.ntuple(kernel_size, 3, "kernel_size"),
            stride,
            padding,
            dilation,
            groups,
            bias,
            dtype,
            padding_mode,
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
        padding_mode: str = "zeros",
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
            padding_mode,
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
        padding_mode: str = "zeros",
        dtype: Any = None,
    ) -> None:
        k = kernel_size if isinstance(kernel_size, int) else kernel_size[0]
        super().__init__(
            in_channels, out_channels, (k,), stride, padding, dilation, groups, bias, dtype, padding_mode
        )


class _ConvTransposeNd(_ConvNd):
    def forward(self, x: Any, output_size: Any = None) -> Any:
        """``output_size`` (the spatial sizes, optionally with the leading ones) picks the
        ``output_padding`` that produces it, as in PyTorch."""
        nd = len(self.kernel_size)
        output_padding = self.output_padding
        if output_size is not None:
            output_padding = F.output_padding_for(
                type(self).__name__,
                tuple(x.shape[-nd:]),
                output_size,
                self.kernel_size,
                F.ntuple(self.stride, nd, "stride"),
                F.ntuple(self.padding, nd, "padding"),
                F.ntuple(self.dilation, nd, "dilation"),
            )
        return type(self)._fn(
            x, self.weight, self.bias, self.stride, self.padding, output_padding, self.groups, self.dilation
        )


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution of ``(N, C_in, H, W)`` inputs (``weight``
    ``(in, out // groups, kh, kw)``): the adjoint of ``Conv2d``."""

    _fn = staticmethod(F.conv_transpose2d)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        output_padding: int | tuple[int, int] = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int | tuple[int, int] = 1,
        padding_mode: str = "zeros",
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
            padding_mode,
            transposed=True,
            output_padding=output_padding,
        )


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution of ``(N, C_in, L)`` inputs (``weight`` ``(in, out // groups, k)``)."""

    _fn = staticmethod(F.conv_transpose1d)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        output_padding: int = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int = 1,
        padding_mode: str = "zeros",
        dtype: Any = None,
    ) -> None:
        k = kernel_size if isinstance(kernel_size, int) else kernel_size[0]
        super().__init__(
            in_channels,
            out_channels,
            (k,),
            stride,
            padding,
            dilation,
            groups,
            bias,
            dtype,
            padding_mode,
            transposed=True,
            output_padding=output_padding,
        )


class Unfold(Module):
    """``F.unfold`` (im2col) as a module: ``(N, C, H, W)`` to ``(N, C*kh*kw, L)``."""

    def __init__(self, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1) -> None:
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, x: Any) -> Any:
        return F.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
            f"stride={self.stride}"
        )


class Fold(Module):
    """``F.fold`` (col2im) as a module: ``(N, C*kh*kw, L)`` blocks summed into ``(N, C, H, W)``."""

    def __init__(
        self, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1
    ) -> None:
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, x: Any) -> Any:
        return F.fold(x, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (
            f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
            f"padding={self.padding}, stride={self.stride}"
        )
