"""custom_vjp / custom_jvp, checkpoint, gradient hooks, detect_anomaly, inference_mode."""

import tracemalloc

import numpy as np
import pytest

import agrad
from agrad import Tensor
from agrad._core.engine import _toposort
from agrad.testing import GradcheckError, gradcheck, gradgradcheck, randn
from tests.helpers import assert_close, to_np

pytestmark = pytest.mark.requires("float64")
F64 = agrad.float64


# --- custom_vjp -----------------------------------------------------------------------------------


def _clipped_log():
    """log(x) whose gradient is clipped to [-1, 1]: a rule that differs from the true one."""

    @agrad.custom_vjp
    def f(x):
        return agrad.log(x)

    def fwd(x):
        return agrad.log(x), x

    def bwd(x, g):
        return (agrad.clip(g / x, -1.0, 1.0),)

    f.defvjp(fwd, bwd)
    return f


def test_custom_vjp_rule_replaces_the_gradient():
    f = _clipped_log()
    x = Tensor(agrad.get_backend().asarray([0.25, 0.5, 2.0, 4.0], dtype=agrad.get_backend().xp.float64))
    assert_close(f(x), np.log(to_np(x)))
    agrad.sum(f(x) * 3.0).backward()
    assert_close(x.grad, np.clip(3.0 / to_np(x), -1, 1))
    assert_close(agrad.grad(lambda x: agrad.sum(f(x)))(x), np.clip(1 / to_np(x), -1, 1))


def test_custom_vjp_second_derivative_goes_through_residuals():
    @agrad.custom_vjp
    def my_sin(x):
        return agrad.sin(x)

    my_sin.defvjp(lambda x: (agrad.sin(x), agrad.cos(x)), lambda c, g: (g * c,))
    x = randn(5, dtype=F64, seed=1)
    d2 = agrad.grad(lambda x: agrad.sum(agrad.grad(lambda x: agrad.sum(my_sin(x)))(x)))(x)
    assert_close(d2, -np.sin(to_np(x)), rtol=1e-12)
    gradgradcheck(my_sin, randn(4, dtype=F64, seed=2))


def test_gradgradcheck_catches_a_rule_that_hides_its_dependence():
    # First derivative right, residual made a constant: the second derivative is wrong.
    @agrad.custom_vjp
    def my_sin(x):
        return agrad.sin(x)

    my_sin.defvjp(lambda x: (agrad.sin(x), Tensor(agrad.cos(x).value, requires_grad=False)),
                  lambda c, g: (g * c,))
    x = randn(4, dtype=F64, seed=2)
    gradcheck(my_sin, x)
    with pytest.raises(GradcheckError):
        gradgradcheck(my_sin, x)


def test_custom_vjp_with_pytrees_and_constant_arguments():
    @agrad.custom_vjp
    def scaled_dot(ws, x, k):
        return agrad.sum(ws["a"] * x) * k

    def fwd(ws, x, k):
        return scaled_dot(ws, x, k), (ws, x, k)

    def bwd(res, g):
        ws, x, k = res
        return {"a": g * x * k}, g * ws["a"] * k, None

    scaled_dot.defvjp(fwd, bwd)
    ws = {"a": randn(3, dtype=F64, seed=1)}
    x = randn(3, dtype=F64, seed=2)
    gw, gx = agrad.grad(scaled_dot, argnums=(0, 1))(ws, x, 2.0)
    assert_close(gw["a"], 2 * to_np(x))
    assert_close(gx, 2 * to_np(ws["a"]))


def test_custom_vjp_errors():
    @agrad.custom_vjp
    def f(x):
        return x * 2.0

    x = randn(3, dtype=F64, seed=1)
    with pytest.raises(TypeError, match="defvjp"):
        f(x)
    f.defvjp(lambda x: (x * 2.0, None), lambda r, g: g * 2.0)  # not a tuple
    with pytest.raises(TypeError, match="one cotangent per positional argument"):
        agrad.sum(f(x)).backward()
    with pytest.raises(NotImplementedError, match=r"custom_vjp\(f\) has no JVP rule"):
        agrad.jvp(f, (x,), (x,))


