"""Every differentiable function of the main namespace against finite differences (float64,
random cotangents), data-driven from ``tests/grad_table.py``; the non-differentiable ones give
results that never require grad."""

from __future__ import annotations

import pytest

import agrad
from agrad.testing import gradcheck
from tests.grad_table import (
    CASES,
    FORWARD_CALLS,
    NON_DIFFERENTIABLE,
    PIECEWISE_LINEAR,
    ZERO_DERIVATIVE,
    make_inputs,
)
from tests.helpers import to_np


@pytest.mark.requires("float64")
@pytest.mark.parametrize("name,call,specs", CASES, ids=[c[0] for c in CASES])
def test_gradcheck(name, call, specs, backend):
    if "[complex]" in name or name in ("real", "imag", "conj"):
        if not backend.capabilities.complex:
            pytest.skip(f"backend {backend.name!r} lacks the capability 'complex'")
    inputs = make_inputs(agrad, specs, agrad.float64, seed=len(name))
    gradcheck(lambda *ts: call(agrad, *ts), *inputs)


@pytest.mark.requires("float64")
@pytest.mark.parametrize("name", ZERO_DERIVATIVE)
def test_piecewise_constant_functions_have_zero_gradient(name):
    call, specs = next((c, s) for n, c, s in CASES if n == name)
    inputs = make_inputs(agrad, specs, agrad.float64, seed=3)
    out = call(agrad, *inputs)
    assert out.requires_grad
    agrad.sum(out * agrad.testing.randn(*out.shape, dtype=agrad.float64, seed=9)).backward()
    for t in inputs:
        assert not to_np(t.grad).any()


@pytest.mark.backend_independent
def test_every_function_is_classified():
    import inspect

    import array_api_strict as s

    names = {n for n in dir(s) if inspect.isfunction(getattr(s, n)) and not n.startswith("_")
             and "strict_flags" not in n}
    covered = {c[0].split('[')[0] for c in CASES} | set(NON_DIFFERENTIABLE)
    assert names - covered == set()
    assert set(FORWARD_CALLS) == set(NON_DIFFERENTIABLE)  # docs/coverage.py runs each one


NONDIFF_CALLS = {
    "equal": lambda x: agrad.equal(x, x), "less": lambda x: x < 0.0, "isnan": agrad.isnan,
    "signbit": agrad.signbit,
    "isin": lambda x: agrad.isin(agrad.astype(x, agrad.int64), agrad.astype(x, agrad.int64)),
    "argmax": lambda x: agrad.argmax(x),
    "argsort": lambda x: agrad.argsort(x), "searchsorted": lambda x: agrad.searchsorted(agrad.sort(x), x),
    "count_nonzero": agrad.count_nonzero, "nonzero": lambda x: agrad.nonzero(x > 0)[0],
    "unique_values": agrad.unique_values, "unique_all": lambda x: agrad.unique_all(x).values,
    "nextafter": lambda x: agrad.nextafter(x, x + 1.0), "all": lambda x: agrad.all(x > 0),
}


@pytest.mark.parametrize("name", sorted(NONDIFF_CALLS))
def test_non_differentiable_results_do_not_require_grad(name, backend):
    if name in ("nonzero", "unique_values", "unique_all") and not backend.capabilities.data_dependent_shapes:
        pytest.skip(f"backend {backend.name!r} lacks the capability 'data_dependent_shapes'")
    x = agrad.testing.randn(6, seed=1)
    out = NONDIFF_CALLS[name](x)
    assert not out.requires_grad
    if name == "unique_all":  # the fallback for backends without it (PyTorch) must agree
        res = agrad.unique_all(agrad.asarray([3, 1, 3, 2, 1, 3]))
        assert [to_np(r).tolist() for r in res] == [[1, 2, 3], [1, 3, 0], [2, 0, 2, 1, 0, 2], [2, 1, 3]]


@pytest.mark.requires("float64")
@pytest.mark.parametrize("name,call,specs", CASES, ids=[c[0] for c in CASES])
def test_jvp_rules(name, call, specs, backend):
    from tests.jvp_check import jvp_check

    if "[complex]" in name or name in ("real", "imag", "conj"):
        if not backend.capabilities.complex:
            pytest.skip(f"backend {backend.name!r} lacks the capability 'complex'")
    inputs = make_inputs(agrad, specs, agrad.float64, seed=len(name))
    jvp_check(lambda *ts: call(agrad, *ts), *inputs)


@pytest.mark.requires("float64")
@pytest.mark.parametrize("name,call,specs", [c for c in CASES if c[0] not in PIECEWISE_LINEAR],
                         ids=[c[0] for c in CASES if c[0] not in PIECEWISE_LINEAR])
def test_second_order(name, call, specs, backend):
    """The VJP rules are differentiable themselves (``create_graph=True`` runs them on Tensors)."""
    from agrad._engine import backprop

    if "[complex]" in name or name in ("real", "imag", "conj"):
        if not backend.capabilities.complex:
            pytest.skip(f"backend {backend.name!r} lacks the capability 'complex'")

    def grads(*ts):
        with agrad.enable_grad():
            ts = [t if t.requires_grad else agrad.Tensor(t.value) for t in ts]
            out = call(agrad, *ts)
            outs = tuple(out) if isinstance(out, (tuple, list)) else (out,)
            cots = [agrad.testing.randn(*o.shape, dtype=agrad.float64, seed=5, requires_grad=False)
                    for o in outs]
            res = backprop(outs, cots, inputs=list(ts), create_graph=True)
            return tuple(res[id(t)][1] for t in ts if id(t) in res)

    gradcheck(grads, *make_inputs(agrad, specs, agrad.float64, seed=len(name)))
