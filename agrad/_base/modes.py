"""Per-thread modes: gradient recording, forward-mode and batching levels, anomaly detection,
closure tracking, autocast.

Every mode is state of the thread (or task) that entered it: a ``jvp`` or a ``detect_anomaly``
block in one thread changes nothing for another. A primitive call checks one flag,
``modes.special``, which is true exactly while this thread has a forward level, a ``vmap``
batching level, anomaly detection or a closure tracker active (and is not already inside the
special path); everything else takes the plain call.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Iterator


class _GradMode(threading.local):
    enabled = True


grad_mode = _GradMode()
"""Whether this thread records operations for reverse mode (``no_grad`` turns it off)."""


class _ModeState(threading.local):
    """This thread's special modes; while any is on, primitive calls take the special path.

    ``levels``: the active forward-mode levels (outermost first); ``batch``: the active ``vmap``
    levels (outermost first); ``trace``: the active ``jit`` traces; ``anomaly``: detect_anomaly is
    on; ``trackers``: checkpoint's discovery of the tensors a function closes over; ``bypass``:
    set while the special path runs the plain primal computation. ``special`` is derived from
    them (see :meth:`refresh`) so the plain path reads one attribute.
    """

    levels: tuple = ()
    batch: tuple = ()
    trace: tuple = ()
    anomaly = False
    trackers: tuple = ()
    bypass = False
    special = False

    def refresh(self) -> None:
        self.special = not self.bypass and bool(
            self.levels or self.batch or self.trace or self.anomaly or self.trackers
        )

    def set(self, **values: object) -> dict:
        """Set some modes (``levels=..., anomaly=...``); returns their previous values."""
        previous = {k: getattr(self, k) for k in values}
        for k, v in values.items():
            setattr(self, k, v)
        self.refresh()
        return previous


modes = _ModeState()

_level_ids = itertools.count(1)


def next_level_id() -> int:
    """A number for a new transform level (forward or batching), larger than every earlier one:
    where levels of both kinds nest, their ids say which one is inside the other."""
    return next(_level_ids)


class _AutocastMode(threading.local):
    """This thread's autocast dtype: ``None`` (off, the plain path) or ``agrad.float16`` /
    ``agrad.bfloat16`` inside ``agrad.autocast``. The ops autocast affects (matmul, conv...) read
    this one attribute; ``agrad.amp`` sets it."""

    dtype = None


autocast_mode = _AutocastMode()


@contextlib.contextmanager
def using_modes(**values: object) -> Iterator[None]:
    """Set some of this thread's modes for the duration of the block."""
    previous = modes.set(**values)
    try:
        yield
    finally:
        modes.set(**previous)


@contextlib.contextmanager
def _grad_enabled(enabled: bool) -> Iterator[None]:
    previous = grad_mode.enabled
    grad_mode.enabled = enabled
    try:
        yield
    finally:
        grad_mode.enabled = previous


def no_grad() -> contextlib.AbstractContextManager:
    """Record nothing inside the block (this thread only): inference and optimizer updates."""
    return _grad_enabled(False)


def enable_grad() -> contextlib.AbstractContextManager:
    """Record again inside a :func:`no_grad` block."""
    return _grad_enabled(True)


def suspended_levels(keep: tuple = ()) -> contextlib.AbstractContextManager:
    """Run the block with only the forward-mode levels ``keep`` active (``()``: none)."""
    return using_modes(levels=keep)


@contextlib.contextmanager
def inference_mode() -> Iterator[None]:
    """Record nothing at all inside the block (this thread only).

    :func:`no_grad` stops reverse-mode recording only: an enclosing ``agrad.jvp`` still pushes
    tangents through the block (as in PyTorch, whose forward AD ignores no_grad).
    ``inference_mode`` also suspends forward-mode levels, so its results are plain constants
    for every transform: use it for pure inference.
    """
    with _grad_enabled(False), suspended_levels():
        yield


def is_grad_enabled() -> bool:
    return grad_mode.enabled
