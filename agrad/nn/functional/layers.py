"""Linear, dropout, embedding and normalisation as functions.

``layer_norm`` is a fused primitive (kernel entry point ``"layer_norm"``:
``fn(xp, x, weight, bias, *, normalized_ndim, eps) -> y``, ``weight``/``bias`` may be ``None``)
whose VJP is the closed form ``rstd * (gh - mean(gh) - xhat * mean(gh * xhat))``; ``group_norm``
reuses it on each group and ``rms_norm`` is a composition of standard ops. Dropout masks
come from the backend's RNG hook, so ``agrad.manual_seed`` makes them identical on every backend.
"""

from __future__ import annotations

import math
from typing import Any

import agrad as ag
from agrad._base.modes import modes
from agrad._core.batching import BatchedTensor, random_draw, trailing
from agrad._core.primitive import primitive, shape_of, unbroadcast
from agrad._core.tensor import Tensor, _wrap
from agrad._state import random as _random
from agrad.amp import lower_precision_op


@lower_precision_op
def linear(x: Any, weight: Any, bias: Any = None) -> Any:
    """``x @ weight.T + bias`` (weight is ``(out_features, in_features)``, as in PyTorch)."""
    if x.shape[-1] != weight.shape[-1]:
        raise ValueError(
            f"linear: the input's last axis has {x.shape[-1]} features but the weight "
            f"{tuple(weight.shape)} expects {weight.shape[-1]}"
        )
    y = ag.matmul(x, ag.matrix_transpose(weight))
    return y if bias is None else y + bias


def dropout(x: Any, p: float = 0.5, training: bool = True) -> Any:
    """Zero each element with probability ``p`` and scale the rest by ``1/(1-p)`` (inverted dropout,
    so evaluation needs no rescaling); the identity when not training."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    be = x._backend
    xp = be.xp
    if p == 1.0:
        return x * 0.0
    u = random_draw(tuple(x.shape), lambda s: _wrap(
        _random.uniform(s, 0.0, 1.0, dtype=x.dtype, backend=be), be, None, 0))
    if isinstance(u, BatchedTensor) or modes.trace:  # vmap's per-example masks; jit records it
        return x * (ag.astype(u >= p, x.dtype) * (1.0 / (1.0 - p)))
    mask = xp.astype(u.value >= p, x.value.dtype) * (1.0 / (1.0 - p))
    return x * mask


def embedding(input: Any, weight: Any, padding_idx: int | None = None) -> Any:
    """Rows of ``weight`` at the integer indices ``input`` (any shape); the backward pass is a
    scatter-add, exact for repeated indices. Row ``padding_idx`` receives no gradient."""
    idx = input if isinstance(input, Tensor) else Tensor(input, requires_grad=False, backend=weight._backend)
    if idx.dtype.kind not in ("signed integer", "unsigned integer"):
        raise TypeError(f"embedding: indices must be integers, got {idx.dtype}")
    flat = ag.reshape(idx, (-1,))
    rows = ag.take(weight, flat, axis=0)
    if padding_idx is not None:
        if padding_idx < 0:
            padding_idx += weight.shape[0]
        keep = ag.reshape(flat != padding_idx, (-1, 1))
        rows = ag.where(keep, rows, rows.detach())
    return ag.reshape(rows, (*idx.shape, weight.shape[1]))


def _ln_normalise(xp: Any, x: Any, ndim: int, eps: float) -> tuple[Any, Any]:
    axes = tuple(range(-ndim, 0))
    centred = x - xp.mean(x, axis=axes, keepdims=True)
    rstd = 1.0 / xp.sqrt(xp.mean(centred * centred, axis=axes, keepdims=True) + eps)
    return centred * rstd, rstd


def _ln_fwd(xp: Any, x: Any, weight: Any, bias: Any, *, normalized_ndim: int, eps: float) -> Any:
    y, _ = _ln_normalise(xp, x, normalized_ndim, eps)
    if weight is not None:
        y = y * weight
    return y if bias is None else y + bias


def _ln_project(xp: Any, v: Any, xhat: Any, rstd: Any, ndim: int) -> Any:
    """``d xhat`` along ``v`` (and its own adjoint): ``rstd * (v - mean(v) - xhat * mean(v * xhat))``."""
    axes = tuple(range(-ndim, 0))
    mean_v = xp.mean(v, axis=axes, keepdims=True)
    return rstd * (v - mean_v - xhat * xp.mean(v * xhat, axis=axes, keepdims=True))


def _ln_dx(xp, g, ans, x, weight, bias, *, normalized_ndim, eps):
    xhat, rstd = _ln_normalise(xp, x, normalized_ndim, eps)
    return _ln_project(xp, g if weight is None else g * weight, xhat, rstd, normalized_ndim)


def _ln_dw(xp, g, ans, x, weight, bias, *, normalized_ndim, eps):
    xhat, _ = _ln_normalise(xp, x, normalized_ndim, eps)
    return unbroadcast(xp, g * xhat, shape_of(weight))


def _ln_db(xp, g, ans, x, weight, bias, *, normalized_ndim, eps):
    return unbroadcast(xp, g, shape_of(bias))


def _ln_jvp_x(xp, dx, ans, x, weight, bias, *, normalized_ndim, eps):
    xhat, rstd = _ln_normalise(xp, x, normalized_ndim, eps)
    dy = _ln_project(xp, dx, xhat, rstd, normalized_ndim)
    return dy if weight is None else dy * weight


def _ln_jvp_w(xp, dw, ans, x, weight, bias, *, normalized_ndim, eps):
    return _ln_normalise(xp, x, normalized_ndim, eps)[0] * dw


layer_norm_p = primitive(
    "layer_norm",
    _ln_fwd,
    vjp=(_ln_dx, _ln_dw, _ln_db),
    jvp=(_ln_jvp_x, _ln_jvp_w, lambda xp, db, ans, x, weight, bias, **p: db),  # the engine broadcasts db
    kernel="layer_norm",
)


def layer_norm(
    x: Any, normalized_shape: int | tuple[int, ...], weight: Any = None, bias: Any = None, eps: float = 1e-5
) -> Any:
    """Normalise over the trailing ``normalized_shape`` axes (biased variance), then scale and shift."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(x.shape[len(x.shape) - len(shape) :]) != shape:
        raise ValueError(f"layer_norm: the input {tuple(x.shape)} does not end with normalized_shape {shape}")
    return layer_norm_p(x, weight, bias, normalized_ndim=len(shape), eps=float(eps))


