"""Activations as fused primitives: one forward, one VJP and one JVP each.

``sigmoid``, ``softmax`` and ``log_softmax`` are also registered as extensions, because other
rules (SiLU, cross-entropy) call them as ``xp.sigmoid`` / ``xp.softmax`` in both engine modes.
Kernel names (a backend may replace the forward): ``"relu"``, ``"sigmoid"``, ``"silu"``,
``"gelu"``, ``"softmax"``, ``"log_softmax"``; each takes ``(xp, x, **params)`` with the params
shown on the primitive (``axis`` for the softmaxes, ``approximate`` for GELU).

The other activations (``leaky_relu``, ``elu``/``selu``, ``prelu``, ``softplus``, ``mish``,
``hardswish``) are primitives without kernels. Their derivatives follow PyTorch's backward
formulas, including at the kinks (``leaky_relu`` takes the slope at 0, ``hardswish`` the outer
pieces at -3 and 3, ``softplus`` is exactly linear above ``threshold``).

``inplace=True`` (PyTorch's flag) rebinds the Tensor ``x`` to the result, functionally, as agrad's
in-place operators do: no array is mutated, and a leaf that requires grad is refused.
"""

from __future__ import annotations

import math
from typing import Any

from agrad._core.batching import elementwise, shifted
from agrad._core.primitive import extension, primitive, shape_of, unbroadcast
from agrad._core.tensor import Tensor
from agrad._ops.elementwise import tanh as _tanh
from agrad._ops.manipulation import reshape as _reshape
from agrad.nn._special import erf, erf_ref

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TANH_K = math.sqrt(2.0 / math.pi)
_TANH_C = 0.044715
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _relu_dx(xp: Any, g: Any, ans: Any, x: Any) -> Any:
    return xp.where(x > 0, g, xp.zeros_like(g))


relu_p = primitive(
    "relu",
    lambda xp, x: xp.where(x > 0, x, xp.zeros_like(x)),
    vjp=(_relu_dx,),
    jvp=(_relu_dx,),
    kernel="relu",
)


def _sigmoid_fwd(xp: Any, x: Any) -> Any:
    e = xp.exp(-xp.abs(x))  # never overflows
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _sigmoid_dx(xp: Any, g: Any, ans: Any, x: Any) -> Any:
    return g * (ans * (1.0 - ans))


sigmoid_p = extension(
    primitive("sigmoid", _sigmoid_fwd, vjp=(_sigmoid_dx,), jvp=(_sigmoid_dx,), kernel="sigmoid")
)


def _silu_dx(xp: Any, g: Any, ans: Any, x: Any) -> Any:
    s = xp.sigmoid(x)
    return g * (s * (1.0 + x * (1.0 - s)))


silu_p = primitive(
    "silu", lambda xp, x: x * _sigmoid_fwd(xp, x), vjp=(_silu_dx,), jvp=(_silu_dx,), kernel="silu"
)


def _gelu_ref(xp: Any, x: Any, *, approximate: str) -> Any:
    if approximate == "tanh":
        return 0.5 * x * (1.0 + xp.tanh(_TANH_K * (x + _TANH_C * x * x * x)))
    return 0.5 * x * (1.0 + erf_ref(xp, x * _INV_SQRT2))


def _gelu_dx(xp: Any, g: Any, ans: Any, x: Any, *, approximate: str) -> Any:
    if approximate == "tanh":
        t = xp.tanh(_TANH_K * (x + _TANH_C * x * x * x))
        d = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * (_TANH_K * (1.0 + 3 * _TANH_C * x * x))
    else:
        d = 0.5 * (1.0 + xp.erf(x * _INV_SQRT2)) + x * (_INV_SQRT_2PI * xp.exp(-0.5 * x * x))
    return g * d


gelu_p = primitive("gelu", _gelu_ref, vjp=(_gelu_dx,), jvp=(_gelu_dx,), kernel="gelu")


def _log_softmax_ref(xp: Any, x: Any, *, axis: int) -> Any:
    shifted = x - xp.max(x, axis=axis, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))


def _softmax_ref(xp: Any, x: Any, *, axis: int) -> Any:
    e = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
    return e / xp.sum(e, axis=axis, keepdims=True)


softmax_p = extension(
    primitive(
        "softmax",
        _softmax_ref,
        vjp=(lambda xp, g, ans, x, *, axis: ans * (g - xp.sum(g * ans, axis=axis, keepdims=True)),),
        jvp=(lambda xp, dx, ans, x, *, axis: ans * (dx - xp.sum(dx * ans, axis=axis, keepdims=True)),),
        kernel="softmax",
    )
)
log_softmax_p = extension(
    primitive(
        "log_softmax",
        _log_softmax_ref,
        vjp=(lambda xp, g, ans, x, *, axis: g - xp.exp(ans) * xp.sum(g, axis=axis, keepdims=True),),
        jvp=(lambda xp, dx, ans, x, *, axis: dx - xp.sum(xp.exp(ans) * dx, axis=axis, keepdims=True),),
        kernel="log_softmax",
    )
)


