"""Module mechanics: registration, traversal, modes, state dicts (strict and atomic), moving
between backends and dtypes, seeding, and training the same model identically everywhere."""

import math

import numpy as np
import pytest

import agrad
import agrad.nn as nn
from tests.helpers import assert_close, tensor_from_np, to_np
from tests.nn_helpers import np_rng


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.drop = nn.Dropout(0.5)
        self.block = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
        self.fc2 = self.fc1  # shared: listed once

    def forward(self, x):
        return self.block(self.drop(self.fc1(x)))


def test_registration_and_traversal():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == [
        "fc1.weight",
        "fc1.bias",
        "block.0.weight",
        "block.0.bias",
        "block.1.weight",
        "block.1.bias",
    ]
    assert len(list(net.parameters())) == 6
    assert [n for n, _ in net.named_buffers()] == ["block.1.running_mean", "block.1.running_var"]
    assert len(list(net.modules())) == 6
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in net.parameters())
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_calling_a_module_makes_no_copies():
    net = Net()
    ids = [id(p.value) for p in net.parameters()]
    net(agrad.ones((2, 3)))
    assert ids == [id(p.value) for p in net.parameters()]


def test_module_without_super_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match="super"):
        Bad()


def test_zero_grad():
    net = nn.Linear(3, 2)
    net(agrad.ones((1, 3))).sum().backward()
    assert net.weight.grad is not None
    net.zero_grad(set_to_none=False)
    assert np.all(to_np(net.weight.grad) == 0)
    net.zero_grad()
    assert net.weight.grad is None


def test_state_dict_strict_errors_change_nothing():
    a, b = Net(), Net()
    before = {k: to_np(v).copy() for k, v in a.state_dict().items()}
    sd = dict(b.state_dict())
    sd.pop("fc1.bias")
    sd["extra"] = agrad.zeros((1,))
    with pytest.raises(ValueError, match=r"missing keys: fc1.bias.*unexpected keys: extra"):
        a.load_state_dict(sd)
    sd = dict(b.state_dict())
    sd["block.0.weight"] = agrad.zeros((4, 5))
    with pytest.raises(ValueError, match=r"block.0.weight: the checkpoint has shape \(4, 5\)"):
        a.load_state_dict(sd)
    for k, v in a.state_dict().items():
        assert np.array_equal(to_np(v), before[k])
    missing, unexpected = a.load_state_dict({"fc1.bias": b.fc1.bias, "zzz": b.fc1.bias}, strict=False)
    assert unexpected == ["zzz"] and "fc1.weight" in missing
    assert np.array_equal(to_np(a.fc1.bias), to_np(b.fc1.bias))


def test_load_state_dict_keeps_parameter_objects_and_dtype():
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    w = a.weight
    a.load_state_dict({k: v.value for k, v in b.state_dict().items()})
    assert a.weight is w and np.array_equal(to_np(w), to_np(b.weight))


@pytest.mark.backend_independent
def test_to_moves_between_backends_and_dtypes():
    with agrad.using_backend("numpy"):
        m = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    w = m[0].weight
    opt = agrad.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    with agrad.using_backend("numpy"):
        m(agrad.ones((4, 3))).sum().backward()
        opt.step()  # momentum buffers now live on numpy, in float64
    m.to(backend="array_api_strict", dtype=agrad.float32)
    assert m[0].weight is w
    assert all(p.backend.name == "array_api_strict" and p.dtype is agrad.float32 for p in m.parameters())
    assert all(b.backend.name == "array_api_strict" for b in m.buffers())
    with agrad.using_backend("array_api_strict"):
        m(agrad.ones((4, 3), dtype=agrad.float32)).sum().backward()
        opt.step()  # the optimizer built before the move still updates the moved parameters
    assert w.backend.name == "array_api_strict" and w.dtype is agrad.float32


def test_same_seed_same_weights_on_every_backend():
    weights = []
    for name, status in agrad.available_backends().items():
        if status != "ok":
            continue
        with agrad.using_backend(name):
            agrad.manual_seed(42)
            m = nn.Linear(5, 3)
            weights.append(to_np(m.weight).astype(np.float64))
    for w in weights[1:]:
        np.testing.assert_allclose(w, weights[0], rtol=1e-6)


def test_default_init_bounds_match_pytorch():
    agrad.manual_seed(0)
    m = nn.Conv2d(3, 8, 3)
    bound = 1 / math.sqrt(3 * 9)  # kaiming_uniform(a=sqrt(5)) gives 1/sqrt(fan_in)
    w = to_np(m.weight)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert np.abs(to_np(m.bias)).max() <= bound


@pytest.mark.parametrize(
    "fn,args",
    [
        ("xavier_uniform_", ()),
        ("xavier_normal_", ()),
        ("kaiming_uniform_", ()),
        ("kaiming_normal_", ()),
        ("normal_", (0.5, 2.0)),
        ("uniform_", (-2, 3)),
        ("zeros_", ()),
        ("ones_", ()),
    ],
)
def test_init_statistics(fn, args):
    agrad.manual_seed(1)
    t = nn.Parameter(agrad.zeros((200, 300)))
    getattr(nn.init, fn)(t, *args)
    w = to_np(t)
    fan_in, fan_out = 300, 200
    std = {
        "xavier_uniform_": math.sqrt(2 / (fan_in + fan_out)),
        "xavier_normal_": math.sqrt(2 / (fan_in + fan_out)),
        "kaiming_uniform_": math.sqrt(2 / fan_in),
        "kaiming_normal_": math.sqrt(2 / fan_in),
        "normal_": 2.0,
        "uniform_": 5 / math.sqrt(12),
        "zeros_": 0.0,
        "ones_": 0.0,
    }[fn]
    assert w.std() == pytest.approx(std, rel=0.03, abs=1e-12)


def _train(backend_name, steps=8):
    with agrad.using_backend(backend_name):
        agrad.manual_seed(7)
        f64 = agrad.float64  # torch's default float is float32: ask for float64 weights explicitly
        model = nn.Sequential(
            nn.Conv2d(1, 3, 3, padding=1, dtype=f64),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Dropout(0.2),
            nn.Linear(12, 3, dtype=f64),
        )
        opt = agrad.optim.Adam(model.parameters(), lr=0.05)
        rng = np_rng(0)
        x = tensor_from_np(rng.normal(size=(6, 1, 4, 4)), False)
        t = agrad.asarray(rng.integers(0, 3, size=6))
        loss_fn = nn.CrossEntropyLoss()
        losses = []
        for _ in range(steps):
            opt.zero_grad()
            loss = loss_fn(model(x), t)
            loss.backward()
            opt.step()
            losses.append(float(loss))
        return losses


@pytest.mark.backend_independent
@pytest.mark.requires("float64")
def test_same_model_same_seed_trains_identically_on_every_backend(request):
    """Every backend under test (with its test options, e.g. JAX in x64 mode) that has float64."""
    from agrad.testing.plugin import load_for_tests, selected_backends

    backends = [load_for_tests(request.config, n) for n in selected_backends(request.config)]
    runs = {b.name: _train(b) for b in backends if b.capabilities.float64}
    ref = runs["numpy"] if "numpy" in runs else _train("numpy")
    assert ref[-1] < ref[0]
    for n, losses in runs.items():
        np.testing.assert_allclose(losses, ref, rtol=1e-9, err_msg=n)


def test_tensor_from_np_helper_roundtrip():
    x = np_rng(0).normal(size=(2, 2))
    assert_close(tensor_from_np(x), x)
