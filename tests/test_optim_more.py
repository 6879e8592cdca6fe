"""NAdam, RAdam, Adamax, Adadelta, L-BFGS and the learning-rate schedulers against torch.optim.

Optimizers: the same parameters and gradients in agrad and torch (float64), several steps,
parameters and state compared after each (gradients of a fixed nonlinear function, computed in
NumPy, so the test measures the update rules alone). L-BFGS re-evaluates an agrad closure, as
``torch.optim.LBFGS`` does a torch one. Schedulers: the lr (and momentum) sequence of every
scheduler, alone, composed and chained, against torch's; state_dict round trips.
"""

import inspect
import math
import warnings

import numpy as np
import pytest

import agrad
from agrad import optim
from agrad.optim import lr_scheduler
from tests.helpers import assert_close, tensor_from_np, to_np

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.requires("float64")


@pytest.fixture
def torch_float64():
    """torch's host scalars (NAdam's ``mu_product``) in float64, as agrad keeps them."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


_RNG = np.random.default_rng(7)
_A = _RNG.normal(size=(4, 4))
_B = _RNG.normal(size=4)


def _gradient(w: np.ndarray) -> np.ndarray:
    """The gradient of ``|A w - b|^2 / 2 + sum(w^4) / 40`` (nonlinear, so trajectories differ)."""
    return _A.T @ (_A @ w - _B) + 0.1 * w**3


DECOUPLED = dict(weight_decay=0.2, decoupled_weight_decay=True, maximize=True)

# optimizer -> (constructor keywords, one option set per parameter group)
OPTIMIZERS = {
    "NAdam": (dict(lr=0.05), [{}, dict(weight_decay=0.1, momentum_decay=8e-3), DECOUPLED]),
    "RAdam": (dict(lr=0.05), [{}, dict(weight_decay=0.1, betas=(0.8, 0.9)), DECOUPLED]),
    "Adamax": (dict(lr=0.05), [{}, dict(weight_decay=0.1, betas=(0.3, 0.5)), dict(eps=1e-3, maximize=True)]),
    "Adadelta": (dict(lr=0.5), [{}, dict(weight_decay=0.1, rho=0.5), dict(eps=1e-4, maximize=True)]),
}


@pytest.mark.usefixtures("torch_float64")
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_matches_torch(name):
    """10 steps, three parameter groups with different options (the last maximises the negated
    function: the same path); after step 4 the optimizer is rebuilt from its state_dict (the
    trajectory must not notice)."""
    kw, groups = OPTIMIZERS[name]
    w0 = [_RNG.normal(size=4) * 0.5 for _ in groups]
    ours = [tensor_from_np(w) for w in w0]
    theirs = [torch.tensor(w, requires_grad=True) for w in w0]
    opt = getattr(optim, name)([{"params": [p], **g} for p, g in zip(ours, groups)], **kw)
    topt = getattr(torch.optim, name)([{"params": [p], **g} for p, g in zip(theirs, groups)], **kw)
    for step in range(10):
        for p, tp, g in zip(ours, theirs, groups):
            grad = (-1.0 if g.get("maximize") else 1.0) * _gradient(to_np(p))
            p.grad = agrad.get_backend().asarray(grad)
            tp.grad = torch.tensor(grad)
        opt.step()
        topt.step()
        for i, (p, tp) in enumerate(zip(ours, theirs)):
            assert_close(p, tp.detach().numpy(), rtol=1e-10, atol=1e-12)
            state, tstate = opt.state[id(p)], topt.state[tp]
            assert set(state) == set(tstate)
            for key, value in tstate.items():
                if value.ndim:
                    assert_close(state[key], value.numpy(), rtol=1e-10, atol=1e-12)
                else:
                    assert state[key] == pytest.approx(float(value), rel=1e-12), (step, i, key)
        if step == 3:
            saved = opt.state_dict()
            assert saved["param_groups"] == topt.state_dict()["param_groups"]
            opt = getattr(optim, name)([{"params": [p], **g} for p, g in zip(ours, groups)], **kw)
            opt.load_state_dict(saved)


@pytest.mark.backend_independent
@pytest.mark.parametrize("name", ["NAdam", "RAdam", "Adamax", "Adadelta", "LBFGS"])
def test_constructor_signature_matches_torch(name):
    """Same positional parameters in the same order, the same keyword-only ones, same defaults."""

    def shape(cls):
        sig = inspect.signature(cls.__init__).parameters.values()
        positional = [(p.name, p.default) for p in sig if p.kind is p.POSITIONAL_OR_KEYWORD]
        keyword = {(p.name, p.default) for p in sig if p.kind is p.KEYWORD_ONLY}
        return positional, keyword

    assert shape(getattr(optim, name)) == shape(getattr(torch.optim, name))


@pytest.mark.backend_independent
def test_new_optimizers_refuse_bad_hyperparameters():
    p = tensor_from_np(np.ones(2))
    with pytest.raises(ValueError, match="momentum_decay"):
        optim.NAdam([p], momentum_decay=-1.0)
    with pytest.raises(ValueError, match="betas"):
        optim.RAdam([p], betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="weight_decay"):
        optim.Adamax([p], weight_decay=-0.1)
    with pytest.raises(ValueError, match="rho"):
        optim.Adadelta([p], rho=1.5)
    with pytest.raises(ValueError, match="differentiable"):
        optim.NAdam([p], differentiable=True)
    with pytest.raises(ValueError, match="line_search_fn"):
        optim.LBFGS([p], line_search_fn="armijo")
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": [p]}, {"params": [tensor_from_np(np.ones(1))]}])


# --- L-BFGS -------------------------------------------------------------------------------------


def _rosenbrock(m, x, y):
    """Rosenbrock's function of the pairs ``(x[i], y[i])`` (elementwise: cheap on every backend)."""
    return m.sum(100.0 * (y - x * x) ** 2 + (1.0 - x) ** 2)


