"""``BatchNorm1d``/``BatchNorm2d`` (running statistics, momentum, train/eval) and ``LayerNorm``."""

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
