"""Losses against torch.nn.functional in float64, with random upstream gradients where the
reduction is 'none'. Includes pygrad's broken masked loss (ignore_index)."""

import numpy as np
import pytest

import agrad
import agrad.nn as nn
from agrad.testing import gradcheck
from tests.helpers import assert_close, tensor_from_np, to_np
from tests.nn_helpers import np_rng

pytestmark = pytest.mark.requires("float64")
torch = pytest.importorskip("torch")
tf = torch.nn.functional


def _compare(ours, theirs, inputs, targets, seed=0, rtol=1e-10):
    xs = [tensor_from_np(a) for a in inputs]
    ts = [torch.tensor(a, requires_grad=True) for a in inputs]
    tg = [tensor_from_np(t, requires_grad=False) if isinstance(t, np.ndarray) else t for t in targets]
    ttg = [torch.tensor(t) if isinstance(t, np.ndarray) else t for t in targets]
    y, yt = ours(*xs, *tg), theirs(*ts, *ttg)
    assert_close(y, yt.detach().numpy(), rtol=rtol, atol=1e-12)
    up = np_rng(seed).normal(size=tuple(yt.shape))
    y.backward(agrad.get_backend().asarray(up) if up.ndim else None)
    yt.backward(torch.tensor(up) if up.ndim else None)
    for x, t in zip(xs, ts):
        assert_close(x.grad, t.grad.numpy(), rtol=rtol, atol=1e-12)


CE_CASES = [
    dict(),
    dict(reduction="sum"),
    dict(reduction="none"),
    dict(ignore_index=2),
    dict(label_smoothing=0.2),
    dict(weight=True),
    dict(weight=True, ignore_index=1, label_smoothing=0.1),
    dict(weight=True, reduction="none", ignore_index=0),
]


@pytest.mark.parametrize("kw", CE_CASES, ids=str)
def test_cross_entropy_class_indices(kw):
    rng = np_rng(1)
    z = rng.normal(size=(6, 4))
    t = np.array([0, 2, 1, 2, 3, 2])
    kw = dict(kw)
    w = rng.uniform(0.5, 2.0, size=4) if kw.pop("weight", False) else None
    _compare(
        lambda a, b: nn.functional.cross_entropy(a, b, None if w is None else tensor_from_np(w, False), **kw),
        lambda a, b: tf.cross_entropy(a, b, None if w is None else torch.tensor(w), **kw),
        [z],
        [t],
    )


def test_masked_cross_entropy_masks_for_real():
    """pygrad's masked loss masked nothing: ignored rows must not change the value or get gradient."""
    rng = np_rng(2)
    z = rng.normal(size=(5, 3))
    t = np.array([0, -100, 2, -100, 1])
    x = tensor_from_np(z)
    loss = nn.CrossEntropyLoss()(x, tensor_from_np(t, False))
    keep = t != -100
    ref = nn.CrossEntropyLoss()(tensor_from_np(z[keep]), tensor_from_np(t[keep], False))
    assert float(loss) == pytest.approx(float(ref), rel=1e-12)
    loss.backward()
    g = to_np(x.grad)
    assert np.all(g[~keep] == 0) and np.all(g[keep] != 0)


@pytest.mark.parametrize(
    "kw", [dict(), dict(label_smoothing=0.3), dict(weight=True, reduction="sum")], ids=str
)
def test_cross_entropy_probabilities_and_spatial(kw):
    rng = np_rng(3)
    kw = dict(kw)
    w = rng.uniform(0.5, 2.0, size=3) if kw.pop("weight", False) else None
    z = rng.normal(size=(2, 3, 4, 2))
    p = rng.dirichlet(np.ones(3), size=(2, 4, 2)).transpose(0, 3, 1, 2).copy()
    ours = lambda a, b: nn.functional.cross_entropy(
        a, b, None if w is None else tensor_from_np(w, False), **kw
    )  # noqa: E731
    theirs = lambda a, b: tf.cross_entropy(a, b, None if w is None else torch.tensor(w), **kw)  # noqa: E731
    _compare(ours, theirs, [z], [p])
    t = rng.integers(0, 3, size=(2, 4, 2))
    _compare(ours, theirs, [z], [t])