def group_norm(
    x: Any, num_groups: int, weight: Any = None, bias: Any = None, eps: float = 1e-5
) -> Any:
    """Normalise each sample's channels (axis 1 of ``x`` ``(N, C, ...)``) in ``num_groups`` groups,
    over the group's channels and all spatial axes (biased variance), then scale and shift per
    channel. Independent of the batch, unlike batch norm; each group is a layer norm (fused VJP)."""
    if x.ndim < 2:
        raise ValueError(f"group_norm: the input must be (N, C, ...), got shape {tuple(x.shape)}")
    n, c = x.shape[0], x.shape[1]
    if num_groups <= 0 or c % num_groups:
        raise ValueError(f"group_norm: {c} channels cannot be split into {num_groups} equal groups")
    per_group = (c // num_groups) * math.prod(x.shape[2:])
    grouped = ag.reshape(x, (n, num_groups, per_group))
    y = ag.reshape(layer_norm_p(grouped, None, None, normalized_ndim=1, eps=float(eps)), tuple(x.shape))
    bshape = (1, c) + (1,) * (x.ndim - 2)
    if weight is not None:
        y = y * ag.reshape(weight, bshape)
    if bias is not None:
        y = y + ag.reshape(bias, bshape)
    return y


_FLOAT32_EPS = 2.0**-23
"""float32's machine epsilon: PyTorch's default RMSNorm eps for half-precision inputs."""


def rms_norm(
    x: Any, normalized_shape: int | tuple[int, ...], weight: Any = None, eps: float | None = None
) -> Any:
    """``x / sqrt(mean(x**2) + eps) * weight`` over the trailing ``normalized_shape`` axes (no
    centring, no bias). ``eps=None`` is the machine epsilon of ``x``'s dtype, as in PyTorch; for
    dtypes narrower than 32 bits (float16, bfloat16) it is float32's and the statistics are computed
    in float32, as PyTorch does in practice (its documentation says the dtype's own epsilon)."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(x.shape[len(x.shape) - len(shape) :]) != shape:
        raise ValueError(f"rms_norm: the input {tuple(x.shape)} does not end with normalized_shape {shape}")
    info = ag.finfo(x.dtype)
    narrow = info.bits < 32  # half precision: computed in float32 and cast back, as PyTorch does
    if eps is None:
        eps = _FLOAT32_EPS if narrow else info.eps
    xc = ag.astype(x, ag.float32) if narrow else x
    axes = tuple(range(-len(shape), 0))
    y = xc / ag.sqrt(ag.mean(xc * xc, axis=axes, keepdims=True) + float(eps))
    if narrow:
        y = ag.astype(y, info.dtype)
    return y if weight is None else y * weight


def batch_norm(
    x: Any,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Any = None,
    bias: Any = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Any:
    """Normalise each channel (axis 1) of ``x`` ``(N, C, ...)``.

    Training: batch statistics, and the running statistics (if given) are updated by rebinding
    their ``value`` (``new = (1 - momentum) * old + momentum * batch``, unbiased variance).
    Evaluation: the running statistics.
    """
    if x.ndim < 2:
        raise ValueError(f"batch_norm: the input must be (N, C, ...), got shape {x.shape}")
    axes = (0, *range(2, x.ndim))
    bshape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if training:
        mean = ag.mean(x, axis=axes, keepdims=True)
        centred = x - mean
        var = ag.mean(centred * centred, axis=axes, keepdims=True)
        if running_mean is not None and running_var is not None:
            n = x.size // x.shape[1]
            xp = x._backend.xp
            bm = xp.reshape(mean.value, (-1,))
            bv = xp.reshape(var.value, (-1,)) * (n / max(n - 1, 1))
            running_mean.value = (1.0 - momentum) * running_mean.value + momentum * bm
            running_var.value = (1.0 - momentum) * running_var.value + momentum * bv
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm in evaluation mode needs running_mean and running_var")
        mean = ag.reshape(running_mean, bshape)
        centred = x - mean
        var = ag.reshape(running_var, bshape)
    y = centred / ag.sqrt(var + eps)
    if weight is not None:
        y = y * ag.reshape(weight, bshape)
    if bias is not None:
        y = y + ag.reshape(bias, bshape)
    return y


def flatten(x: Any, start_dim: int = 1, end_dim: int = -1) -> Any:
    """Merge the axes ``start_dim..end_dim`` into one."""
    n = x.ndim
    s, e = start_dim % n if n else 0, end_dim % n if n else 0
    merged = 1
    for d in x.shape[s : e + 1]:
        merged *= d
    return ag.reshape(x, (*x.shape[:s], merged, *x.shape[e + 1 :]))


layer_norm_p.batch = trailing  # batching rule (agrad.vmap): it normalizes the trailing axes
