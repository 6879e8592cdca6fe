"""``pad``: PyTorch's ``F.pad`` with the modes ``constant``, ``reflect``, ``replicate`` and
``circular``.

Each padded axis is built by concatenating slices of the input (flipped for ``reflect``,
broadcast edges for ``replicate``, the opposite end for ``circular``) or constant blocks, never by
writing into an array; so the VJP, the JVP and higher derivatives are those of slicing, ``flip``,
``broadcast_to`` and ``concat``. The modes are separable: padding the axes one after another gives
PyTorch's corners.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import agrad as ag

_MODES = ("constant", "reflect", "replicate", "circular")


def _take(x: Any, axis: int, start: int | None, stop: int | None) -> Any:
    return x[(slice(None),) * axis + (slice(start, stop),)]


def _block(x: Any, axis: int, length: int, value: float) -> Any:
    shape = tuple(x.shape[:axis]) + (length,) + tuple(x.shape[axis + 1 :])
    with ag.using_backend(x.backend):
        return ag.full(shape, value, dtype=x.dtype, device=x.device)


def _pad_axis(x: Any, axis: int, before: int, after: int, mode: str, value: float) -> Any:
    n = x.shape[axis]
    if mode == "constant":
        if before < 0 or after < 0:  # negative padding crops, as in PyTorch
            x = _take(x, axis, max(-before, 0), n - max(-after, 0))
            before, after = max(before, 0), max(after, 0)
        left = _block(x, axis, before, value) if before else None
        right = _block(x, axis, after, value) if after else None
    elif mode == "reflect":
        left = ag.flip(_take(x, axis, 1, before + 1), axis=axis) if before else None
        right = ag.flip(_take(x, axis, n - 1 - after, n - 1), axis=axis) if after else None
    elif mode == "replicate":

        def edge(start: int, length: int) -> Any:
            piece = _take(x, axis, start, start + 1)
            return ag.broadcast_to(piece, piece.shape[:axis] + (length,) + piece.shape[axis + 1 :])

        left = edge(0, before) if before else None
        right = edge(n - 1, after) if after else None
    else:  # circular
        left = _take(x, axis, n - before, n) if before else None
        right = _take(x, axis, 0, after) if after else None
    parts = [p for p in (left, x, right) if p is not None]
    return parts[0] if len(parts) == 1 else ag.concat(parts, axis=axis)


def _check(x: Any, pad: tuple[int, ...], mode: str, value: float | None) -> None:
    if mode not in _MODES:
        raise ValueError(f"pad: mode must be one of {', '.join(map(repr, _MODES))}; got {mode!r}")
    if len(pad) % 2:
        raise ValueError(f"pad: the padding must have an even length (before, after per axis), got {pad}")
    if len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: {len(pad) // 2} axes of padding for a {x.ndim}-d input")
    if mode == "constant":
        return
    if value is not None and value != 0:
        raise ValueError(f'pad: padding mode "{mode}" does not take a value argument')
    for k in range(len(pad) // 2):
        axis, before, after = x.ndim - 1 - k, pad[2 * k], pad[2 * k + 1]
        n = x.shape[axis]
        if before < 0 or after < 0:
            raise ValueError(f"pad: mode {mode!r} takes no negative padding, got {pad}")
        if mode == "reflect" and max(before, after) >= n:
            raise ValueError(
                f"pad: reflect padding ({before}, {after}) must be less than the length {n} of axis {axis}"
            )
        if mode == "circular" and max(before, after) > n:
            raise ValueError(
                f"pad: circular padding ({before}, {after}) wraps more than once around axis {axis} ({n})"
            )
        if mode == "replicate" and n == 0 and (before or after):
            raise ValueError(f"pad: replicate padding of the empty axis {axis}")


def pad(input: Any, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Any:
    """Pad ``input`` as PyTorch's ``F.pad`` does: ``pad`` lists ``(before, after)`` pairs starting
    from the last axis, ``(left, right, top, bottom, ...)``.

    ``constant`` fills with ``value`` (0 when None; negative padding crops); ``reflect`` mirrors
    without repeating the edge (``[1, 2, 3]`` -> ``[3, 2, 1, 2, 3, 2, 1]``); ``replicate``
    repeats the edge; ``circular`` wraps around. Unlike PyTorch, the non-constant modes accept any
    number of leading axes, not only one or two.
    """
    widths = tuple(int(p) for p in pad)
    _check(input, widths, mode, value)
    fill = 0.0 if value is None else value
    out = input
    for k in range(len(widths) // 2):
        before, after = widths[2 * k], widths[2 * k + 1]
        if before or after:
            out = _pad_axis(out, input.ndim - 1 - k, before, after, mode, fill)
    return out


__all__ = ["pad"]
