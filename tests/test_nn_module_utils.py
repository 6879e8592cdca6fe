"""Module utilities against torch.nn, in float64: forward/pre/backward hooks, traversal,
``functional_call``, the dict/list containers, and the Tensor conveniences (clone, numpy,
tolist)."""

from collections import OrderedDict

import numpy as np
import pytest

import agrad
import agrad.nn as nn
from tests.helpers import assert_close, tensor_from_np, to_np
from tests.nn_helpers import f64, np_rng, torch_state_from, x_of

pytestmark = pytest.mark.requires("float64")
torch = pytest.importorskip("torch")
tnn = torch.nn


def pair(ours, theirs):
    """``theirs`` in float64 with ``ours``'s weights."""
    theirs.double()
    theirs.load_state_dict(torch_state_from(ours))
    return ours, theirs


def mlp():
    return pair(
        f64(nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))),
        tnn.Sequential(tnn.Linear(3, 4), tnn.Tanh(), tnn.Linear(4, 2)),
    )


def close(a, b, tol=1e-12):
    """Assert ``a`` (agrad) equals ``b`` (torch), returning the max abs error."""
    a, b = to_np(a), b.detach().numpy()
    assert a.shape == b.shape
    assert_close(a, b, rtol=0, atol=tol)
    return float(np.max(np.abs(a - b))) if a.size else 0.0


# --- forward hooks ---------------------------------------------------------------------------------


def test_forward_hook_replaces_output_as_torch():
    ours, theirs = pair(f64(nn.Linear(3, 2)), tnn.Linear(3, 2))
    seen = []

    def hook(m, args, out):
        seen.append((m, len(args)))
        return out * 2.0 + 1.0

    ours.register_forward_hook(hook)
    theirs.register_forward_hook(hook)
    x = x_of(4, 3)
    close(ours(tensor_from_np(x)), theirs(torch.tensor(x)))
    assert seen[0] == (ours, 1) and seen[1] == (theirs, 1)


def test_forward_pre_hook_replaces_args_as_torch():
    ours, theirs = pair(f64(nn.Linear(3, 2)), tnn.Linear(3, 2))
    ours.register_forward_pre_hook(lambda m, args: args[0] * 3.0)  # a single value: wrapped in a tuple
    theirs.register_forward_pre_hook(lambda m, args: args[0] * 3.0)
    ours.register_forward_pre_hook(lambda m, args: (args[0] - 1.0,))
    theirs.register_forward_pre_hook(lambda m, args: (args[0] - 1.0,))
    x = x_of(2, 3)
    close(ours(tensor_from_np(x)), theirs(torch.tensor(x)))


def test_hooks_with_kwargs():
    class Scale(nn.Module):
        def forward(self, x, *, k=1.0):
            return x * k

    m = Scale()
    m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"k": kwargs["k"] + 1.0}), with_kwargs=True)
    m.register_forward_hook(lambda mod, args, kwargs, out: out + kwargs["k"], with_kwargs=True)
    x = agrad.ones((2,))
    assert_close(m(x, k=2.0), np.full(2, 3.0 * 1.0 + 3.0))
    m.register_forward_pre_hook(lambda mod, args, kwargs: args, with_kwargs=True)
    with pytest.raises(RuntimeError, match="new_kwargs"):
        m(x, k=2.0)


def test_hook_order_prepend_and_removal():
    m = f64(nn.Linear(2, 2))
    calls = []
    h1 = m.register_forward_hook(lambda *a: calls.append(1))
    h2 = m.register_forward_hook(lambda *a: calls.append(2))
    m.register_forward_hook(lambda *a: calls.append(0), prepend=True)
    p1 = m.register_forward_pre_hook(lambda *a: calls.append("pre"))
    x = agrad.ones((1, 2), dtype=agrad.float64)
    m(x)
    assert calls == ["pre", 0, 1, 2]
    calls.clear()
    h1.remove()
    h1.remove()  # twice is harmless
    p1.remove()
    m(x)
    assert calls == [0, 2]
    calls.clear()
    with m.register_forward_hook(lambda *a: calls.append("ctx")):
        m(x)
    m(x)
    assert calls == [0, 2, "ctx", 0, 2]
    h2.remove()
    assert len(m._forward_hooks) == 1