# --- custom_jvp -----------------------------------------------------------------------------------


def test_custom_jvp_rule_is_used_by_forward_mode():
    @agrad.custom_jvp
    def softplus(x):
        return agrad.log1p(agrad.exp(x))

    def rule(primals, tangents):
        (x,), (t,) = primals, tangents
        return softplus(x), t / (1.0 + agrad.exp(-x)) * 2.0  # deliberately twice the truth

    softplus.defjvp(rule)
    x, v = randn(4, dtype=F64, seed=1), randn(4, dtype=F64, seed=2)
    out, t = agrad.jvp(softplus, (x,), (v,))
    sig = 1 / (1 + np.exp(-to_np(x)))
    assert_close(out, np.log1p(np.exp(to_np(x))), rtol=1e-12)
    assert_close(t, 2 * sig * to_np(v), rtol=1e-12)
    assert_close(agrad.grad(lambda x: agrad.sum(softplus(x)))(x), sig, rtol=1e-12)  # reverse: fun
    # nested levels: the rule's own ops are differentiated by the outer level
    _, t2 = agrad.jvp(lambda x: agrad.jvp(softplus, (x,), (v,))[1], (x,), (v,))
    assert_close(t2, 2 * sig * (1 - sig) * to_np(v) ** 2, rtol=1e-10)


# --- checkpoint -----------------------------------------------------------------------------------


def _mlp(depth, width, seed=0):
    scale = 1.0 / width**0.5
    return [(Tensor(randn(width, width, dtype=F64, seed=seed + 2 * i).value * scale),
             randn(width, dtype=F64, seed=seed + 2 * i + 1)) for i in range(depth)]


def _layer(h, w, b):
    return agrad.tanh(h @ w + b)


def _forward(layers, x, use_checkpoint):
    h = x
    for w, b in layers:
        if use_checkpoint:
            h = agrad.checkpoint(lambda h, w=w, b=b: _layer(h, w, b))(h)  # weights by closure
        else:
            h = _layer(h, w, b)
    return agrad.sum(h * h)


def _graph_bytes(loss):
    """Bytes of the arrays the recorded graph keeps alive (node inputs and outputs)."""
    seen, total = set(), 0
    for node in _toposort([loss._node]):
        for v in (*node.vals, node.out):
            for a in v if isinstance(v, tuple) else (v,):
                if hasattr(a, "shape") and id(a) not in seen:
                    seen.add(id(a))
                    total += int(np.prod(a.shape)) * 8
    return total


def test_checkpoint_gives_the_same_gradients_and_keeps_less(backend):
    layers = _mlp(8, 16)
    x = randn(32, 16, dtype=F64, seed=99)
    grads, kept = [], []
    for use in (False, True):
        params = [p for layer in layers for p in layer]
        loss = _forward(layers, x, use)
        kept.append(_graph_bytes(loss))
        loss.backward()
        grads.append([to_np(p.grad) for p in params] + [to_np(x.grad)])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    # without: per layer h, h@w, +b, tanh (4 x 32x16) plus weights; with: per layer only its output
    assert kept[1] < 0.5 * kept[0], kept


def test_checkpoint_peak_memory_on_a_deep_mlp(backend):
    if backend.name != "numpy":
        pytest.skip("tracemalloc sees NumPy's allocations only; the graph-bytes test covers all backends")
    layers = _mlp(24, 128, seed=5)
    x = randn(256, 128, dtype=F64, seed=7)
    peaks = []
    for use in (False, True):
        tracemalloc.start()
        loss = _forward(layers, x, use)
        loss.backward()
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        del loss
    print(f"deep MLP (24 x 128, batch 256, float64) peak: plain {peaks[0] / 2**20:.1f} MiB, "
          f"checkpointed {peaks[1] / 2**20:.1f} MiB")
    assert peaks[1] < 0.6 * peaks[0], peaks


