"""``__array_namespace_info__()``: what agrad offers on the active backend, in agrad's dtypes."""

from __future__ import annotations

from typing import Any

from agrad._base import dtypes as _dtypes
from agrad._base.backend import get_backend
from agrad._ops.data_type_functions import isdtype


class _Info:
    """The standard's inspection object, answering for the backend active when it was made."""

    def __init__(self) -> None:
        self._backend = get_backend()
        self._native = self._backend.xp.__array_namespace_info__()

    def capabilities(self) -> dict[str, Any]:
        caps = dict(self._native.capabilities())
        dds = self._backend.capabilities.data_dependent_shapes
        caps["boolean indexing"] = caps.get("boolean indexing", True) and dds
        caps["data-dependent shapes"] = caps.get("data-dependent shapes", True) and dds
        return caps

    def default_device(self) -> Any:
        return self._backend.device

    def devices(self) -> list[Any]:
        return list(self._native.devices())

    def default_dtypes(self, *, device: Any = None) -> dict[str, _dtypes.DType]:
        be = self._backend
        return {
            "real floating": _dtypes.from_native(be, be.default_float),
            "complex floating": _dtypes.complex128 if _dtypes.from_native(
                be, be.default_float) is _dtypes.float64 else _dtypes.complex64,
            "integral": _dtypes.from_native(be, be.default_int),
            "indexing": _dtypes.from_native(be, be.default_index),
        }

    def dtypes(self, *, device: Any = None, kind: Any = None) -> dict[str, _dtypes.DType]:

        table = _dtypes._tables(self._backend)[0]
        return {d.name: d for d in _dtypes.ALL_DTYPES
                if d in table and (kind is None or isdtype(d, kind))}


def __array_namespace_info__() -> _Info:
    """The standard's inspection API for the active backend."""
    return _Info()
