"""Constant matrices for derivative rules: the identity and a triangular mask.

Rules run on raw backend arrays *and* on Tensors (higher-order derivatives), so constants come
from small non-differentiable extension primitives that read dtype and device from an existing
operand: ``xp._linalg_eye(like, n=, m=, k=)`` and ``xp._linalg_tril_mask(like, n=, m=, k=)``.
They broadcast against batched ``(..., n, m)`` operands.
"""

from __future__ import annotations

from typing import Any

from agrad._core.primitive import device_of, extension, primitive, shape_of


def _eye_fwd(xp: Any, like: Any, *, n: int, m: int, k: int = 0) -> Any:
    return xp.eye(n, m, k=k, dtype=like.dtype, device=device_of(like))


def _tril_mask_fwd(xp: Any, like: Any, *, n: int, m: int, k: int = 0) -> Any:
    return xp.tril(xp.ones((n, m), dtype=like.dtype, device=device_of(like)), k=k)


def _unbatched(prim: Any, xp: Any, args: list, dims: list, **params: Any) -> tuple:
    """Batching rule (agrad.vmap): the constant reads only the dtype and device of ``like``."""
    return prim(*args, **params), None


extension(primitive("_linalg_eye", _eye_fwd, batch=_unbatched))
extension(primitive("_linalg_tril_mask", _tril_mask_fwd, batch=_unbatched))


def eye_like(xp: Any, like: Any, n: int | None = None, m: int | None = None, k: int = 0) -> Any:
    """The ``n x m`` identity (ones on diagonal ``k``) in ``like``'s dtype; square by default."""
    n = shape_of(like)[-1] if n is None else n
    return xp._linalg_eye(like, n=n, m=n if m is None else m, k=k)


def tril_mask(xp: Any, like: Any, k: int = 0) -> Any:
    """Ones on and below diagonal ``k`` of a matrix shaped like ``like``'s last two axes."""
    n, m = shape_of(like)[-2:]
    return xp._linalg_tril_mask(like, n=n, m=m, k=k)
