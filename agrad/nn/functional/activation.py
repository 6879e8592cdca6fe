"""Activations as fused primitives: one forward, one VJP and one JVP each.

``sigmoid``, ``softmax`` and ``log_softmax`` are also registered as extensions, because other
rules (SiLU, cross-entropy) call them as ``xp.sigmoid`` / ``xp.softmax`` in both engine modes.
Kernel names (a backend may replace the forward): ``"relu"``, ``"sigmoid"``, ``"silu"``,
``"gelu"``, ``"softmax"``, ``"log_softmax"``; each takes ``(xp, x, **params)`` with the params
shown on the primitive (``axis`` for the softmaxes, ``approximate`` for GELU).
"""

from __future__ import annotations

import math
from typing import Any

from agrad._core.primitive import extension, primitive
from agrad._ops.elementwise import tanh as _tanh
from agrad.nn._special import erf, erf_ref

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TANH_K = math.sqrt(2.0 / math.pi)
_TANH_C = 0.044715


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


# --- public functions (PyTorch's names and signatures, ``dim`` accepted as ``axis``) -----------


def relu(x: Any) -> Any:
    """``max(x, 0)``; the gradient at 0 is 0, as in PyTorch."""
    return relu_p(x)


def sigmoid(x: Any) -> Any:
    """``1 / (1 + exp(-x))``, computed without overflow."""
    return sigmoid_p(x)


def silu(x: Any) -> Any:
    """``x * sigmoid(x)`` (a.k.a. swish)."""
    return silu_p(x)


def gelu(x: Any, approximate: str = "none") -> Any:
    """``x * Phi(x)`` exactly (with :func:`erf`) or, with ``approximate="tanh"``, the tanh form."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return gelu_p(x, approximate=approximate)


def tanh(x: Any) -> Any:

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


__all__ = ["erf", "gelu", "log_softmax", "relu", "sigmoid", "silu", "softmax", "tanh"]