# --- leaky ReLU, ELU / SELU, PReLU ---------------------------------------------------------------


def _leaky_relu_dx(xp: Any, g: Any, ans: Any, x: Any, *, negative_slope: float) -> Any:
    return xp.where(x > 0, g, g * negative_slope)


leaky_relu_p = primitive(
    "leaky_relu",
    lambda xp, x, *, negative_slope: xp.where(x > 0, x, x * negative_slope),
    vjp=(_leaky_relu_dx,),
    jvp=(_leaky_relu_dx,),
)


def _nonpositive(xp: Any, x: Any) -> Any:
    """``min(x, 0)``: the exponential's argument, so the branch ``where`` drops cannot overflow."""
    return xp.where(x > 0, xp.zeros_like(x), x)


def _elu_fwd(xp: Any, x: Any, *, alpha: float, scale: float) -> Any:
    return xp.where(x > 0, x * scale, xp.expm1(_nonpositive(xp, x)) * (alpha * scale))


def _elu_dx(xp: Any, g: Any, ans: Any, x: Any, *, alpha: float, scale: float) -> Any:
    return xp.where(x > 0, g * scale, g * (xp.exp(_nonpositive(xp, x)) * (alpha * scale)))


elu_p = primitive("elu", _elu_fwd, vjp=(_elu_dx,), jvp=(_elu_dx,))
"""``scale * (x if x > 0 else alpha * (exp(x) - 1))``: ELU (``scale=1``) and SELU in one rule."""


def _prelu_dx(xp: Any, g: Any, ans: Any, x: Any, w: Any) -> Any:
    return xp.where(x > 0, g, g * w)


def _prelu_dw(xp: Any, g: Any, ans: Any, x: Any, w: Any) -> Any:
    return unbroadcast(xp, xp.where(x > 0, xp.zeros_like(g), g * x), shape_of(w))


prelu_p = primitive(
    "prelu",
    lambda xp, x, w: xp.where(x > 0, x, w * x),
    vjp=(_prelu_dx, _prelu_dw),
    jvp=(
        lambda xp, dx, ans, x, w: xp.where(x > 0, dx, dx * w),
        lambda xp, dw, ans, x, w: xp.where(x > 0, xp.zeros_like(ans), x * dw),
    ),
)
"""``x if x > 0 else w * x`` with ``w`` already shaped to broadcast against ``x``."""


# --- softplus, mish, hardswish -------------------------------------------------------------------


def _softplus_ref(xp: Any, z: Any) -> Any:
    """``log(1 + exp(z))`` without overflow (``max(z, 0) + log1p(exp(-|z|))``)."""
    return xp.where(z > 0, z, xp.zeros_like(z)) + xp.log1p(xp.exp(-xp.abs(z)))


def _softplus_fwd(xp: Any, x: Any, *, beta: float, threshold: float) -> Any:
    z = x * beta
    return xp.where(z > threshold, x, _softplus_ref(xp, z) / beta)


def _softplus_dx(xp: Any, g: Any, ans: Any, x: Any, *, beta: float, threshold: float) -> Any:
    z = x * beta
    return xp.where(z > threshold, g, g * xp.sigmoid(z))


softplus_p = primitive("softplus", _softplus_fwd, vjp=(_softplus_dx,), jvp=(_softplus_dx,))


def _mish_dx(xp: Any, g: Any, ans: Any, x: Any) -> Any:
    t = xp.tanh(_softplus_ref(xp, x))
    return g * (t + x * xp.sigmoid(x) * (1.0 - t * t))


mish_p = primitive(
    "mish", lambda xp, x: x * xp.tanh(_softplus_ref(xp, x)), vjp=(_mish_dx,), jvp=(_mish_dx,)
)


def _hardswish_fwd(xp: Any, x: Any) -> Any:
    return xp.where(x < -3.0, xp.zeros_like(x), xp.where(x <= 3.0, x * (x + 3.0) / 6.0, x))


def _hardswish_dx(xp: Any, g: Any, ans: Any, x: Any) -> Any:
    # PyTorch's one-sided choice at the kinks: 0 up to -3, the middle piece inside (-3, 3), 1 from 3.
    return xp.where(x <= -3.0, xp.zeros_like(g), xp.where(x < 3.0, g * (x / 3.0 + 0.5), g))


hardswish_p = primitive("hardswish", _hardswish_fwd, vjp=(_hardswish_dx,), jvp=(_hardswish_dx,))


# --- public functions (PyTorch's names and signatures, ``dim`` accepted as ``axis``) -----------


def _apply(prim: Any, x: Any, inplace: bool, **params: Any) -> Any:
    """``prim(x)``, or with ``inplace`` the Tensor ``x`` rebound to it (functional underneath)."""
    if not inplace:
        return prim(x, **params)
    if not isinstance(x, Tensor):
        raise TypeError(f"{prim.name}: inplace=True needs an agrad Tensor, got {type(x).__name__}")
    old = x._before_update()
    return x._rebind(prim(old, **params), old)


