"""The convolution family against torch.nn / torch.nn.functional in float64: transposed and 3-D
convolutions, ceil-mode and adaptive pooling, fold, interpolate / Upsample, pixel (un)shuffle and
grid_sample. Forward values, input gradients and parameter gradients under a random cotangent;
forward mode (``agrad.jvp``) for conv_transpose2d and interpolate; torch state_dicts load.

Shapes are tiny: every test runs on every backend, Dask included."""

import numpy as np
import pytest

import agrad
import agrad.nn as nn
import agrad.nn.functional as F
from tests.helpers import assert_close, tensor_from_np, to_np
from tests.jvp_check import jvp_check
from tests.nn_helpers import check_against_torch, f64, np_rng, torch_state_from, x_of

pytestmark = pytest.mark.requires("float64")
torch = pytest.importorskip("torch")
tnn = torch.nn
TF = torch.nn.functional


def check_fn(ours, theirs, inputs, seed=0, atol=1e-12):
    """A function against torch's: forward and the gradient of every float input (zero where
    agrad's graph does not reach it, as for the grid of nearest-neighbour grid_sample)."""
    xs = [tensor_from_np(a) for a in inputs]
    ts = [torch.tensor(a, requires_grad=True) for a in inputs]
    y, yt = ours(*xs), theirs(*ts)
    assert tuple(y.shape) == tuple(yt.shape)
    assert_close(y, yt.detach().numpy(), rtol=1e-10, atol=atol)
    g = np_rng(seed + 100).normal(size=tuple(yt.shape))
    y.backward(agrad.get_backend().asarray(g))
    yt.backward(torch.tensor(g))
    for x, t in zip(xs, ts):
        gx = np.zeros(x.shape) if x.grad is None else to_np(x.grad)
        np.testing.assert_allclose(gx, t.grad.numpy(), rtol=1e-10, atol=atol)


# --- transposed and 3-D convolution -------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw",
    [
        dict(stride=2, padding=1, output_padding=1, groups=2),
        dict(stride=(1, 2), padding=(0, 1), output_padding=(1, 0), dilation=(2, 1), bias=False),
    ],
    ids=["strided-grouped", "output_padding-via-dilation"],
)
def test_conv_transpose2d(kw):
    ours, theirs = f64(nn.ConvTranspose2d(2, 4, (3, 2), **kw)), tnn.ConvTranspose2d(2, 4, (3, 2), **kw)
    check_against_torch(ours, theirs, [x_of(1, 2, 3, 4)])