def test_checkpoint_composes_with_transforms():
    w = randn(3, 3, dtype=F64, seed=1)
    x = randn(3, dtype=F64, seed=2)

    def f(x):
        return agrad.sum(agrad.checkpoint(lambda x: agrad.tanh(w @ x))(x) ** 2)

    def g(x):
        return agrad.sum(agrad.tanh(w @ x) ** 2)

    assert_close(agrad.grad(f)(x), agrad.grad(g)(x), rtol=1e-12)
    assert_close(agrad.hessian(f)(x), agrad.hessian(g)(x), rtol=1e-12)
    assert_close(agrad.grad(lambda x: agrad.sum(agrad.grad(f)(x)))(x),
                 agrad.grad(lambda x: agrad.sum(agrad.grad(g)(x)))(x), rtol=1e-12)
    gradgradcheck(f, randn(3, dtype=F64, seed=3))


# --- hooks ----------------------------------------------------------------------------------------


def test_hooks_see_and_replace_gradients():
    x = randn(4, dtype=F64, seed=1)
    u = randn(4, dtype=F64, seed=2, requires_grad=False)
    y = agrad.exp(x)
    seen = []
    y.register_hook(lambda g: seen.append(to_np(g)))
    handle = y.register_hook(lambda g: g * 10.0)
    x.register_hook(lambda g: seen.append(to_np(g)))
    agrad.sum(y * u).backward()
    assert_close(seen[0], to_np(u))  # y's gradient before the doubling hook
    assert_close(x.grad, 10 * to_np(u) * np.exp(to_np(x)))
    assert_close(seen[1], x.grad)
    handle.remove()
    agrad.sum(agrad.exp(x) * u).backward()
    assert_close(x.grad, to_np(u) * np.exp(to_np(x)))


def test_retain_grad_keeps_a_non_leaf_gradient():
    x = randn(3, dtype=F64, seed=1)
    h = x * 2.0
    h.retain_grad()
    agrad.sum(agrad.sin(h)).backward()
    assert_close(h.grad, np.cos(2 * to_np(x)))
    assert_close(x.grad, 2 * np.cos(2 * to_np(x)))


def test_hook_errors():
    x = randn(3, dtype=F64, seed=1, requires_grad=False)
    with pytest.raises(RuntimeError, match="does not require grad"):
        x.register_hook(lambda g: g)
    y = randn(3, dtype=F64, seed=1)
    y.register_hook(lambda g: agrad.sum(g))
    with pytest.raises(ValueError, match="must keep the shape"):
        agrad.sum(y * 2.0).backward()


# --- anomaly detection, inference mode --------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_detect_anomaly_names_the_forward_op_and_line():
    x = Tensor(agrad.get_backend().asarray([1.0, -1.0], dtype=agrad.get_backend().xp.float64))
    with agrad.detect_anomaly():
        y = x * 2.0
        with pytest.raises(FloatingPointError,
                           match=r"agrad\.sqrt produced NaN .*test_custom_and_modes\.py:\d+"):
            agrad.sqrt(y - 1.0)
    agrad.sqrt(y - 1.0)  # outside: no check


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_detect_anomaly_names_the_backward_op_and_where_it_was_made():
    x = Tensor(agrad.get_backend().asarray([0.0, 4.0], dtype=agrad.get_backend().xp.float64))
    with agrad.detect_anomaly():
        y = agrad.sqrt(x)  # finite forward; infinite derivative at 0
        with pytest.raises(FloatingPointError,
                           match=r"backward pass of agrad\.sqrt produced Inf.*test_custom_and_modes\.py:\d+"):
            agrad.sum(y).backward()


def test_inference_mode_records_nothing_but_no_grad_keeps_tangents():
    x, v = randn(3, dtype=F64, seed=1), randn(3, dtype=F64, seed=2)
    with agrad.inference_mode():
        assert not agrad.sin(x).requires_grad
    assert_close(agrad.jvp(lambda x: _inner(x, agrad.no_grad), (x,), (v,))[1], np.cos(to_np(x)) * to_np(v))
    assert_close(agrad.jvp(lambda x: _inner(x, agrad.inference_mode), (x,), (v,))[1], np.zeros(3))


def _inner(x, mode):
    with mode():
        return agrad.sin(x)