def _closure(m, x, y, losses=None):
    """The closure L-BFGS re-evaluates: clear the gradients, Rosenbrock, backward (agrad or torch)."""

    def closure():
        x.grad = y.grad = None
        loss = _rosenbrock(m, x, y)
        loss.backward()
        if losses is not None:
            losses.append(float(loss))
        return loss

    return closure


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_matches_torch(line_search_fn):
    """Two steps of up to 6 iterations on Rosenbrock (two parameters, flattened together); the
    second step runs on a new optimizer loaded from the first one's state_dict."""
    x0, y0 = np.array([-1.2, 0.5, 2.0]), np.array([1.0, -0.3, 3.0])
    kw = dict(lr=1 if line_search_fn else 0.2, max_iter=6, history_size=4, line_search_fn=line_search_fn)
    x, y = tensor_from_np(x0), tensor_from_np(y0)
    tx, ty = torch.tensor(x0, requires_grad=True), torch.tensor(y0, requires_grad=True)
    opt, topt = optim.LBFGS([x, y], **kw), torch.optim.LBFGS([tx, ty], **kw)
    evaluations = []
    closure, torch_closure = _closure(agrad, x, y, evaluations), _closure(torch, tx, ty)

    for step in range(2):
        if step == 1:
            saved = opt.state_dict()
            opt = optim.LBFGS([x, y], **kw)
            opt.load_state_dict(saved)
        loss, tloss = opt.step(closure), topt.step(torch_closure)
        assert float(loss) == pytest.approx(tloss.item(), rel=1e-12)
        assert_close(x, tx.detach().numpy(), rtol=1e-8, atol=1e-10)
        assert_close(y, ty.detach().numpy(), rtol=1e-8, atol=1e-10)
        state, tstate = opt.state[id(x)], topt.state[tx]
        assert set(state) == set(tstate)
        assert (state["func_evals"], state["n_iter"]) == (tstate["func_evals"], tstate["n_iter"])
        for key in ("t", "H_diag", "prev_loss"):
            assert float(state[key]) == pytest.approx(float(tstate[key]), rel=1e-8), key
        for key in ("d", "prev_flat_grad"):
            assert_close(state[key], tstate[key].numpy(), rtol=1e-8, atol=1e-10)
        assert len(state["old_dirs"]) == len(tstate["old_dirs"]) <= 4
        for a, b in zip(state["old_dirs"] + state["old_stps"], tstate["old_dirs"] + tstate["old_stps"]):
            assert_close(a, b.numpy(), rtol=1e-8, atol=1e-10)
        assert state["ro"] == pytest.approx([float(r) for r in tstate["ro"]], rel=1e-8)
    assert len(evaluations) == tstate["func_evals"]  # the closure ran as often as torch's
    assert evaluations[-1] < evaluations[0] / 10


def test_lbfgs_converges_with_strong_wolfe():
    """The strong-Wolfe line search reaches Rosenbrock's minimum (1, 1) from (0, 0) in one step
    of up to 40 iterations, where torch's does."""
    x, y = tensor_from_np(np.zeros(1)), tensor_from_np(np.zeros(1))
    tx, ty = (torch.zeros(1, dtype=torch.float64, requires_grad=True) for _ in range(2))
    kw = dict(line_search_fn="strong_wolfe", max_iter=40, history_size=5)  # a short history: fast on Dask
    opt, topt = optim.LBFGS([x, y], **kw), torch.optim.LBFGS([tx, ty], **kw)
    opt.step(_closure(agrad, x, y))
    topt.step(_closure(torch, tx, ty))
    assert_close(agrad.concat([x, y]), [1.0, 1.0], rtol=1e-3, atol=1e-3)
    assert_close(agrad.concat([x, y]), torch.cat([tx, ty]).detach().numpy(), rtol=1e-6, atol=1e-8)
    assert opt.state[id(x)]["func_evals"] == topt.state[tx]["func_evals"]


