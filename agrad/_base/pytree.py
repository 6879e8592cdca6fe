"""Minimal pytrees: nested tuples, lists and dicts whose leaves are tensors, arrays or numbers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

TreeDef = Any  # None for a leaf, else (kind, keys, children)


def tree_flatten(tree: Any) -> tuple[list[Any], TreeDef]:
    """The leaves of ``tree`` in a fixed order, and the structure to rebuild it."""
    leaves: list[Any] = []
    return leaves, _flatten(tree, leaves)


def _flatten(tree: Any, leaves: list[Any]) -> TreeDef:
    if isinstance(tree, (tuple, list)):
        return (type(tree), None, [_flatten(t, leaves) for t in tree])
    if isinstance(tree, dict):
        keys = list(tree)
        return (dict, keys, [_flatten(tree[k], leaves) for k in keys])
    leaves.append(tree)
    return None


def tree_unflatten(treedef: TreeDef, leaves: Any) -> Any:
    """Rebuild the structure ``treedef`` with ``leaves`` (an iterable, consumed in order)."""
    return _build(treedef, iter(leaves))


def _build(treedef: TreeDef, it: Iterator[Any]) -> Any:
    if treedef is None:
        return next(it)
    kind, keys, children = treedef
    built = [_build(c, it) for c in children]
    if kind is dict:
        return dict(zip(keys, built))
    return kind(built) if kind in (tuple, list) else kind(*built)

def same_structure(a: TreeDef, b: TreeDef) -> bool:
    if a is None or b is None:
        return a is b
    return a[0] is b[0] and a[1] == b[1] and len(a[2]) == len(b[2]) and all(
        same_structure(x, y) for x, y in zip(a[2], b[2])
    )
