"""Dask specifics: agrad builds task graphs and never computes on its own; graphs stay bounded."""

import math

import numpy as np
import pytest

import agrad
from agrad import Tensor
from agrad.testing import randn
from tests.helpers import assert_close, to_np

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")

pytestmark = pytest.mark.backend_independent


class ComputeCounter:
    """A Dask scheduler that counts the computes it runs (or refuses them)."""

    def __init__(self, allow: bool) -> None:
        self.allow = allow
        self.calls = 0

    def __call__(self, dsk, keys, **kwargs):
        self.calls += 1
        if not self.allow:
            raise AssertionError("agrad forced a Dask compute")
        return dask.get(dsk, keys, **kwargs)


def _mlp_step(params, x, y, lr=0.1):
    w1, b1, w2 = params
    h = agrad.tanh(x @ w1 + b1)
    loss = ((h @ w2 - y) ** 2).mean()
    loss.backward()
    for p in params:
        p.value = p.value - lr * p.grad
    return loss


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 3))
    y = np.sin(x[:, :1]) + x[:, 1:2] * x[:, 2:]
    w1 = rng.normal(size=(3, 8)) * 0.5
    b1 = np.zeros(8)
    w2 = rng.normal(size=(8, 1)) * 0.3
    return x, y, [w1, b1, w2]


def _tensors(backend, arrays, chunks=None, requires_grad=True):
    if chunks is not None:
        return [Tensor(da.from_array(a, chunks=chunks), requires_grad=requires_grad, backend=backend)
                for a in arrays]
    return [Tensor(backend.asarray(a), requires_grad=requires_grad, backend=backend) for a in arrays]


def test_forward_backward_and_update_compute_nothing():
    be = agrad.load_backend("dask")
    x, y, ws = _data()
    params = _tensors(be, ws)
    xt, yt = _tensors(be, [x, y], chunks=(8, -1), requires_grad=False)
    with agrad.using_backend(be), dask.config.set(scheduler=ComputeCounter(allow=False)):
        for _ in range(3):
            loss = _mlp_step(params, xt, yt)
    assert isinstance(loss.value, da.Array) and all(isinstance(p.grad, da.Array) for p in params)


def test_losses_equal_numpy_and_materialize_bounds_the_graph():
    """Same losses as NumPy; with materialize() each step's graph has the same size."""
    x, y, ws = _data()
    be = agrad.load_backend("dask")
    params = _tensors(be, ws)
    xt, yt = _tensors(be, [x, y], chunks=(8, -1), requires_grad=False)
    counter = ComputeCounter(allow=True)
    sizes, losses = [], []
    with agrad.using_backend(be), dask.config.set(scheduler=counter):
        for _ in range(5):
            loss = _mlp_step(params, xt, yt)
            sizes.append(len(dict(loss.value.__dask_graph__())))
            agrad.materialize([*params, loss])
            losses.append(float(loss))
    assert counter.calls == 2 * 5  # one persist per step and the float(): nothing else
    assert sizes[1:] == sizes[1:2] * 4, sizes

    ref = _tensors(agrad.load_backend("numpy"), ws)
    xn, yn = _tensors(agrad.load_backend("numpy"), [x, y], requires_grad=False)
    expected = [float(_mlp_step(ref, xn, yn)) for _ in range(5)]
    np.testing.assert_allclose(losses, expected, rtol=1e-12)
    for p, r in zip(params, ref):
        assert_close(p, r, rtol=1e-12)


def test_materialize_is_identity_on_eager_backends():
    be = agrad.load_backend("numpy")
    t = Tensor(be.asarray([1.0, 2.0]), backend=be)
    before = t.value
    agrad.materialize([t])
    assert t.value is before
    with pytest.raises(TypeError, match="expects Tensors"):
        agrad.materialize([before])


def test_chunked_gradients_equal_numpy():
    """Multi-chunk operands: reductions and matmul over chunk boundaries, random cotangent."""
    be = agrad.load_backend("dask")
    rng = np.random.default_rng(1)
    a, b, g = rng.normal(size=(10, 7)), rng.normal(size=(7, 9)), rng.normal(size=(10, 9))
    at, bt = _tensors(be, [a, b], chunks=(3, 4))
    out = agrad.exp(at @ bt * 0.1) - agrad.sum(at, axis=1, keepdims=True)
    out.backward(da.from_array(g, chunks=(4, 4)))
    e = np.exp(a @ b * 0.1) * g * 0.1
    assert_close(at.grad, e @ b.T - g.sum(axis=1, keepdims=True), rtol=1e-12)
    assert_close(bt.grad, a.T @ e, rtol=1e-12)
    assert at.grad.shape == at.value.shape and isinstance(at.grad, da.Array)


def test_unknown_dimensions_after_a_mask():
    """A boolean mask gives NaN-sized dims; agrad reports them as an unknown size, not a crash."""
    be = agrad.load_backend("dask")
    assert not be.capabilities.data_dependent_shapes and be.capabilities.lazy
    with agrad.using_backend(be):
        x = randn(6, seed=3)
        picked = Tensor(x.value[x.value > 0], requires_grad=False)
        assert math.isnan(picked.shape[0]) and picked.size is None
        assert_close(agrad.sum(picked), to_np(x)[to_np(x) > 0].sum(), rtol=1e-12)


def test_float_of_a_tensor_computes_on_request():
    be = agrad.load_backend("dask")
    counter = ComputeCounter(allow=True)
    with agrad.using_backend(be), dask.config.set(scheduler=counter):
        t = Tensor([1.5, 2.5]).sum()
        assert counter.calls == 0
        assert float(t) == 4.0 and t.item() == 4.0
    assert counter.calls == 2
