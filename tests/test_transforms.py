"""The functional API and higher-order derivatives, against analytic results on every backend."""

import numpy as np
import pytest

import agrad
from agrad import Tensor
from agrad.testing import randn
from tests.helpers import assert_close, to_np

pytestmark = pytest.mark.requires("float64")
F64 = agrad.float64


def vec(values):
    return Tensor(agrad.get_backend().asarray(np.asarray(values, dtype=np.float64)))


def rosenbrock(x):
    return agrad.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosenbrock_hessian(x):
    n = len(x)
    h = np.zeros((n, n))
    for i in range(n - 1):
        h[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        h[i + 1, i + 1] += 200
        h[i, i + 1] = h[i + 1, i] = -400 * x[i]
    return h


X0 = [0.3, -1.2, 0.8, 1.5]


@pytest.mark.parametrize("how", ["hessian", "jacrev_jacrev", "jacfwd_jacfwd", "jacobian_fwd_rev"])
def test_rosenbrock_hessian_is_analytic(how):
    x = vec(X0)
    h = {
        "hessian": lambda: agrad.hessian(rosenbrock)(x),
        "jacrev_jacrev": lambda: agrad.jacrev(agrad.jacrev(rosenbrock))(x),
        "jacfwd_jacfwd": lambda: agrad.jacfwd(agrad.jacfwd(rosenbrock))(x),
        "jacobian_fwd_rev": lambda: agrad.jacobian(agrad.jacobian(rosenbrock, mode="rev"), mode="fwd")(x),
    }[how]()
    assert isinstance(h, Tensor) and h.shape == (4, 4)
    assert_close(h, rosenbrock_hessian(X0), rtol=1e-12, atol=1e-10)


def test_logsumexp_hessian_is_softmax_covariance():
    x = randn(5, dtype=F64, seed=3)
    h = agrad.hessian(lambda x: agrad.log(agrad.sum(agrad.exp(x))))(x)
    p = np.exp(to_np(x)) / np.exp(to_np(x)).sum()
    assert_close(h, np.diag(p) - np.outer(p, p), rtol=1e-10, atol=1e-12)


def test_quadratic_form_hessian_and_gradient():
    a = randn(4, 4, dtype=F64, seed=1, requires_grad=False)
    b = randn(4, dtype=F64, seed=2, requires_grad=False)
    x = randn(4, dtype=F64, seed=3)

    def f(x):
        return x @ (a @ x) + b @ x

    an = to_np(a)
    assert_close(agrad.grad(f)(x), (an + an.T) @ to_np(x) + to_np(b), rtol=1e-12)
    assert_close(agrad.hessian(f)(x), an + an.T, rtol=1e-12, atol=1e-12)


def _tanh3(t):
    return -2 + 8 * t**2 - 6 * t**4


def test_third_derivative_of_tanh_three_ways():
    x = randn(6, dtype=F64, seed=4)
    expected = _tanh3(np.tanh(to_np(x)))

    def d(f):  # element-wise derivative of an element-wise f
        return agrad.grad(lambda x: agrad.sum(f(x)))

    assert_close(d(d(d(agrad.tanh)))(x), expected, rtol=1e-10, atol=1e-12)

    ones = agrad.ones_like(x)

    def fwd(f):
        return lambda x: agrad.jvp(f, (x,), (ones,))[1]

    assert_close(fwd(fwd(fwd(agrad.tanh)))(x), expected, rtol=1e-10, atol=1e-12)

    # the engine's own API: backward(create_graph=True) twice, then a plain backward
    y = agrad.sum(agrad.tanh(x))
    y.backward(create_graph=True)
    g1 = x.grad_tensor
    agrad.sum(g1).backward(create_graph=True)
    g2 = x.grad_tensor
    agrad.sum(g2).backward()
    assert_close(x.grad, expected, rtol=1e-10, atol=1e-12)


def test_hvp_equals_hessian_times_vector():
    x = vec(X0)
    v = randn(4, dtype=F64, seed=5, requires_grad=False)
    hv = agrad.hvp(rosenbrock, (x,), (v,))
    assert_close(hv, rosenbrock_hessian(X0) @ to_np(v), rtol=1e-12, atol=1e-10)
    assert_close(hv, to_np(agrad.hessian(rosenbrock)(x)) @ to_np(v), rtol=1e-12, atol=1e-10)


def test_hvp_of_two_arguments():
    a, b = randn(3, dtype=F64, seed=1), randn(3, dtype=F64, seed=2)
    va, vb = randn(3, dtype=F64, seed=3), randn(3, dtype=F64, seed=4)

    def f(a, b):
        return agrad.sum(agrad.sin(a) * b * b)

    ha, hb = agrad.hvp(f, (a, b), (va, vb))
    an, bn, van, vbn = map(to_np, (a, b, va, vb))
    # f_aa = -sin(a) b^2, f_ab = 2 b cos(a), f_bb = 2 sin(a)  (all diagonal)
    assert_close(ha, -np.sin(an) * bn**2 * van + 2 * bn * np.cos(an) * vbn, rtol=1e-12)
    assert_close(hb, 2 * bn * np.cos(an) * van + 2 * np.sin(an) * vbn, rtol=1e-12)


def test_forward_over_reverse_equals_reverse_over_reverse():
    x = randn(5, dtype=F64, seed=6)
    v = randn(5, dtype=F64, seed=7)

    def f(x):
        return agrad.sum(agrad.exp(agrad.sin(x)) * x)

    fwd_rev = agrad.jvp(agrad.grad(f), (x,), (v,))[1]
    rev_rev = agrad.grad(lambda x: agrad.sum(agrad.grad(f)(x) * v))(x)
    rev_fwd = agrad.grad(lambda x: agrad.jvp(f, (x,), (v,))[1])(x)
    assert_close(fwd_rev, rev_rev, rtol=1e-12)
    assert_close(rev_fwd, rev_rev, rtol=1e-12)


def test_no_perturbation_confusion_in_reverse_mode():
    # d/dx [x * (d/dy x*y)] = d/dx [x * x] = 2x; confusing the two variables would give 4x
    def f(x):
        return x * agrad.grad(lambda y: x * y)(x)

    assert float(agrad.grad(f)(3.0)) == 6.0


def test_no_perturbation_confusion_in_forward_mode():
    # Siskind & Pearlmutter: D(x -> x * D(y -> x + y)(1))(1) = 1, not 2
    def f(x):
        return x * agrad.jvp(lambda y: x + y, (1.0,), (1.0,))[1]

    assert float(agrad.jvp(f, (1.0,), (1.0,))[1]) == 1.0


def test_jacobians_of_a_vector_function():
    a = randn(3, 4, dtype=F64, seed=1, requires_grad=False)
    x = randn(4, dtype=F64, seed=2)

    def f(x):
        return a @ agrad.tanh(x)

    expected = to_np(a) * (1 - np.tanh(to_np(x)) ** 2)
    assert_close(agrad.jacrev(f)(x), expected, rtol=1e-12)
    assert_close(agrad.jacfwd(f)(x), expected, rtol=1e-12)


def test_jacobian_layout_for_matrices_and_several_arguments():
    x = randn(2, 3, dtype=F64, seed=1)
    w = randn(3, dtype=F64, seed=2)
    jx, jw = agrad.jacrev(lambda x, w: x @ w, argnums=(0, 1))(x, w)
    fx, fw = agrad.jacfwd(lambda x, w: x @ w, argnums=(0, 1))(x, w)
    assert jx.shape == fx.shape == (2, 2, 3) and jw.shape == fw.shape == (2, 3)
    ex = np.zeros((2, 2, 3))
    for i in range(2):
        ex[i, i, :] = to_np(w)
    assert_close(jx, ex)
    assert_close(fx, ex)
    assert_close(jw, to_np(x))
    assert_close(fw, to_np(x))


def test_grad_over_pytrees_with_aux_and_argnums():
    params = {"w": randn(3, 2, dtype=F64, seed=1), "b": [randn(2, dtype=F64, seed=2)]}
    x = randn(4, 3, dtype=F64, seed=3)

    def loss(params, x):
        h = x @ params["w"] + params["b"][0]
        return agrad.sum(h * h), h

    (value, h), (gp, gx) = agrad.value_and_grad(loss, argnums=(0, 1), has_aux=True)(params, x)
    hn = to_np(x) @ to_np(params["w"]) + to_np(params["b"][0])
    assert_close(value, (hn * hn).sum(), rtol=1e-12)
    assert set(gp) == {"w", "b"} and isinstance(gp["b"], list)
    assert_close(gp["w"], to_np(x).T @ (2 * hn), rtol=1e-12)
    assert_close(gp["b"][0], (2 * hn).sum(0), rtol=1e-12)
    assert_close(gx, 2 * hn @ to_np(params["w"]).T, rtol=1e-12)
    g, aux = agrad.grad(loss, has_aux=True)(params, x)
    assert_close(g["w"], gp["w"]) and assert_close(aux, h)


def test_raw_arrays_and_floats_in_tensors_out(backend):
    xp = backend.xp
    g = agrad.grad(lambda x: agrad.sum(x * x))(xp.asarray([1.0, 2.0], dtype=xp.float64))
    assert isinstance(g, Tensor) and not g.requires_grad
    assert_close(g, [2.0, 4.0])
    d2 = agrad.grad(agrad.grad(lambda x: x**3))(2.0)
    assert isinstance(d2, Tensor) and float(d2) == 12.0
    out, t = agrad.jvp(agrad.sin, (0.5,), (2.0,))
    assert isinstance(out, Tensor) and isinstance(t, Tensor)
    np.testing.assert_allclose(float(t), 2 * np.cos(0.5), rtol=1e-6)


def test_vjp_fn_can_be_called_repeatedly_with_pytree_outputs():
    x = randn(3, dtype=F64, seed=1)
    out, pull = agrad.vjp(lambda x: {"a": x * 2.0, "b": agrad.exp(x)}, x)
    assert set(out) == {"a", "b"}
    u = {"a": randn(3, dtype=F64, seed=2, requires_grad=False),
         "b": randn(3, dtype=F64, seed=3, requires_grad=False)}
    (g1,) = pull(u)
    (g2,) = pull(u)
    expected = 2 * to_np(u["a"]) + np.exp(to_np(x)) * to_np(u["b"])
    assert_close(g1, expected, rtol=1e-12)
    assert_close(g2, expected, rtol=1e-12)


def test_unused_input_gets_a_zero_gradient():
    x, y = randn(3, dtype=F64, seed=1), randn(2, dtype=F64, seed=2)
    gx, gy = agrad.grad(lambda x, y: agrad.sum(x), argnums=(0, 1))(x, y)
    assert_close(gx, np.ones(3))
    assert_close(gy, np.zeros(2))
    _, t = agrad.jvp(lambda x: y * 2.0, (x,), (x,))
    assert_close(t, np.zeros(2))


def test_top_level_results_are_constants_and_nested_ones_are_differentiable():
    x = randn(3, dtype=F64, seed=1)
    g = agrad.grad(lambda x: agrad.sum(x**3))(x)
    assert not g.requires_grad and g.is_leaf
    y = agrad.sum(agrad.exp(x))  # x's own recorded graph: grad of a function of y stays live
    gy = agrad.grad(lambda t: t * t)(y)
    assert gy.requires_grad
    assert_close(gy, 2 * to_np(y), rtol=1e-12)
    gy.backward()  # d(2y)/dx
    assert_close(x.grad, 2 * np.exp(to_np(x)), rtol=1e-12)


def test_clear_errors():
    x = randn(3, dtype=F64, seed=1)
    with pytest.raises(ValueError, match="must return a scalar"):
        agrad.grad(lambda x: x * 2.0)(x)
    with pytest.raises(TypeError, match="cannot differentiate with respect to an input of dtype"):
        agrad.grad(lambda i: agrad.sum(i))(agrad.asarray([1, 2]))
    with pytest.raises(ValueError, match="tangent of shape"):
        agrad.jvp(agrad.sin, (x,), (randn(4, dtype=F64, seed=2),))
    with pytest.raises(ValueError, match="argnums"):
        agrad.grad(agrad.sum, argnums=2)(x)
    with pytest.raises(ValueError, match="mode must be"):
        agrad.jacobian(agrad.sin, mode="sideways")
    reverse_only = agrad.primitive("reverse_only", lambda xp, a: a * 2.0,
                                   vjp=(lambda xp, g, ans, a: g * 2.0,))
    with pytest.raises(NotImplementedError, match=r"agrad\.reverse_only has no JVP rule"):
        agrad.jvp(lambda x: reverse_only(x), (x,), (x,))


def test_torch_func_agrees(backend):
    torch = pytest.importorskip("torch")
    from torch import func as tf

    xn = np.array([0.3, -0.7, 1.1, 0.4])
    vn = np.array([0.5, -1.0, 0.25, 2.0])
    x, v = vec(xn), vec(vn)
    xt, vt = torch.tensor(xn), torch.tensor(vn)

    def f_agrad(x):
        return agrad.sum(agrad.tanh(x) * agrad.exp(0.5 * x) + x**3)

    def f_torch(x):
        return torch.sum(torch.tanh(x) * torch.exp(0.5 * x) + x**3)

    def g_agrad(x):
        return agrad.sin(x) * agrad.sum(x * x)

    def g_torch(x):
        return torch.sin(x) * torch.sum(x * x)

    def check(ours, theirs):
        assert_close(ours, theirs.detach().numpy(), rtol=1e-12, atol=1e-12)

    check(agrad.grad(f_agrad)(x), tf.grad(f_torch)(xt))
    check(agrad.grad(lambda x: agrad.sum(agrad.grad(f_agrad)(x) * v))(x),
          tf.grad(lambda x: torch.sum(tf.grad(f_torch)(x) * vt))(xt))
    check(agrad.jvp(g_agrad, (x,), (v,))[1], tf.jvp(g_torch, (xt,), (vt,))[1])
    check(agrad.vjp(g_agrad, x)[1](v)[0], tf.vjp(g_torch, xt)[1](vt)[0])
    check(agrad.hessian(f_agrad)(x), tf.hessian(f_torch)(xt))
    check(agrad.jacrev(g_agrad)(x), tf.jacrev(g_torch)(xt))
    check(agrad.jacfwd(g_agrad)(x), tf.jacfwd(g_torch)(xt))
