"""``agrad.vmap`` against a Python loop, for every case of the recipe table, on every backend.

For each case the inputs get a batch axis at a random position (or none: ``in_axes=None``), and

* ``vmap(f)(X)`` equals ``stack([f(x) for x in X])``;
* its VJP (``grad`` of ``vmap``) equals the loop's, for a random cotangent;
* the per-example VJP (``vmap`` of ``vjp``: the batching rules of every VJP rule) equals the
  loop of per-example VJPs.
"""

from __future__ import annotations

import random

import pytest

import agrad
from agrad._core.batching import rules_missing
from agrad.testing import rand, randn
from tests.helpers import to_np
from tests.primitive_recipes import CASES, needs

B = 3
BY_NAME = {n: (call, specs) for n, call, specs in CASES}



def _batched_inputs(specs, seed):
    rng = random.Random(seed)
    axes, tensors = [], []
    for i, (shape, low, high) in enumerate(specs):
        choices = [None, 0, -1, *range(len(shape) + 1)]
        axis = rng.choice(choices)
        if i == len(specs) - 1 and all(a is None for a in axes) and axis is None:
            axis = 0  # at least one batched input
        axes.append(axis)
        full = list(shape)
        if axis is not None:
            full.insert(axis % (len(shape) + 1), B)
        if low is None:
            tensors.append(randn(*full, dtype=agrad.float64, seed=seed + i))
        else:
            tensors.append(rand(*full, dtype=agrad.float64, seed=seed + i, low=low, high=high))
    return tensors, axes


def _example(x, axis, b):
    if axis is None:
        return x
    return x[(slice(None),) * (axis % x.ndim) + (b,)]


def _leaves(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _loop(f, tensors, axes):
    outs = [_leaves(f(*[_example(x, a, b) for x, a in zip(tensors, axes)])) for b in range(B)]
    return [agrad.stack([o[k] for o in outs]) for k in range(len(outs[0]))]


def _close(got, want, what):
    assert len(got) == len(want), what
    for g, w in zip(got, want):
        assert tuple(g.shape) == tuple(w.shape), (what, g.shape, w.shape)
        assert to_np(g.value if hasattr(g, "value") else g) == pytest.approx(
            to_np(w.value if hasattr(w, "value") else w), rel=1e-9, abs=1e-10), what


def _case(name, backend):
    lacking = needs(name, backend)
    if lacking:
        pytest.skip(f"backend {backend.name!r} lacks the capability {lacking!r}")
    call, specs = BY_NAME[name]
    seed = sum(map(ord, name))
    tensors, axes = _batched_inputs(specs, seed)
    return (lambda *ts: call(agrad, *ts)), tensors, axes, seed


@pytest.mark.requires("float64")
@pytest.mark.parametrize("name", list(BY_NAME))
def test_vmap_equals_loop(name, backend):
    f, tensors, axes, seed = _case(name, backend)
    got = _leaves(agrad.vmap(f, in_axes=tuple(axes))(*tensors))
    want = _loop(f, tensors, axes)
    _close(got, want, f"{name} in_axes={axes}")

    # grad of vmap: one random cotangent for the stacked outputs, against the loop's
    cts = [randn(*w.shape, dtype=agrad.float64, seed=seed + 50 + k) for k, w in enumerate(want)]

    def loss(run):
        def total(*ts):
            return sum(agrad.sum(o * c) for o, c in zip(run(*ts), cts))
        return total

    g_vmap = agrad.grad(loss(lambda *ts: _leaves(agrad.vmap(f, in_axes=tuple(axes))(*ts))),
                        argnums=tuple(range(len(tensors))))(*tensors)
    g_loop = agrad.grad(loss(lambda *ts: _loop(f, ts, axes)), argnums=tuple(range(len(tensors))))(*tensors)
    _close(list(g_vmap), list(g_loop), f"grad of vmap of {name}")


@pytest.mark.requires("float64")
@pytest.mark.parametrize("name", list(BY_NAME))
def test_vmap_of_vjp_equals_loop(name, backend):
    """Per-example VJPs: every VJP rule the case reaches runs batched."""
    f, tensors, axes, seed = _case(name, backend)
    outs = _loop(f, tensors, axes)
    cts = [randn(*o.shape, dtype=agrad.float64, seed=seed + 70 + k) for k, o in enumerate(outs)]
    n = len(tensors)
    outs_type = f(*[_example(x, a, 0) for x, a in zip(tensors, axes)])
    single = not isinstance(outs_type, (tuple, list))

    def per_example(*args):
        ts, cs = args[:n], args[n:]
        _, pull = agrad.vjp(f, *ts)
        return pull(cs[0] if single else type(outs_type)(cs))

    got = agrad.vmap(per_example, in_axes=(*axes, *([0] * len(cts))))(*tensors, *cts)
    want = []
    for b in range(B):
        _, pull = agrad.vjp(f, *[_example(x, a, b) for x, a in zip(tensors, axes)])
        cb = [c[b] for c in cts]
        want.append(pull(cb[0] if single else type(outs_type)(cb)))
    want = [agrad.stack([w[k] for w in want]) for k in range(n)]
    _close(list(got), want, f"vmap of vjp of {name} in_axes={axes}")


def test_every_primitive_has_a_batching_rule():
    """agrad's own primitives (tests may register throwaway ones without)."""
    from agrad._core.primitive import PRIMITIVES

    ours = [n for n in rules_missing() if PRIMITIVES[n].fwd.__module__.startswith("agrad")]
    assert ours == []
