"""The graph walk: depth, fan-out, release, accumulation, grad modes."""

import gc
import threading
import weakref

import pytest

import agrad
from agrad import Tensor
from agrad.testing import randn
from tests.helpers import assert_close, to_np


def test_deep_chain_has_no_recursion_limit(backend):
    # On a lazy backend every op is also a layer of Dask's task graph, which Dask optimises and
    # schedules in time and memory far above agrad's walk: the engine's depth is shown eagerly.
    depth = 1_000 if backend.capabilities.lazy else 100_000
    x = Tensor(0.5)
    y = x
    for _ in range(depth):
        y = y * 1.0 + 0.0
    y.backward()
    assert float(x.grad) == 1.0


def test_fan_out_gradients_are_summed():
    x = Tensor(3.0)
    y = x * x + x * 2.0 + x  # dy/dx = 2x + 3
    y.backward()
    assert float(x.grad) == 9.0


def test_diamond_graph():
    x = Tensor(2.0)
    a = x * 3.0
    b = a * a
    c = a + b
    c.backward()  # c = 3x + 9x^2 -> 3 + 18x
    assert float(x.grad) == 39.0


def test_backward_replaces_gradients_and_accumulate_adds():
    x = Tensor(2.0)
    (x * x).backward()
    (x * x).backward()
    assert float(x.grad) == 4.0
    (x * x).backward(accumulate=True)
    assert float(x.grad) == 8.0


def test_graph_is_released_and_second_backward_is_a_clear_error():
    x = Tensor(2.0)
    y = x * x
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_walk():
    x = Tensor(2.0)
    y = (x * x).exp()
    y.backward(retain_graph=True)
    first = float(x.grad)
    y.backward()
    assert float(x.grad) == first


def test_non_scalar_backward_needs_a_cotangent(backend):
    x = randn(3, 4, seed=1)
    y = x * 2.0
    with pytest.raises(RuntimeError, match=r"shape \(3, 4\) needs a cotangent"):
        y.backward()
    g = randn(3, 4, seed=2, requires_grad=False)
    y.backward(g)
    assert_close(x.grad, to_np(g) * 2.0)


def test_cotangent_shape_is_checked():
    x = randn(3, seed=1)
    with pytest.raises(ValueError, match="cotangent has shape"):
        (x * 2.0).backward(randn(4, seed=2, requires_grad=False))


def test_no_grad_records_nothing_and_is_thread_local():
    x = Tensor(2.0)
    seen = {}

    def other_thread():
        seen["requires_grad"] = (x * x).requires_grad

    with agrad.no_grad():
        y = x * x
        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
    assert not y.requires_grad and y.is_leaf
    assert seen["requires_grad"] is True
    assert (x * x).requires_grad


def test_detach_and_requires_grad_propagation():
    x = Tensor(2.0)
    c = Tensor(5.0, requires_grad=False)
    assert not (c * c).requires_grad
    y = x.detach() * x
    y.backward()
    assert float(x.grad) == 2.0  # only the attached factor contributes
    with pytest.raises(RuntimeError, match="does not require grad"):
        (c * c).backward()


def test_comparisons_never_require_grad():
    x = Tensor(2.0)
    assert not (x > 1.0).requires_grad
    assert not (x == x).requires_grad


def test_integer_tensors_cannot_require_grad(backend):
    with pytest.raises(TypeError, match="floating dtype"):
        Tensor(backend.xp.asarray([1, 2]), requires_grad=True)


def test_graph_memory_is_released_after_backward(backend):
    """Nodes die with their graph: 10,000 training-like steps keep no node alive (300 on a lazy
    backend, where each step's materialize() is a real compute)."""
    steps = 300 if backend.capabilities.lazy else 10_000
    w = randn(8, 8, seed=0)
    refs = []
    for step in range(steps):
        loss = ((w * 0.5).tanh() ** 2).sum()
        if step % (steps // 10) == 0:
            refs.append(weakref.ref(loss._node))
        loss.backward()
        w.value = w.value - 1e-3 * w.grad
        agrad.materialize([w])  # Dask: persist, so the next step's graph starts from stored chunks
    del loss
    gc.collect()
    assert all(r() is None for r in refs)


def test_value_reassignment_after_forward_does_not_corrupt_gradient():
    x = Tensor(3.0)
    y = x * x
    x.value = x.value * 0.0  # the node kept the forward-time value
    y.backward()
    assert float(x.grad) == 6.0


def test_in_place_update_after_use_is_a_clear_error(backend):
    """PyTorch's version-counter check: a non-leaf used by an op, then modified in place."""
    x = randn(3, seed=4)
    h = x * 2.0
    y = (h * h).sum()  # uses h as it was
    h[0] = 5.0  # h now has a new history; y's graph must not silently follow it
    with pytest.raises(RuntimeError, match="modified in place afterwards"):
        y.backward()


def test_in_place_update_then_use_is_differentiable(backend):
    x = randn(3, seed=5)
    h = x * 2.0
    h[0] = 5.0
    (h * h).sum().backward()
    xn = to_np(x)
    assert_close(x.grad, [0.0, 8.0 * xn[1], 8.0 * xn[2]])
