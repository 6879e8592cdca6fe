"""agrad.nn / agrad.optim kernels against the portable references they replace, every backend
that registers them: forward and VJP (the raw-mode ``"<kernel>.vjp"`` pull-backs included),
float32 and float64, at sizes on both sides of the NumPy backend's Numba threshold.

Also: a ``".vjp"`` kernel is used only in the fast engine mode; ``create_graph=True`` runs the
portable rules (a backend only ever makes things faster, never different).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import agrad
import agrad.nn.functional as F
from agrad.optim.adam import adam_update
from tests.helpers import assert_close
from tests.test_kernels import BIG, data, needs_kernel, on, reference_of

DTYPES = {"float32": 2e-5, "float64": 1e-10}


def np_dtype(backend, name: str) -> str:
    if name == "float64" and not backend.capabilities.float64:
        pytest.skip(f"backend {backend.name!r} lacks the capability 'float64'")
    return name


def same_as_reference(backend, fn, *arrays, tol):
    out, grads = on(backend, fn, *arrays)
    ref_out, ref_grads = on(reference_of(backend), fn, *arrays)
    assert_close(out, ref_out, rtol=tol, atol=tol)
    assert len(grads) == len(ref_grads)
    for g, r in zip(grads, ref_grads):
        assert_close(g, r, rtol=tol, atol=tol)


CONV_CASES = [  # (x shape, w shape, stride, padding, dilation, groups)
    ((2, 3, 9, 8), (4, 3, 3, 3), 1, 0, 1, 1),
    ((2, 4, 10, 9), (6, 2, 3, 2), (2, 1), (1, 2), 1, 2),
    ((1, 2, 11, 11), (3, 2, 3, 3), 2, 1, (2, 1), 1),
    ((4, 8, 28, 28), (16, 8, 3, 3), 1, 1, 1, 1),  # above the threshold
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xs,ws,stride,padding,dilation,groups", CONV_CASES, ids=str)
def test_conv2d_kernels_match_reference(backend, dtype, xs, ws, stride, padding, dilation, groups):
    needs_kernel(backend, "conv2d")
    dt = np_dtype(backend, dtype)

    def fn(x, w):
        return F.conv2d(x, w, stride=stride, padding=padding, dilation=dilation, groups=groups)

    same_as_reference(backend, fn, data(xs, dt, 1), data(ws, dt, 2), tol=DTYPES[dtype] * 10)


POOL_CASES = [((2, 3, 8, 8), 2, 2, 0), ((2, 3, 9, 7), 3, 2, 1), ((8, 8, 26, 26), 2, 2, 0)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,k,s,p", POOL_CASES, ids=str)
def test_pool_kernels_match_reference(backend, dtype, shape, k, s, p):
    needs_kernel(backend, "max_pool2d")
    dt = np_dtype(backend, dtype)
    x = data(shape, dt, 3)
    same_as_reference(backend, lambda t: F.max_pool2d(t, k, s, p), x, tol=DTYPES[dtype])
    same_as_reference(backend, lambda t: F.avg_pool2d(t, k, s, p), x, tol=DTYPES[dtype])


ACTIVATIONS = {
    "relu": F.relu,
    "gelu": F.gelu,
    "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"),
    "erf": F.erf,
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", [7, BIG + 13], ids=lambda n: f"n{n}")
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_kernels_match_reference(backend, name, size, dtype):
    needs_kernel(backend, name.split("_")[0])
    dt = np_dtype(backend, dtype)
    x = data((size,), dt, 4) * 3
    x[:3] = 0.0, 4.5, -5.0  # relu's kink, erf's clamp
    same_as_reference(backend, ACTIVATIONS[name], x, tol=DTYPES[dtype])


def test_relu_kernel_keeps_nan_semantics(backend):
    needs_kernel(backend, "relu")
    x = data((BIG + 1,), "float32", 5)
    x[:2] = np.nan, -np.inf
    same_as_reference(backend, F.relu, x, tol=0.0)


def test_vjp_kernel_is_used_only_without_create_graph(backend):
    """A deliberately wrong ``gelu.vjp`` shows where it is used: the fast mode yes, create_graph no."""
    needs_kernel(backend, "gelu")
    wrong = {**backend.kernels, "gelu.vjp": lambda xp, g, ans, x, **p: [g * 0.0 + 7.0]}
    bogus = dataclasses.replace(backend, kernels=wrong)
    x = data((5,), "float32", 6)
    with agrad.using_backend(bogus):
        t = agrad.Tensor(bogus.asarray(x), requires_grad=True)
        F.gelu(t).sum().backward()
        np.testing.assert_array_equal(np.asarray(t.grad), np.full(5, 7.0, np.float32))
        t2 = agrad.Tensor(bogus.asarray(x), requires_grad=True)
        F.gelu(t2).sum().backward(create_graph=True)
        g = t2.grad_tensor
    with agrad.using_backend(reference_of(backend)):
        r = agrad.Tensor(backend.asarray(x), requires_grad=True)
        F.gelu(r).sum().backward()
    assert_close(g.value, r.grad, rtol=1e-6, atol=1e-6)


ADAM_VARIANTS = [
    {},
    {"weight_decay": 0.1},
    {"weight_decay": 0.1, "decoupled_weight_decay": True},
    {"amsgrad": True, "maximize": True},
]


@pytest.mark.backend_independent
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", ADAM_VARIANTS, ids=str)
def test_adam_kernel_matches_reference_over_steps(variant, dtype):
    from agrad_backends.numpy_kernels import KERNELS

    hyper = {"lr": 1e-2, "beta1": 0.9, "beta2": 0.99, "eps": 1e-8, "weight_decay": 0.0,
             "decoupled_weight_decay": False, "amsgrad": False, "maximize": False, **variant}
    shape = (BIG // 16 + 3, 17)  # above the threshold
    ours = ref = [data(shape, dtype, 7), *(np.zeros(shape, dtype),) * 3]
    for step in (1, 2, 3):
        grad = data(shape, dtype, 10 + step)
        ours = KERNELS["adam_update"](np, ours[0], grad, *ours[1:], step=step, **hyper)
        ref = adam_update(np, ref[0], grad, *ref[1:], step=step, **hyper)
        for a, b in zip(ours, ref):
            assert a.dtype == np.dtype(dtype) and a.shape == shape
            np.testing.assert_allclose(a, b, rtol=DTYPES[dtype] * 10, atol=DTYPES[dtype])


@pytest.mark.backend_independent
@pytest.mark.parametrize("dtype,ulps", [("float32", 8), ("float64", 2)])
def test_numba_erf_against_math_erf(dtype, ulps):
    from agrad_backends import _numba_special as sp

    x = np.concatenate([np.linspace(-6, 6, 20001), [0.0, -0.0, 1e-30, 3.9999, 4.0001]]).astype(dtype)
    out = np.empty_like(x)
    (sp.erf_f32 if dtype == "float32" else sp.erf_f64)(x, out)
    exact = np.array([math.erf(float(v)) for v in x])
    err = np.abs(out - exact) / np.spacing(np.maximum(np.abs(exact), 1e-30).astype(dtype))
    assert err.max() <= ulps


@pytest.mark.parametrize("fill", ["nan", "-inf", "ties"])
def test_max_pool_kernel_matches_reference_on_nan_inf_and_ties(backend, fill):
    needs_kernel(backend, "max_pool2d")
    x = np.round(data((4, 8, 12, 12), "float32", 8))  # many ties
    if fill == "nan":
        x[0, 0, 1, 1] = x[1, 2, 5, 6] = np.nan
    elif fill == "-inf":
        x[0, 0, :4, :4] = -np.inf
    for k, s, p in [(2, 2, 0), (3, 2, 1), (3, 1, 1)]:
        same_as_reference(backend, lambda t, k=k, s=s, p=p: F.max_pool2d(t, k, s, p), x, tol=1e-6)


@pytest.mark.backend_independent
def test_numpy_reuse_memory_option():
    from agrad_backends._numpy_memory import reuse_freed_memory

    be = agrad.load_backend("numpy", reuse_memory=True)
    assert be.name == "numpy" and "adam_update" in be.kernels
    with agrad.using_backend(be):
        t = agrad.Tensor(be.asarray(np.arange(3.0)), requires_grad=True)
        (t * t).sum().backward()
    np.testing.assert_array_equal(np.asarray(t.grad), [0.0, 2.0, 4.0])
    assert isinstance(reuse_freed_memory(), bool)  # False off glibc, never an error
    with pytest.raises(TypeError, match="reuse_memory"):
        agrad.load_backend("numpy", no_such_option=1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", ["indices", "probabilities", "smoothing+weight"])
def test_cross_entropy_kernel_matches_reference(backend, variant, dtype):
    needs_kernel(backend, "cross_entropy")
    dt = np_dtype(backend, dtype)
    z = data((37, 11), dt, 20) * 4
    if variant == "probabilities":
        p = np.abs(data((37, 11), dt, 21))
        same_as_reference(backend, lambda a, b: F.cross_entropy(a, b / agrad.sum(b, axis=1, keepdims=True),
                                                                 reduction="none"), z, p, tol=DTYPES[dtype])
        return
    y = np.random.default_rng(22).integers(0, 11, 37)
    y[3] = -100  # ignored
    if variant == "smoothing+weight":  # the weight is an input too: its gradient is compared
        def fn(a, t, w):
            return F.cross_entropy(a, t, weight=w, label_smoothing=0.1)

        same_as_reference(backend, fn, z, y, np.linspace(0.5, 2, 11).astype(dt), tol=DTYPES[dtype])
    else:
        same_as_reference(backend, lambda a, t: F.cross_entropy(a, t), z, y, tol=DTYPES[dtype])
