"""Gradients of the core primitives: finite differences (float64) and PyTorch as references.

Cotangents are random, never all-ones. Broadcasting is undone for every broadcasting op,
including batched and 1-D matmul.
"""

import numpy as np
import pytest

import agrad
from agrad.testing import gradcheck, rand, randn
from tests.helpers import assert_close, to_np

pytestmark = pytest.mark.requires("float64")
F64 = agrad.float64


def r(*shape, seed=0, low=None):
    if low is not None:
        return rand(*shape, dtype=F64, seed=seed, low=low, high=low + 1.5)
    return randn(*shape, dtype=F64, seed=seed)


BINARY_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((), (2, 3)), ((5,), ())]


@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
@pytest.mark.parametrize(
    "op", ["add", "subtract", "multiply", "divide", "maximum", "minimum", "logaddexp"]
)
def test_binary_broadcasting(op, shapes):
    a, b = r(*shapes[0], seed=1), r(*shapes[1], seed=2, low=0.5)
    gradcheck(getattr(agrad, op), a, b)


@pytest.mark.parametrize("exponent", [2, 3, 0.5, -1.5, 0])
def test_pow_scalar_exponent(exponent):
    gradcheck(lambda x: x**exponent, r(3, 2, seed=3, low=0.5))


def test_pow_tensor_exponent_and_scalar_base():
    gradcheck(lambda x, p: x**p, r(3, seed=1, low=0.5), r(3, seed=2))
    gradcheck(lambda p: 2.0**p, r(4, seed=2))


@pytest.mark.parametrize("fn", ["exp", "tanh", "sin", "cos", "negative", "abs", "expm1", "square"])
def test_unary(fn):
    gradcheck(getattr(agrad, fn), r(2, 5, seed=4))


@pytest.mark.parametrize("fn", ["log", "sqrt", "log1p"])
def test_unary_positive_domain(fn):
    gradcheck(getattr(agrad, fn), r(2, 5, seed=4, low=0.3))


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 2), -1])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("fn", ["sum", "mean", "max", "min"])
def test_reductions(fn, axis, keepdims):
    gradcheck(lambda x: getattr(agrad, fn)(x, axis=axis, keepdims=keepdims), r(3, 4, 2, seed=5))


def test_max_ties_share_the_gradient(backend):
    x = agrad.Tensor([1.0, 3.0, 3.0, 2.0], dtype=F64)
    agrad.max(x).backward()
    assert_close(x.grad, [0.0, 0.5, 0.5, 0.0])
    y = agrad.Tensor([2.0, 2.0], dtype=F64)
    agrad.maximum(y, agrad.Tensor(2.0, requires_grad=False, dtype=F64)).sum().backward()
    assert_close(y.grad, [0.5, 0.5])


