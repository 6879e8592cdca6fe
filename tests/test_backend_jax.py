"""JAX specifics: immutable arrays, and 64-bit dtypes only while JAX's x64 flag is on."""

import numpy as np
import pytest

import agrad
from agrad import Tensor
from agrad.testing import gradcheck, randn
from tests.helpers import assert_close, to_np

jax = pytest.importorskip("jax")

pytestmark = pytest.mark.backend_independent


@pytest.fixture
def jax_backend():
    be = agrad.load_backend("jax")
    with agrad.using_backend(be):
        yield be


def test_float32_mode_is_explicit(jax_backend):
    with jax.enable_x64(False):
        caps = jax_backend.capabilities
        assert caps.immutable and not caps.float64
        assert Tensor(1.0).dtype == agrad.float32
        assert randn(2, 3, seed=0).dtype == agrad.float32
        with pytest.raises(TypeError, match=r"no dtype float64.*x64=True"):
            Tensor([1.0], dtype=agrad.float64)
        with pytest.raises(TypeError, match="no dtype float64"):
            agrad.astype(Tensor([1.0]), agrad.float64)


def test_x64_mode_follows_the_flag(jax_backend):
    with jax.enable_x64(True):
        assert jax_backend.capabilities.float64
        assert Tensor(1.0).dtype == agrad.float64
        x = randn(3, 2, dtype=agrad.float64, seed=1)
        gradcheck(lambda t: agrad.tanh(t @ agrad.matrix_transpose(t)), x)


def test_set_backend_x64_option():
    """x64=True turns JAX's process-wide flag on when the backend is built (the suite tests JAX
    with it on, so it is left on); the flag then rules, whoever switches it."""
    previous = agrad._base.backend._global
    try:
        be = agrad.set_backend("jax", x64=True)
        assert jax.config.jax_enable_x64
        assert be.capabilities.float64 and agrad.Tensor(2.0).dtype == agrad.float64
        assert agrad.get_backend() is be
        with jax.enable_x64(False):
            assert not be.capabilities.float64 and agrad.Tensor(2.0).dtype == agrad.float32
    finally:
        agrad._base.backend._global = previous


def test_training_steps_and_accumulation_need_no_mutation(jax_backend):
    """Parameter updates rebind .value; accumulate=True adds new arrays; nothing is written into."""
    with jax.enable_x64(False):
        w = randn(4, 3, seed=2)
        x = randn(5, 4, seed=3, requires_grad=False)
        original = w.value
        copy = np.array(original)
        ((x @ w) ** 2).sum().backward()
        first = np.array(w.grad)
        ((x @ w) ** 2).sum().backward(accumulate=True)
        assert_close(w.grad, 2 * first, rtol=1e-6)
        w.value = w.value - 0.01 * w.grad
        np.testing.assert_array_equal(np.asarray(original), copy)  # the old array is unchanged
        assert isinstance(w.value, jax.Array) and w.dtype == agrad.float32


def test_scatter_kernels_add_repeats(jax_backend):
    """The .at[].add kernels: repeated indices, integer and boolean keys, against NumPy."""
    be = jax_backend
    with jax.enable_x64(False):
        x = randn(5, 3, seed=4)
        idx = be.xp.asarray([0, 3, 3, 1, 0, 0])
        g = randn(6, 3, seed=5, requires_grad=False)
        x[idx].backward(g)
        expected = np.zeros((5, 3), np.float32)
        np.add.at(expected, to_np(idx), to_np(g))
        assert_close(x.grad, expected, rtol=1e-6)

        y = randn(4, 3, seed=6)
        cols = be.xp.asarray([2, 2, 0])
        gy = randn(4, 3, seed=7, requires_grad=False)
        y[:, cols].backward(gy)
        expected = np.zeros((4, 3), np.float32)
        np.add.at(expected, (slice(None), to_np(cols)), to_np(gy))
        assert_close(y.grad, expected, rtol=1e-6)