# --- schedulers ---------------------------------------------------------------------------------


def _optimizers(name="SGD", **kw):
    """The same two-group optimizer in agrad and torch (the schedulers only read its groups)."""
    kw = kw or dict(lr=0.5, momentum=0.9)
    ps = [tensor_from_np(np.ones(2)) for _ in range(2)]
    tps = [torch.ones(2, requires_grad=True) for _ in range(2)]
    ours = getattr(optim, name)([{"params": ps[:1]}, {"params": ps[1:], "lr": kw["lr"] / 10}], **kw)
    theirs = getattr(torch.optim, name)([{"params": tps[:1]}, {"params": tps[1:], "lr": kw["lr"] / 10}], **kw)
    return ours, theirs


class Halving:
    """A callable object: LambdaLR saves its ``__dict__`` (a function it cannot)."""

    def __init__(self):
        self.rate = 0.5

    def __call__(self, epoch):
        return self.rate ** (epoch // 4)


# name -> build(module, optimizer): one scheduler, or a list (stepped in order, all on one optimizer)
SCHEDULES = {
    "StepLR": lambda m, o: m.StepLR(o, 3, 0.5),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, [2, 5, 5, 9], 0.3),
    "ConstantLR": lambda m, o: m.ConstantLR(o, 0.3, 4),
    "LinearLR": lambda m, o: m.LinearLR(o, 0.2, 0.9, 6),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, 0.9),
    "PolynomialLR": lambda m, o: m.PolynomialLR(o, 8, 2.0),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, 5, 0.01),
    "LambdaLR": lambda m, o: m.LambdaLR(o, [lambda e: 1 / (1 + e), Halving()]),
    "MultiplicativeLR": lambda m, o: m.MultiplicativeLR(o, lambda e: 0.95),
    "CosineAnnealingWarmRestarts": lambda m, o: m.CosineAnnealingWarmRestarts(o, 3, 2, 0.001),
    "CosineAnnealingWarmRestarts-1": lambda m, o: m.CosineAnnealingWarmRestarts(o, 4),
    "OneCycleLR": lambda m, o: m.OneCycleLR(o, [1.0, 0.1], total_steps=16),
    "OneCycleLR-3phase": lambda m, o: m.OneCycleLR(
        o, 1.0, epochs=4, steps_per_epoch=4, pct_start=0.25, anneal_strategy="linear", three_phase=True
    ),
    "CyclicLR": lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=3, step_size_down=2, mode="triangular2"),
    "CyclicLR-exp": lambda m, o: m.CyclicLR(o, [0.01, 0.001], [0.1, 0.05], 2, mode="exp_range", gamma=0.9),
    "StepLR+ExponentialLR": lambda m, o: [m.StepLR(o, 3, 0.5), m.ExponentialLR(o, 0.9)],
    "CosineAnnealingLR+ExponentialLR": lambda m, o: [m.CosineAnnealingLR(o, 6), m.ExponentialLR(o, 0.9)],
    "ChainedScheduler": lambda m, o: m.ChainedScheduler([m.ConstantLR(o, 0.5, 4), m.ExponentialLR(o, 0.9)]),
    "SequentialLR": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, 0.1, total_iters=4), m.CosineAnnealingLR(o, 8, 0.001)], milestones=[5]
    ),
    "SequentialLR-3": lambda m, o: m.SequentialLR(
        o, [m.ConstantLR(o, 0.1, 2), m.ExponentialLR(o, 0.8), m.StepLR(o, 2, 0.5)], milestones=[3, 8]
    ),
    "ReduceLROnPlateau": lambda m, o: m.ReduceLROnPlateau(
        o, factor=0.5, patience=1, cooldown=1, min_lr=[0.05, 0]
    ),
    "ReduceLROnPlateau-max-abs": lambda m, o: m.ReduceLROnPlateau(
        o, mode="max", threshold_mode="abs", threshold=0.01, patience=0
    ),
}
METRICS = [1.0, 0.9, 0.95, 0.95, 0.96, 0.97, 0.9, 0.91, 0.91, 0.91, 0.91, 0.91, 0.5, 0.5, 0.5, 0.5]
"""The scripted validation losses ReduceLROnPlateau reads: improvements, plateaus, a drop."""


def _groups(opt):
    """Each group's lr and momentum (SGD) or first beta (Adam), the values schedulers move, as one
    flat list (pytest.approx compares flat sequences only)."""
    return [v for g in opt.param_groups for v in (g["lr"], g.get("momentum", g.get("betas", (None,))[0]))]


