"""``agrad.detect_anomaly()``: stop at the first NaN or Inf, naming the op and where it was made.

Inside the block every floating output of every primitive is checked in the forward pass, and
every cotangent a VJP rule produces in the backward pass. The error names the primitive and the
``file:line`` of the user code that called it (recorded on the node at creation time). Checking
values means reading them back: on a lazy backend (Dask) each check forces a compute, so this is
a debugging tool, not something to leave on.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from agrad._base.modes import modes, using_modes
from agrad._core.primitive import _mode_hooks
from agrad._core.tensor import Tensor

_AGRAD_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the agrad package


@contextlib.contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise ``FloatingPointError`` at the first op that produces NaN/Inf, forward or backward."""
    with using_modes(anomaly=True):
        yield


def is_anomaly_enabled() -> bool:
    return bool(modes.anomaly)


def user_site() -> str:
    """``file:line in function`` of the innermost caller outside the agrad package."""
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_AGRAD_DIR):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"


def _bad(backend, value: Any) -> str | None:
    """'NaN' / 'Inf' if the floating array ``value`` holds one, else ``None``."""
    xp = backend.xp
    if not hasattr(value, "dtype") or not xp.isdtype(value.dtype, ("real floating", "complex floating")):
        return None
    if bool(xp.all(xp.isfinite(value))):
        return None
    return "NaN" if bool(xp.any(xp.isnan(value))) else "Inf"


def check_forward(prim, out: Any) -> None:
    """Called on each primitive's output while anomaly detection is on."""
    outs = out if prim.multi_output else (out,)
    site = user_site()
    for o in outs:
        kind = _bad(o._backend, o.value)
        if kind is not None:
            raise FloatingPointError(
                f"agrad.detect_anomaly: agrad.{prim.name} produced {kind} in the forward pass "
                f"(output of shape {o.shape}), called at {site}"
            )
    node = outs[0]._node if outs else None
    if node is not None:
        node.site = site


def check_backward(node, i: int, gi: Any) -> None:
    """Called on each cotangent a VJP rule returns while anomaly detection may be on."""
    if not modes.anomaly:
        return
    value = gi.value if isinstance(gi, Tensor) else gi
    kind = _bad(node.backend, value)
    if kind is not None:
        site = getattr(node, "site", None) or "<created outside detect_anomaly>"
        raise FloatingPointError(
            f"agrad.detect_anomaly: the backward pass of agrad.{node.prim.name} produced {kind} "
            f"in the gradient of its argument {i}; that {node.prim.name} was called at {site}"
        )


_mode_hooks["anomaly"] = check_forward
