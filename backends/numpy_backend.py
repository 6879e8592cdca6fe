"""The default backend: NumPy 2 (already Array-API conforming) plus fused kernels.

``array_api_compat.numpy`` is NumPy's own functions except for the few it patches, so the hot
path calls NumPy directly. Kernels (``agrad_backends.numpy_kernels``) replace the core's
portable references where NumPy/Numba can do the same job faster. Options: ``device`` and
``reuse_memory=True`` (keep freed memory in malloc's heap; process-wide, see
``agrad_backends._numpy_memory``).
"""

from __future__ import annotations

from typing import Any

from agrad import Backend
from agrad_backends._factory import new_backend, take_options


def make_backend(**options: Any) -> Backend:
    import array_api_compat.numpy as xp
    import numpy as np

    from agrad_backends.numpy_kernels import KERNELS

    def is_array(obj: Any) -> bool:
        return isinstance(obj, (np.ndarray, np.generic))

    def convert(a: np.ndarray, dtype: Any) -> np.ndarray:
        return a if dtype is None else a.astype(dtype, copy=False)

    device, reuse_memory = take_options("numpy", options, {"device": None, "reuse_memory": False})
    if reuse_memory:  # opt-in, process-wide: see _numpy_memory
        from agrad_backends._numpy_memory import reuse_freed_memory

        reuse_freed_memory()
    return new_backend("numpy", xp, is_array, convert, device=device, kernels=dict(KERNELS))
