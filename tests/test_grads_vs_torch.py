"""agrad's gradients agree with PyTorch's: a representative real subset of the main namespace,
and complex functions under the conjugate Wirtinger convention (``abs``, ``exp``, ``multiply``,
``real``, ``imag``, ``conj``...). Random complex cotangents, never all-ones."""

from __future__ import annotations

import numpy as np
import pytest

import agrad
from tests.helpers import assert_close, to_np

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)


def _data(shape, complex_=False, positive=False):
    a = RNG.standard_normal(shape)
    if positive:
        a = np.abs(a) + 0.5
    if complex_:
        a = a + 1j * RNG.standard_normal(shape)
    return a


def _both(fn_agrad, fn_torch, arrays, backend):
    """Run both with the same inputs and a random cotangent; return both gradients per input."""
    ts = [agrad.Tensor(backend.asarray(a), requires_grad=True) for a in arrays]
    out = fn_agrad(agrad, *ts)
    cot = _data(out.shape, complex_=np.iscomplexobj(to_np(out)))
    out.backward(backend.asarray(cot))
    tt = [torch.tensor(a, requires_grad=True) for a in arrays]
    tout = fn_torch(torch, *tt)
    tout.backward(torch.tensor(cot))
    assert_close(out, tout.detach().resolve_conj().numpy(), rtol=1e-10)
    return [to_np(t.grad) for t in ts], [t.grad.resolve_conj().numpy() for t in tt]


REAL = [
    ("tanh", lambda m, x: m.tanh(x), [(3, 4)], {}),
    ("atan2", lambda m, x, y: m.atan2(x, y), [(3, 4), (4,)], {}),
    ("hypot", lambda m, x, y: m.hypot(x, y), [(3, 4), (3, 1)], {}),
    ("remainder", lambda m, x, y: m.remainder(x, y), [(3, 4), (4,)], {"positive": True}),
    ("logaddexp", lambda m, x, y: m.logaddexp(x, y), [(3, 4), (3, 4)], {}),
    ("prod", lambda m, x: m.prod(x, dim=1) if m is torch else m.prod(x, axis=1), [(3, 4)], {}),
    ("cumprod", lambda m, x: m.cumprod(x, dim=1) if m is torch else m.cumulative_prod(x, axis=1),
     [(3, 5)], {}),
    ("std", lambda m, x: m.std(x, dim=0, correction=1) if m is torch else m.std(x, axis=0, correction=1),
     [(5, 3)], {}),
    ("sort", lambda m, x: m.sort(x, dim=-1).values if m is torch else m.sort(x, axis=-1), [(3, 6)], {}),
    ("roll", lambda m, x: m.roll(x, 2, 1) if m is torch else m.roll(x, 2, axis=1), [(3, 6)], {}),
]


@pytest.mark.requires("float64")
@pytest.mark.parametrize("name,fn,shapes,kw", REAL, ids=[c[0] for c in REAL])
def test_real_gradients_agree_with_torch(name, fn, shapes, kw, backend):
    ours, theirs = _both(fn, fn, [_data(s, **kw) for s in shapes], backend)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.requires("float64")
def test_cumulative_prod_gradient_with_zeros_agrees_with_torch(backend):
    x = _data((2, 6))
    x[0, 2] = 0.0
    x[1, 1] = x[1, 4] = 0.0
    fn = lambda m, t: m.cumprod(t, dim=1) if m is torch else m.cumulative_prod(t, axis=1)  # noqa: E731
    ours, theirs = _both(fn, fn, [x], backend)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-9, atol=1e-12)
    fn = lambda m, t: m.prod(t, dim=1) if m is torch else m.prod(t, axis=1)  # noqa: E731
    ours, theirs = _both(fn, fn, [x], backend)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-9, atol=1e-12)


COMPLEX = [
    ("abs", lambda m, z: m.abs(z)),
    ("exp", lambda m, z: m.exp(z)),
    ("multiply", lambda m, z, w: z * w),
    ("divide", lambda m, z, w: z / (w + 3.0)),
    ("real", lambda m, z: m.real(z)),
    ("imag", lambda m, z: m.imag(z)),
    ("conj", lambda m, z: m.conj(z) * 1.0),
    ("log", lambda m, z: m.log(z)),
    ("sqrt", lambda m, z: m.sqrt(z)),
    ("sin", lambda m, z: m.sin(z)),
    ("tanh", lambda m, z: m.tanh(z)),
    ("square", lambda m, z: m.square(z)),
    ("sum", lambda m, z: m.sum(z * z, 0) if m is torch else m.sum(z * z, axis=0)),
]


@pytest.mark.requires("float64", "complex")
@pytest.mark.parametrize("name,fn", COMPLEX, ids=[c[0] for c in COMPLEX])
def test_complex_gradients_follow_the_conjugate_wirtinger_convention(name, fn, backend):
    n = fn.__code__.co_argcount - 1
    ours, theirs = _both(fn, fn, [_data((3, 4), complex_=True) for _ in range(n)], backend)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.requires("float64", "complex")
def test_real_input_promoted_to_complex_gets_a_real_gradient(backend):
    fn = lambda m, x: m.imag(x * (1.0 + 2.0j)) + m.real(x * (0.5 - 1.0j))  # noqa: E731
    ours, theirs = _both(fn, fn, [_data((4,))], backend)
    assert ours[0].dtype == np.float64
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12)
