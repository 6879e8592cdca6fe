"""``agrad.jit`` against eager, on every backend: every case of the recipe table (values and
VJPs, the backward pass compiled too), composition with the other transforms, retracing and the
cache, closures, random numbers, and the errors."""

from __future__ import annotations

import pytest

import agrad
import agrad.nn.functional as F
from agrad.testing import randn
from tests.helpers import to_np
from tests.primitive_recipes import CASES, FORWARD_CALLS, forward_input, make_inputs, needs

BY_NAME = {n: (call, specs) for n, call, specs in CASES}


def _leaves(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _close(got, want, what=""):
    got, want = _leaves(got), _leaves(want)
    assert len(got) == len(want), what
    for g, w in zip(got, want):
        assert tuple(g.shape) == tuple(w.shape), what
        assert to_np(g.value) == pytest.approx(to_np(w.value), rel=1e-12, abs=1e-12), what


@pytest.mark.requires("float64")
@pytest.mark.parametrize("name", list(BY_NAME))
def test_jit_equals_eager(name, backend):
    lacking = needs(name, backend)
    if lacking:
        pytest.skip(f"backend {backend.name!r} lacks the capability {lacking!r}")
    call, specs = BY_NAME[name]
    inputs = make_inputs(agrad, specs, agrad.float64, seed=len(name))
    others = make_inputs(agrad, specs, agrad.float64, seed=len(name) + 100)  # same shapes

    def f(*ts):
        return call(agrad, *ts)

    jf = agrad.jit(f)
    _close(jf(*inputs), f(*inputs), name)  # the tracing call
    _close(jf(*others), f(*others), name)  # the program, on other values: nothing baked in
    assert jf.traces == 1
    # the VJP, compiled: jit of a function that returns the cotangents for random ones
    outs = _leaves(f(*inputs))
    cts = [randn(*o.shape, dtype=agrad.float64, seed=40 + k) for k, o in enumerate(outs)]

    def pulled(*ts):
        _, pull = agrad.vjp(f, *ts)
        return pull(cts[0] if len(cts) == 1 and not isinstance(f(*ts), (tuple, list))
                    else type(f(*ts))(cts))

    jp = agrad.jit(pulled)
    jp(*inputs)
    _close(jp(*others), pulled(*others), f"vjp of {name}")


@pytest.mark.parametrize("name", ["nonzero", "unique_values", "unique_counts"])
def test_data_dependent_shapes_are_refused(name, backend):
    if not backend.capabilities.data_dependent_shapes:
        pytest.skip(f"backend {backend.name!r} lacks the capability 'data_dependent_shapes'")
    x = forward_input(agrad)
    with pytest.raises(agrad.TracingError, match=name):
        agrad.jit(lambda t: FORWARD_CALLS[name](agrad, t))(x)


def loss(w, x, y):
    return F.cross_entropy(agrad.tanh(x @ w[0]) @ w[1], y)


def _data():
    w = [randn(5, 8, dtype=agrad.float64, seed=1) * 0.5, randn(8, 3, dtype=agrad.float64, seed=2)]
    x = randn(16, 5, dtype=agrad.float64, seed=3)
    y = agrad.asarray([0, 1, 2, 1] * 4)
    return w, x, y


def test_a_training_loop_of_jitted_value_and_grad_equals_eager(backend):
    w, x, y = _data()
    step = agrad.jit(agrad.value_and_grad(loss))
    we = [t.detach() for t in w]
    wj = [t.detach() for t in w]
    for _ in range(20):
        le, ge = agrad.value_and_grad(loss)(we, x, y)
        lj, gj = step(wj, x, y)
        _close(lj, le)
        we = [t - 0.5 * g for t, g in zip(we, ge)]
        wj = [t - 0.5 * g for t, g in zip(wj, gj)]
    assert step.traces == 1
    _close(wj, we)


def test_grad_of_jit_and_jit_of_grad(backend):
    w, x, y = _data()
    jl = agrad.jit(loss)
    _close(agrad.grad(jl)(w, x, y), agrad.grad(loss)(w, x, y))
    # a top-level call on inputs that require grad records one node: backward works through it
    ws = [t.detach().requires_grad_() for t in w]
    jl(ws, x, y)
    out = jl(ws, x, y)
    out.backward()
    want = agrad.grad(loss)(w, x, y)
    for t, g in zip(ws, want):
        assert to_np(t.grad) == pytest.approx(to_np(g.value), rel=1e-12)
    _close(agrad.jit(agrad.grad(loss))(w, x, y), want)


def test_jit_composes_with_vmap_and_jvp(backend):
    x = randn(4, 3, dtype=agrad.float64, seed=5)
    t = randn(4, 3, dtype=agrad.float64, seed=6)

    def f(v):
        return agrad.sum(agrad.sin(v) * v)

    per_example = agrad.vmap(agrad.grad(f))
    _close(agrad.jit(per_example)(x), per_example(x))
    _close(agrad.vmap(agrad.jit(agrad.grad(f)))(x), per_example(x))
    jv = agrad.jit(lambda a, b: agrad.jvp(f, (a,), (b,))[1])
    jv(x, t)
    _close(jv(x, t), agrad.jvp(f, (x,), (t,))[1])


def test_new_shapes_retrace_and_static_arguments_key_the_cache(backend, capsys):
    def f(x, n):
        for _ in range(n):  # Python control flow on a static argument runs at trace time
            x = agrad.sin(x)
        return x

    jf = agrad.jit(f, static_argnums=1, explain_retrace=True)
    a = randn(3, dtype=agrad.float64, seed=7)
    _close(jf(a, 2), f(a, 2))
    _close(jf(a, 2), f(a, 2))
    assert jf.traces == 1
    _close(jf(a, 3), f(a, 3))
    b = randn(4, dtype=agrad.float64, seed=8)
    _close(jf(b, 3), f(b, 3))
    assert jf.traces == 3
    err = capsys.readouterr().err
    assert "first call" in err and "static arguments" in err and "(3,)" in err
    small = agrad.jit(agrad.sin, cache_size=2)
    for n in (1, 2, 3):
        small(randn(n, dtype=agrad.float64, seed=n))
    assert len(small.cache) == 2
    kw = agrad.jit(lambda x, *, scale: x * scale, static_argnames="scale")
    _close(kw(a, scale=2.0), a * 2.0)
    _close(kw(a, scale=3.0), a * 3.0)
    assert kw.traces == 2


def test_closed_over_tensors_are_read_on_every_call(backend):
    w = randn(3, 2, dtype=agrad.float64, seed=9)
    x = randn(4, 3, dtype=agrad.float64, seed=10)
    jf = agrad.jit(lambda v: v @ w)
    _close(jf(x), x @ w)
    w.value = (w * 2.0).value
    _close(jf(x), x @ w)  # not a stale constant
    assert jf.traces == 1
    w.value = randn(3, 5, dtype=agrad.float64, seed=11).value
    _close(jf(x), x @ w)  # a new shape: traced again
    assert jf.traces == 2


def test_random_numbers_are_fresh_on_every_call_and_match_eager(backend):
    x = agrad.ones((200,), dtype=agrad.float64)
    jd = agrad.jit(lambda v: F.dropout(v, 0.5))
    agrad.manual_seed(3)
    first, second = jd(x), jd(x)
    assert (to_np(first.value) != to_np(second.value)).any()
    agrad.manual_seed(3)
    _close(first, F.dropout(x, 0.5))
    _close(second, F.dropout(x, 0.5))


def test_python_decisions_on_traced_values_are_clear_errors(backend):
    x = randn(3, dtype=agrad.float64, seed=12)
    for convert in (bool, float, lambda t: t.item()):
        with pytest.raises(agrad.TracingError, match="agrad.where"):
            agrad.jit(lambda v, c=convert: v * 2 if c(agrad.sum(v)) > 0 else v)(x)
    with pytest.raises(RuntimeError, match="value_and_grad"):
        agrad.jit(lambda v: agrad.sum(v * v).backward())(x.detach().requires_grad_())


def test_the_program_prints_readably(backend):
    x = randn(3, dtype=agrad.float64, seed=13)
    text = repr(agrad.jit(lambda v: agrad.sum(agrad.exp(v) * 2.0)).program(x))
    assert "inputs v0" in text and "exp(v0)" in text and "multiply(" in text and "return" in text


def test_unused_and_repeated_work_is_dropped(backend):
    x = randn(3, dtype=agrad.float64, seed=14)

    def f(v):
        agrad.cos(v)  # unused
        return agrad.exp(v) + agrad.exp(v)  # computed once

    names = [e.prim.name for e in agrad.jit(f).program(x).equations]
    assert names == ["exp", "add"]


def test_traced_indices_are_inputs_not_constants(backend):
    """Positions computed from index arguments (negative ones, several arrays) are in the
    program: a second call with other indices gathers and scatters the other elements."""
    x = randn(5, 4, dtype=agrad.float64, seed=15)

    def gather(v, i, j):
        return agrad.take(v, i, axis=0), v[i, j], v[i]

    def scatter(v, i, j):
        y = v * 1.0
        y[i, j] = 7.0
        return y

    i1, j1 = agrad.asarray([0, -1, 2]), agrad.asarray([1, 3, -2])
    i2, j2 = agrad.asarray([4, 1, -3]), agrad.asarray([0, -1, 2])
    for fn in (gather, scatter):
        jf = agrad.jit(fn)
        _close(jf(x, i1, j1), fn(x, i1, j1))
        _close(jf(x, i2, j2), fn(x, i2, j2))
        assert jf.traces == 1
    with pytest.raises(agrad.TracingError, match="mask"):
        agrad.jit(lambda v: v[v > 0])(x)


@pytest.mark.backend_independent
def test_torch_compile_runs_the_program_when_asked():
    """``load_backend("torch", compile=True)``: agrad.jit hands the program to torch.compile (one
    end-to-end case: compiling takes seconds)."""
    pytest.importorskip("torch")
    be = agrad.load_backend("torch", compile=True)
    assert be.compiler is not None
    with agrad.using_backend(be):
        w, x, y = _data()
        step = agrad.jit(agrad.value_and_grad(loss))
        step(w, x, y)
        w2 = [t * 0.5 for t in w]
        got = step(w2, x, y)
        want = agrad.value_and_grad(loss)(w2, x, y)
    _close(got[0], want[0])
    _close(got[1], want[1])
