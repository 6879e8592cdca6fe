"""The Tensor as the standard's array object: operators, indexing, ``__setitem__`` and in-place
updates (differentiable, functional underneath), negative-step slices on every backend."""

from __future__ import annotations

import operator

import numpy as np
import pytest

import agrad
from agrad.testing import gradcheck, randn
from tests.helpers import assert_close, to_np

F64 = agrad.float64


def r(*shape, seed=0):
    return randn(*shape, dtype=F64, seed=seed)


BINARY_OPERATORS = ["add", "sub", "mul", "truediv", "pow", "floordiv", "mod"]


@pytest.mark.requires("float64")
@pytest.mark.parametrize("name", BINARY_OPERATORS)
def test_operators_reflected_and_in_place_agree(name):
    op = getattr(operator, name)
    a = agrad.testing.rand(3, 4, dtype=F64, seed=1, low=0.5, high=2.0, requires_grad=False)
    b = agrad.testing.rand(4, dtype=F64, seed=2, low=0.5, high=2.0, requires_grad=False)
    want = op(to_np(a), to_np(b))
    assert_close(op(a, b), want)
    assert_close(op(a, to_np(b).tolist()[0]), op(to_np(a), to_np(b).tolist()[0]))
    assert_close(op(1.5, a), op(1.5, to_np(a)))
    c = a * 1.0
    c = getattr(operator, f"i{name}")(c, b)
    assert_close(c, want)


@pytest.mark.parametrize("name", ["and_", "or_", "xor", "lshift", "rshift"])
def test_bitwise_operators(name, backend):
    op = getattr(operator, name)
    a = agrad.asarray([1, 6, 12], dtype=agrad.int32)
    b = agrad.asarray([2, 3, 1], dtype=agrad.int32)
    assert to_np(op(a, b)).tolist() == op(np.array([1, 6, 12]), np.array([2, 3, 1])).tolist()
    assert to_np(op(a, 1)).tolist() == op(np.array([1, 6, 12]), 1).tolist()
    assert to_np(~a).tolist() == [-2, -7, -13]


@pytest.mark.requires("float64")
def test_in_place_operators_are_differentiable():
    x = r(3, seed=1)
    y = x * 2.0
    y += x
    y *= x  # y = 3 x^2
    y -= 1.0
    y /= 2.0
    y **= 2  # ((3x^2 - 1) / 2)^2
    g = r(3, seed=2)
    y.backward(g)
    xn = to_np(x)
    assert_close(x.grad, to_np(g) * 2 * (3 * xn**2 - 1) / 2 * 3 * xn)


def test_in_place_on_a_leaf_that_requires_grad_is_a_clear_error(backend):
    x = agrad.Tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="in-place update of a leaf.*no_grad"):
        x += 1.0
    assert to_np(x).tolist() == [1.0, 2.0] and x.is_leaf  # nothing half-updated
    with agrad.no_grad():  # an optimizer step
        x -= 0.5
    assert to_np(x).tolist() == [0.5, 1.5] and x.is_leaf and x.requires_grad


def test_in_place_keeps_the_dtype(backend):
    x = agrad.asarray([1, 2], dtype=agrad.int32)
    with pytest.raises(TypeError, match="int32 tensor would give"):
        x += 1.5
    assert to_np(x).tolist() == [1, 2]


@pytest.mark.requires("float64")
@pytest.mark.parametrize("key", [
    (slice(None, None, -1),),
    (slice(None), slice(4, 0, -2)),
    (slice(3, None, -1), 1),
    (Ellipsis, slice(None, None, -3)),
    (None, slice(None, None, -2), slice(1, 3)),
    (slice(2, 2, -1),),
], ids=str)
def test_negative_step_slices_work_on_every_backend(key):
    x = r(4, 5, seed=3)
    want = to_np(x)[key]
    y = x[key]
    assert_close(y, want)
    gradcheck(lambda t: t[key], x)


@pytest.mark.requires("float64")
def test_integer_array_keys_with_several_arrays():
    x = r(3, 4, 2, seed=4)
    i = agrad.asarray([0, 2, 2, 1])
    j = agrad.asarray([1, 3, 3, 0])
    assert_close(x[i, j], to_np(x)[[0, 2, 2, 1], [1, 3, 3, 0]])
    gradcheck(lambda t: t[i, j], x)
    gradcheck(lambda t: t[i], x)


@pytest.mark.requires("float64")
def test_boolean_mask_key(backend):
    if not backend.capabilities.data_dependent_shapes:
        pytest.skip(f"backend {backend.name!r} lacks the capability 'data_dependent_shapes'")
    x = r(3, 4, seed=5)
    mask = x > 0
    assert_close(x[mask], to_np(x)[to_np(x) > 0])
    gradcheck(lambda t: t[mask], x)


@pytest.mark.requires("float64")
@pytest.mark.parametrize("key,value_shape", [
    ((1, slice(1, 3)), (2,)),
    ((slice(None), 0), ()),
    ((slice(None, None, -1), slice(0, 4, 2)), (3, 2)),
    ((Ellipsis, 2), (1,)),
], ids=str)
def test_setitem_is_differentiable_in_both_arguments(key, value_shape):
    def f(x, v):
        y = x * 1.0
        y[key] = v
        return y * y

    x, v = r(3, 4, seed=6), r(*value_shape, seed=7)
    want = to_np(x).copy()
    want[key] = to_np(v)
    y = x * 1.0
    y[key] = v
    assert_close(y, want)
    assert to_np(x).tolist() != to_np(y).tolist()  # the input's array is untouched
    gradcheck(f, x, v)


def test_setitem_with_a_python_scalar_and_the_old_value(backend):
    x = agrad.Tensor([1.0, 2.0, 3.0])
    y = x * 2.0
    y[0] = 10.0
    y[1:] = y[1:] * y[1:]
    y.sum().backward()
    assert to_np(y).tolist() == [10.0, 16.0, 36.0]
    assert to_np(x.grad).tolist() == [0.0, 16.0, 24.0]


def test_setitem_does_not_mutate_arrays_shared_with_the_graph(backend):
    a = agrad.Tensor([1.0, 2.0])
    b = a * 1.0
    held = b.value
    b[0] = 5.0
    assert to_np(held).tolist() == [1.0, 2.0]


def test_conversions_that_leave_the_graph(backend):
    x = agrad.Tensor([2.5])
    assert float(x[0]) == 2.5 and int(x[0]) == 2 and bool(x[0])
    with pytest.raises(TypeError, match="refuses implicit conversion"):
        np.asarray(x)
    if backend.name == "array_api_strict":
        return  # strict's DLPack export is to NumPy only via its own API
    if not hasattr(x.value, "__dlpack__"):
        pytest.skip(f"backend {backend.name!r} arrays have no DLPack export (lazy arrays)")
    assert np.from_dlpack(x.detach().value).tolist() == [2.5]


@pytest.mark.requires("float64")
def test_setitem_with_integer_array_keys_on_every_backend():
    i, j = agrad.asarray([0, 2]), agrad.asarray([1, 3])

    def f(x, v):
        y = x * 1.0
        y[i, j] = v
        y[agrad.asarray([1])] = y[agrad.asarray([1])] * 3.0
        return y * y

    x, v = r(3, 4, 2, seed=8), r(2, 2, seed=9)
    want = to_np(x).copy()
    want[[0, 2], [1, 3]] = to_np(v)
    want[[1]] *= 3.0
    assert_close(agrad.sqrt(f(x, v)), np.abs(want))
    gradcheck(f, x, v)
