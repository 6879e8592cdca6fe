"""KL divergence, smooth L1, cosine-embedding and margin-ranking losses, and the functional
utilities ``pad``, ``one_hot``, ``normalize``, ``cosine_similarity``, ``pairwise_distance`` and the
softmaxes' ``dim=``, against torch in float64: forward values and input gradients under a random
cotangent, for every reduction; forward mode (``agrad.jvp``) for ``pad`` and ``kl_div``."""

import numpy as np
import pytest

import agrad
import agrad.nn as nn
from tests.helpers import assert_close, tensor_from_np, to_np
from tests.jvp_check import jvp_check
from tests.nn_helpers import check_against_torch, np_rng

pytestmark = pytest.mark.requires("float64")
torch = pytest.importorskip("torch")
tf = torch.nn.functional
F = nn.functional

def _compare(ours, theirs, inputs, others=(), seed=0, rtol=1e-10, atol=1e-12):
    """``ours(*inputs, *others)`` against ``theirs``: values, then the gradient of every ``inputs``
    entry under a random cotangent (``others`` are constants: targets, labels)."""
    xs = [tensor_from_np(a) for a in inputs]
    ts = [torch.tensor(a, requires_grad=True) for a in inputs]
    y = ours(*xs, *[tensor_from_np(o, requires_grad=False) for o in others])
    yt = theirs(*ts, *[torch.tensor(o) for o in others])
    assert tuple(y.shape) == tuple(yt.shape)
    assert_close(y, yt.detach().numpy(), rtol=rtol, atol=atol)
    up = np_rng(seed + 50).normal(size=tuple(yt.shape))
    y.backward(agrad.get_backend().asarray(up))
    yt.backward(torch.tensor(up))
    for x, t in zip(xs, ts):
        assert_close(x.grad, t.grad.numpy(), rtol=rtol, atol=atol)


# --- losses --------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
@pytest.mark.parametrize(
    "reduction,log_target",
    [("mean", False), ("batchmean", True), ("sum", False), ("none", True), ("none", False)],
    ids=str,
)
def test_kl_div(reduction, log_target):
    rng = np_rng(1)
    logp = np.log(rng.dirichlet(np.ones(4), size=3))
    q = rng.dirichlet(np.ones(4), size=3)
    target = np.log(q) if log_target else q
    kw = dict(reduction=reduction, log_target=log_target)
    _compare(lambda a, b: F.kl_div(a, b, **kw), lambda a, b: tf.kl_div(a, b, **kw), [logp, target])


def test_kl_div_zero_target_and_module():
    """``0 log 0 = 0``: zero target entries add nothing and leave the input gradient exact."""
    logp = np.log(np_rng(2).dirichlet(np.ones(3), size=2))
    q = np.array([[0.0, 0.4, 0.6], [0.5, 0.5, 0.0]])
    _compare(lambda a, b: F.kl_div(a, b, "sum"), lambda a, b: tf.kl_div(a, b, reduction="sum"), [logp], [q])
    check_against_torch(
        nn.KLDivLoss(reduction="batchmean", log_target=True),
        torch.nn.KLDivLoss(reduction="batchmean", log_target=True),
        [logp, np.log(np_rng(3).dirichlet(np.ones(3), size=2))],
    )
    with pytest.raises(ValueError, match="batchmean"):
        nn.KLDivLoss(reduction="avg")


@pytest.mark.parametrize(
    "reduction,beta", [("mean", 1.0), ("sum", 0.5), ("none", 0.0), ("none", 2.0)], ids=str
)
def test_smooth_l1(reduction, beta):
    rng = np_rng(4)
    a, b = rng.normal(size=(3, 4)) * 1.5, rng.normal(size=(3, 4))
    _compare(
        nn.SmoothL1Loss(reduction, beta=beta), torch.nn.SmoothL1Loss(reduction=reduction, beta=beta), [a, b]
    )
    _compare(
        lambda x, y: F.smooth_l1_loss(x, y, reduction, beta),
        lambda x, y: tf.smooth_l1_loss(x, y, reduction=reduction, beta=beta),
        [a, b],
    )
    with pytest.raises(ValueError, match="beta"):
        nn.SmoothL1Loss(beta=-1.0)


@pytest.mark.parametrize("reduction,margin", [("mean", 0.0), ("sum", 0.3), ("none", 0.3)], ids=str)
def test_cosine_embedding_loss(reduction, margin):
    rng = np_rng(5)
    a, b = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    y = np.array([1.0, -1.0, 1.0, -1.0, -1.0])
    kw = dict(margin=margin, reduction=reduction)
    _compare(
        lambda x1, x2, t: F.cosine_embedding_loss(x1, x2, t, **kw),
        lambda x1, x2, t: tf.cosine_embedding_loss(x1, x2, t, **kw),
        [a, b],
        [y],
    )
    # 1-d inputs with a 0-d target, through the module
    check_against_torch(
        nn.CosineEmbeddingLoss(**kw), torch.nn.CosineEmbeddingLoss(**kw), [a[1], b[1], np.array(-1.0)]
    )


@pytest.mark.parametrize("reduction,margin", [("mean", 0.0), ("sum", 0.5), ("none", 0.5)], ids=str)
def test_margin_ranking_loss(reduction, margin):
    rng = np_rng(6)
    a, b = rng.normal(size=(6,)), rng.normal(size=(6,))
    y = np.array([1.0, -1.0, 1.0, 1.0, -1.0, -1.0])
    check_against_torch(
        nn.MarginRankingLoss(margin, reduction),
        torch.nn.MarginRankingLoss(margin=margin, reduction=reduction),
        [a, b, y],
        rtol=1e-10,
        atol=1e-12,
    )


