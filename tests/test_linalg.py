"""``agrad.linalg``: gradients (finite differences in float64, random cotangents), agreement with
``torch.linalg``'s gradients, JVP rules, higher-order derivatives and shape properties."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import agrad
from agrad import linalg as la
from agrad._core.engine import backprop
from agrad._core.primitive import raw_ops
from agrad.testing import gradcheck, randn
from tests.helpers import assert_close, tensor_from_np, to_np

pytestmark = pytest.mark.requires("float64")
F64 = agrad.float64


def r(*shape, seed=0):
    return randn(*shape, dtype=F64, seed=seed)


def sym(x):
    """Symmetric inputs: eigh and cholesky read one triangle, so perturb symmetrically."""
    return (x + agrad.matrix_transpose(x)) * 0.5


def spd(x):
    """A well-conditioned symmetric positive-definite matrix built from ``x``."""
    n = x.shape[-1]
    return x @ agrad.matrix_transpose(x) + n * la.matrix_power(x, 0)


def full_svd_leading(x):
    """``svd(full_matrices=True)`` restricted to the columns/rows that are unique."""
    u, s, vh = la.svd(x)
    k = min(x.shape[-2:])
    return u[..., :, :k], s, vh[..., :k, :]


# --- gradcheck, every differentiable function -------------------------------------------------------

CASES = {
    "solve": (la.solve, [(3, 3), (3, 2)]),
    "solve_vector": (la.solve, [(2, 3, 3), (3,)]),
    "solve_batch_broadcast": (la.solve, [(2, 1, 3, 3), (4, 3, 2)]),
    "inv": (la.inv, [(2, 3, 3)]),
    "det": (la.det, [(2, 3, 3)]),
    "slogdet": (lambda a: tuple(la.slogdet(a)), [(2, 3, 3)]),
    "cholesky": (lambda x: la.cholesky(spd(x)), [(2, 3, 3)]),
    "cholesky_upper": (lambda x: la.cholesky(spd(x), upper=True), [(3, 3)]),
    "qr_tall": (lambda x: tuple(la.qr(x)), [(2, 4, 3)]),
    "qr_square_complete": (lambda x: tuple(la.qr(x, mode="complete")), [(3, 3)]),
    "eigh": (lambda x: tuple(la.eigh(sym(x))), [(2, 4, 4)]),
    "eigvalsh": (lambda x: la.eigvalsh(sym(x)), [(4, 4)]),
    "svd_tall": (lambda x: tuple(la.svd(x, full_matrices=False)), [(2, 4, 3)]),
    "svd_wide": (lambda x: tuple(la.svd(x, full_matrices=False)), [(3, 5)]),
    "svd_square": (lambda x: tuple(la.svd(x)), [(3, 3)]),
    "svd_full_tall": (full_svd_leading, [(4, 2)]),
    "svd_full_wide": (full_svd_leading, [(2, 4)]),
    "svdvals": (la.svdvals, [(2, 3, 4)]),
    "pinv_tall": (la.pinv, [(4, 3)]),
    "pinv_wide": (la.pinv, [(2, 2, 4)]),
    "matrix_power_3": (lambda x: la.matrix_power(x, 3), [(2, 3, 3)]),
    "matrix_power_-2": (lambda x: la.matrix_power(x, -2), [(3, 3)]),
    "cross": (la.cross, [(4, 3), (3,)]),
    "cross_axis": (lambda a, b: la.cross(a, b, axis=-2), [(2, 3, 2), (3, 1)]),
    "outer": (la.outer, [(3,), (4,)]),
    "trace": (la.trace, [(2, 3, 4)]),
    "trace_offset": (lambda x: la.trace(x, offset=1), [(3, 4)]),
    "diagonal_lower": (lambda x: la.diagonal(x, offset=-2), [(2, 4, 3)]),
    "tensordot_int": (lambda a, b: la.tensordot(a, b, axes=2), [(2, 3, 4), (3, 4, 2)]),
    "tensordot_lists": (lambda a, b: la.tensordot(a, b, axes=([0, 2], [2, 0])), [(2, 3, 4), (4, 5, 2)]),
    "vecdot": (lambda a, b: la.vecdot(a, b, axis=-2), [(2, 3, 4), (3, 1)]),
    "matmul": (la.matmul, [(2, 3), (3, 4)]),
    "matrix_transpose": (la.matrix_transpose, [(2, 3, 4)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck(name):
    fn, shapes = CASES[name]
    gradcheck(fn, *(r(*s, seed=i + 1) for i, s in enumerate(shapes)))


@pytest.mark.parametrize("order", [2, 1, 3, 0.5, 0, math.inf, -math.inf, -1.5])
@pytest.mark.parametrize("axis", [None, 1, (0, 2)])
def test_vector_norm_gradcheck(order, axis):
    gradcheck(lambda x: la.vector_norm(x, axis=axis, ord=order, keepdims=axis == 1), r(2, 3, 4, seed=2))


@pytest.mark.parametrize("order", ["fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf])
def test_matrix_norm_gradcheck(order):
    gradcheck(lambda x: la.matrix_norm(x, ord=order), r(2, 4, 3, seed=3))
    gradcheck(lambda x: la.matrix_norm(x, ord=order, keepdims=True), r(3, 3, seed=4))


# --- values ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("order", ["fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf])
def test_matrix_norm_values(order):
    x = r(2, 4, 3, seed=5)
    assert_close(la.matrix_norm(x, ord=order), np.linalg.norm(to_np(x), ord=order, axis=(-2, -1)))


def test_named_results_and_values():
    a = spd(r(3, 3, seed=6)).detach()
    na = to_np(a)
    res = la.eigh(a)
    assert isinstance(res, la.EighResult) and res.eigenvalues is res[0]
    assert_close(res.eigenvalues, np.linalg.eigvalsh(na))
    q, rr = la.qr(a)
    assert_close(q @ rr, na)
    u, s, vh = la.svd(a)
    assert_close((u * s) @ vh, na)
    sign, logabs = la.slogdet(a)
    assert_close(sign * agrad.exp(logabs), np.linalg.det(na))
    assert_close(la.solve(a, r(3, seed=1)), np.linalg.solve(na, to_np(r(3, seed=1))))
    assert int(la.matrix_rank(a).item()) == 3
    assert int(la.matrix_rank(la.outer(r(3, seed=1), r(3, seed=2))).item()) == 1
    assert_close(la.matrix_power(a, 0), np.eye(3))


@pytest.mark.parametrize("order", [2, 1, 3, 0.5, 0, math.inf])
def test_vector_norm_zero_vector_has_zero_subgradient(order):
    z = tensor_from_np(np.zeros((2, 3)))
    la.vector_norm(z, ord=order).backward()
    assert np.array_equal(to_np(z.grad), np.zeros((2, 3)))


def test_vector_norm_tied_inf_norm_shares_gradient():
    x = tensor_from_np(np.array([3.0, -3.0, 1.0]))
    la.vector_norm(x, ord=math.inf).backward()
    assert_close(x.grad, [0.5, -0.5, 0.0])


# --- agreement with torch.linalg ------------------------------------------------------------------


def _grads(fn, inputs, seed=7):
    """Gradients of ``sum(c * fn(*inputs))`` for fixed random ``c`` (one per output)."""
    outs = fn(*inputs)
    outs = outs if isinstance(outs, tuple) else (outs,)
    rng = np.random.default_rng(seed)
    cots = [rng.standard_normal(tuple(o.shape)) for o in outs]
    return cots, backprop(outs, [tensor_from_np(c, False).value for c in cots], inputs=list(inputs))


# Gauge-invariant outputs (eigenvector/singular-vector signs differ between libraries): squares.
TORCH_CASES = {
    "solve": (la.solve, "linalg.solve", [(2, 3, 3), (3, 2)]),
    "inv": (la.inv, "linalg.inv", [(3, 3)]),
    "det": (la.det, "linalg.det", [(2, 3, 3)]),
    "slogdet": (lambda a: la.slogdet(a)[1], lambda t, a: t.linalg.slogdet(a)[1], [(3, 3)]),
    "cholesky": (lambda x: la.cholesky(spd(x)), None, [(3, 3)]),
    "qr": (lambda x: tuple(la.qr(x)), lambda t, a: tuple(t.linalg.qr(a)), [(4, 3)]),
    "eigh": (lambda x: (la.eigh(sym(x))[0], la.eigh(sym(x))[1] ** 2), None, [(4, 4)]),
    "svd": (lambda x: (la.svd(x, full_matrices=False)[0] ** 2, la.svd(x, full_matrices=False)[1]),
            lambda t, a: (t.linalg.svd(a, full_matrices=False)[0] ** 2, t.linalg.svdvals(a)), [(4, 3)]),
    "pinv": (la.pinv, "linalg.pinv", [(3, 4)]),
    "vector_norm_3": (lambda x: la.vector_norm(x, ord=3, axis=-1), lambda t, a: t.linalg.vector_norm(
        a, ord=3, dim=-1), [(3, 4)]),
    "matrix_norm_nuc": (lambda x: la.matrix_norm(x, ord="nuc"), lambda t, a: t.linalg.matrix_norm(
        a, ord="nuc"), [(3, 4)]),
    "cross": (la.cross, "linalg.cross", [(2, 3), (2, 3)]),
    "tensordot": (lambda a, b: la.tensordot(a, b, axes=1), lambda t, a, b: t.tensordot(a, b, dims=1),
                  [(2, 3), (3, 4)]),
}


def _torch_fn(name, mine):
    torch = pytest.importorskip("torch")
    if mine is None:  # the same composition written with torch's functions
        return {"cholesky": lambda a: torch.linalg.cholesky(_t_spd(torch, a)),
                "eigh": lambda a: _t_eigh(torch, a)}[name]
    if isinstance(mine, str):
        fn = torch
        for part in mine.split("."):
            fn = getattr(fn, part)
        return fn
    return lambda *a: mine(torch, *a)


def _t_spd(torch, a):
    return a @ a.mT + a.shape[-1] * torch.eye(a.shape[-1], dtype=a.dtype)


def _t_eigh(torch, a):
    w, v = torch.linalg.eigh((a + a.mT) / 2)
    return w, v**2


@pytest.mark.parametrize("name", sorted(TORCH_CASES))
def test_gradients_match_torch(name):
    torch = pytest.importorskip("torch")
    mine, theirs, shapes = TORCH_CASES[name]
    theirs = _torch_fn(name, theirs)
    inputs = [r(*s, seed=i + 10) for i, s in enumerate(shapes)]
    cots, grads = _grads(mine, inputs)
    t_inputs = [torch.tensor(to_np(x), requires_grad=True) for x in inputs]
    outs = theirs(*t_inputs)
    outs = outs if isinstance(outs, tuple) else (outs,)
    torch.autograd.backward(outs, [torch.tensor(c) for c in cots])
    for x, tx in zip(inputs, t_inputs):
        assert_close(grads[id(x)][1], tx.grad.numpy(), rtol=1e-7, atol=1e-9)


# --- JVP rules: directional derivatives against central differences ---------------------------------


JVP_CASES = {
    "solve": (la._solvers.solve_p, [(2, 3, 3), (3, 2)], {}),
    "inv": (la._solvers.inv_p, [(3, 3)], {}),
    "det": (la._solvers.det_p, [(2, 3, 3)], {}),
    "slogdet": (la._solvers.slogdet_p, [(3, 3)], {}),
    "cholesky": (la._decompositions.cholesky_p, [(3, 3)], {}),
    "qr": (la._decompositions.qr_p, [(4, 3)], {"mode": "reduced"}),
    "eigh": (la._decompositions.eigh_p, [(3, 3)], {}),
    "svd_tall": (la._decompositions.svd_p, [(2, 4, 3)], {"full_matrices": False}),
    "svd_wide": (la._decompositions.svd_p, [(3, 5)], {"full_matrices": False}),
    "svd_square_full": (la._decompositions.svd_p, [(3, 3)], {"full_matrices": True}),
    "pinv_tall": (la._solvers.pinv_p, [(4, 3)], {"rtol": None}),
    "pinv_wide": (la._solvers.pinv_p, [(2, 5)], {"rtol": None}),
    "vector_norm": (la._norms.vector_norm_p, [(3, 4)], {"axis": 1, "keepdims": False, "ord": 3.0}),
    "diagonal": (la._products.diagonal_p, [(3, 4)], {"offset": 1}),
    "cross": (la._products.cross_p, [(2, 3), (3,)], {"axis": -1}),
}


def _jvp_point(name, shape, seed):
    x = to_np(r(*shape, seed=seed))
    if name in ("cholesky", "eigh"):  # symmetric (positive-definite) point, symmetric direction
        x = x @ x.T + 3 * np.eye(shape[-1]) if name == "cholesky" else (x + x.T) / 2
    return x


@pytest.mark.parametrize("name", sorted(JVP_CASES))
def test_jvp_rules_match_finite_differences(name):
    prim, shapes, params = JVP_CASES[name]
    be = agrad.get_backend()
    xs = [_jvp_point(name, s, seed=i + 1) for i, s in enumerate(shapes)]
    ds = [_jvp_point(name, s, seed=i + 20) for i, s in enumerate(shapes)]
    raw = [be.asarray(x) for x in xs]
    ans = prim.impl(be)(be.xp, *raw, **params)
    total = None
    for i, d in enumerate(ds):
        part = prim.jvp[i](raw_ops(be), be.asarray(d), ans, *raw, **params)
        part = part if isinstance(part, tuple) else (part,)
        total = [to_np(p) for p in part] if total is None else [t + to_np(p) for t, p in zip(total, part)]
    eps = 1e-6

    def at(t):
        out = prim.impl(be)(be.xp, *(be.asarray(x + t * d) for x, d in zip(xs, ds)), **params)
        return [to_np(o) for o in (out if isinstance(out, tuple) else (out,))]

    numeric = [(p - m) / (2 * eps) for p, m in zip(at(eps), at(-eps))]
    for n, a in zip(numeric, total):
        np.testing.assert_allclose(a, n, rtol=1e-5, atol=1e-6)


# --- higher order: the rules themselves are differentiable --------------------------------------------


def _first_grad(fn):
    def grad(x):
        with agrad.enable_grad():  # gradcheck evaluates its probes under no_grad
            x = x if x.requires_grad else x.detach().requires_grad_()
            out = fn(x)
            c = tensor_from_np(np.random.default_rng(3).standard_normal(out.shape), False)
            return backprop([out], [c], inputs=[x], create_graph=True)[id(x)][1]

    return grad


@pytest.mark.parametrize("name", ["det", "inv", "slogdet", "eigvalsh", "cholesky", "vector_norm", "svdvals",
                                  "solve", "diagonal", "cross"])
def test_second_derivatives(name):
    fn = {
        "det": la.det, "inv": la.inv, "slogdet": lambda x: la.slogdet(x)[1],
        "eigvalsh": lambda x: la.eigvalsh(sym(x)), "cholesky": lambda x: la.cholesky(spd(x)),
        "vector_norm": lambda x: la.vector_norm(x, ord=3, axis=0), "svdvals": la.svdvals,
        "solve": lambda x: la.solve(x, agrad.ones((3,), dtype=F64)),
        "diagonal": lambda x: la.diagonal(x * x, offset=-1),
        "cross": lambda x: la.cross(x, x * x, axis=-2),
    }[name]
    gradcheck(_first_grad(fn), r(3, 3, seed=8))


# --- properties over batched shapes ----------------------------------------------------------------


@settings(max_examples=8, deadline=None)
@given(batch=st.lists(st.integers(1, 3), max_size=2), n=st.integers(1, 4), seed=st.integers(0, 10**6))
def test_inverse_solve_det_agree_on_batches(batch, n, seed):
    a = 0.3 * r(*batch, n, n, seed=seed) + 3 * la.matrix_power(r(n, n, seed=seed), 0)  # well-conditioned
    b = r(n, 2, seed=seed + 1)
    x = la.solve(a, b)
    assert tuple(x.shape) == (*batch, n, 2)
    assert_close(x, la.inv(a) @ b, rtol=1e-8, atol=1e-10)
    sign, logabs = la.slogdet(a)
    assert_close(la.det(a), sign * agrad.exp(logabs), rtol=1e-8, atol=1e-12)
    gradcheck(la.solve, a, b)


@settings(max_examples=8, deadline=None)
@given(batch=st.lists(st.integers(1, 2), max_size=2), m=st.integers(1, 4), n=st.integers(1, 4),
       seed=st.integers(0, 10**6))
def test_svdvals_and_norms_on_batches(batch, m, n, seed):
    x = r(*batch, m, n, seed=seed)
    s = la.svdvals(x)
    assert tuple(s.shape) == (*batch, min(m, n))
    assert_close(la.vector_norm(s, axis=-1), la.matrix_norm(x), rtol=1e-9)
    gradcheck(lambda y: la.matrix_norm(y, ord="nuc"), x)


# --- errors ----------------------------------------------------------------------------------------


def test_clear_errors():
    with pytest.raises(ValueError, match=r"linalg.solve.*square"):
        la.solve(r(3, 2), r(3))
    with pytest.raises(ValueError, match=r"linalg.det.*\(3,\)"):
        la.det(r(3))
    with pytest.raises(ValueError, match="size 3"):
        la.cross(r(2, 4), r(2, 4))
    with pytest.raises(ValueError, match="do not broadcast"):
        la.solve(r(2, 3, 3), r(4, 3, 1))
    with pytest.raises(ValueError, match="ord must be one of"):
        la.matrix_norm(r(3, 3), ord=3)
    with pytest.raises(TypeError, match="n must be a Python int"):
        la.matrix_power(r(3, 3), 1.5)
    q, rr = la.qr(r(2, 4, seed=1))
    with pytest.raises(NotImplementedError, match=r"M >= N"):
        (q.sum() + rr.sum()).backward()


@pytest.mark.requires("complex")
def test_complex_gradient_is_refused_clearly():
    x = agrad.Tensor(agrad.get_backend().asarray(np.eye(2) * (1 + 1j)), requires_grad=True)
    y = la.inv(x)
    assert_close(y, np.linalg.inv(np.eye(2) * (1 + 1j)))
    with pytest.raises(NotImplementedError, match="complex"):
        backprop([y], [agrad.get_backend().asarray(np.ones((2, 2), dtype=complex))])
