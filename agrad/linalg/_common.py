"""Helpers shared by the ``agrad.linalg`` rules: transposes, diagonals, shape checks (the constant
matrices are in :mod:`agrad._ops.rule_constants`)."""

from __future__ import annotations

from typing import Any

from agrad._core.primitive import shape_of
from agrad._ops.rule_constants import eye_like


def mT(xp: Any, a: Any) -> Any:
    return xp.matrix_transpose(a)


def sym(xp: Any, a: Any) -> Any:
    """The symmetric part ``(a + a^T) / 2``: the tangent space of symmetric-input functions."""
    return (a + mT(xp, a)) * 0.5


def col(xp: Any, v: Any) -> Any:
    """``v[..., None, None]``: a batch of scalars broadcastable against a batch of matrices."""
    return xp.expand_dims(xp.expand_dims(v, axis=-1), axis=-1)


def diag_embed(xp: Any, v: Any, like: Any) -> Any:
    """The batch of diagonal matrices with diagonals ``v`` (``(..., k) -> (..., k, k)``)."""
    return xp.expand_dims(v, axis=-2) * eye_like(xp, like, shape_of(v)[-1])


def batch_shape(*shapes: tuple) -> tuple:
    """The broadcast of the batch parts (all but the last two axes) of matrix shapes."""
    batches = [s[:-2] for s in shapes]
    ndim = max(len(b) for b in batches)
    out = []
    for i in range(ndim):
        sizes = {b[i - ndim + len(b)] for b in batches if i - ndim + len(b) >= 0} - {1}
        if len(sizes) > 1:
            raise ValueError(f"batch dimensions {[tuple(b) for b in batches]} do not broadcast")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def require_matrix(name: str, x: Any, *, square: bool = False) -> None:
    """Raise a clear error unless ``x`` is a (batch of) matrix, square if asked."""
    s = shape_of(x)
    if len(s) < 2 or (square and s[-1] != s[-2]):
        what = "square matrices (..., M, M)" if square else "matrices (..., M, N)"
        raise ValueError(f"agrad.linalg.{name}: expected a batch of {what}, got shape {s}")


def require_real_grad(name: str, x: Any) -> None:
    """Derivative rules here are for real floating inputs; say so instead of returning nonsense."""
    if "complex" in str(getattr(x, "dtype", "")):
        raise NotImplementedError(
            f"agrad.linalg.{name}: gradients for complex inputs are not implemented; the forward "
            "works, differentiate real inputs (or the real and imaginary parts separately)"
        )

