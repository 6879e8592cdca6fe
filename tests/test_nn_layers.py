"""Every layer against torch.nn with the same weights, in float64: outputs, input gradients and
parameter gradients under a random upstream gradient."""

import numpy as np
import pytest

import agrad
import agrad.nn as nn
from tests.helpers import assert_close, tensor_from_np, to_np
from tests.nn_helpers import check_against_torch, f64, np_rng, x_of

pytestmark = pytest.mark.requires("float64")
torch = pytest.importorskip("torch")
tnn = torch.nn


@pytest.mark.parametrize("bias", [True, False])
def test_linear(bias):
    check_against_torch(f64(nn.Linear(5, 3, bias=bias)), tnn.Linear(5, 3, bias=bias), [x_of(4, 5)])


@pytest.mark.parametrize(
    "kw", [dict(), dict(stride=2, padding=1), dict(dilation=2, groups=2, padding="same")]
)
def test_conv2d(kw):
    check_against_torch(f64(nn.Conv2d(4, 6, 3, **kw)), tnn.Conv2d(4, 6, 3, **kw), [x_of(2, 4, 7, 6)])


def test_conv1d():
    kw = dict(stride=2, padding=2, dilation=1, groups=2)
    check_against_torch(f64(nn.Conv1d(4, 6, 3, **kw)), tnn.Conv1d(4, 6, 3, **kw), [x_of(2, 4, 9)])


def test_small_cnn():
    ours = f64(
        nn.Sequential(
            nn.Conv2d(2, 4, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(4, 3, 2),
            nn.GELU(),
            nn.AvgPool2d(2),
            nn.Flatten(),
            nn.Linear(3, 5),
        )
    )
    theirs = tnn.Sequential(
        tnn.Conv2d(2, 4, 3, padding=1),
        tnn.ReLU(),
        tnn.MaxPool2d(2),
        tnn.Conv2d(4, 3, 2),
        tnn.GELU(),
        tnn.AvgPool2d(2),
        tnn.Flatten(),
        tnn.Linear(3, 5),
    )
    check_against_torch(ours, theirs, [x_of(2, 2, 6, 6)])


@pytest.mark.parametrize("mod", ["ReLU", "Sigmoid", "Tanh", "SiLU", "GELU", "Softmax", "LogSoftmax"])
def test_activation_modules(mod):
    kw = {"dim": 1} if "Softmax" in mod else {}
    check_against_torch(getattr(nn, mod)(**kw), getattr(tnn, mod)(**kw), [x_of(3, 4)])


def test_gelu_tanh_module():
    check_against_torch(nn.GELU("tanh"), tnn.GELU("tanh"), [x_of(3, 4)])


@pytest.mark.parametrize("shape", [(2, 3, 4), (4, 3)])
def test_layer_norm(shape):
    ours, theirs = f64(nn.LayerNorm(shape[-1])), tnn.LayerNorm(shape[-1])
    ours.weight.value = tensor_from_np(x_of(shape[-1], seed=3)).value  # not the trivial 1/0 init
    ours.bias.value = tensor_from_np(x_of(shape[-1], seed=4)).value
    check_against_torch(ours, theirs, [x_of(*shape)])


@pytest.mark.parametrize(
    "cls,shape", [("BatchNorm1d", (5, 3)), ("BatchNorm1d", (4, 3, 6)), ("BatchNorm2d", (3, 3, 4, 5))]
)
def test_batch_norm_train_then_eval(cls, shape):
    ours, theirs = f64(getattr(nn, cls)(3, momentum=0.3)), getattr(tnn, cls)(3, momentum=0.3)
    ours.weight.value = tensor_from_np(x_of(3, seed=3)).value
    theirs.load_state_dict({k: torch.tensor(to_np(v)) for k, v in ours.state_dict().items()}, strict=False)
    for step in range(2):
        check_against_torch(ours, theirs, [x_of(*shape, seed=step)], seed=step)
    for name in ("running_mean", "running_var"):
        assert_close(getattr(ours, name), getattr(theirs, name).numpy())
    ours.eval()
    theirs.eval()
    check_against_torch(ours, theirs, [x_of(*shape, seed=5)], load=False)


def test_embedding_with_repeats_and_padding_idx():
    ours = f64(nn.Embedding(6, 3, padding_idx=1))
    assert np.all(to_np(ours.weight)[1] == 0)
    theirs = tnn.Embedding(6, 3, padding_idx=1)
    idx = np.array([[0, 1, 3], [3, 3, 5]])
    check_against_torch(ours, theirs, [idx])
    assert np.all(to_np(ours.weight.grad)[1] == 0)


def test_dropout_scaling_and_eval_identity(backend):
    agrad.manual_seed(3)
    d = nn.Dropout(0.25)
    x = tensor_from_np(np.ones((200, 50)))
    y = to_np(d(x))
    kept = y != 0
    assert np.allclose(y[kept], 1 / 0.75)  # inverted dropout: survivors scaled by 1/(1-p)
    assert abs(kept.mean() - 0.75) < 0.02
    y = d(x)
    y.backward(agrad.get_backend().asarray(np_rng(1).normal(size=(200, 50))))
    assert np.array_equal(to_np(x.grad) != 0, to_np(y) != 0)
    d.eval()
    assert d(x) is x


def test_dropout_masks_identical_across_backends():
    masks = []
    for name in ("numpy", "array_api_strict", "torch"):
        with agrad.using_backend(name):
            agrad.manual_seed(11)
            masks.append(to_np(nn.functional.dropout(agrad.ones((4, 6)), 0.5)))
    assert np.array_equal(masks[0], masks[1]) and np.array_equal(masks[0], masks[2])
