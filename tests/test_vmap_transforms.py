"""``agrad.vmap`` composed with the other transforms and with ``agrad.nn``, on every backend:
per-example gradients of models (``vmap(grad)``), ensembles (``vmap`` over stacked weights),
nesting, forward mode, chunks, random numbers and the errors.

Every result is compared with the Python loop it replaces.
"""

from __future__ import annotations

import pytest

import agrad
import agrad.nn as nn
import agrad.nn.functional as F
from agrad.testing import randn
from tests.helpers import to_np

pytestmark = pytest.mark.requires("float64")


def _close(a, b, rel=1e-9):
    assert tuple(a.shape) == tuple(b.shape)
    assert to_np(a.value) == pytest.approx(to_np(b.value), rel=rel, abs=1e-10)


def _stack_loop(f, *batches):
    return agrad.stack([f(*xs) for xs in zip(*batches)])


def _mlp():
    agrad.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3)).to(dtype=agrad.float64)


def _cnn():
    agrad.manual_seed(1)
    return nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(3 * 3 * 3, 4)).to(dtype=agrad.float64)


def _per_example_grads(model, x_shape, n=4):
    params = {k: v.detach() for k, v in model.named_parameters()}
    X = randn(n, *x_shape, dtype=agrad.float64, seed=3)
    Y = agrad.asarray([0, 2, 1, 2][:n])

    def loss(p, x, y):
        out = nn.functional_call(model, p, (agrad.expand_dims(x, axis=0),))
        return F.cross_entropy(out, agrad.expand_dims(y, axis=0))

    got = agrad.vmap(agrad.grad(loss), in_axes=(None, 0, 0))(params, X, Y)
    for k in params:
        want = agrad.stack([agrad.grad(loss)(params, X[i], Y[i])[k] for i in range(n)])
        _close(got[k], want)


def test_per_example_gradients_of_an_mlp(backend):
    _per_example_grads(_mlp(), (5,))


def test_per_example_gradients_of_a_cnn(backend):
    """conv2d's weight gradient per example: one grouped convolution."""
    _per_example_grads(_cnn(), (2, 6, 6), n=3)


def test_an_ensemble_of_models_by_vmap_over_stacked_weights(backend):
    models = [_mlp() for _ in range(3)]
    for i, m in enumerate(models):
        for p in m.parameters():
            p.value = p.value * (1.0 + 0.1 * i)
    stacked = {k: agrad.stack([dict(m.named_parameters())[k].detach() for m in models])
               for k, _ in models[0].named_parameters()}
    x = randn(6, 5, dtype=agrad.float64, seed=4)
    got = agrad.vmap(lambda p: nn.functional_call(models[0], p, (x,)))(stacked)
    want = agrad.stack([m(x) for m in models])
    _close(got, want)


def test_an_ensemble_of_cnns_uses_grouped_convolution(backend):
    models = [_cnn() for _ in range(2)]
    for p in models[1].parameters():
        p.value = p.value * 0.5
    stacked = {k: agrad.stack([dict(m.named_parameters())[k].detach() for m in models])
               for k, _ in models[0].named_parameters()}
    x = randn(2, 2, 6, 6, dtype=agrad.float64, seed=5)
    got = agrad.vmap(lambda p: nn.functional_call(models[0], p, (x,)))(stacked)
    _close(got, agrad.stack([m(x) for m in models]))


def f(x, w):
    return agrad.sum(agrad.tanh(x @ w) ** 2, axis=-1) + agrad.max(x)


def test_nested_vmap_equals_a_double_loop(backend):
    X = randn(3, 4, 5, dtype=agrad.float64, seed=6)
    W = randn(5, 2, dtype=agrad.float64, seed=7)
    got = agrad.vmap(agrad.vmap(f, in_axes=(0, None)), in_axes=(1, None))(X, W)
    want = agrad.stack([agrad.stack([f(X[i, j], W) for i in range(3)]) for j in range(4)])
    _close(got, want)


