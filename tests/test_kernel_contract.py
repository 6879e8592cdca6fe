"""The core's contracts: declared kernels (unknown names refused, declining kernels fall back),
per-thread modes, hooks that go with their graph, variadic primitives of any arity."""

from __future__ import annotations

import gc
import threading
import warnings

import pytest

import agrad
from agrad._base import kernels as kernel_registry
from agrad._core import hooks, primitive
from agrad.testing import randn
from tests.helpers import assert_close


def _copy(be: agrad.Backend, **kw) -> agrad.Backend:
    fields = dict(name=be.name + "-copy", xp=be.xp, is_array=be.is_array, device=be.device,
                  capabilities=be.capabilities, rng=be.rng, materializer=be.materializer)
    fields.update(kw)
    return agrad.Backend(**fields)


def test_an_unknown_kernel_name_is_refused_with_the_known_ones(backend):
    with pytest.raises(agrad.BackendError) as e:
        _copy(backend, kernels={"gelu_tanh": lambda xp, x: x})
    msg = str(e.value)
    assert "'gelu_tanh'" in msg and repr(backend.name + "-copy") in msg
    assert "scatter_add" in msg and "relu.vjp" in msg and "adam_update" in msg


def test_a_renamed_kernel_keeps_its_old_name_for_a_release(backend, monkeypatch):
    monkeypatch.setitem(kernel_registry.DEPRECATED, "rectifier", "relu")
    calls = []

    def relu(xp, x):
        calls.append(1)
        return NotImplemented

    with pytest.warns(DeprecationWarning, match="'rectifier' is deprecated.*'relu'"):
        be = _copy(backend, kernels={"rectifier": relu})
    assert set(be.kernels) == {"relu"}
    with agrad.using_backend(be):
        agrad.nn.functional.relu(agrad.Tensor([1.0, -1.0]))
    assert calls == [1]


@pytest.mark.backend_independent
def test_every_declared_kernel_names_its_reference_and_owner():
    declared = agrad.declared_kernels()
    assert {"scatter_add", "index_scatter", "setitem", "einsum", "conv2d", "gelu", "gelu.vjp",
            "cross_entropy.vjp", "adam_update", "sgd_update"} <= set(declared)
    for name, spec in declared.items():
        assert spec.name == name and spec.owner and spec.role in ("forward", "joint vjp", "update")
        if spec.role != "joint vjp":
            assert callable(spec.reference), name
        assert spec.signature.startswith("(")


def test_a_kernel_that_declines_leaves_the_reference_to_run(backend):
    """Kernels returning NotImplemented (forward and joint pull-back) give the reference's
    values and gradients; the reference itself never sees NotImplemented."""
    seen = []

    def declines(name):
        def kernel(*args, **params):
            seen.append(name)
            return NotImplemented

        return kernel

    names = ["relu", "relu.vjp", "gelu", "gelu.vjp", "cross_entropy", "cross_entropy.vjp",
             "scatter_add", "adam_update"]
    be = _copy(backend, kernels={n: declines(n) for n in names})
    x = randn(4, 5)
    target = [1, 0, 4, 2]

    def run(b):
        with agrad.using_backend(b):
            xb = agrad.Tensor(x.value, backend=b)
            F = agrad.nn.functional
            picked = xb[agrad.asarray([0, 0, 1])]
            loss = F.cross_entropy(F.gelu(F.relu(xb)), agrad.asarray(target)) + picked.sum()
            loss.backward()
            w = agrad.nn.Parameter(agrad.Tensor(x.value, backend=b))
            w.grad = xb.grad
            agrad.optim.Adam([w], lr=0.1).step()
            return loss.value, xb.grad, w.value

    want, got = run(backend), run(be)
    for a, b in zip(want, got):
        assert_close(b, a, rtol=1e-6, atol=1e-6)
    assert set(seen) == set(names)


def test_a_thread_outside_any_mode_never_takes_the_special_path(backend, monkeypatch):
    """While one thread sits inside ``jvp`` (and detect_anomaly), another thread's primitive
    calls all take the plain path."""
    special_threads = []
    real = primitive._special_call

    def spy(prim, args, params):
        special_threads.append(threading.get_ident())
        return real(prim, args, params)

    monkeypatch.setattr(primitive, "_special_call", spy)
    inside, done = threading.Event(), threading.Event()
    errors = []

    def in_jvp():
        try:
            def f(x):
                inside.set()
                done.wait(10)
                return agrad.sin(x)

            with agrad.using_backend(backend), agrad.detect_anomaly():
                agrad.jvp(f, (agrad.Tensor([1.0]),), (agrad.Tensor([1.0]),))
        except Exception as e:  # reported below
            errors.append(e)

    t = threading.Thread(target=in_jvp)
    t.start()
    assert inside.wait(10)
    x = agrad.Tensor([0.5, 1.5])
    (agrad.exp(x) * x).sum().backward()
    done.set()
    t.join(10)
    assert not errors
    me = threading.get_ident()
    assert me not in special_threads
    assert t.ident in special_threads  # the spy does see the jvp thread's calls
    assert not primitive.modes.special


def test_hooks_go_with_their_graph_and_their_tensor(backend):
    x = agrad.Tensor([1.0, 2.0])
    y = x * 3.0
    seen = []
    y.register_hook(lambda g: seen.append(g.shape))
    node = y._node
    assert node.hooks
    (y * y).sum().backward()
    assert seen == [(2,)] and node.hooks is None  # released with the graph
    leaf = agrad.Tensor([1.0])
    handle = leaf.register_hook(lambda g: g * 2.0)
    key = id(leaf)
    (leaf * 1.0).sum().backward()
    assert float(leaf.grad[0]) == 2.0
    assert key in hooks.LEAF_HOOKS
    del leaf
    gc.collect()
    assert key not in hooks.LEAF_HOOKS
    handle.remove()  # removing after the tensor died is harmless


def test_concat_and_stack_take_any_number_of_arrays_in_one_node(backend):
    parts = [agrad.Tensor([float(i), float(i) + 0.5]) for i in range(300)]
    c = agrad.concat(parts)
    s = agrad.stack(parts, axis=1)
    assert c._node.prim.name == "concat" and len(c._node.args) == 300
    assert s._node.prim.name == "stack" and len(s._node.args) == 300
    w = agrad.arange(600, dtype=c.dtype)
    ((c * w).sum() + (s * s).sum()).backward()
    for i, p in enumerate(parts):
        assert_close(p.grad, [2 * i + 2 * i, 2 * i + 1 + 2 * (i + 0.5)])


@pytest.mark.backend_independent
def test_the_backend_guide_lists_every_declared_kernel():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "docs" / "kernels.py"
    spec = importlib.util.spec_from_file_location("docs_kernels", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    text = mod.DOC.read_text()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert mod.render(text) == text, "run: python docs/kernels.py"
