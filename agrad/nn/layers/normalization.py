"""``BatchNorm1d``/``BatchNorm2d`` (running statistics, momentum, train/eval), ``LayerNorm``,
``GroupNorm`` and ``RMSNorm``: PyTorch's parameter names and shapes, so its state_dicts load."""

from __future__ import annotations

from typing import Any

from agrad.nn.functional import layers as F
from agrad.nn.module import Module, new_buffer, new_parameter


class _BatchNorm(Module):
    _input_ndims: tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.register_parameter("weight", new_parameter((num_features,), dtype, 1.0) if affine else None)
        self.register_parameter("bias", new_parameter((num_features,), dtype, 0.0) if affine else None)
        if track_running_stats:
            self.register_buffer("running_mean", new_buffer((num_features,), dtype, 0.0))
            self.register_buffer("running_var", new_buffer((num_features,), dtype, 1.0))
        else:
            self.running_mean = self.running_var = None

    def forward(self, x: Any) -> Any:
        if x.ndim not in self._input_ndims or x.shape[1] != self.num_features:
            raise ValueError(
                f"{type(self).__name__}({self.num_features}) expects a {self._input_ndims}-D input "
                f"with {self.num_features} channels on axis 1, got shape {x.shape}"
            )
        use_batch = self.training or not self.track_running_stats
        return F.batch_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias, use_batch, self.momentum, self.eps
        )

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"


class BatchNorm1d(_BatchNorm):
    """Batch norm of ``(N, C)`` or ``(N, C, L)`` inputs."""

    _input_ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm of ``(N, C, H, W)`` inputs."""

    _input_ndims = (4,)


class LayerNorm(Module):
    """Normalise over the trailing ``normalized_shape`` axes (fused primitive)."""

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps = shape, eps
        affine = elementwise_affine
        self.register_parameter("weight", new_parameter(shape, dtype, 1.0) if affine else None)
        self.register_parameter("bias", new_parameter(shape, dtype, 0.0) if affine and bias else None)

    def forward(self, x: Any) -> Any:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"


class GroupNorm(Module):
    """Normalise ``(N, C, ...)`` inputs per sample over ``num_groups`` groups of channels, then a
    per-channel affine (``weight`` ones, ``bias`` zeros, shape ``(C,)``; ``bias=False`` drops the
    shift: PyTorch's keyword-only flag)."""

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        self.register_parameter("weight", new_parameter((num_channels,), dtype, 1.0) if affine else None)
        self.register_parameter(
            "bias", new_parameter((num_channels,), dtype, 0.0) if affine and bias else None
        )

    def forward(self, x: Any) -> Any:
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(
                f"GroupNorm({self.num_groups}, {self.num_channels}) expects (N, C, ...) inputs with "
                f"{self.num_channels} channels on axis 1, got shape {tuple(x.shape)}"
            )
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )


class RMSNorm(Module):
    """Scale by the root mean square over the trailing ``normalized_shape`` axes, then by
    ``weight`` (ones, shape ``normalized_shape``; no bias). ``eps=None``: the dtype's epsilon."""

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float | None = None,
        elementwise_affine: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        self.register_parameter("weight", new_parameter(shape, dtype, 1.0) if elementwise_affine else None)

    def forward(self, x: Any) -> Any:
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