def test_grad_of_vmap_and_vmap_of_grad(backend):
    X = randn(4, 5, dtype=agrad.float64, seed=8)
    W = randn(5, 2, dtype=agrad.float64, seed=9)
    g = agrad.grad(lambda w: agrad.sum(agrad.vmap(f, in_axes=(0, None))(X, w)))(W)
    want = sum((agrad.grad(lambda w, i=i: f(X[i], w))(W) for i in range(4)), agrad.zeros_like(W))
    _close(g, want)
    per = agrad.vmap(agrad.grad(f, argnums=1), in_axes=(0, None))(X, W)
    _close(per, _stack_loop(lambda x: agrad.grad(f, argnums=1)(x, W), X))


def test_second_derivatives_per_example(backend):
    X = randn(3, 4, dtype=agrad.float64, seed=10)

    def h(x):
        return agrad.sum(agrad.sin(x) * x ** 3)

    got = agrad.vmap(agrad.hessian(h))(X)
    _close(got, _stack_loop(agrad.hessian(h), X))


def test_jvp_of_vmap_and_vmap_of_jvp(backend):
    X = randn(4, 5, dtype=agrad.float64, seed=11)
    T = randn(4, 5, dtype=agrad.float64, seed=12)
    W = randn(5, 2, dtype=agrad.float64, seed=13)
    _, t = agrad.jvp(lambda x: agrad.vmap(f, in_axes=(0, None))(x, W), (X,), (T,))
    want = _stack_loop(lambda x, dx: agrad.jvp(lambda a: f(a, W), (x,), (dx,))[1], X, T)
    _close(t, want)
    t2 = agrad.vmap(lambda x, dx: agrad.jvp(lambda a: f(a, W), (x,), (dx,))[1])(X, T)
    _close(t2, want)


def test_axes_chunks_and_sizes(backend):
    X = randn(5, 3, dtype=agrad.float64, seed=14)

    def g(x, c):
        return agrad.exp(x) * c, agrad.sum(x)

    a, b = agrad.vmap(g, in_axes=(1, None), out_axes=(1, 0))(X, 2.0)
    assert a.shape == (5, 3) and b.shape == (3,)
    _close(a, agrad.exp(X) * 2.0)
    a2, b2 = agrad.vmap(g, in_axes=(1, None), out_axes=(1, 0), chunk_size=2)(X, 2.0)
    _close(a2, a)
    _close(b2, b)
    ones = agrad.vmap(lambda: agrad.ones(2), in_axes=(), axis_size=4)()
    assert ones.shape == (4, 2)
    unmapped = agrad.vmap(lambda x, y: (x + y, y * 2.0), in_axes=(0, None), out_axes=(0, None))(
        X, agrad.asarray(1.5, dtype=agrad.float64))
    assert unmapped[1].shape == ()


def test_in_place_updates_inside_vmap(backend):
    X = randn(3, 4, dtype=agrad.float64, seed=15)

    def g(x):
        y = x * 2.0
        y[1:3] = agrad.sin(x[:2])
        return y

    _close(agrad.vmap(g)(X), _stack_loop(g, X))
    grad_v = agrad.grad(lambda x: agrad.sum(agrad.vmap(g)(x) ** 2))(X)
    grad_l = agrad.grad(lambda x: agrad.sum(_stack_loop(g, x) ** 2))(X)
    _close(grad_v, grad_l)


def test_random_numbers_follow_the_randomness_policy(backend):
    X = agrad.ones((4, 50), dtype=agrad.float64)
    with pytest.raises(agrad.BatchingError, match="randomness"):
        agrad.vmap(lambda x: F.dropout(x, 0.5))(X)
    agrad.manual_seed(0)
    same = agrad.vmap(lambda x: F.dropout(x, 0.5), randomness="same")(X)
    assert (to_np(same.value) == to_np(same.value)[0]).all()
    agrad.manual_seed(0)
    diff = agrad.vmap(lambda x: F.dropout(x, 0.5), randomness="different")(X)
    rows = to_np(diff.value)
    assert not (rows == rows[0]).all()
    assert set(rows.ravel().tolist()) == {0.0, 2.0}