def test_kl_div_jvp():
    rng = np_rng(7)
    logp = tensor_from_np(np.log(rng.dirichlet(np.ones(3), size=2)))
    q = tensor_from_np(rng.dirichlet(np.ones(3), size=2))
    jvp_check(lambda a, b: F.kl_div(a, b, reduction="none"), logp, q)
    jvp_check(lambda a, b: F.kl_div(a, b, reduction="batchmean", log_target=True), logp, q)


# --- pad -----------------------------------------------------------------------------------------

PAD_CASES = [
    ("constant", (2, 0, 1, 1, 0, 1)),
    ("constant", (-1, 2, 1, -1)),  # negative padding crops
    ("reflect", (2, 1)),
    ("reflect", (1, 2, 2, 0)),
    ("replicate", (1, 1, 1, 2, 2, 0)),
    ("circular", (3, 1, 1, 2)),
]


@pytest.mark.parametrize("mode,widths", PAD_CASES, ids=str)
def test_pad(mode, widths):
    x = np_rng(8).normal(size=(2, 3, 4) if len(widths) == 2 else (1, 2, 3, 4))  # torch's ranks
    value = 0.7 if mode == "constant" else None
    _compare(lambda a: F.pad(a, widths, mode, value), lambda a: tf.pad(a, widths, mode, value), [x])


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_jvp(mode):
    x = tensor_from_np(np_rng(9).normal(size=(2, 3, 3)))
    jvp_check(lambda a: F.pad(a, (2, 1, 1, 2), mode=mode), x)


def test_pad_errors():
    x = tensor_from_np(np.zeros((2, 3)))
    for bad, match in [
        (dict(pad=(1,)), "even length"),
        (dict(pad=(1, 1, 1, 1, 1, 1)), "axes of padding"),
        (dict(pad=(1, 1), mode="wrap"), "mode must be"),
        (dict(pad=(3, 0), mode="reflect"), "less than"),
        (dict(pad=(4, 0), mode="circular"), "more than once"),
        (dict(pad=(-1, 0), mode="replicate"), "negative"),
        (dict(pad=(1, 0), mode="reflect", value=1.0), "value"),
    ]:
        with pytest.raises(ValueError, match=match):
            F.pad(x, **bad)


# --- one_hot, normalize, cosine_similarity, pairwise_distance, softmax(dim=) ----------------------


def test_one_hot(backend):
    labels = np.array([[0, 3], [2, 1]], dtype=np.int64)
    t = tensor_from_np(labels, requires_grad=False)
    out = F.one_hot(t, num_classes=5)
    assert out.dtype == t.dtype and tuple(out.shape) == (2, 2, 5)
    np.testing.assert_array_equal(to_np(out), tf.one_hot(torch.tensor(labels), 5).numpy())
    if backend.capabilities.lazy:
        with pytest.raises(ValueError, match="num_classes"):
            F.one_hot(t)
    else:
        np.testing.assert_array_equal(to_np(F.one_hot(t)), tf.one_hot(torch.tensor(labels)).numpy())
    with pytest.raises(TypeError, match="integer"):
        F.one_hot(tensor_from_np(np.zeros(2)), 3)


@pytest.mark.parametrize("p,dim", [(2.0, 1), (1.0, -1), (3.0, 0)])
def test_normalize(p, dim):
    x = np_rng(10).normal(size=(3, 4))
    x[1] = 0.0  # a zero vector along the last axis: stays zero, its gradient is g / eps as in torch
    _compare(lambda a: F.normalize(a, p, dim), lambda a: tf.normalize(a, p, dim), [x])


@pytest.mark.parametrize(
    "s1,s2,dim", [((3, 4), (3, 4), 1), ((2, 3, 4), (3, 4), -1), ((1, 4), (3, 4), 0)], ids=str
)
def test_cosine_similarity(s1, s2, dim):
    rng = np_rng(11)
    a, b = rng.normal(size=s1), rng.normal(size=s2)
    _compare(
        lambda x1, x2: F.cosine_similarity(x1, x2, dim),
        lambda x1, x2: tf.cosine_similarity(x1, x2, dim),
        [a, b],
    )


def test_cosine_similarity_tiny_vector():
    """Below ``eps`` the norm's value is clamped but its gradient is not, as in torch."""
    rng = np_rng(12)
    a, b = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    a[0] *= 1e-9
    _compare(
        lambda x1, x2: F.cosine_similarity(x1, x2, eps=1e-6),
        lambda x1, x2: tf.cosine_similarity(x1, x2, eps=1e-6),
        [a, b],
        rtol=1e-9,
    )


@pytest.mark.parametrize(
    "p,keepdim,s2", [(2.0, False, (3, 4)), (1.0, True, (4,)), (3.0, False, (1, 4))], ids=str
)
def test_pairwise_distance(p, keepdim, s2):
    rng = np_rng(13)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=s2)
    kw = dict(p=p, keepdim=keepdim)
    _compare(
        lambda x1, x2: F.pairwise_distance(x1, x2, **kw),
        lambda x1, x2: tf.pairwise_distance(x1, x2, **kw),
        [a, b],
    )


def test_softmax_dim_keyword():
    x = np_rng(14).normal(size=(2, 3, 4))
    _compare(lambda a: F.softmax(a, dim=1), lambda a: tf.softmax(a, dim=1), [x])
    _compare(lambda a: F.log_softmax(a, dim=-1), lambda a: tf.log_softmax(a, dim=-1), [x])