def test_module_called_inside_its_own_hook_runs_plain_forward():
    m = f64(nn.Linear(2, 2))
    other = f64(nn.Linear(2, 2))
    calls = []
    other.register_forward_hook(lambda mod, args, out: calls.append("other"))

    def hook(mod, args, out):
        calls.append("m")
        return mod(args[0]) + other(args[0])  # m itself: plain forward, no recursion

    m.register_forward_hook(hook)
    x = agrad.ones((1, 2), dtype=agrad.float64)
    y = m(x)
    assert calls == ["m", "other"]
    assert_close(y, to_np(m.forward(x)) + to_np(other(x)))
    assert calls == ["m", "other", "other"]


# --- full backward hooks ---------------------------------------------------------------------------


def _recorder(log):
    def hook(m, grad_input, grad_output):
        log.append((m, grad_input, grad_output))

    return hook


def _check_log(ours_log, theirs_log):
    assert len(ours_log) == len(theirs_log)
    err = 0.0
    for (_, gi, go), (_, tgi, tgo) in zip(ours_log, theirs_log):
        assert len(gi) == len(tgi) and len(go) == len(tgo)
        for a, b in [*zip(gi, tgi), *zip(go, tgo)]:
            assert (a is None) == (b is None)
            if a is not None:
                err = max(err, close(a, b))
    return err


def test_full_backward_hook_linear_matches_torch():
    ours, theirs = pair(f64(nn.Linear(3, 2)), tnn.Linear(3, 2))
    log, tlog = [], []
    ours.register_full_backward_hook(_recorder(log))
    theirs.register_full_backward_hook(_recorder(tlog))
    x = x_of(4, 3)
    xa, xt = tensor_from_np(x), torch.tensor(x, requires_grad=True)
    g = x_of(4, 2, seed=1)
    ours(xa).backward(agrad.get_backend().asarray(g))
    theirs(xt).backward(torch.tensor(g))
    _check_log(log, tlog)
    assert log[0][0] is ours
    close(xa.grad, xt.grad)
    close(ours.weight.grad, theirs.weight.grad)


def test_full_backward_hooks_sequential_match_torch_and_replace_grad_input():
    ours, theirs = mlp()
    log, tlog = [], []
    for m in (ours, ours[0], ours[2]):
        m.register_full_backward_hook(_recorder(log))
    for m in (theirs, theirs[0], theirs[2]):
        m.register_full_backward_hook(_recorder(tlog))

    def double(m, gi, go):  # on the inner Tanh: doubles what flows back into the first Linear
        return tuple(None if g is None else g * 2.0 for g in gi)

    ours[1].register_full_backward_hook(double)
    theirs[1].register_full_backward_hook(double)
    x = x_of(5, 3)
    xa, xt = tensor_from_np(x), torch.tensor(x, requires_grad=True)
    (ours(xa) ** 2).sum().backward()
    (theirs(xt) ** 2).sum().backward()
    assert [m for m, _, _ in log] == [ours[2], ours[0], ours]  # as torch: innermost first
    _check_log(log, tlog)
    close(xa.grad, xt.grad)
    for p, tp in zip(ours.parameters(), theirs.parameters()):
        close(p.grad, tp.grad)


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
def test_backward_hook_without_input_grad_and_pre_hook_match_torch():
    ours, theirs = pair(f64(nn.Linear(3, 2)), tnn.Linear(3, 2))
    log, tlog = [], []
    ours.register_full_backward_hook(_recorder(log))
    theirs.register_full_backward_hook(_recorder(tlog))
    ours.register_full_backward_pre_hook(lambda m, go: (go[0] * 3.0,))
    theirs.register_full_backward_pre_hook(lambda m, go: (go[0] * 3.0,))
    x = x_of(4, 3)
    (ours(tensor_from_np(x, requires_grad=False)) ** 2).sum().backward()
    (theirs(torch.tensor(x)) ** 2).sum().backward()
    assert log[0][1] == (None,)
    _check_log(log, tlog)
    close(ours.weight.grad, theirs.weight.grad)
    close(ours.bias.grad, theirs.bias.grad)