@pytest.mark.parametrize(
    "kw", [dict(), dict(reduction="none"), dict(ignore_index=1), dict(weight=True)], ids=str
)
def test_nll_loss(kw):
    rng = np_rng(4)
    kw = dict(kw)
    w = rng.uniform(0.5, 2.0, size=4) if kw.pop("weight", False) else None
    lp = rng.normal(size=(5, 4))
    t = np.array([0, 1, 3, 1, 2])
    _compare(
        lambda a, b: nn.NLLLoss(None if w is None else tensor_from_np(w, False), **kw)(a, b),
        lambda a, b: tf.nll_loss(a, b, None if w is None else torch.tensor(w), **kw),
        [lp],
        [t],
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_losses(reduction):
    rng = np_rng(5)
    a, b = rng.normal(size=(4, 3)) * 2, rng.normal(size=(4, 3))
    _compare(nn.MSELoss(reduction), tnn_loss("MSELoss", reduction), [a, b], [])
    _compare(nn.L1Loss(reduction), tnn_loss("L1Loss", reduction), [a, b], [])
    _compare(nn.HuberLoss(reduction, delta=0.7), torch.nn.HuberLoss(reduction, delta=0.7), [a, b], [])


def tnn_loss(name, reduction):
    return getattr(torch.nn, name)(reduction=reduction)


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_binary_cross_entropy(reduction):
    rng = np_rng(6)
    p, t, w = rng.uniform(0.05, 0.95, size=(4, 3)), rng.uniform(size=(4, 3)), rng.uniform(size=(3,))
    _compare(nn.BCELoss(reduction=reduction), torch.nn.BCELoss(reduction=reduction), [p], [t])
    z = rng.normal(size=(4, 3)) * 5
    _compare(
        nn.BCEWithLogitsLoss(reduction=reduction, pos_weight=tensor_from_np(w, False)),
        torch.nn.BCEWithLogitsLoss(reduction=reduction, pos_weight=torch.tensor(w)),
        [z],
        [t],
    )
    _compare(
        nn.BCEWithLogitsLoss(reduction=reduction), torch.nn.BCEWithLogitsLoss(reduction=reduction), [z], [t]
    )


def test_cross_entropy_gradcheck_with_everything():
    t = agrad.asarray([1, 0, 2, 1])
    w = tensor_from_np(np.array([0.5, 1.0, 2.0]), False)
    gradcheck(
        lambda z: nn.functional.cross_entropy(z, t, w, ignore_index=0, label_smoothing=0.2),
        tensor_from_np(np_rng(7).normal(size=(4, 3))),
    )


def test_cross_entropy_shape_errors():
    z = tensor_from_np(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="class-index targets must have shape"):
        nn.functional.cross_entropy(z, agrad.asarray([0, 1]))
    with pytest.raises(ValueError, match="reduction"):
        nn.CrossEntropyLoss(reduction="avg")


def test_cross_entropy_on_a_backend_that_is_not_the_active_one(backend):
    """Losses create their helper arrays on the inputs' backend, not the active one."""
    import agrad

    logits = agrad.testing.randn(4, 3, seed=1)
    target = agrad.Tensor(backend.xp.asarray([0, 2, 1, 2]), requires_grad=False)
    other = "array_api_strict" if backend.name != "array_api_strict" else "numpy"
    expected = float(agrad.nn.functional.cross_entropy(logits, target))
    with agrad.using_backend(other):
        loss = agrad.nn.functional.cross_entropy(logits, target)
        loss.backward()
    assert abs(float(loss) - expected) < 1e-6 * max(1.0, abs(expected))
    assert logits.grad is not None
