"""Optimizers and schedulers against torch.optim: 20-step trajectories to 1e-6 in float64."""

import numpy as np
import pytest

import agrad
import agrad.nn as nn
from agrad import optim
from agrad.optim import lr_scheduler
from tests.helpers import assert_close, tensor_from_np, to_np
from tests.nn_helpers import np_rng

pytestmark = pytest.mark.requires("float64")
torch = pytest.importorskip("torch")

# (our class, torch class, keyword arguments)
CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, maximize=False)),
    ("Adam", dict(lr=0.1)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.9), weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1)),
    ("AdamW", dict(lr=0.05, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1)),
]


def _trajectory_ours(name, kw, w0, b0, x, y, steps=20):
    w, b = tensor_from_np(w0), tensor_from_np(b0)
    opt = getattr(optim, name)([{"params": [w]}, {"params": [b], "lr": kw["lr"] * 0.5}], **kw)
    xs, ys = tensor_from_np(x, False), tensor_from_np(y, False)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = agrad.mean(agrad.tanh(xs @ w + b) - ys) ** 2 + agrad.sum(w * w * w) * 0.01
        loss.backward()
        opt.step()
        losses.append(float(loss))
    return to_np(w), to_np(b), losses


def _trajectory_torch(name, kw, w0, b0, x, y, steps=20):
    w, b = torch.tensor(w0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    opt = getattr(torch.optim, name)([{"params": [w]}, {"params": [b], "lr": kw["lr"] * 0.5}], **kw)
    xs, ys = torch.tensor(x), torch.tensor(y)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.mean(torch.tanh(xs @ w + b) - ys) ** 2 + torch.sum(w * w * w) * 0.01
        loss.backward()
        opt.step()
    return w.detach().numpy(), b.detach().numpy()


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_trajectory_matches_torch(name, kw):
    rng = np_rng(3)
    w0, b0, x, y = (
        rng.normal(size=(4, 2)),
        rng.normal(size=(2,)),
        rng.normal(size=(8, 4)),
        rng.normal(size=(8, 2)),
    )
    w, b, losses = _trajectory_ours(name, kw, w0, b0, x, y)
    wt, bt = _trajectory_torch(name, kw, w0, b0, x, y)
    assert_close(w, wt, rtol=1e-6, atol=1e-6)
    assert_close(b, bt, rtol=1e-6, atol=1e-6)


def test_adam_bias_correction_first_steps():
    """pygrad's Adam got the bias correction wrong: with it, the first step moves every weight by
    exactly lr (m_hat/sqrt(v_hat) = g/|g|)."""
    g = np.array([0.3, -2.0, 1e-3])
    p = tensor_from_np(np.zeros(3))
    opt = optim.Adam([p], lr=0.1, eps=0.0)
    p.grad = agrad.get_backend().asarray(g)
    opt.step()
    assert_close(p, -0.1 * np.sign(g), rtol=1e-12)
    p.grad = agrad.get_backend().asarray(g)
    opt.step()
    assert_close(p, -0.2 * np.sign(g), rtol=1e-12)  # same gradient again: m_hat = g, v_hat = g^2


def test_gradient_accumulation_over_micro_batches():
    rng = np_rng(1)
    x, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 1))
    agrad.manual_seed(0)
    m1 = nn.Linear(3, 1).to(dtype=agrad.float64)
    m2 = nn.Linear(3, 1).to(dtype=agrad.float64)
    m2.load_state_dict(m1.state_dict())
    loss = nn.functional.mse_loss(m1(tensor_from_np(x, False)), tensor_from_np(y, False))
    loss.backward()
    for i, half in enumerate((slice(0, 4), slice(4, 8))):
        part = nn.functional.mse_loss(m2(tensor_from_np(x[half], False)), tensor_from_np(y[half], False)) / 2
        part.backward(accumulate=i > 0)
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        assert_close(p1.grad, p2.grad, rtol=1e-12)


def test_optimizer_state_dict_round_trip_continues_identically():
    rng = np_rng(2)
    w0 = rng.normal(size=(3,))
    grads = [rng.normal(size=(3,)) for _ in range(6)]

    def run(p, opt, gs):
        for g in gs:
            p.grad = agrad.get_backend().asarray(g)
            opt.step()

    a = tensor_from_np(w0)
    oa = optim.Adam([a], lr=0.1, amsgrad=True)
    run(a, oa, grads)
    b = tensor_from_np(w0)
    ob = optim.Adam([b], lr=0.1, amsgrad=True)
    run(b, ob, grads[:3])
    b2 = tensor_from_np(to_np(b))
    ob2 = optim.Adam([b2], lr=0.5)
    ob2.load_state_dict(ob.state_dict())
    assert ob2.param_groups[0]["lr"] == 0.1
    run(b2, ob2, grads[3:])
    assert_close(a, b2, rtol=1e-12)


def test_optimizer_errors_and_atomic_step():
    p = tensor_from_np(np.ones(3))
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="more than one"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(TypeError, match="unknown hyper-parameters"):
        optim.SGD([{"params": [p], "momentun": 0.9}], lr=0.1)
    q = tensor_from_np(np.ones(2))
    opt = optim.SGD([p, q], lr=0.1)
    p.grad = agrad.get_backend().asarray(np.ones(3))
    q.grad = agrad.get_backend().asarray(np.ones(5))  # wrong shape: the step must fail as a whole
    with pytest.raises(Exception):  # noqa: B017 - any backend's broadcasting error
        opt.step()
    assert_close(p, np.ones(3))


@pytest.mark.parametrize(
    "name,kw",
    [
        ("StepLR", dict(step_size=3, gamma=0.5)),
        ("MultiStepLR", dict(milestones=[2, 5], gamma=0.3)),
        ("ExponentialLR", dict(gamma=0.9)),
        ("CosineAnnealingLR", dict(T_max=7, eta_min=0.01)),
        ("LinearLR", dict(start_factor=0.2, total_iters=4)),
        ("LambdaLR", dict(lr_lambda=lambda e: 1 / (1 + e))),
    ],
)
def test_schedulers_match_torch(name, kw):
    p = tensor_from_np(np.ones(2))
    opt = optim.SGD([p], lr=0.5)
    sched = getattr(lr_scheduler, name)(opt, **kw)
    tp = torch.ones(2, requires_grad=True)
    topt = torch.optim.SGD([tp], lr=0.5)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kw)
    for _ in range(10):
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12, abs=1e-15)
        opt.step()
        topt.step()
        sched.step()
        tsched.step()


def test_clip_grad_norm_and_value_match_torch():
    rng = np_rng(4)
    gs = [rng.normal(size=(3, 2)) * 3, rng.normal(size=(4,))]
    for norm_type in (2.0, 1.0, float("inf")):
        ps = [tensor_from_np(np.zeros_like(g)) for g in gs]
        for p, g in zip(ps, gs):
            p.grad = agrad.get_backend().asarray(g)
        tps = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in gs]
        for p, g in zip(tps, gs):
            p.grad = torch.tensor(g)
        total = nn.utils.clip_grad_norm_(ps, 1.5, norm_type)
        ttotal = torch.nn.utils.clip_grad_norm_(tps, 1.5, norm_type)
        assert float(total) == pytest.approx(float(ttotal), rel=1e-12)
        for p, tp in zip(ps, tps):
            assert_close(p.grad, tp.grad.numpy(), rtol=1e-12)
    nn.utils.clip_grad_value_(ps, 0.1)
    assert np.abs(to_np(ps[0].grad)).max() <= 0.1
