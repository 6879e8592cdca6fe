"""The default backend: NumPy 2 (already Array-API conforming) plus fused kernels.

``array_api_compat.numpy`` is NumPy's own functions except for the few it patches, so the hot
path calls NumPy directly. Kernels (``agrad_backends.numpy_kernels``) replace the core's
portable references where NumPy/Numba can do the same job faster. Options: ``device`` and
``reuse_memory=True`` (keep freed memory in malloc's heap; process-wide, see
``agrad_backends._numpy_memory``).
"""

from __future__ import annotations

from typing import Any

from agrad import Backend, Capabilities


def make_backend(**options: Any) -> Backend:
    import array_api_compat.numpy as xp
    import numpy as np

    from agrad_backends._rng import PhiloxRNG
    from agrad_backends.numpy_kernels import KERNELS

    def is_array(obj: Any) -> bool:
        return isinstance(obj, (np.ndarray, np.generic))

    def convert(a: np.ndarray, dtype: Any) -> np.ndarray:
        return a if dtype is None else a.astype(dtype, copy=False)

    device = options.pop("device", None)
    if options.pop("reuse_memory", False):  # opt-in, process-wide: see _numpy_memory
        from agrad_backends._numpy_memory import reuse_freed_memory

        reuse_freed_memory()
    if options:
        raise TypeError(f"numpy backend: unknown options {sorted(options)} (known: device, reuse_memory)")
    return Backend(
        name="numpy",
        xp=xp,
        is_array=is_array,
        device=device,
        capabilities=Capabilities(),
        rng=PhiloxRNG(convert),
        kernels=dict(KERNELS),
    )