def test_backward_hook_removal_and_second_order():
    ours, theirs = pair(f64(nn.Linear(3, 3)), tnn.Linear(3, 3))
    log = []
    h = ours.register_full_backward_hook(_recorder(log))

    def double(m, gi, go):
        return (gi[0] * 2.0,)

    ours.register_full_backward_hook(double)
    theirs.register_full_backward_hook(double)
    x = x_of(2, 3)
    # second order through the hooked module (create_graph inside agrad.grad)
    gg = agrad.grad(lambda v: (agrad.grad(lambda u: (ours(u) ** 3).sum())(v) ** 2).sum())(tensor_from_np(x))
    xt = torch.tensor(x, requires_grad=True)
    (gt,) = torch.autograd.grad((theirs(xt) ** 3).sum(), xt, create_graph=True)
    (ggt,) = torch.autograd.grad((gt**2).sum(), xt)
    close(gg, ggt, tol=1e-10)
    assert log
    h.remove()
    log.clear()
    ours(tensor_from_np(x)).sum().backward()
    assert log == []
    # forward mode passes straight through the hook nodes
    ones = tensor_from_np(np.ones((2, 3)), requires_grad=False)
    _, tangent = agrad.jvp(ours, (tensor_from_np(x),), (ones,))
    close(tangent, torch.ones(2, 3, dtype=torch.float64) @ theirs.weight.T)


# --- traversal, modes --------------------------------------------------------------------------------


def _nested():
    shared = nn.Linear(2, 2)
    ours = nn.Sequential(OrderedDict(
        enc=nn.Sequential(nn.Linear(2, 2), shared),
        dec=nn.ModuleList([shared, nn.Sequential(nn.Tanh(), nn.Linear(2, 1))]),
    ))
    tshared = tnn.Linear(2, 2)
    theirs = tnn.Sequential(OrderedDict(
        enc=tnn.Sequential(tnn.Linear(2, 2), tshared),
        dec=tnn.ModuleList([tshared, tnn.Sequential(tnn.Tanh(), tnn.Linear(2, 1))]),
    ))
    return ours, theirs


def test_named_modules_children_parameters_match_torch():
    ours, theirs = _nested()

    def names(it):
        return [n for n, _ in it]

    assert names(ours.named_modules()) == names(theirs.named_modules())
    assert names(ours.named_modules(remove_duplicate=False)) == names(
        theirs.named_modules(remove_duplicate=False))
    assert names(ours.named_modules(prefix="m")) == names(theirs.named_modules(prefix="m"))
    assert names(ours.named_children()) == names(theirs.named_children())
    assert names(ours.named_parameters()) == names(theirs.named_parameters())
    assert names(ours.named_parameters(remove_duplicate=False)) == names(
        theirs.named_parameters(remove_duplicate=False))
    assert names(ours.named_parameters(prefix="p", recurse=False)) == []
    assert len(list(ours.modules())) == len(list(theirs.modules()))
    assert ours.get_submodule("dec.1.1") is ours.dec[1][1]
    order, torder = [], []
    ours.apply(lambda m: order.append(type(m).__name__))
    theirs.apply(lambda m: torder.append(type(m).__name__))
    assert order == torder  # children first, as torch


def test_requires_grad_and_zero_grad():
    ours, _ = mlp()
    (ours(tensor_from_np(x_of(2, 3))) ** 2).sum().backward()
    ours.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not np.any(to_np(p.grad)) for p in ours.parameters())
    ours.zero_grad()
    assert all(p.grad is None for p in ours.parameters())
    assert ours.requires_grad_(False) is ours
    assert not any(p.requires_grad for p in ours.parameters())
    ours[0].requires_grad_()
    assert [p.requires_grad for p in ours.parameters()] == [True, True, False, False]


# --- containers ------------------------------------------------------------------------------------


class Holder(nn.Module):
    def __init__(self):
        super().__init__()
        self.plist = nn.ParameterList([nn.Parameter(agrad.ones((2,))), agrad.zeros((3,))])
        self.plist.append(agrad.ones((1,)))
        self.pdict = nn.ParameterDict({"b": agrad.ones((2,)), "a": agrad.zeros((1,))})
        self.pdict["c"] = nn.Parameter(agrad.ones((2, 2)))
        self.mdict = nn.ModuleDict({"lin": nn.Linear(2, 2), "act": nn.Tanh()})
        self.mdict.update([("out", nn.Linear(2, 1))])

    def forward(self, x):
        h = self.mdict["act"](self.mdict["lin"](x) + self.pdict["b"] * self.plist[0])
        h = h @ self.pdict["c"] + self.plist[2]
        return self.mdict["out"](h) + self.pdict["a"]