def test_conv_transpose2d_output_size():
    """``forward(x, output_size)`` picks the output_padding, as in PyTorch."""
    ours, theirs = f64(nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)), tnn.ConvTranspose2d(2, 3, 3, 2, 1)
    theirs.double().load_state_dict(torch_state_from(ours))
    x = x_of(1, 2, 3, 3)
    y = ours(tensor_from_np(x), output_size=(6, 5))
    yt = theirs(torch.tensor(x), output_size=(1, 3, 6, 5))
    assert tuple(y.shape) == (1, 3, 6, 5)
    assert_close(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_conv_transpose1d():
    kw = dict(stride=2, padding=1, output_padding=1, groups=2, dilation=1)
    ours, theirs = f64(nn.ConvTranspose1d(2, 4, 3, **kw)), tnn.ConvTranspose1d(2, 4, 3, **kw)
    check_against_torch(ours, theirs, [x_of(2, 2, 4)])


@pytest.mark.parametrize(
    "k,kw",
    [
        (3, dict(stride=(2, 1, 2), padding=1, dilation=(1, 2, 1), groups=2)),
        ((3, 1, 3), dict(padding="same", bias=False)),
    ],
)
def test_conv3d(k, kw):
    check_against_torch(f64(nn.Conv3d(2, 4, k, **kw)), tnn.Conv3d(2, 4, k, **kw), [x_of(1, 2, 4, 5, 4)])


def test_conv2d_padding_mode():
    kw = dict(padding=1, padding_mode="reflect")
    check_against_torch(f64(nn.Conv2d(2, 3, 3, **kw)), tnn.Conv2d(2, 3, 3, **kw), [x_of(1, 2, 4, 5)])


@pytest.mark.parametrize("cls", ["ConvTranspose2d", "Conv3d"])
def test_torch_state_dict_loads(cls):
    args = (4, 6, 3) if cls == "Conv3d" else (4, 6, (3, 2))
    kw = dict(stride=2, groups=2)
    theirs = getattr(tnn, cls)(*args, **kw).double()
    ours = f64(getattr(nn, cls)(*args, **kw))
    ours.load_state_dict(theirs.state_dict())  # torch tensors, converted on load
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == {
        k: tuple(v.shape) for k, v in theirs.state_dict().items()
    }
    x = x_of(1, 4, 3, 4, 3) if cls == "Conv3d" else x_of(1, 4, 3, 3)
    assert_close(ours(tensor_from_np(x)), theirs(torch.tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-12)


# --- pooling ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw",
    [dict(kernel_size=(3, 2), stride=2, padding=1, dilation=(1, 2), ceil_mode=True, return_indices=True)],
)
def test_max_pool2d_ceil_mode_and_indices(kw):
    x = x_of(1, 2, 5, 6)
    pick = (lambda out: out[0]) if kw.get("return_indices") else (lambda out: out)
    check_against_torch(nn.MaxPool2d(**kw), tnn.MaxPool2d(**kw), [x], pick=pick)
    if kw.get("return_indices"):
        _, idx = F.max_pool2d(tensor_from_np(x), **kw)
        _, idx_t = TF.max_pool2d(torch.tensor(x), **kw)
        np.testing.assert_array_equal(to_np(idx), idx_t.numpy())


@pytest.mark.parametrize(
    "kw",
    [
        dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
        dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
        dict(kernel_size=(2, 3), stride=2, padding=(1, 0), ceil_mode=True, divisor_override=4),
    ],
)
def test_avg_pool2d_ceil_mode_and_divisor(kw):
    check_against_torch(nn.AvgPool2d(**kw), tnn.AvgPool2d(**kw), [x_of(1, 2, 5, 6)])


@pytest.mark.parametrize("kind,size", [("Avg", 3), ("Max", (None, 4))])
def test_adaptive_pool2d(kind, size):
    cls = f"Adaptive{kind}Pool2d"
    check_against_torch(getattr(nn, cls)(size), getattr(tnn, cls)(size), [x_of(1, 2, 5, 6)])


def test_adaptive_pool1d():
    check_against_torch(nn.AdaptiveMaxPool1d(3), tnn.AdaptiveMaxPool1d(3), [x_of(2, 2, 7)])


def test_fold_unfold():
    kw = dict(kernel_size=(2, 3), dilation=1, padding=1, stride=(1, 2))
    check_against_torch(nn.Fold((4, 5), **kw), tnn.Fold((4, 5), **kw), [x_of(2, 12, 15)])
    check_against_torch(nn.Unfold(**kw), tnn.Unfold(**kw), [x_of(2, 2, 4, 5)])


# --- resampling -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw",
    [
        dict(scale_factor=1.7, mode="nearest"),
        dict(scale_factor=(0.6, 2.0), mode="nearest-exact"),
        dict(scale_factor=1.7, mode="bilinear", align_corners=False),
        dict(size=(3, 8), mode="bilinear", align_corners=True),
        dict(size=(3, 4), mode="area"),
    ],
)
def test_interpolate(kw):
    check_fn(lambda x: F.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw), [x_of(1, 2, 5, 5)])


def test_interpolate_trilinear():
    kw = dict(size=(3, 2, 5), mode="trilinear", align_corners=True)
    check_fn(lambda x: F.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw), [x_of(1, 1, 2, 3, 3)])


@pytest.mark.parametrize("mod", ["Upsample", "UpsamplingBilinear2d"])
def test_upsample_modules(mod):
    kw = dict(scale_factor=2) if mod == "Upsample" else dict(size=(4, 7))
    check_against_torch(getattr(nn, mod)(**kw), getattr(tnn, mod)(**kw), [x_of(1, 2, 3, 3)])


def test_pixel_shuffle_and_unshuffle():
    check_against_torch(nn.PixelShuffle(2), tnn.PixelShuffle(2), [x_of(2, 8, 2, 3)])
    check_against_torch(nn.PixelUnshuffle(2), tnn.PixelUnshuffle(2), [x_of(2, 2, 4, 6)])
    x = tensor_from_np(x_of(1, 1, 8, 2, 2))
    assert_close(F.pixel_unshuffle(F.pixel_shuffle(x, 2), 2), x, rtol=0, atol=0)


@pytest.mark.parametrize(
    "mode,padding_mode,align_corners",
    [
        ("bilinear", "zeros", False),
        ("bilinear", "reflection", True),
        ("nearest", "border", False),
    ],
)
def test_grid_sample(mode, padding_mode, align_corners):
    grid = np_rng(3).uniform(-1.2, 1.2, size=(2, 3, 2, 2))
    check_fn(
        lambda x, g: F.grid_sample(x, g, mode, padding_mode, align_corners),
        lambda x, g: TF.grid_sample(x, g, mode, padding_mode, align_corners),
        [x_of(2, 2, 4, 5), grid],
    )


# --- forward mode -----------------------------------------------------------------------------------------


def test_jvp_conv_transpose2d():
    x, w, b = (tensor_from_np(x_of(1, 2, 3, 3)), tensor_from_np(x_of(2, 2, 2, 3, seed=1)),
               tensor_from_np(x_of(4, seed=2)))
    jvp_check(lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1, groups=2),
              x, w, b)


def test_jvp_interpolate():
    jvp_check(lambda x: F.interpolate(x, size=(4, 7), mode="bilinear"), tensor_from_np(x_of(1, 2, 3, 3)))
