"""The transforms in float32 (torch's and JAX's default): dtypes are kept, never upcast to float64."""

import numpy as np

import agrad
from agrad.testing import randn
from tests.helpers import assert_close, to_np

F32 = agrad.float32


def test_float32_in_float32_out():
    x = randn(4, dtype=F32, seed=1)
    v = randn(4, dtype=F32, seed=2, requires_grad=False)

    def f(x):
        return agrad.sum(agrad.tanh(x) ** 3)

    t = np.tanh(to_np(x).astype(np.float64))
    d2 = 6 * t * (1 - t**2) ** 2 - 6 * t**3 * (1 - t**2)  # (tanh^3)'' element-wise
    h = agrad.hessian(f)(x)
    assert h.dtype == F32 and h.shape == (4, 4)
    assert_close(h, np.diag(d2), rtol=1e-4, atol=1e-5)
    hv = agrad.hvp(f, (x,), (v,))
    assert hv.dtype == F32
    assert_close(hv, d2 * to_np(v), rtol=1e-4, atol=1e-5)
    out, tangent = agrad.jvp(f, (x,), (v,))
    assert out.dtype == tangent.dtype == F32
    g = agrad.grad(f)(x)
    assert g.dtype == F32
    np.testing.assert_allclose(float(tangent), float(np.sum(to_np(g) * to_np(v))), rtol=1e-4)
