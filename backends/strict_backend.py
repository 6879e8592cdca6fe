"""``array_api_strict``: the reference namespace, agrad's portability oracle.

It has exactly the standard and nothing else, so no kernels: if agrad runs here, the core used
only the standard.
"""

from __future__ import annotations

from typing import Any

from agrad import Backend
from agrad_backends._factory import new_backend, take_options


def make_backend(**options: Any) -> Backend:
    import array_api_strict as xp

    array_type = type(xp.asarray(0))

    def is_array(obj: Any) -> bool:
        return isinstance(obj, array_type)

    def convert(a: Any, dtype: Any) -> Any:
        return xp.asarray(a, dtype=dtype) if dtype is not None else xp.asarray(a)

    (device,) = take_options("array_api_strict", options, {"device": None}, list_known=False)
    return new_backend("array_api_strict", xp, is_array, convert, device=device)
