"""agrad's own type promotion: the standard's table, so a result has the same dtype on every backend.

NumPy, PyTorch and JAX each promote differently (``int8 + uint8``, ``float32 + int64``, a Python
float with an integer array...). agrad decides the result dtype itself and converts operands with
the differentiable ``astype`` before the backend sees them; the backend then only ever combines
operands of one dtype, or an operand with a Python scalar of a compatible kind (which every
backend treats as "weak", as the standard asks).

Where the standard leaves promotion undefined, agrad picks one rule for every backend:

* mixed kinds (bool < integer < real floating < complex floating) promote to the operand of the
  higher kind (``int32 + float32 -> float32``; ``int64 + complex64 -> complex64``);
* a Python ``float`` with an integer or boolean array gives the backend's default floating dtype,
  a Python ``int`` with a boolean array its default integer dtype, a Python ``complex`` with a real
  array the complex dtype of the same precision;
* ``uint64`` with a signed integer has no common dtype: a ``TypeError`` says to cast explicitly;
* the extension dtypes ``float16`` and ``bfloat16`` (:data:`EXTENSION_TABLE`) promote as in
  PyTorch: with a wider float or a complex dtype to that dtype, with each other to ``float32``,
  with integers and booleans to themselves (the mixed-kind rule), with a Python float unchanged.

This module holds the tables and the dtype arithmetic; ``agrad._ops.promote`` converts operands.
"""

from __future__ import annotations

from typing import Any

from agrad._base import dtypes as _dtypes
from agrad._base.backend import get_backend
from agrad._base.dtypes import (
    DType,
    bfloat16,
    complex64,
    complex128,
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    uint8,
    uint16,
    uint32,
    uint64,
)

_KIND_RANK = {"bool": 0, "signed integer": 1, "unsigned integer": 1, "real floating": 2,
              "complex floating": 3}


def _same_kind_table() -> dict[tuple[DType, DType], DType]:
    table: dict[tuple[DType, DType], DType] = {}

    def chain(dtypes: tuple[DType, ...]) -> None:
        for i, a in enumerate(dtypes):
            for b in dtypes[i:]:
                table[a, b] = table[b, a] = b

    chain((int8, int16, int32, int64))
    chain((uint8, uint16, uint32, uint64))
    chain((float32, float64))
    chain((complex64, complex128))
    mixed = {  # the standard's table for signed with unsigned integers
        uint8: {int8: int16, int16: int16, int32: int32, int64: int64},
        uint16: {int8: int32, int16: int32, int32: int32, int64: int64},
        uint32: {int8: int64, int16: int64, int32: int64, int64: int64},
    }
    for u, row in mixed.items():
        for s, r in row.items():
            table[u, s] = table[s, u] = r
    for f, c in ((float32, complex64), (float64, complex128)):
        for cc in (complex64, complex128):
            table[f, cc] = table[cc, f] = complex128 if (f is float64 or cc is complex128) else c
    table[_dtypes.bool, _dtypes.bool] = _dtypes.bool
    return table


PROMOTION_TABLE = _same_kind_table()
"""The standard's promotion table (pairs it defines), ``(dtype, dtype) -> dtype``."""


def _extension_table() -> dict[tuple[DType, DType], DType]:
    table: dict[tuple[DType, DType], DType] = {(float16, bfloat16): float32, (bfloat16, float16): float32}
    for half in (float16, bfloat16):
        for wider in (float32, float64, complex64, complex128):
            table[half, wider] = table[wider, half] = wider
    return table


EXTENSION_TABLE = _extension_table()
"""Pairs with an extension dtype (``float16``, ``bfloat16``), PyTorch's results."""

_TABLE = {**PROMOTION_TABLE, **EXTENSION_TABLE}


def promote_types(a: DType, b: DType) -> DType:
    """The common dtype of ``a`` and ``b``: the standard's table, then agrad's mixed-kind rule."""
    if a is b:
        return a
    r = _TABLE.get((a, b))
    if r is not None:
        return r
    ra, rb = _KIND_RANK[a.kind], _KIND_RANK[b.kind]
    if ra != rb:
        return a if ra > rb else b
    raise TypeError(
        f"no common dtype for {a.name} and {b.name} (the standard defines none); "
        "convert one operand explicitly with agrad.astype(x, dtype)"
    )


def complex_of(d: DType) -> DType:
    """The complex dtype of ``d``'s precision (``complex64`` for the 16-bit floats)."""
    return complex128 if d.bits == 64 or d is complex128 else complex64


def scalar_result(d: DType, scalar: Any, backend: Any) -> DType:
    """The dtype of ``array(d) <op> scalar`` (``scalar`` a Python bool/int/float/complex)."""
    kind = d.kind
    t = type(scalar)
    if t is bool:
        return d
    if t is int:
        return _dtypes.from_native(backend, backend.default_int) if kind == "bool" else d
    if t is float:
        if kind in ("real floating", "complex floating"):
            return d
        return _dtypes.from_native(backend, backend.default_float)
    if kind == "complex floating":
        return d
    if kind == "real floating":
        return complex_of(d)
    return complex_of(_dtypes.from_native(backend, backend.default_float))


_SCALARS = (bool, int, float, complex)


def _dtype_of(x: Any, backend: Any) -> DType:
    return _dtypes.from_native(backend, x.value.dtype if hasattr(x, "_backend") else x.dtype)


def result_type(*arrays_and_dtypes: Any) -> DType:
    """The standard's ``result_type``: the dtype an operation on these operands returns."""
    backend = get_backend()
    dts: list[DType] = []
    scalars = []
    for a in arrays_and_dtypes:
        if isinstance(a, DType):
            dts.append(a)
        elif isinstance(a, _SCALARS):
            scalars.append(a)
        elif hasattr(a, "_backend"):
            dts.append(_dtypes.from_native(a._backend, a.value.dtype))
        else:
            dts.append(_dtypes.from_native(backend, getattr(a, "dtype", a)))
    if not dts:
        raise ValueError("result_type needs at least one array or dtype")
    out = dts[0]
    for d in dts[1:]:
        out = promote_types(out, d)
    for s in scalars:
        out = scalar_result(out, s, backend)
    return out


def can_cast(from_: Any, to: DType, /) -> bool:
    """Whether ``from_`` (a dtype or a Tensor) casts to ``to`` under the standard's rules."""
    if not isinstance(from_, DType):
        from_ = _dtypes.from_native(from_._backend, from_.value.dtype)
    if from_ is to:
        return True
    return _TABLE.get((from_, to)) is to


_PASS = {
    "bool": (bool,),
    "signed integer": (int, bool),
    "unsigned integer": (int, bool),
    "real floating": (float, int, bool),
    "complex floating": (complex, float, int, bool),
}


def scalar_passthrough(backend: Any) -> dict[Any, tuple[type, ...]]:
    """``{native dtype: Python scalar types that combine with it unchanged}`` for ``backend``.

    The operators' fast path: ``tensor * 2.0`` needs one dict lookup to know that the backend
    gives the standard's result without any conversion.
    """
    table = backend.cache.get("scalars")
    if table is None:
        table = {native: _PASS[d.kind] for native, d in _dtypes._tables(backend)[1].items()}
        backend.cache["scalars"] = table
    return table


def backend_of(x: Any) -> Any:
    """The backend of a Tensor, else the active one (for raw arrays and Python scalars)."""
    be = getattr(x, "_backend", None)
    return get_backend() if be is None else be
