"""Fused primitives of agrad.nn.functional: values, first and second derivatives (float64)."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import agrad
import agrad.nn.functional as F
from agrad.testing import gradcheck, randn
from tests.helpers import assert_close, tensor_from_np, to_np
from tests.nn_helpers import first_order, np_rng

pytestmark = pytest.mark.requires("float64")
F64 = agrad.float64


def r(*shape, seed=0):
    return randn(*shape, dtype=F64, seed=seed)


def test_erf_matches_math_erf_to_float64_rounding():
    x = np.concatenate([np.linspace(-7, 7, 2801), [0.0, 1e-300, -1e-20, 0.46875, -0.46875, 4.0, 26.0, 40.0]])
    got = to_np(F.erf(tensor_from_np(x)))
    want = np.array([math.erf(v) for v in x])
    rel = np.abs(got - want) / np.maximum(np.abs(want), 1e-300)
    assert rel.max() < 2e-15, (rel.max(), x[np.argmax(rel)])


@pytest.mark.parametrize(
    "fn",
    [
        F.erf,
        F.relu,
        F.sigmoid,
        F.silu,
        F.gelu,
        lambda x: F.gelu(x, approximate="tanh"),
        lambda x: F.softmax(x, axis=-1),
        lambda x: F.log_softmax(x, axis=0),
    ],
)
def test_activation_first_and_second_derivatives(fn):
    x = r(3, 4, seed=1)
    gradcheck(fn, x)
    if fn is F.relu:  # piecewise linear: its gradient does not depend on x; check it is exact instead
        assert first_order(fn)(r(3, 4, seed=2)) == ()
        return
    gradcheck(first_order(fn), r(3, 4, seed=2))


def test_activations_match_torch():
    torch = pytest.importorskip("torch")
    x = np_rng(1).normal(size=(4, 5)) * 3
    t = torch.tensor(x)
    tf = torch.nn.functional
    cases = [
        (F.relu, tf.relu),
        (F.sigmoid, torch.sigmoid),
        (F.silu, tf.silu),
        (F.gelu, tf.gelu),
        (lambda a: F.gelu(a, "tanh"), lambda a: tf.gelu(a, approximate="tanh")),
        (lambda a: F.softmax(a, dim=1), lambda a: tf.softmax(a, dim=1)),
        (lambda a: F.log_softmax(a, dim=0), lambda a: tf.log_softmax(a, dim=0)),
    ]
    for ours, theirs in cases:
        assert_close(ours(tensor_from_np(x)), theirs(t).numpy(), rtol=1e-12, atol=1e-14)


def test_sigmoid_and_log_softmax_do_not_overflow():
    x = tensor_from_np(np.array([[-1000.0, 0.0, 1000.0]]))
    assert_close(F.sigmoid(x), np.array([[0.0, 0.5, 1.0]]))
    assert np.all(np.isfinite(to_np(F.log_softmax(x, axis=-1))))


CONV_CASES = [  # N, C, H, W, O, kernel, stride, padding, dilation, groups
    (2, 4, 7, 6, 6, 3, 2, 1, 1, 2),
    (1, 3, 5, 5, 2, 2, 1, 0, 2, 1),
    (2, 2, 6, 7, 4, (3, 2), (2, 3), (1, 0), (1, 2), 2),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv2d_gradients_finite_differences_and_second_order(case):
    n, c, h, w, o, k, s, p, d, g = case
    k2 = (k, k) if isinstance(k, int) else k
    x, wt = r(n, c, h, w, seed=1), r(o, c // g, *k2, seed=2)

    def f(x, wt):
        return F.conv2d(x, wt, stride=s, padding=p, dilation=d, groups=g)

    gradcheck(f, x, wt)
    gradcheck(first_order(f), r(n, c, h, w, seed=3), r(o, c // g, *k2, seed=4))


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv2d_matches_torch_with_several_output_channels(case):
    """pygrad's conv had a wrong input gradient as soon as there were several output channels."""
    torch = pytest.importorskip("torch")
    n, c, h, w, o, k, s, p, d, g = case
    k2 = (k, k) if isinstance(k, int) else k
    rng = np_rng(5)
    xa, wa, ba = rng.normal(size=(n, c, h, w)), rng.normal(size=(o, c // g, *k2)), rng.normal(size=o)
    x, wt, b = tensor_from_np(xa), tensor_from_np(wa), tensor_from_np(ba)
    xt, wtt, bt = (torch.tensor(a, requires_grad=True) for a in (xa, wa, ba))
    y = F.conv2d(x, wt, b, stride=s, padding=p, dilation=d, groups=g)
    yt = torch.nn.functional.conv2d(xt, wtt, bt, stride=s, padding=p, dilation=d, groups=g)
    assert_close(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    up = rng.normal(size=tuple(yt.shape))
    y.backward(agrad.get_backend().asarray(up))
    yt.backward(torch.tensor(up))
    for ours, theirs in ((x, xt), (wt, wtt), (b, bt)):
        assert_close(ours.grad, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_conv1d_and_same_padding_match_torch():
    torch = pytest.importorskip("torch")
    rng = np_rng(6)
    xa, wa = rng.normal(size=(2, 4, 9)), rng.normal(size=(6, 2, 3))
    y = F.conv1d(tensor_from_np(xa), tensor_from_np(wa), stride=2, padding=1, dilation=2, groups=2)
    yt = torch.nn.functional.conv1d(
        torch.tensor(xa), torch.tensor(wa), stride=2, padding=1, dilation=2, groups=2
    )
    assert_close(y, yt.numpy(), rtol=1e-10)
    y = F.conv2d(
        tensor_from_np(rng.normal(size=(1, 2, 5, 5))),
        tensor_from_np(wa[:, :, None, :].repeat(3, 2)),
        padding="same",
    )
    assert y.shape == (1, 6, 5, 5) or y.shape[2:] == (5, 5)


def test_conv2d_channel_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="channels"):
        F.conv2d(r(1, 3, 5, 5), r(4, 2, 3, 3))


@pytest.mark.parametrize(
    "kw",
    [
        dict(kernel_size=3, stride=2, padding=1),
        dict(kernel_size=2),
        dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 0), dilation=(2, 1)),
    ],
)
def test_max_pool2d_matches_torch_and_gradchecks(kw):
    torch = pytest.importorskip("torch")
    xa = np_rng(7).normal(size=(2, 3, 7, 6))
    x = tensor_from_np(xa)
    xt = torch.tensor(xa, requires_grad=True)
    y = F.max_pool2d(x, **kw)
    yt = torch.nn.functional.max_pool2d(xt, **kw)
    assert_close(y, yt.detach().numpy())
    up = np_rng(8).normal(size=tuple(yt.shape))
    y.backward(agrad.get_backend().asarray(up))
    yt.backward(torch.tensor(up))
    assert_close(x.grad, xt.grad.numpy())
    gradcheck(lambda a: F.max_pool2d(a, **kw), r(1, 2, 7, 6, seed=3))


@pytest.mark.parametrize("include", [True, False])
def test_avg_pool2d_matches_torch_and_second_order(include):
    torch = pytest.importorskip("torch")
    xa = np_rng(9).normal(size=(2, 3, 7, 6))
    y = F.avg_pool2d(tensor_from_np(xa), 3, 2, 1, count_include_pad=include)
    yt = torch.nn.functional.avg_pool2d(torch.tensor(xa), 3, 2, 1, count_include_pad=include)
    assert_close(y, yt.numpy(), rtol=1e-12)
    f = lambda a: F.avg_pool2d(a, 3, 2, 1, count_include_pad=include)  # noqa: E731
    gradcheck(f, r(1, 2, 5, 6))
    gradcheck(first_order(lambda a: f(a) * f(a)), r(1, 2, 5, 6, seed=2))


def test_layer_norm_first_and_second_order():
    x, w, b = r(3, 2, 4, seed=1), r(2, 4, seed=2), r(2, 4, seed=3)
    f = lambda x, w, b: F.layer_norm(x, (2, 4), w, b)  # noqa: E731
    gradcheck(f, x, w, b)
    gradcheck(first_order(f), r(3, 2, 4, seed=4), r(2, 4, seed=5), r(2, 4, seed=6))


def test_cross_entropy_second_order():
    t = agrad.asarray([0, 2, 1])
    f = lambda z: F.cross_entropy(z, t, label_smoothing=0.1)  # noqa: E731
    gradcheck(f, r(3, 4))
    gradcheck(first_order(lambda z: F.cross_entropy(z, t, reduction="none")), r(3, 4, seed=1))
    q = F.softmax(r(3, 4, seed=5), axis=1).detach()
    q.requires_grad_(True)
    gradcheck(lambda z, q: F.cross_entropy(z, q), r(3, 4, seed=2), q)


def test_unfold_matches_torch():
    torch = pytest.importorskip("torch")
    xa = np_rng(2).normal(size=(2, 3, 5, 6))
    y = F.unfold(tensor_from_np(xa), (2, 3), dilation=1, padding=1, stride=2)
    yt = torch.nn.functional.unfold(torch.tensor(xa), (2, 3), dilation=1, padding=1, stride=2)
    assert_close(y, yt.numpy())


@settings(max_examples=12, deadline=None)
@given(
    data=st.fixed_dictionaries(
        dict(
            n=st.integers(1, 2),
            groups=st.integers(1, 2),
            cg=st.integers(1, 2),
            og=st.integers(1, 2),
            h=st.integers(3, 7),
            w=st.integers(3, 7),
            kh=st.integers(1, 3),
            kw=st.integers(1, 3),
            s=st.tuples(st.integers(1, 3), st.integers(1, 3)),
            d=st.tuples(st.integers(1, 2), st.integers(1, 2)),
            p=st.tuples(st.integers(0, 1), st.integers(0, 1)),
        )
    )
)
def test_conv2d_and_max_pool_any_geometry_match_torch(data):
    torch = pytest.importorskip("torch")
    n, g, h, w, kh, kw = (data[k] for k in ("n", "groups", "h", "w", "kh", "kw"))
    c, o, s, d, p = g * data["cg"], g * data["og"], data["s"], data["d"], data["p"]
    assume(h + 2 * p[0] >= d[0] * (kh - 1) + 1 and w + 2 * p[1] >= d[1] * (kw - 1) + 1)
    rng = np_rng(h * 100 + w)
    xa, wa = rng.normal(size=(n, c, h, w)), rng.normal(size=(o, c // g, kh, kw))
    x, wt = tensor_from_np(xa), tensor_from_np(wa)
    xt, wtt = torch.tensor(xa, requires_grad=True), torch.tensor(wa, requires_grad=True)
    y = F.conv2d(x, wt, stride=s, padding=p, dilation=d, groups=g)
    yt = torch.nn.functional.conv2d(xt, wtt, stride=s, padding=p, dilation=d, groups=g)
    assert_close(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    up = rng.normal(size=tuple(yt.shape))
    y.backward(agrad.get_backend().asarray(up))
    yt.backward(torch.tensor(up))
    assert_close(x.grad, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert_close(wt.grad, wtt.grad.numpy(), rtol=1e-10, atol=1e-12)
    if p[0] <= kh // 2 and p[1] <= kw // 2:
        m = F.max_pool2d(x, (kh, kw), s, p, d)
        mt = torch.nn.functional.max_pool2d(xt, (kh, kw), s, p, d)
        assert_close(m, mt.detach().numpy())


def test_float32_inputs_stay_float32(backend):
    x = randn(2, 3, 5, 5, dtype=agrad.float32, seed=1)
    w = randn(4, 3, 3, 3, dtype=agrad.float32, seed=2)
    t = agrad.asarray([1, 0])
    z = F.gelu(F.max_pool2d(F.conv2d(x, w, padding=1), 2))
    z = F.layer_norm(agrad.reshape(z, (2, -1)), 16)
    loss = F.cross_entropy(z, t, label_smoothing=0.1) + F.mse_loss(F.silu(z), F.sigmoid(z))
    assert loss.dtype is agrad.float32
    loss.backward()
    assert x.grad.dtype == x.value.dtype and w.grad.dtype == w.value.dtype


def test_max_pool_and_embedding_second_order():
    gradcheck(first_order(lambda a: F.max_pool2d(a, 3, 2, 1) ** 2), r(1, 2, 5, 6, seed=3))
    idx = agrad.asarray([[0, 2, 2], [1, 0, 3]])
    gradcheck(first_order(lambda w: F.embedding(idx, w, padding_idx=1) ** 2), r(4, 3, seed=4))