def test_clear_errors(backend):
    X = randn(4, 3, dtype=agrad.float64, seed=16)
    with pytest.raises(ValueError, match="different sizes"):
        agrad.vmap(lambda a, b: a + b)(X, randn(5, 3, dtype=agrad.float64, seed=1))
    with pytest.raises(ValueError, match="out_axes=3 is out of range"):
        agrad.vmap(lambda a: a, out_axes=3)(X)
    with pytest.raises(TypeError, match="output leaf 0 is a str"):
        agrad.vmap(lambda a: "no")(X)
    with pytest.raises(agrad.BatchingError, match="agrad.where"):
        agrad.vmap(lambda a: a * 2 if agrad.sum(a) > 0 else a)(X)
    with pytest.raises(RuntimeError, match="backward"):
        agrad.vmap(lambda a: agrad.sum(a * a).backward())(X.detach().requires_grad_())
    with pytest.raises(ValueError, match="in_axes has 2 entries"):
        agrad.vmap(lambda a: a, in_axes=(0, 0))(X)
    with pytest.raises(ValueError, match="axis_size"):
        agrad.vmap(lambda a: a, in_axes=None)(X)
    with pytest.raises(ValueError, match="out_axes is None"):
        agrad.vmap(lambda a: a, out_axes=None)(X)
    with pytest.raises(ValueError, match="randomness must be"):
        agrad.vmap(lambda a: a, randomness="sometimes")


def test_ragged_outputs_raise_naming_the_op(backend):
    if not backend.capabilities.data_dependent_shapes:
        pytest.skip(f"backend {backend.name!r} lacks the capability 'data_dependent_shapes'")
    X = randn(4, 3, dtype=agrad.float64, seed=17)
    with pytest.raises(agrad.BatchingError, match="unique_values"):
        agrad.vmap(agrad.unique_values)(X)


def test_an_escaped_batched_tensor_is_refused(backend):
    X = randn(4, 3, dtype=agrad.float64, seed=18)
    kept = []
    agrad.vmap(lambda a: kept.append(a) or a)(X)
    with pytest.raises(agrad.BatchingError, match="escaped"):
        agrad.exp(kept[0]) + 1.0


def test_stack_module_state_runs_an_ensemble(backend):
    models = [_mlp() for _ in range(3)]
    for i, m in enumerate(models):
        for p in m.parameters():
            p.value = p.value * (1.0 - 0.2 * i)
    params, buffers = nn.stack_module_state(models)
    assert params["0.weight"].shape == (3, 8, 5) and params["0.weight"].requires_grad
    x = randn(6, 5, dtype=agrad.float64, seed=19)
    got = agrad.vmap(lambda p, b: nn.functional_call(models[0], (p, b), (x,)))(params, buffers)
    _close(got, agrad.stack([m(x) for m in models]))
    # gradients with respect to every member's weights at once
    g = agrad.grad(lambda p: agrad.sum(agrad.vmap(
        lambda q: nn.functional_call(models[0], q, (x,)))(p) ** 2))(params)
    for i, m in enumerate(models):
        want = agrad.grad(lambda q, m=m: agrad.sum(nn.functional_call(m, q, (x,)) ** 2))(
            {k: v.detach() for k, v in m.named_parameters()})
        _close(g["0.weight"][i], want["0.weight"])


@agrad.custom_vjp
def _twice_sin(x):
    return agrad.sin(x) * 2.0


_twice_sin.defvjp(lambda x: (_twice_sin(x), agrad.cos(x)), lambda c, g: (g * c * 2.0,))


@agrad.custom_jvp
def _exp(x):
    return agrad.exp(x)


_exp.defjvp(lambda p, t: (agrad.exp(p[0]), agrad.exp(p[0]) * t[0]))


@pytest.mark.parametrize("loss", [
    lambda x: agrad.sum(_twice_sin(x) * x),
    lambda x: agrad.sum(_exp(x) * x),
    lambda x: agrad.sum(agrad.checkpoint(lambda a: agrad.tanh(a) * a)(x)),
], ids=["custom_vjp", "custom_jvp", "checkpoint"])
def test_custom_rules_and_checkpoint_are_transparent(loss, backend):
    X = randn(4, 3, dtype=agrad.float64, seed=20)
    _close(agrad.vmap(agrad.grad(loss))(X), _stack_loop(agrad.grad(loss), X))


def test_custom_jvp_rule_under_vmap(backend):
    X = randn(4, 3, dtype=agrad.float64, seed=20)
    T = randn(4, 3, dtype=agrad.float64, seed=21)
    _close(agrad.vmap(lambda x, t: agrad.jvp(_exp, (x,), (t,))[1])(X, T), agrad.exp(X) * T)