def relu(x: Any, inplace: bool = False) -> Any:
    """``max(x, 0)``; the gradient at 0 is 0, as in PyTorch."""
    return _apply(relu_p, x, inplace)


def leaky_relu(x: Any, negative_slope: float = 0.01, inplace: bool = False) -> Any:
    """``x if x > 0 else negative_slope * x``; the gradient at 0 is ``negative_slope``, as in PyTorch."""
    return _apply(leaky_relu_p, x, inplace, negative_slope=float(negative_slope))


def elu(x: Any, alpha: float = 1.0, inplace: bool = False) -> Any:
    """``x if x > 0 else alpha * (exp(x) - 1)``: smooth negative saturation at ``-alpha``."""
    return _apply(elu_p, x, inplace, alpha=float(alpha), scale=1.0)


def selu(x: Any, inplace: bool = False) -> Any:
    """``scale * elu(x, alpha)`` with the self-normalising constants of Klambauer et al. (2017)."""
    return _apply(elu_p, x, inplace, alpha=_SELU_ALPHA, scale=_SELU_SCALE)


def prelu(x: Any, weight: Any) -> Any:
    """Leaky ReLU with learned slopes: ``x if x > 0 else weight * x``.

    ``weight`` holds one slope, shared by every element, or one per channel (axis 1 of ``x``;
    an input with fewer than 2 axes has one channel), as in PyTorch.
    """
    wshape = shape_of(weight)
    if len(wshape) > 1:
        raise ValueError(f"prelu: the weight must be 0-D or 1-D, got shape {wshape}")
    n = math.prod(wshape)
    if n != 1:
        channels = x.shape[1] if x.ndim > 1 else 1
        if x.ndim == 0 or channels != n:
            raise ValueError(
                f"prelu: {n} weights but the input {tuple(x.shape)} has {channels if x.ndim else 0} "
                "channels (axis 1); give one weight, or one per channel"
            )
    target = () if x.ndim == 0 else (n,) + (1,) * max(x.ndim - 2, 0)
    w = weight if wshape == target else _reshape(weight, target)
    return prelu_p(x, w)


def softplus(x: Any, beta: float = 1.0, threshold: float = 20.0) -> Any:
    """``log(1 + exp(beta * x)) / beta``, computed without overflow; linear (``x``) where
    ``beta * x > threshold``, as in PyTorch."""
    return softplus_p(x, beta=float(beta), threshold=float(threshold))


def mish(x: Any, inplace: bool = False) -> Any:
    """``x * tanh(softplus(x))`` (Misra, 2019)."""
    return _apply(mish_p, x, inplace)


def hardswish(x: Any, inplace: bool = False) -> Any:
    """``x * relu6(x + 3) / 6`` (MobileNetV3): piecewise, 0 below -3 and ``x`` above 3."""
    return _apply(hardswish_p, x, inplace)


def sigmoid(x: Any) -> Any:
    """``1 / (1 + exp(-x))``, computed without overflow."""
    return sigmoid_p(x)


def silu(x: Any, inplace: bool = False) -> Any:
    """``x * sigmoid(x)`` (a.k.a. swish)."""
    return _apply(silu_p, x, inplace)


def gelu(x: Any, approximate: str = "none") -> Any:
    """``x * Phi(x)`` exactly (with :func:`erf`) or, with ``approximate="tanh"``, the tanh form."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return gelu_p(x, approximate=approximate)


def tanh(x: Any) -> Any:
    """``tanh(x)`` (the standard's function), under PyTorch's ``F.tanh`` name."""
    return _tanh(x)


def _axis(axis: int | None, dim: int | None, name: str) -> int:
    if dim is not None:
        axis = dim
    if axis is None:
        raise TypeError(f"{name}: give the axis to normalise over (axis=... or dim=...)")
    return axis


def softmax(x: Any, axis: int | None = None, *, dim: int | None = None) -> Any:
    """``exp(x) / sum(exp(x))`` along ``axis`` (stable: the maximum is subtracted first)."""
    return softmax_p(x, axis=_axis(axis, dim, "softmax"))


def log_softmax(x: Any, axis: int | None = None, *, dim: int | None = None) -> Any:
    """``log(softmax(x))`` along ``axis``, computed stably in one step."""
    return log_softmax_p(x, axis=_axis(axis, dim, "log_softmax"))


__all__ = [
    "elu",
    "erf",
    "gelu",
    "hardswish",
    "leaky_relu",
    "log_softmax",
    "mish",
    "prelu",
    "relu",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "tanh",
]


# Batching rules (agrad.vmap): the activations are element-wise (prelu's weight is already
# shaped to broadcast); softmax's axis shifts past the batch.
for _p in (relu_p, sigmoid_p, silu_p, gelu_p, leaky_relu_p, elu_p, prelu_p, softplus_p, mish_p,
           hardswish_p):
    _p.batch = elementwise
softmax_p.batch = log_softmax_p.batch = shifted("axis")
