"""agrad's own dtype objects: one set for every backend.

``Tensor.dtype`` is always one of these, so ``x.dtype == agrad.float32`` holds whatever array
library is underneath. Each backend maps them to and from its native dtypes (kept in the backend's
``cache["dtypes"]``).

``float16`` and ``bfloat16`` are extension dtypes: the standard has neither, so they are not in
``ALL_DTYPES`` (nor in ``__array_namespace_info__().dtypes()``), but a backend whose namespace has
them (PyTorch, JAX; NumPy has ``float16``) maps them like any other dtype, for mixed precision
(``agrad.autocast``). A backend without one refuses it in :func:`to_native`, naming itself.
"""

from __future__ import annotations

import warnings
from typing import Any


class DType:
    """A dtype of the Array API standard (``agrad.float32`` ...) or one of agrad's extension dtypes
    (``agrad.float16``, ``agrad.bfloat16``), independent of the backend."""

    __slots__ = ("name", "kind", "bits")

    def __init__(self, name: str, kind: str, bits: int) -> None:
        self.name = name
        # "bool", "signed integer", "unsigned integer", "real floating" or "complex floating"
        self.kind = kind
        self.bits = bits

    def __repr__(self) -> str:
        return f"agrad.{self.name}"

    def __reduce__(self) -> str:
        return self.name  # pickles as the module-level singleton


bool = DType("bool", "bool", 8)  # noqa: A001 - the standard's name
int8 = DType("int8", "signed integer", 8)
int16 = DType("int16", "signed integer", 16)
int32 = DType("int32", "signed integer", 32)
int64 = DType("int64", "signed integer", 64)
uint8 = DType("uint8", "unsigned integer", 8)
uint16 = DType("uint16", "unsigned integer", 16)
uint32 = DType("uint32", "unsigned integer", 32)
uint64 = DType("uint64", "unsigned integer", 64)
float32 = DType("float32", "real floating", 32)
float64 = DType("float64", "real floating", 64)
complex64 = DType("complex64", "complex floating", 64)
complex128 = DType("complex128", "complex floating", 128)

ALL_DTYPES: tuple[DType, ...] = (
    bool, int8, int16, int32, int64, uint8, uint16, uint32, uint64,
    float32, float64, complex64, complex128,
)  # fmt: skip

# Extension dtypes (not the standard's): half precision and brain floating point, for autocast.
float16 = DType("float16", "real floating", 16)
bfloat16 = DType("bfloat16", "real floating", 16)

EXTENSION_DTYPES: tuple[DType, ...] = (float16, bfloat16)
"""Dtypes beyond the standard's 13, available where the backend's namespace has them."""

BY_NAME = {d.name: d for d in ALL_DTYPES + EXTENSION_DTYPES}


def is_floating(dtype: DType) -> bool:
    """Real or complex floating: the dtypes that can carry a gradient."""
    return dtype.kind in ("real floating", "complex floating")


def _tables(backend: Any) -> tuple[dict, dict]:
    tables = backend.cache.get("dtypes")
    if tables is None:
        to_native, from_native = {}, {}
        xp = backend.xp
        for d in ALL_DTYPES + EXTENSION_DTYPES:
            native = getattr(xp, d.name, None)
            if native is None:
                continue
            try:  # numpy: arr.dtype is np.dtype('float32'), xp.float32 is the scalar type
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # JAX warns before truncating float64
                    made = xp.empty((0,), dtype=native, device=backend.device).dtype
            except Exception:  # a dtype the device lacks (float64 on some GPUs)
                made = None
            if made is not None and str(made).rsplit(".", 1)[-1] != d.name:
                continue  # silently narrowed (JAX without x64 makes float32): not available
            to_native[d] = native
            from_native[native] = d
            if made is not None:
                from_native[made] = d
        tables = backend.cache["dtypes"] = (to_native, from_native)
    return tables


def to_native(backend: Any, dtype: Any) -> Any:
    """The backend's dtype for an agrad dtype (backend-native dtypes pass through)."""
    if dtype is None or not isinstance(dtype, DType):
        return dtype
    table = _tables(backend)[0]
    try:
        return table[dtype]
    except KeyError:
        hint = (f"; {dtype.name} is an extension dtype (not the standard's), on backends whose "
                "namespace has it (torch and jax have both, numpy float16)" if dtype in EXTENSION_DTYPES else
                ", or a backend option that enables it (e.g. set_backend('jax', x64=True) for 64-bit dtypes)")
        raise TypeError(
            f"backend {backend.name!r} has no dtype {dtype.name} here (it has "
            f"{', '.join(d.name for d in table)}); use one of those{hint}"
        ) from None


def from_native(backend: Any, native: Any) -> DType:
    """The agrad dtype of a backend-native dtype."""
    table = _tables(backend)[1]
    try:
        return table[native]
    except (KeyError, TypeError):
        for key, d in table.items():
            if key == native:
                table[native] = d
                return d
        raise TypeError(f"dtype {native!r} of backend {backend.name!r} is not an Array API dtype") from None
