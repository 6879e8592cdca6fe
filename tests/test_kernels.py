"""Fused kernels against the portable references they replace: forward and VJP, every backend.

A backend's ``kernels`` table may replace a primitive's portable forward (``scatter_add``,
``index_scatter``...). Each test runs the same computation twice on the backend under test, once
with its kernels and once with an empty table (the core's reference), with random data and random
cotangents, at sizes on both sides of the NumPy backend's Numba threshold. The Numba kernels are
also checked directly against ``np.add.at``, serial and parallel.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import agrad
from agrad.testing import gradcheck, randn
from agrad_backends import _numba_config
from tests.helpers import assert_close, float_dtype_tols

BIG = _numba_config.NUMBA_MIN_SIZE  # rows x columns at least this: the Numba path on NumPy

# (rows of values, trailing shape, segments): below and above the Numba threshold, 1-D to 3-D.
SCATTER_CASES = [(7, (), 4), (12, (3,), 5), (BIG, (), 37), (BIG, (1,), 9), (BIG // 4 + 3, (2, 3), 50)]


def reference_of(backend: agrad.Backend) -> agrad.Backend:
    """The same backend with no kernels: every primitive runs the core's portable forward."""
    return dataclasses.replace(backend, kernels={})


def needs_kernel(backend: agrad.Backend, name: str) -> None:
    if name not in backend.kernels:
        pytest.skip(f"backend {backend.name!r} registers no {name!r} kernel (it uses the reference)")


def on(backend: agrad.Backend, fn, *arrays):
    """``fn(*tensors)`` on ``backend``: its output value and the leaves' gradients under a random
    cotangent (seeded, so both runs of a comparison see the same one)."""
    with agrad.using_backend(backend):
        leaves = [agrad.Tensor(backend.asarray(a), requires_grad=a.dtype.kind == "f") for a in arrays]
        out = fn(*leaves)
        ct = randn(*out.shape, dtype=out.dtype, seed=99, requires_grad=False)
        out.backward(ct.value)
        return out.value, [t.grad for t in leaves if t.requires_grad]