MATMUL_SHAPES = [
    ((3, 4), (4, 5)),
    ((4,), (4,)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((2, 3, 4), (4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((4,), (2, 4, 3)),
    ((2, 3, 4), (4,)),
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul_batched_and_1d(shapes):
    gradcheck(agrad.matmul, r(*shapes[0], seed=6), r(*shapes[1], seed=7))


def test_manipulation():
    x = r(2, 3, 4, seed=8)
    gradcheck(lambda t: agrad.reshape(t, (4, 6)), x)
    gradcheck(lambda t: agrad.permute_dims(t, (2, 0, 1)), x)
    gradcheck(lambda t: agrad.broadcast_to(t, (5, 2, 3, 4)), x)
    gradcheck(lambda t: agrad.expand_dims(t, axis=1), x)
    gradcheck(lambda t: agrad.squeeze(agrad.reshape(t, (2, 1, 12)), axis=1), x)
    gradcheck(lambda t: t.mT, x)
    gradcheck(lambda t: t[0].T, x)


@pytest.mark.parametrize(
    "key",
    [
        (slice(None), 1),
        (slice(1, None, 2), slice(None, 4)),
        (Ellipsis, None, 0),
        0,
        (1, 2, 3),
    ],
    ids=str,
)
def test_basic_indexing(key):
    gradcheck(lambda t: t[key], r(3, 4, 5, seed=9))


def test_integer_array_indexing_with_repeats(backend):
    idx = backend.xp.asarray([0, 2, 2, 1, 2])
    x = r(3, 4, seed=10)
    gradcheck(lambda t: t[idx], x)
    y = r(3, seed=11)
    g = randn(5, dtype=F64, seed=12, requires_grad=False)
    y[idx].backward(g)
    gn = to_np(g)
    assert_close(y.grad, [gn[0], gn[3], gn[1] + gn[2] + gn[4]], rtol=1e-12)


def test_boolean_mask_indexing(backend):
    if not backend.capabilities.data_dependent_shapes:
        pytest.skip(f"{backend.name} lacks data-dependent shapes")
    x = r(3, 4, seed=13)
    gradcheck(lambda t: t[t.value > 0], x)


def test_scatter_add_reference_equals_kernel(backend):
    """The portable segment sum and the backend's kernel agree, duplicates included."""
    from agrad._ops.scatter import segment_sum_ref

    xp = backend.xp
    index = xp.asarray([3, 0, 3, 3, 1])
    values = randn(5, 2, dtype=F64, seed=1, requires_grad=False).value
    ref = segment_sum_ref(xp, values, index=index, size=5)
    fast = agrad.scatter_add(values, index, 5)
    v = to_np(values)
    expected = np.zeros((5, 2))
    np.add.at(expected, [3, 0, 3, 3, 1], v)
    assert_close(ref, expected, rtol=1e-12)
    assert_close(fast, expected, rtol=1e-12)
    gradcheck(lambda t: agrad.scatter_add(t, index, 5), agrad.Tensor(values, dtype=F64))


def test_where_gives_exact_zeros_to_the_untaken_branch(backend):
    """A non-finite cotangent at a position does not reach the branch not taken there."""
    a = agrad.Tensor([1.0, 2.0, 3.0], dtype=F64)
    b = agrad.Tensor([4.0, 5.0, 6.0], dtype=F64)
    cond = backend.xp.asarray([True, False, True])
    w = backend.xp.asarray([float("inf"), 2.0, float("nan")], dtype=backend.xp.float64)
    (agrad.where(cond, a, b) * w).sum().backward()
    g_b = to_np(b.grad)
    assert g_b[0] == 0.0 and g_b[2] == 0.0 and g_b[1] == 2.0


def test_where_double_where_idiom_keeps_undefined_branch_finite(backend):
    """sqrt(-1) is computed in the untaken branch; the documented idiom keeps grads finite."""
    x = agrad.Tensor([-1.0, 4.0], dtype=F64)
    pos = x.value > 0
    safe = agrad.where(pos, x, 1.0)
    y = agrad.where(pos, agrad.sqrt(safe), 0.0)
    y.sum().backward()
    assert_close(x.grad, [0.0, 0.25])


def test_astype_gradient_returns_to_input_dtype(backend):
    x = r(3, seed=2)
    y = agrad.astype(x, agrad.float32)
    assert y.dtype == agrad.float32
    (y * 2.0).sum().backward()
    assert x.grad.dtype == x.value.dtype
    assert_close(x.grad, [2.0, 2.0, 2.0])


def test_against_torch_autograd(backend):
    """An expression with broadcasting, matmul and reductions: agrad's grads equal torch's."""
    torch = pytest.importorskip("torch")
    a_np = np.random.default_rng(0).normal(size=(2, 3, 4))
    b_np = np.random.default_rng(1).normal(size=(4, 5))
    c_np = np.random.default_rng(2).normal(size=(5,))

    def f(m, a, b, c):
        h = m.tanh(a @ b + c)
        return (m.exp(h * 0.3) * h).sum(axis=1).max()

    class T:
        tanh, exp = torch.tanh, torch.exp

    class A:
        tanh, exp = agrad.tanh, agrad.exp

    ta, tb, tc = (torch.tensor(v, requires_grad=True) for v in (a_np, b_np, c_np))
    f(T, ta, tb, tc).backward()
    be = agrad.get_backend()
    aa, ab, ac = (agrad.Tensor(be.asarray(v)) for v in (a_np, b_np, c_np))
    f(A, aa, ab, ac).backward()
    for t, a in ((ta, aa), (tb, ab), (tc, ac)):
        assert_close(a.grad, t.grad.numpy(), rtol=1e-10)


def test_clip_concat_stack():
    x = r(3, 4, seed=20)
    gradcheck(lambda t: agrad.clip(t, -0.5, 0.7), x)
    gradcheck(lambda t, lo: agrad.clip(t, lo, 0.7), x, r(4, seed=21) * 0.1 - 1.0)
    gradcheck(lambda a, b: agrad.concat([a, b, a], axis=1), x, r(3, 2, seed=22))
    gradcheck(lambda a, b: agrad.stack([a, b], axis=1), x, r(3, 4, seed=23))
    gradcheck(lambda a: agrad.concat([a, a], axis=None), x)


def test_negative_take_indices_count_from_the_end(backend):
    x = r(4, seed=30)
    idx = backend.xp.asarray([-1, 0, -1])
    y = agrad.take(x, idx)
    assert_close(y, to_np(x)[[3, 0, 3]])
    g = randn(3, dtype=F64, seed=31, requires_grad=False)
    y.backward(g)
    gn = to_np(g)
    assert_close(x.grad, [gn[1], 0.0, 0.0, gn[0] + gn[2]], rtol=1e-12)
    gradcheck(lambda t: t[idx], x)
