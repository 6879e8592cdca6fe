"""Activation and normalisation layers against torch.nn in float64, with the same weights: outputs,
input gradients and parameter gradients under a random upstream gradient (kinks included, where
agrad takes PyTorch's one-sided derivatives), torch state_dicts loading, and the argument checks.
Derivatives of the functional forms (gradcheck, JVP, second order) are rows of
``tests/primitive_recipes.py``."""

import numpy as np
import pytest

import agrad
import agrad.nn as nn
import agrad.nn.functional as F
from agrad._base.dtypes import float16
from tests.helpers import assert_close, tensor_from_np, to_np
from tests.nn_helpers import check_against_torch, f64, x_of

pytestmark = pytest.mark.requires("float64")
torch = pytest.importorskip("torch")
tnn = torch.nn

KINKS = [0.0, -3.0, 3.0, 0.75, 25.0, -25.0]
"""Points where a piece changes (ReLU family at 0, hardswish at -3 and 3, softplus(beta=2,
threshold=1.5) at 0.75) and large values (softplus's linear part, ELU's saturation)."""


def with_kinks(seed=0):
    """A (3, 6) input: random values spread over [-5, 5] plus one row of the special points."""
    return np.concatenate([x_of(2, 6, seed=seed, scale=2.5), np.array([KINKS])])


def set_params(mod, seed=3):
    """Random (not the trivial init) values for every parameter of ``mod``."""
    for i, (_, p) in enumerate(mod.named_parameters()):
        p.value = tensor_from_np(x_of(*p.shape, seed=seed + i)).value
    return mod


ACTIVATIONS = [
    ("LeakyReLU", {}),
    ("LeakyReLU", {"negative_slope": 0.2}),
    ("ELU", {}),
    ("ELU", {"alpha": 0.7}),
    ("SELU", {}),
    ("Softplus", {}),
    ("Softplus", {"beta": 2.0, "threshold": 1.5}),
    ("Mish", {}),
    ("Hardswish", {}),
    ("PReLU", {}),
]


@pytest.mark.parametrize("name,kw", ACTIVATIONS, ids=[f"{n}{kw or ''}" for n, kw in ACTIVATIONS])
def test_activation_modules(name, kw):
    check_against_torch(f64(getattr(nn, name)(**kw)), getattr(tnn, name)(**kw), [with_kinks()])


@pytest.mark.parametrize("name", ["ReLU", "LeakyReLU", "Hardswish"])
def test_inplace_flag(name):
    """``inplace=True`` (PyTorch's flag) gives the same values and gradients, and rebinds the
    input Tensor; on a leaf that requires grad it is refused, as in PyTorch."""
    ours = f64(nn.Sequential(nn.Linear(6, 6), getattr(nn, name)(inplace=True)))
    theirs = tnn.Sequential(tnn.Linear(6, 6), getattr(tnn, name)(inplace=True))
    check_against_torch(ours, theirs, [x_of(3, 6)])
    h = tensor_from_np(x_of(3, 6)) * 1.0
    y = getattr(nn, name)(inplace=True)(h)
    assert y is h
    with pytest.raises(RuntimeError, match="leaf"):
        getattr(nn, name)(inplace=True)(tensor_from_np(x_of(3, 6)))


@pytest.mark.parametrize("num_parameters,shape", [(4, (2, 4, 3)), (6, (3, 6)), (1, (6,))])
def test_prelu(num_parameters, shape):
    ours, theirs = set_params(f64(nn.PReLU(num_parameters))), tnn.PReLU(num_parameters)
    check_against_torch(ours, theirs, [x_of(*shape)])


def test_prelu_functional_and_checks():
    x, w = x_of(2, 4, 3), x_of(4, seed=1)
    y = F.prelu(tensor_from_np(x), tensor_from_np(w))
    assert_close(y, torch.nn.functional.prelu(torch.tensor(x), torch.tensor(w)).numpy(), rtol=1e-12)
    y0 = F.prelu(tensor_from_np(np.array(-2.0)), tensor_from_np(np.array([0.5])))
    assert y0.shape == () and float(to_np(y0)) == -1.0
    with pytest.raises(ValueError, match="channels"):
        F.prelu(tensor_from_np(x), tensor_from_np(x_of(3)))
    with pytest.raises(ValueError, match="0-D or 1-D"):
        F.prelu(tensor_from_np(x), tensor_from_np(x_of(4, 1)))


@pytest.mark.parametrize(
    "groups,channels,shape,kw",
    [(2, 4, (2, 4, 3), {}), (1, 4, (2, 4, 1, 3), {"eps": 1e-3, "bias": False}),
     (4, 4, (2, 4, 3), {"affine": False})],
)
def test_group_norm(groups, channels, shape, kw):
    ours = set_params(f64(nn.GroupNorm(groups, channels, **kw)))
    check_against_torch(ours, tnn.GroupNorm(groups, channels, **kw), [x_of(*shape)])


