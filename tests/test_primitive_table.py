"""Every differentiable function and primitive, data-driven from the one recipe table
(``tests/primitive_recipes.py``), checked in float64 on every backend:

* reverse mode: ``gradcheck`` against finite differences with random cotangents;
* forward mode: ``agrad.jvp`` against finite differences and against reverse mode
  (``<u, J v> = <J^T u, v>``), see ``tests/jvp_check.py``;
* second derivatives: ``gradgradcheck`` (the backward pass recorded with ``create_graph=True`` and
  differentiated again).

The table must exercise every differentiable primitive of ``agrad._core.primitive.PRIMITIVES`` (a new
primitive without a recipe fails here), every primitive must have a JVP rule, every function of
the standard must be classified, and the non-differentiable ones give results that never require
grad.
"""

from __future__ import annotations

import pytest

import agrad
from agrad._core.primitive import PRIMITIVES
from tests.helpers import to_np
from tests.primitive_recipes import (
    CASES,
    FORWARD_CALLS,
    NON_DIFFERENTIABLE,
    ZERO_DERIVATIVE,
    derivative_checks,
    forward_input,
    make_inputs,
    needs,
)

IDS = [c[0] for c in CASES]
BY_NAME = {n: (call, specs) for n, call, specs in CASES}
CHECKS = derivative_checks()


def _case(name, backend):
    lacking = needs(name, backend)
    if lacking:
        pytest.skip(f"backend {backend.name!r} lacks the capability {lacking!r}")
    call, specs = BY_NAME[name]
    return (lambda *ts: call(agrad, *ts)), make_inputs(agrad, specs, agrad.float64, seed=len(name))


@pytest.mark.requires("float64")
@pytest.mark.parametrize("kind", list(CHECKS))
@pytest.mark.parametrize("name", IDS)
def test_derivatives(name, kind, backend):
    """``vjp``: gradcheck; ``jvp``: agrad.jvp against finite differences and vjp; ``2nd``: gradgradcheck."""
    f, inputs = _case(name, backend)
    CHECKS[kind](f, *inputs)


@pytest.mark.requires("float64")
@pytest.mark.parametrize("name", ZERO_DERIVATIVE)
def test_piecewise_constant_functions_have_zero_gradient(name):
    call, specs = BY_NAME[name]
    inputs = make_inputs(agrad, specs, agrad.float64, seed=3)
    out = call(agrad, *inputs)
    assert out.requires_grad
    agrad.sum(out * agrad.testing.randn(*out.shape, dtype=agrad.float64, seed=9)).backward()
    for t in inputs:
        assert not to_np(t.grad).any()


def _differentiable_primitives() -> list[str]:
    """agrad's own differentiable primitives (tests may register throwaway ones)."""
    return sorted(n for n, p in PRIMITIVES.items()
                  if p.vjp is not None and p.fwd.__module__.startswith("agrad"))


def _primitives_in_graph(out) -> set[str]:
    names, stack, seen = set(), [t for t in (out if isinstance(out, (tuple, list)) else (out,))], set()
    while stack:
        node = stack.pop()._node
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        names.add(node.prim.name)
        stack += [a for a in node.args if isinstance(a, agrad.Tensor)]
    return names


@pytest.mark.backend_independent
@pytest.mark.requires("complex")
def test_every_differentiable_primitive_has_a_recipe():
    exercised = set()
    for _, call, specs in CASES:
        exercised |= _primitives_in_graph(call(agrad, *make_inputs(agrad, specs, agrad.float64)))
    missing = [n for n in _differentiable_primitives() if n not in exercised]
    assert not missing, f"differentiable primitives no case in tests/primitive_recipes.py calls: {missing}"


@pytest.mark.backend_independent
def test_every_differentiable_primitive_has_a_jvp_rule():
    no_jvp = [n for n in _differentiable_primitives()
              if PRIMITIVES[n].jvp is None and PRIMITIVES[n].joint_jvp is None]
    assert not no_jvp, f"primitives without a JVP rule (forward mode and hessian raise): {no_jvp}"


@pytest.mark.backend_independent
def test_every_function_is_classified():
    import inspect

    import array_api_strict as s

    names = {n for n in dir(s) if inspect.isfunction(getattr(s, n)) and not n.startswith("_")
             and "strict_flags" not in n}
    assert len(BY_NAME) == len(CASES), "two cases share a name"
    covered = {c[0].split('[')[0] for c in CASES} | set(NON_DIFFERENTIABLE)
    assert names - covered == set()
    assert set(FORWARD_CALLS) == set(NON_DIFFERENTIABLE)


def _leaves(out):
    if isinstance(out, (tuple, list)):
        return [leaf for o in out for leaf in _leaves(o)]
    return [out] if isinstance(out, agrad.Tensor) else []


@pytest.mark.parametrize("name", sorted(FORWARD_CALLS))
def test_non_differentiable_results_do_not_require_grad(name, backend):
    lacking = needs(name, backend)
    if lacking:
        pytest.skip(f"backend {backend.name!r} lacks the capability {lacking!r}")
    x = forward_input(agrad)
    out = FORWARD_CALLS[name](agrad, x)
    assert all(not t.requires_grad for t in _leaves(out))


def test_unique_all_fallback_agrees(backend):
    """The fallback for backends without ``unique_all`` (PyTorch) must agree with the standard."""
    if not backend.capabilities.data_dependent_shapes:
        pytest.skip(f"backend {backend.name!r} lacks the capability 'data_dependent_shapes'")
    res = agrad.unique_all(agrad.asarray([3, 1, 3, 2, 1, 3]))
    assert [to_np(r).tolist() for r in res] == [[1, 2, 3], [1, 3, 0], [2, 0, 2, 1, 0, 2], [2, 1, 3]]