def _schedulers(name, opt, topt):
    ours, theirs = SCHEDULES[name](lr_scheduler, opt), SCHEDULES[name](torch.optim.lr_scheduler, topt)
    return (ours if isinstance(ours, list) else [ours]), (theirs if isinstance(theirs, list) else [theirs])


def _step_all(name, scheds, i):
    for s in scheds:
        s.step(METRICS[i]) if "Plateau" in name else s.step()


def _assert_same_lrs(opt, topt, scheds, tscheds):
    assert _groups(opt) == pytest.approx(_groups(topt), rel=1e-13, abs=0)
    assert scheds[-1].get_last_lr() == pytest.approx(tscheds[-1].get_last_lr(), rel=1e-13, abs=0)


@pytest.mark.backend_independent
@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
@pytest.mark.parametrize("name", list(SCHEDULES))
def test_scheduler_sequence_matches_torch(name, opt_name):
    """15 steps: the groups' lr and momentum / beta1 and get_last_lr() after every one."""
    opt, topt = _optimizers(opt_name, lr=0.5) if opt_name == "Adam" else _optimizers()
    scheds, tscheds = _schedulers(name, opt, topt)
    for i in range(15):
        _assert_same_lrs(opt, topt, scheds, tscheds)
        topt.step()  # no gradients: only keeps torch from warning about the calling order
        _step_all(name, scheds, i)
        _step_all(name, tscheds, i)
    _assert_same_lrs(opt, topt, scheds, tscheds)


@pytest.mark.backend_independent
@pytest.mark.parametrize(
    "name",
    [
        "SequentialLR",
        "ChainedScheduler",
        "OneCycleLR",
        "LambdaLR",
        "CyclicLR",
        "CosineAnnealingWarmRestarts",
        "ReduceLROnPlateau",
        "CosineAnnealingLR",
    ],
)
def test_scheduler_state_dict_round_trip(name):
    """torch's state_dict keys; 7 steps, then a new optimizer and scheduler loaded from both
    state_dicts continue as the uninterrupted torch run."""
    opt, topt = _optimizers()
    scheds, tscheds = _schedulers(name, opt, topt)
    for i in range(7):
        _step_all(name, scheds, i)
        topt.step()
        _step_all(name, tscheds, i)
    saved, tsaved = scheds[-1].state_dict(), tscheds[-1].state_dict()
    assert set(saved) == set(tsaved)
    opt_state = opt.state_dict()
    opt, _ = _optimizers()
    scheds, _ = _schedulers(name, opt, _optimizers()[1])
    opt.load_state_dict(opt_state)
    scheds[-1].load_state_dict(saved)
    if name == "LambdaLR":
        assert saved["lr_lambdas"] == [None, {"rate": 0.5}]
    for i in range(7, 15):
        _step_all(name, scheds, i)
        topt.step()
        _step_all(name, tscheds, i)
        _assert_same_lrs(opt, topt, scheds, tscheds)


@pytest.mark.backend_independent
@pytest.mark.parametrize("name", ["StepLR", "MultiStepLR", "CosineAnnealingLR", "LinearLR", "PolynomialLR"])
def test_scheduler_jumps_by_the_closed_form(name):
    """``step(epoch)`` uses the closed form, as torch's does; so does ``step()`` after assigning
    ``last_epoch`` (how a run resumed from an optimizer checkpoint alone finds its place)."""
    opt, topt = _optimizers()
    (sched,), (tsched,) = _schedulers(name, opt, topt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch deprecates step(epoch)
        for epoch in (4, 9, 2):
            topt.step()
            sched.step(epoch)
            tsched.step(epoch)
            _assert_same_lrs(opt, topt, [sched], [tsched])
    sched.last_epoch = 5
    sched.step()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tsched.step(6)
    _assert_same_lrs(opt, topt, [sched], [tsched])
    sched.step()  # and chainable again from there
    tsched.step()
    _assert_same_lrs(opt, topt, [sched], [tsched])


@pytest.mark.backend_independent
def test_scheduler_errors():
    opt, _ = _optimizers()
    with pytest.raises(TypeError, match="agrad optimizer"):
        lr_scheduler.StepLR(object(), 2)
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(opt, 2, last_epoch=3)
    with pytest.raises(ValueError, match="milestone"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(opt, 2)], milestones=[3])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        lr_scheduler.ChainedScheduler([lr_scheduler.ReduceLROnPlateau(opt)])
    with pytest.raises(ValueError, match="total_steps"):
        lr_scheduler.OneCycleLR(opt, 0.1)
    sched = lr_scheduler.OneCycleLR(opt, 0.1, total_steps=2)
    sched.step()
    sched.step()
    with pytest.raises(ValueError, match="Tried to step 3 times"):
        sched.step()
    assert math.isfinite(opt.param_groups[0]["lr"])