@pytest.mark.parametrize(
    "normalized_shape,shape,kw",
    [(3, (2, 4, 3), {}), ((4, 3), (2, 4, 3), {"eps": 1e-3, "elementwise_affine": False})],
)
def test_rms_norm(normalized_shape, shape, kw):
    ours = set_params(f64(nn.RMSNorm(normalized_shape, **kw)))
    check_against_torch(ours, tnn.RMSNorm(normalized_shape, **kw), [x_of(*shape)])


def test_rms_norm_default_eps_is_the_dtypes_epsilon():
    """``eps=None`` means ``finfo(dtype).eps``: visible on small float32 inputs."""
    x = x_of(2, 5, scale=1e-4).astype(np.float32)
    ours = F.rms_norm(tensor_from_np(x), 5)
    theirs = torch.nn.functional.rms_norm(torch.tensor(x), (5,))
    assert ours.dtype == agrad.float32
    assert_close(ours, theirs.numpy(), rtol=1e-5, atol=1e-6)
    plain = F.rms_norm(tensor_from_np(x), 5, eps=0.0)  # without eps the result differs clearly
    assert not np.allclose(to_np(plain), theirs.numpy(), rtol=1e-3)


def test_rms_norm_half_precision_matches_torch():
    """float16 inputs: computed in float32 with float32's epsilon and cast back, as PyTorch does."""
    x = x_of(2, 5, scale=1e-3)
    try:
        t = agrad.astype(tensor_from_np(x, requires_grad=False), float16)
    except TypeError:
        pytest.skip("the backend has no float16")
    ours = F.rms_norm(t, 5)
    theirs = torch.nn.functional.rms_norm(torch.tensor(x).half(), (5,))
    assert ours.dtype == float16
    assert_close(to_np(ours).astype(np.float64), theirs.double().numpy(), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize(
    "make_ours,make_theirs,shape",
    [
        (lambda: nn.GroupNorm(2, 4), lambda: tnn.GroupNorm(2, 4), (2, 4, 3)),
        (lambda: nn.RMSNorm((4, 3)), lambda: tnn.RMSNorm((4, 3)), (2, 4, 3)),
        (lambda: nn.PReLU(4), lambda: tnn.PReLU(4), (2, 4, 3)),
    ],
    ids=["GroupNorm", "RMSNorm", "PReLU"],
)
def test_torch_state_dict_loads(make_ours, make_theirs, shape):
    theirs = make_theirs().double()
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64))
    ours = f64(make_ours())
    state = theirs.state_dict()
    assert sorted(dict(ours.named_parameters())) == sorted(state)
    ours.load_state_dict(state)
    for k, v in ours.state_dict().items():
        assert_close(v, state[k].numpy(), rtol=0, atol=0)
    check_against_torch(ours, theirs, [x_of(*shape)], load=False)


def test_unflatten_flatten_identity():
    x = x_of(2, 12, 3)
    for dim, sizes in [(1, (3, 4)), (-2, (2, -1)), (0, [2])]:
        check_against_torch(nn.Unflatten(dim, sizes), tnn.Unflatten(dim, tuple(sizes)), [x])
    check_against_torch(nn.Flatten(0, 1), tnn.Flatten(0, 1), [x])
    check_against_torch(nn.Identity(), tnn.Identity(), [x])
    roundtrip = nn.Sequential(nn.Flatten(), nn.Unflatten(1, (12, 3)))
    assert roundtrip(tensor_from_np(x)).shape == x.shape
    with pytest.raises(ValueError, match="multiply up"):
        nn.Unflatten(1, (5, 2))(tensor_from_np(x))
    with pytest.raises(TypeError):
        nn.Unflatten(1, 12)


@pytest.mark.backend_independent
def test_reprs_and_checks_match_torch():
    for ours, theirs in [
        (nn.LeakyReLU(0.2), tnn.LeakyReLU(0.2)),
        (nn.ELU(inplace=True), tnn.ELU(inplace=True)),
        (nn.ReLU(inplace=True), tnn.ReLU(inplace=True)),
        (nn.SELU(), tnn.SELU()),
        (nn.PReLU(3), tnn.PReLU(3)),
        (nn.Softplus(2.0, 10.0), tnn.Softplus(2.0, 10.0)),
        (nn.GroupNorm(2, 4, affine=False), tnn.GroupNorm(2, 4, affine=False)),
        (nn.GroupNorm(2, 4, bias=False), tnn.GroupNorm(2, 4, bias=False)),
        (nn.Mish(inplace=True), tnn.Mish(inplace=True)),
        (nn.Hardswish(inplace=True), tnn.Hardswish(inplace=True)),
        (nn.RMSNorm(4), tnn.RMSNorm(4)),
        (nn.Unflatten(1, (2, 3)), tnn.Unflatten(1, (2, 3))),
    ]:
        assert repr(ours) == repr(theirs)
    assert nn.GroupNorm(2, 4, affine=False).weight is None
    assert nn.RMSNorm(4, elementwise_affine=False).weight is None
    with pytest.raises(ValueError, match="divisible"):
        nn.GroupNorm(3, 4)
    with pytest.raises(ValueError, match="channels"):
        nn.GroupNorm(2, 4)(agrad.ones((2, 6, 3)))
    with pytest.raises(ValueError, match="normalized_shape"):
        F.rms_norm(agrad.ones((2, 3)), (4,))
