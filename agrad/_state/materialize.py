"""``materialize``: evaluate tensors' values now on lazy backends (the hook optimizers call)."""

from __future__ import annotations

from collections.abc import Iterable

from agrad._core.tensor import Tensor


def materialize(tensors: Iterable[Tensor]) -> None:
    """Replace each tensor's ``.value`` by the same values evaluated and held in memory.

    On Dask this persists the arrays (one ``dask.persist`` per backend, so shared work is done
    once), cutting the task graph that would otherwise replay every earlier training step; on
    eager backends it does nothing. The Tensor objects are updated, never the arrays (which may
    be immutable); recorded graphs keep the values they saw.
    """
    groups: dict[int, list[Tensor]] = {}
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"agrad.materialize expects Tensors, got a {type(t).__name__}")
        groups.setdefault(id(t._backend), []).append(t)
    for group in groups.values():
        backend = group[0]._backend
        if backend.materializer is None:
            continue
        values = backend.materialize([t.value for t in group])
        for t, v in zip(group, values):
            t.value = v