class THolder(tnn.Module):
    def __init__(self):
        super().__init__()
        self.plist = tnn.ParameterList([tnn.Parameter(torch.ones(2)), torch.zeros(3)])
        self.plist.append(torch.ones(1))
        self.pdict = tnn.ParameterDict({"b": torch.ones(2), "a": torch.zeros(1)})
        self.pdict["c"] = tnn.Parameter(torch.ones(2, 2))
        self.mdict = tnn.ModuleDict({"lin": tnn.Linear(2, 2), "act": tnn.Tanh()})
        self.mdict.update([("out", tnn.Linear(2, 1))])

    def forward(self, x):
        h = self.mdict["act"](self.mdict["lin"](x) + self.pdict["b"] * self.plist[0])
        h = h @ self.pdict["c"] + self.plist[2]
        return self.mdict["out"](h) + self.pdict["a"]


def test_containers_state_dict_keys_and_torch_state_load():
    ours, theirs = f64(Holder()), THolder().double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    with torch.no_grad():
        gen = torch.Generator().manual_seed(3)
        for p in theirs.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
    ours.load_state_dict(theirs.state_dict())
    x = x_of(3, 2)
    xa, xt = tensor_from_np(x), torch.tensor(x, requires_grad=True)
    close(ours(xa), theirs(xt))
    ours(xa).sum().backward()
    theirs(xt).sum().backward()
    close(xa.grad, xt.grad)
    for (n, p), (tn, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert n == tn
        if tp.grad is None:  # plist.1 is not used
            assert p.grad is None
        else:
            close(p.grad, tp.grad)


def test_container_semantics():
    pl = nn.ParameterList([agrad.ones((1,)), agrad.ones((2,))])
    assert len(pl) == 2 and isinstance(pl[-1], nn.Parameter) and pl[-1].shape == (2,)
    assert [p.shape for p in pl] == [(1,), (2,)]
    assert len(pl[1:]) == 1
    pl[0] = agrad.zeros((3,))
    assert pl[0].shape == (3,) and list(dict(pl.named_parameters())) == ["0", "1"]
    pl += [agrad.ones((4,))]
    assert len(pl) == 3
    with pytest.raises(IndexError):
        pl[3]
    pd = nn.ParameterDict(OrderedDict(z=agrad.ones((1,)), y=agrad.ones((2,))))
    assert list(pd) == ["z", "y"] and "z" in pd and len(pd) == 2
    assert list(nn.ParameterDict({"z": agrad.ones((1,)), "y": agrad.ones((2,))})) == ["y", "z"]  # torch sorts
    z = pd.pop("z")
    assert isinstance(z, nn.Parameter) and list(pd.keys()) == ["y"] and list(pd.state_dict()) == ["y"]
    assert pd.get("missing") is None and pd.setdefault("w", agrad.ones((1,))).shape == (1,)
    with pytest.raises(KeyError, match="already exists"):
        pd["update"] = agrad.ones((1,))
    md = nn.ModuleDict({"b": nn.Tanh(), "a": nn.Linear(1, 1)})
    assert list(md) == ["b", "a"]  # ModuleDict keeps a dict's order (torch does)
    del md["b"]
    assert list(md.keys()) == ["a"] and list(dict(md.named_parameters())) == ["a.weight", "a.bias"]
    with pytest.raises(KeyError, match="contain"):
        md["x.y"] = nn.Tanh()


# --- functional_call -------------------------------------------------------------------------------


def test_functional_call_gradients_match_torch_func():
    ours, theirs = mlp()
    rng = np_rng(4)
    given = {k: rng.normal(size=tuple(v.shape)) for k, v in theirs.named_parameters()}
    x = x_of(5, 3)
    originals = {k: v for k, v in ours.named_parameters()}

    def loss(p):
        return (nn.functional_call(ours, p, (tensor_from_np(x, requires_grad=False),)) ** 2).sum()

    def tloss(p):
        return (torch.func.functional_call(theirs, p, (torch.tensor(x),)) ** 2).sum()

    p = {k: tensor_from_np(v) for k, v in given.items()}
    g = agrad.grad(loss)(p)
    tg = torch.func.grad(tloss)({k: torch.tensor(v) for k, v in given.items()})
    assert set(g) == set(tg)
    for k in tg:
        close(g[k], tg[k])
    close(loss(p), tloss({k: torch.tensor(v) for k, v in given.items()}))
    assert {k: v for k, v in ours.named_parameters()} == originals  # same objects, same order
    assert all(getattr(ours.get_submodule(k.rpartition(".")[0]), k.rpartition(".")[2]) is v
               for k, v in originals.items())
    # a partial dict (the rest stays the module's), a tuple of dicts, backward() into the given leaves
    w = tensor_from_np(given["2.weight"])
    b = tensor_from_np(given["0.bias"])
    out = nn.functional_call(ours, ({"2.weight": w}, {"0.bias": b}), tensor_from_np(x))
    out.sum().backward()
    tw = torch.tensor(given["2.weight"], requires_grad=True)
    torch.func.functional_call(theirs, ({"2.weight": tw}, {"0.bias": torch.tensor(given["0.bias"])}),
                               torch.tensor(x)).sum().backward()
    close(w.grad, tw.grad)


def test_functional_call_restores_on_error_strict_and_tied():
    ours, _ = mlp()
    before = list(ours.named_parameters())

    def boom(m, args):
        raise ValueError("boom")

    h = ours[2].register_forward_pre_hook(boom)
    with pytest.raises(ValueError, match="boom"):
        nn.functional_call(ours, {"0.weight": agrad.zeros((4, 3), dtype=agrad.float64)}, agrad.ones((1, 3)))
    h.remove()
    assert list(ours.named_parameters()) == before and ours[0].weight is before[0][1]
    with pytest.raises(RuntimeError, match="Missing key"):
        nn.functional_call(ours, {"0.weight": before[0][1]}, agrad.ones((1, 3)), strict=True)
    with pytest.raises(RuntimeError, match="Unexpected key"):
        nn.functional_call(ours, {**dict(before), "zzz": before[0][1]}, agrad.ones((1, 3)), strict=True)
    with pytest.raises(ValueError, match="several dictionaries"):
        nn.functional_call(ours, ({"0.bias": before[1][1]}, {"0.bias": before[1][1]}), agrad.ones((1, 3)))
    # tied weights: the value given for one name is used for every name of that tensor
    lin = f64(nn.Linear(2, 2))
    tied = nn.Sequential(lin, nn.Tanh(), lin)
    w = agrad.zeros((2, 2), dtype=agrad.float64)
    out = nn.functional_call(tied, {"0.weight": w, "0.bias": agrad.ones((2,), dtype=agrad.float64)},
                             agrad.ones((1, 2), dtype=agrad.float64))
    assert_close(out, np.ones((1, 2)))
    with pytest.raises(ValueError, match="tied"):
        nn.functional_call(tied, {"0.weight": w, "2.weight": agrad.ones((2, 2))}, agrad.ones((1, 2)))


# --- Tensor conveniences ---------------------------------------------------------------------------


def test_clone_is_a_differentiable_copy():
    x = x_of(2, 3)
    xa, xt = tensor_from_np(x), torch.tensor(x, requires_grad=True)
    ya, yt = xa.clone(), xt.clone()
    assert ya is not xa and not ya.is_leaf and ya.dtype == xa.dtype
    (ya * ya * 3.0).sum().backward()
    (yt * yt * 3.0).sum().backward()
    close(xa.grad, xt.grad)
    c = tensor_from_np(x, requires_grad=False).clone()
    assert not c.requires_grad
    assert_close(c, x)


def test_numpy_and_tolist():
    x = x_of(2, 3)
    xa = tensor_from_np(x)
    arr = xa.numpy()
    assert isinstance(arr, np.ndarray) and arr.dtype == np.float64
    np.testing.assert_array_equal(arr, x)
    assert xa.tolist() == x.tolist()
    assert agrad.sum(xa).numpy().shape == ()
    s = agrad.sum(xa).tolist()
    assert isinstance(s, float) and s == pytest.approx(float(x.sum()))
    ints = agrad.arange(4)
    assert ints.tolist() == [0, 1, 2, 3] and all(type(v) is int for v in ints.tolist())
    assert agrad.asarray([True, False]).tolist() == [True, False]
