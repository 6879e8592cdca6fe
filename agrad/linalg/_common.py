"""Helpers shared by the ``agrad.linalg`` rules: constant matrices, transposes, shape checks.

Rules run on raw backend arrays *and* on Tensors (higher-order derivatives), so constants such as
the identity or a triangular mask come from small non-differentiable extension primitives that
read dtype and device from an existing operand: ``xp._linalg_eye(like, n=, m=, k=)`` and
``xp._linalg_tril_mask(like, n=, m=, k=)``. They broadcast against batched ``(..., n, m)`` operands.
"""

from __future__ import annotations

import math
from typing import Any

from agrad._core.primitive import device_of, extension, primitive, shape_of


def _eye_fwd(xp: Any, like: Any, *, n: int, m: int, k: int = 0) -> Any:
    return xp.eye(n, m, k=k, dtype=like.dtype, device=device_of(like))


def _tril_mask_fwd(xp: Any, like: Any, *, n: int, m: int, k: int = 0) -> Any:
    return xp.tril(xp.ones((n, m), dtype=like.dtype, device=device_of(like)), k=k)


extension(primitive("_linalg_eye", _eye_fwd))
extension(primitive("_linalg_tril_mask", _tril_mask_fwd))


def eye_like(xp: Any, like: Any, n: int | None = None, m: int | None = None, k: int = 0) -> Any:
    """The ``n x m`` identity (ones on diagonal ``k``) in ``like``'s dtype; square by default."""
    n = shape_of(like)[-1] if n is None else n
    return xp._linalg_eye(like, n=n, m=n if m is None else m, k=k)


def tril_mask(xp: Any, like: Any, k: int = 0) -> Any:
    """Ones on and below diagonal ``k`` of a matrix shaped like ``like``'s last two axes."""
    n, m = shape_of(like)[-2:]
    return xp._linalg_tril_mask(like, n=n, m=m, k=k)


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


def numel(shape: tuple) -> int:
    return math.prod(shape)
