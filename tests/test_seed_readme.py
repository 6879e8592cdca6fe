"""pygrad's README snippets give the same numbers with only the import changed, on every backend."""

import numpy as np

import agrad
from agrad import Tensor
from tests.helpers import to_np


def test_scalar_example():
    x = Tensor(1)
    (((x**3 + x**2 + x + 1) - 1) ** 2).backward()
    assert float(x.value) == 1.0
    assert float(x.grad) == 36.0


def test_gradient_descent_loop_resets_gradients():
    x = Tensor(1)
    for _ in range(100):
        (((x**3 + x**2 + x + 1) - 1) ** 2).backward()  # gradients are reset on every call
        x.value = x.value - 0.01 * x.grad
    # the same loop in plain Python floats
    v = 1.0
    for _ in range(100):
        g = 2 * (v**3 + v**2 + v) * (3 * v**2 + 2 * v + 1)
        v = v - 0.01 * g
    np.testing.assert_allclose(float(x.value), v, rtol=1e-5)


def test_tensors_mix_with_raw_backend_arrays(backend):
    xp = backend.xp
    x = Tensor(xp.ones((10, 20)))
    y = Tensor(xp.ones((20, 10)))
    z1 = x @ y
    z2 = x @ xp.ones((20, 10))
    assert bool(xp.all(z1.value == z2.value))
    assert z1.shape == (10, 10)
    np.testing.assert_allclose(to_np(z1), np.full((10, 10), 20.0))


def test_default_dtype_follows_the_backend(backend):
    x = Tensor(1)
    assert x.dtype == agrad._base.dtypes.from_native(backend, backend.default_float)
    assert x.requires_grad
