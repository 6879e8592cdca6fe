"""``array_api_strict``: the reference namespace, agrad's portability oracle.

It has exactly the standard and nothing else, so no kernels: if agrad runs here, the core used
only the standard.
"""

from __future__ import annotations

from typing import Any

from agrad import Backend, Capabilities


def make_backend(**options: Any) -> Backend:
    import array_api_strict as xp

    from agrad_backends._rng import PhiloxRNG

    array_type = type(xp.asarray(0))

    def is_array(obj: Any) -> bool:
        return isinstance(obj, array_type)

    def convert(a: Any, dtype: Any) -> Any:
        return xp.asarray(a, dtype=dtype) if dtype is not None else xp.asarray(a)

    device = options.pop("device", None)
    if options:
        raise TypeError(f"array_api_strict backend: unknown options {sorted(options)}")
    return Backend(
        name="array_api_strict",
        xp=xp,
        is_array=is_array,
        device=device,
        capabilities=Capabilities(),
        rng=PhiloxRNG(convert),
    )
