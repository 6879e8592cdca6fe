"""Vector utilities with PyTorch's names and semantics: ``one_hot``, ``normalize``,
``cosine_similarity`` and ``pairwise_distance``.

All but ``one_hot`` are compositions of differentiable agrad ops (``linalg.vector_norm`` gives the
zero vector the subgradient 0, as PyTorch's norm does), so their VJPs, JVPs and higher derivatives
come from those ops. Clamps use ``clip``, whose gradient goes to the clamped value on a tie, like
PyTorch's ``clamp_min``.
"""

from __future__ import annotations

from typing import Any

import agrad as ag
from agrad._core.tensor import Tensor


def one_hot(tensor: Any, num_classes: int = -1) -> Any:
    """``(..., num_classes)`` with a 1 at each entry's class index and 0 elsewhere, in the input's
    integer dtype (PyTorch's ``F.one_hot``; its input is int64, so is its output).

    ``num_classes=-1`` means ``max(tensor) + 1``, which needs the values: on a lazy backend (Dask)
    that would compute the whole graph behind ``tensor``, so there ``num_classes`` is required.
    Values outside ``[0, num_classes)`` give all-zero rows (PyTorch raises; checking would need
    the values). The result records no history: it is not differentiable.
    """
    if not isinstance(tensor, Tensor):
        tensor = ag.asarray(tensor)
    if tensor.dtype.kind not in ("signed integer", "unsigned integer"):
        raise TypeError(f"one_hot: expects an integer tensor of class indices, got {tensor.dtype}")
    if num_classes == -1:
        if tensor.backend.capabilities.lazy:
            raise ValueError(
                "one_hot: num_classes=-1 needs max(tensor) + 1, a value, which a lazy backend "
                f"({tensor.backend.name}) would have to compute; pass num_classes explicitly"
            )
        if tensor.size == 0:
            raise ValueError("one_hot: cannot infer num_classes from an empty tensor; pass it explicitly")
        num_classes = int(ag.max(tensor)) + 1
    if num_classes < 1 and not (num_classes == 0 and tensor.size == 0):
        raise ValueError(f"one_hot: num_classes must be positive (or -1), got {num_classes}")
    with ag.using_backend(tensor.backend):
        classes = ag.arange(num_classes, dtype=tensor.dtype, device=tensor.device)
    return ag.astype(ag.expand_dims(tensor.detach(), axis=-1) == classes, tensor.dtype)


def normalize(input: Any, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Any:
    """``input / max(||input||_p, eps)`` along ``dim`` (PyTorch's ``F.normalize``): unit vectors,
    with ``eps`` keeping a zero vector at zero instead of dividing by it."""
    norm = ag.linalg.vector_norm(input, axis=dim, keepdims=True, ord=p)
    return input / ag.clip(norm, min=eps)


def _broadcast(x1: Any, x2: Any) -> tuple[Any, Any]:
    if tuple(x1.shape) == tuple(x2.shape):
        return x1, x2
    a, b = ag.broadcast_arrays(x1, x2)
    return a, b


def cosine_similarity(x1: Any, x2: Any, dim: int = 1, eps: float = 1e-8) -> Any:
    """``<x1, x2> / (max(||x1||, eps) max(||x2||, eps))`` along ``dim``, after broadcasting the two
    (PyTorch's ``F.cosine_similarity``).

    As in PyTorch, each input is divided by its own norm first (the result stays within [-1, 1]),
    and the clamp at ``eps`` changes the norm's value only: below ``eps`` the gradient still flows
    through the unclamped norm, exactly as PyTorch's in-place clamp under ``no_grad`` does.
    """
    x1, x2 = _broadcast(x1, x2)

    def unit(x: Any) -> Any:
        n = ag.linalg.vector_norm(x, axis=dim, keepdims=True)
        clamped = n + (ag.clip(n, min=eps) - n).detach()  # value max(n, eps), derivative of n
        return x / clamped

    return ag.sum(unit(x1) * unit(x2), axis=dim)


def pairwise_distance(x1: Any, x2: Any, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Any:
    """``||x1 - x2 + eps||_p`` over the last axis, broadcasting (PyTorch's ``F.pairwise_distance``;
    ``eps`` is added to the difference, so equal vectors keep a finite gradient)."""
    return ag.linalg.vector_norm(x1 - x2 + eps, axis=-1, keepdims=keepdim, ord=p)


__all__ = ["cosine_similarity", "normalize", "one_hot", "pairwise_distance"]
