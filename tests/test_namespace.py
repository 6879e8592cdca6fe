"""``import agrad as xp`` is a conforming namespace: every name of the standard, with its signature."""

from __future__ import annotations

import inspect
import math

import pytest

import agrad
from tests.helpers import to_np

strict = pytest.importorskip("array_api_strict")

FUNCTIONS = sorted(
    n for n in dir(strict)
    if inspect.isfunction(getattr(strict, n)) and not n.startswith("_") and "strict_flags" not in n
)


def _shape(sig: inspect.Signature) -> list[tuple[str, object, bool]]:
    """Parameter names, kinds and whether each has a default: what a caller can rely on."""
    return [(p.name, p.kind, p.default is not inspect.Parameter.empty) for p in sig.parameters.values()]


@pytest.mark.backend_independent
def test_all_135_functions_exist():
    assert len(FUNCTIONS) == 135
    assert [n for n in FUNCTIONS if not callable(getattr(agrad, n, None))] == []


@pytest.mark.backend_independent
@pytest.mark.parametrize("name", FUNCTIONS)
def test_signature_matches_the_standard(name):
    ours = inspect.signature(getattr(agrad, name))
    theirs = inspect.signature(getattr(strict, name))
    assert _shape(ours) == _shape(theirs), f"{name}{ours} != {name}{theirs}"


@pytest.mark.backend_independent
def test_constants_dtypes_and_version():
    assert agrad.__array_api_version__ == "2025.12"
    assert (agrad.e, agrad.pi, agrad.inf) == (math.e, math.pi, math.inf)
    assert math.isnan(agrad.nan) and agrad.newaxis is None
    names = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
             "float32", "float64", "complex64", "complex128"]
    assert [getattr(agrad, n).name for n in names] == names


def test_namespace_info(backend):
    info = agrad.__array_namespace_info__()
    defaults = info.default_dtypes()
    assert defaults["real floating"] is agrad.asarray(1.0).dtype
    assert defaults["integral"] is agrad.asarray(1).dtype
    assert info.default_device() == agrad.asarray(1.0).device
    assert set(info.dtypes(kind="real floating")) <= {"float32", "float64"}
    assert "int8" in info.dtypes(kind="integral") and "bool" in info.dtypes()
    assert isinstance(info.capabilities()["boolean indexing"], bool)
    assert len(info.devices()) >= 1


def test_tensor_is_a_conforming_array(backend):
    x = agrad.asarray([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert x.__array_namespace__() is agrad
    assert (x.shape, x.ndim, x.size) == ((2, 3), 2, 6)
    assert x.T.shape == (3, 2) and x.mT.shape == (3, 2)
    assert x.dtype is agrad.__array_namespace_info__().default_dtypes()["real floating"]
    assert x.to_device(x.device).shape == (2, 3)
    assert float(x[1, 2]) == 6.0 and int(agrad.asarray(7)) == 7 and bool(agrad.asarray(True))
    assert complex(x[0, 0]) == 1 + 0j and [10, 20][agrad.asarray(1)] == 20
    if hasattr(x.value, "__dlpack_device__"):  # lazy Dask arrays cannot export DLPack
        assert x.__dlpack_device__() == x.value.__dlpack_device__()


def test_result_type_and_can_cast_follow_the_standard(backend):
    assert agrad.result_type(agrad.int8, agrad.uint8) is agrad.int16
    assert agrad.result_type(agrad.uint32, agrad.int32) is agrad.int64
    assert agrad.result_type(agrad.float32, agrad.complex64) is agrad.complex64
    assert agrad.result_type(agrad.float64, agrad.complex64) is agrad.complex128
    assert agrad.result_type(agrad.asarray([1], dtype=agrad.int16), 3) is agrad.int16
    assert agrad.can_cast(agrad.int8, agrad.int32) and not agrad.can_cast(agrad.int32, agrad.int8)
    assert not agrad.can_cast(agrad.float32, agrad.int64)
    with pytest.raises(TypeError, match="no common dtype for uint64 and int8"):
        agrad.result_type(agrad.uint64, agrad.int8)
    assert agrad.finfo(agrad.float32).eps == pytest.approx(2.0**-23)
    assert agrad.iinfo(agrad.int8).min == -128 and agrad.iinfo(agrad.uint8).dtype is agrad.uint8


@pytest.mark.parametrize("a,b,want", [
    ("int8", "uint8", "int16"), ("uint16", "int32", "int32"), ("int32", "int64", "int64"),
    ("float32", "float64", "float64"), ("float32", "complex128", "complex128"),
    ("int16", "float32", "float32"), ("bool", "int8", "int8"),
])
def test_binary_results_have_the_same_dtype_on_every_backend(a, b, want, backend):
    x = agrad.asarray([1, 0, 1], dtype=getattr(agrad, a))
    y = agrad.asarray([1, 1, 0], dtype=getattr(agrad, b))
    for op in (agrad.add, agrad.multiply, lambda p, q: p - q if want != "bool" else p):
        if a == "bool" and op is not agrad.add:
            continue
        assert op(x, y).dtype is getattr(agrad, want)
        assert op(y, x).dtype is getattr(agrad, want)
    assert (x == y).dtype is agrad.bool


def test_python_scalars_follow_the_standard(backend):
    f32 = agrad.asarray([1.0, 2.0], dtype=agrad.float32)
    i8 = agrad.asarray([1, 2], dtype=agrad.int8)
    assert (f32 * 2).dtype is agrad.float32 and (2.5 * f32).dtype is agrad.float32
    assert (i8 + 3).dtype is agrad.int8 and (3 - i8).dtype is agrad.int8
    assert (f32 + 1j).dtype is agrad.complex64
    default_float = agrad.__array_namespace_info__().default_dtypes()["real floating"]
    assert (i8 * 0.5).dtype is default_float  # agrad's choice where the standard has none
    assert to_np(i8 * 0.5).tolist() == [0.5, 1.0]
