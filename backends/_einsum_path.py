"""The ``"einsum"`` kernel for backends with ``opt_einsum``: the core's portable pairwise einsum,
contracted in the order ``opt_einsum.contract_path`` plans (cached per subscripts and shapes)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import agrad


@lru_cache(maxsize=1024)
def contraction_path(subscripts: str, shapes: tuple[tuple[int, ...], ...]) -> tuple[tuple[int, ...], ...]:
    """opt_einsum's contraction order for ``subscripts`` on operands of ``shapes``."""
    import opt_einsum

    if len(shapes) < 2:
        return ()
    path, _ = opt_einsum.contract_path(subscripts, *shapes, shapes=True, optimize="auto")
    return tuple(tuple(step) for step in path)


def planned_einsum(xp: Any, *operands: Any, subscripts: str) -> Any:
    """The declared reference (pairwise contractions) with opt_einsum's order as its ``path``."""
    shapes = tuple(tuple(o.shape) for o in operands)
    reference = agrad.declared_kernels()["einsum"].reference
    return reference(xp, *operands, subscripts=subscripts, path=contraction_path(subscripts, shapes))