def data(shape, dtype, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def indices(n, high, seed):
    return np.random.default_rng(seed).integers(0, high, n)


@pytest.mark.parametrize("rows,tail,size", SCATTER_CASES, ids=str)
def test_scatter_add_kernel_matches_reference(backend, rows, tail, size):
    needs_kernel(backend, "scatter_add")
    dtype, tol = float_dtype_tols(backend)
    np_dtype = "float64" if dtype == agrad.float64 else "float32"
    values, index = data((rows, *tail), np_dtype, 1), indices(rows, size, 2)
    # the VJP of scatter_add is a gather; take's VJP is scatter_add: check both directions
    fns = [lambda v, i: agrad.scatter_add(v, i, size), lambda x, i: agrad.take(x, i, axis=0)]
    inputs = [(values, index), (data((size, *tail), np_dtype, 3), index)]
    for fn, args in zip(fns, inputs):
        out, grads = on(backend, fn, *args)
        ref_out, ref_grads = on(reference_of(backend), fn, *args)
        assert_close(out, ref_out, rtol=tol * 10, atol=tol * 10)
        assert_close(grads[0], ref_grads[0], rtol=tol * 10, atol=tol * 10)


@pytest.mark.parametrize("shape,key", [
    ((6, 5), "int_pairs"), ((BIG // 8, 9), "int_pairs"), ((4, 7), "mask"), ((3, 8), "slice")
], ids=str)
def test_index_scatter_kernel_matches_reference(backend, shape, key):
    needs_kernel(backend, "index_scatter")
    if key == "mask" and not backend.capabilities.data_dependent_shapes:
        pytest.skip(f"backend {backend.name!r} lacks the capability 'data_dependent_shapes'")
    dtype, tol = float_dtype_tols(backend)
    x = data(shape, "float64" if dtype == agrad.float64 else "float32", 4)

    def getitem(t):
        if key == "int_pairs":  # repeated (row, col) pairs: their gradients must add up
            rows = backend.asarray(indices(3 * shape[0], shape[0], 5))
            cols = backend.asarray(indices(3 * shape[0], shape[1], 6))
            return t[rows, cols]
        if key == "mask":
            return t[t > 0]
        return t[1:, ::3]

    out, grads = on(backend, getitem, x)
    ref_out, ref_grads = on(reference_of(backend), getitem, x)
    assert_close(out, ref_out, rtol=tol, atol=tol)
    assert_close(grads[0], ref_grads[0], rtol=tol * 10, atol=tol * 10)


@pytest.mark.requires("float64")
def test_kernel_gradients_pass_gradcheck(backend):
    needs_kernel(backend, "scatter_add")
    index = backend.asarray(indices(BIG // 2, 11, 7))
    values = randn(BIG // 2, 2, dtype=agrad.float64, seed=8)
    gradcheck(lambda v: agrad.scatter_add(v, index, 11), values)
    gradcheck(lambda x: agrad.take(x, index, axis=0), randn(11, 2, dtype=agrad.float64, seed=9))


# --- the NumPy backend's kernels, directly ----------------------------------------------------


@pytest.mark.backend_independent
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex128"])
@pytest.mark.parametrize("kernel", ["segment_sum_rows", "segment_sum_rows_parallel"])
def test_numba_segment_sum_equals_add_at(kernel, dtype):
    pytest.importorskip("numba")
    from agrad_backends import _numba_segment_sum as seg

    rng = np.random.default_rng(0)
    values = rng.standard_normal((500, 40)).astype(dtype)
    index = rng.integers(-30, 30, 500)  # negative indices wrap, as in NumPy
    out = np.zeros((30, 40), dtype=dtype)
    assert getattr(seg, kernel)(values, index, out) == -1
    expected = np.zeros_like(out)
    np.add.at(expected, index, values)
    np.testing.assert_allclose(out, expected, rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-5)


@pytest.mark.backend_independent
def test_numpy_scatter_add_rejects_out_of_range_index_on_both_paths():
    from agrad_backends.numpy_kernels import scatter_add

    for rows in (5, BIG):  # np.add.at below the threshold, Numba above
        index = np.zeros(rows, dtype=np.int64)
        index[-1] = 9
        with pytest.raises(IndexError, match="out of"):
            scatter_add(np, np.ones((rows, 2)), index=index, size=4)


@pytest.mark.backend_independent
def test_numpy_scatter_add_checks_index_shape_on_the_numba_path():
    from agrad_backends.numpy_kernels import scatter_add

    with pytest.raises(ValueError, match="one entry per row"):
        scatter_add(np, np.ones((BIG, 2)), index=np.zeros((BIG, 2), dtype=np.int64), size=4)


@pytest.mark.backend_independent
def test_numba_import_is_lazy():
    import subprocess
    import sys

    code = "import sys, agrad; agrad.Tensor([1.0, 2.0]).sum().backward(); print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- cache-blocked GELU kernels (the tanh form behind the numpy backend's "gelu" kernel) -------

GELU_SHAPES = [(), (5,), "two blocks", "transposed"]


def _gelu_input(shape, dtype):
    from agrad_backends._numpy_blocked import BLOCK

    if shape == "two blocks":  # and a partial third
        return data((3, BLOCK // 2 + 7), dtype, 11)
    if shape == "transposed":  # non-contiguous, spans several blocks
        return data((BLOCK // 4 + 5, 7), dtype, 11).T
    return data(shape, dtype, 11)


def _composed_gelu(x):
    """The formula from agrad's own ops: the portable reference the kernels replace."""
    c = (2.0 / np.pi) ** 0.5
    return 0.5 * x * (1.0 + agrad.tanh(c * (x + 0.044715 * (x * x * x))))


@pytest.mark.backend_independent
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", GELU_SHAPES, ids=str)
def test_gelu_kernels_match_the_composed_formula_and_its_vjp(shape, dtype):
    from agrad_backends.numpy_kernels import KERNELS

    x = _gelu_input(shape, dtype)
    g = data(np.shape(x), dtype, 12)
    with agrad.using_backend("numpy"):
        t = agrad.Tensor(np.array(x), requires_grad=True)
        y = _composed_gelu(t)
        y.backward(g)
    tol = 1e-6 if dtype == "float32" else 1e-13
    y_kernel = KERNELS["gelu"](np, x, approximate="tanh")
    assert y_kernel.dtype == np.dtype(dtype) and y_kernel.shape == np.shape(x)
    assert_close(y_kernel, y.value, rtol=tol * 10, atol=tol)
    assert_close(KERNELS["gelu.vjp"](np, g, y_kernel, x, approximate="tanh")[0], t.grad,
                 rtol=tol * 10, atol=tol)


@pytest.mark.backend_independent
def test_gelu_kernels_match_torch():
    torch = pytest.importorskip("torch")
    from agrad_backends._numpy_blocked import gelu_tanh, gelu_tanh_grad

    x, g = data((4, 5000), "float64", 13), data((4, 5000), "float64", 14)
    xt = torch.tensor(x, requires_grad=True)
    y = torch.nn.functional.gelu(xt, approximate="tanh")
    y.backward(torch.tensor(g))
    np.testing.assert_allclose(gelu_tanh(np, x), y.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gelu_tanh_grad(np, g, x), xt.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.backend_independent
def test_gelu_grad_kernel_matches_finite_differences():
    from agrad_backends._numpy_blocked import BLOCK, gelu_tanh, gelu_tanh_grad

    x, eps = data((BLOCK + 9000,), "float64", 15), 1e-6
    numeric = (gelu_tanh(np, x + eps) - gelu_tanh(np, x - eps)) / (2 * eps)
    np.testing.assert_allclose(gelu_tanh_grad(np, np.ones_like(x), x), numeric, rtol=1e-6, atol=1e-8)
