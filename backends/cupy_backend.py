"""CuPy (NVIDIA/AMD GPUs): ``cupy`` is an Array API namespace through ``array_api_compat.cupy``.

The import happens inside :func:`make_backend` only, so registering this backend costs nothing;
on a machine without CuPy or without a usable GPU, ``available_backends()`` reports which, and the
conformance suite leaves the backend out (``pytest --backend cupy`` then fails loudly instead).
"""

from __future__ import annotations

from typing import Any

from agrad import Backend, BackendError
from agrad_backends._factory import new_backend, take_options


def make_backend(**options: Any) -> Backend:
    """Options: ``device`` (a GPU ordinal, default the current device)."""
    import array_api_compat.cupy as xp
    import cupy
    import cupyx

    (ordinal,) = take_options("cupy", options, {"device": None})
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # no driver, or a driver without a device
        raise BackendError(f"agrad backend 'cupy': CuPy is installed but no GPU is usable ({e})") from e
    if count == 0:
        raise BackendError("agrad backend 'cupy': CuPy is installed but this machine has no GPU")
    device = cupy.cuda.Device(ordinal) if ordinal is not None else cupy.cuda.Device()

    def is_array(obj: Any) -> bool:
        return isinstance(obj, cupy.ndarray)

    def convert(a: Any, dtype: Any) -> Any:
        with device:
            return cupy.asarray(a, dtype=dtype)

    def scatter_add(xp: Any, values: Any, *, index: Any, size: int) -> Any:
        with device:
            out = cupy.zeros((size, *values.shape[1:]), dtype=values.dtype)
        cupyx.scatter_add(out, index, values)  # our fresh array: repeats add up, like np.add.at
        return out

    def index_scatter(xp: Any, g: Any, *, shape: tuple, key: Any) -> Any:
        with device:
            out = cupy.zeros(shape, dtype=g.dtype)
        cupyx.scatter_add(out, key, g)
        return out

    kernels = {"index_scatter": index_scatter, "scatter_add": scatter_add}
    return new_backend("cupy", xp, is_array, convert, device=device, kernels=kernels)
