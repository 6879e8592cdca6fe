"""``tensordot`` and ``vecdot`` of the main namespace, as compositions of differentiable functions
(``permute_dims``, ``reshape``, ``matmul``, ``multiply``, ``sum``): no rules of their own."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from agrad._ops.elementwise import conj, multiply
from agrad._ops.linear_algebra import matmul
from agrad._ops.manipulation import permute_dims, reshape
from agrad._ops.promote import promote
from agrad._ops.statistical import sum


def tensordot(x1: Any, x2: Any, /, *, axes: int | tuple[Sequence[int], Sequence[int]] = 2) -> Any:
    """Sum of products over ``axes`` (the last ``axes`` of ``x1`` with the first of ``x2``)."""

    x1, x2 = promote(x1, x2)
    s1, s2 = tuple(x1.shape), tuple(x2.shape)
    if isinstance(axes, int):
        a1 = tuple(range(len(s1) - axes, len(s1)))
        a2 = tuple(range(axes))
    else:
        a1 = tuple(a % len(s1) for a in axes[0])
        a2 = tuple(a % len(s2) for a in axes[1])
    if len(a1) != len(a2) or any(s1[i] != s2[j] for i, j in zip(a1, a2)):
        raise ValueError(f"tensordot: axes {axes} do not pair up for shapes {s1} and {s2}")
    free1 = tuple(i for i in range(len(s1)) if i not in a1)
    free2 = tuple(i for i in range(len(s2)) if i not in a2)
    k = math.prod(s1[i] for i in a1)
    left = reshape(permute_dims(x1, free1 + a1), (math.prod(s1[i] for i in free1), k))
    right = reshape(permute_dims(x2, a2 + free2), (k, math.prod(s2[i] for i in free2)))
    return reshape(matmul(left, right), tuple(s1[i] for i in free1) + tuple(s2[i] for i in free2))


def vecdot(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """``sum(conj(x1) * x2, axis=axis)``, broadcasting the other axes."""

    x1, x2 = promote(x1, x2)
    if x1.dtype.kind == "complex floating":
        x1 = conj(x1)
    n1, n2 = len(x1.shape), len(x2.shape)
    if not (-min(n1, n2) <= axis < 0 or 0 <= axis):
        raise ValueError(f"vecdot: axis {axis} out of range for shapes {x1.shape} and {x2.shape}")
    return sum(multiply(x1, x2), axis=axis if axis < 0 else axis - max(n1, n2))
