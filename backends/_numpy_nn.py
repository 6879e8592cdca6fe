"""NumPy kernels for agrad.nn: convolution by strided im2col + one GEMM, col2im by slice-adds,
ReLU, GELU (both forms), erf, cross-entropy and the fused Adam update.

Contracts are the ones documented in ``agrad/nn/functional/conv.py`` (``unfold2d``, ``fold2d``,
``conv2d``, ``conv2d_input_grad``, ``conv2d_weight_grad``, ``max_pool2d``),
``agrad/nn/functional/activation.py`` (``relu``, ``gelu``), ``agrad/nn/functional/loss.py``
(``cross_entropy``) and ``agrad/optim/adam.py`` (``adam_update``).
``"<name>.vjp"`` entries are raw-mode joint pull-backs: they replace the portable VJP rules only
when no graph of the backward pass is recorded. A kernel that does not handle its input (a dtype,
a layout, a size below Numba's threshold) returns ``NotImplemented`` and the reference runs.

Why these are faster than the portable references (numbers: ``python -m bench``, kernel table):
the reference cuts each of the kh*kw patch positions as a slice and ``stack``s them, and its
adjoint rebuilds an image per position by zero-interleaving and concatenating; here ``unfold2d``
is one strided view copied once, and ``fold2d`` adds each position's slice into one zero image
(this kernel owns that array, so the in-place adds are invisible to callers).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from agrad_backends._numba_config import use_numba
from agrad_backends._numpy_blocked import gelu_tanh, gelu_tanh_grad

_FLOATS = frozenset(map(np.dtype, ("float32", "float64")))


def _out(n: int, k: int, s: int, p: int, d: int) -> int:
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def unfold2d(xp: Any, x: Any, *, kernel_size, stride, padding, dilation, pad_value: float = 0.0):
    """``(N, C, H, W)`` -> ``(N, C, kh*kw, Ho, Wo)`` patches: a strided view, copied once."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel_size, stride, padding, dilation
    n, c, h, w = x.shape
    ho, wo = _out(h, kh, sh, ph, dh), _out(w, kw, sw, pw, dw)
    if ho < 1 or wo < 1:
        return NotImplemented  # the portable reference runs
    if ph or pw:
        padded = np.full((n, c, h + 2 * ph, w + 2 * pw), pad_value, dtype=x.dtype)
        padded[:, :, ph:ph + h, pw:pw + w] = x
    else:
        padded = np.asarray(x)
    s0, s1, s2, s3 = padded.strides
    view = as_strided(padded, (n, c, kh, kw, ho, wo), (s0, s1, s2 * dh, s3 * dw, s2 * sh, s3 * sw),
                      writeable=False)
    return view.reshape(n, c, kh * kw, ho, wo)


def fold2d(xp: Any, cols: Any, *, input_size, kernel_size, stride, padding, dilation) -> np.ndarray:
    """The adjoint of :func:`unfold2d`: each patch position's slice added into one zero image."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel_size, stride, padding, dilation
    n, c, _, ho, wo = cols.shape
    h, w = input_size
    out = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i * dh:i * dh + sh * (ho - 1) + 1:sh, j * dw:j * dw + sw * (wo - 1) + 1:sw] += (
                cols[:, :, i * kw + j])
    return out[:, :, ph:ph + h, pw:pw + w] if ph or pw else out


def conv2d(xp: Any, x: Any, w: Any, *, stride, padding, dilation, groups: int) -> np.ndarray:
    o, _, kh, kw = w.shape
    cols = unfold2d(xp, x, kernel_size=(kh, kw), stride=stride, padding=padding, dilation=dilation)
    n, c, k, ho, wo = cols.shape
    wm = np.reshape(w, (groups, o // groups, -1))
    y = np.matmul(wm, cols.reshape(n, groups, (c // groups) * k, ho * wo))
    return y.reshape(n, o, ho, wo)


def conv2d_input_grad(xp: Any, g: Any, w: Any, *, input_size, stride, padding, dilation, groups: int):
    n, o, ho, wo = g.shape
    _, cg, kh, kw = w.shape
    gm = np.reshape(g, (n, groups, o // groups, ho * wo))
    wm = np.reshape(w, (groups, o // groups, cg * kh * kw))
    cols = np.matmul(np.swapaxes(wm, -1, -2), gm).reshape(n, groups * cg, kh * kw, ho, wo)
    return fold2d(xp, cols, input_size=input_size, kernel_size=(kh, kw), stride=stride,
                  padding=padding, dilation=dilation)


def conv2d_weight_grad(xp: Any, x: Any, g: Any, *, weight_size, stride, padding, dilation, groups: int):
    """A GEMM per image, summed over the batch (one big GEMM over ``N*Ho*Wo`` needs a transposed
    copy of the patches and measured 7x slower)."""
    o = weight_size[0]
    cols = unfold2d(xp, x, kernel_size=tuple(weight_size[2:]), stride=stride, padding=padding,
                    dilation=dilation)
    n, c, k, ho, wo = cols.shape
    gm = np.reshape(g, (n, groups, o // groups, ho * wo))
    cm = cols.reshape(n, groups, (c // groups) * k, ho * wo)
    return np.matmul(gm, np.swapaxes(cm, -1, -2)).sum(axis=0).reshape(tuple(weight_size))


def _pool_args(kernel_size, stride, padding, dilation) -> tuple:
    return (*kernel_size, *stride, *padding, *dilation)


def max_pool2d(xp: Any, x: Any, *, kernel_size, stride, padding, dilation) -> np.ndarray:
    if not _numba_ok(x):
        cols = unfold2d(xp, x, kernel_size=kernel_size, stride=stride, padding=padding,
                        dilation=dilation, pad_value=-np.inf)
        return cols.max(axis=2)
    from agrad_backends import _numba_pool

    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel_size, stride, padding, dilation
    n, c, h, w = x.shape
    out = np.empty((n, c, _out(h, kh, sh, ph, dh), _out(w, kw, sw, pw, dw)), x.dtype)
    _numba_pool.max_pool_fwd(x, out, *_pool_args(kernel_size, stride, padding, dilation))
    return out


def max_pool2d_vjp(xp: Any, g: Any, ans: Any, x: Any, **p: Any) -> list:
    if not (_numba_ok(x) and isinstance(g, np.ndarray) and g.dtype == x.dtype):
        return NotImplemented  # the portable reference runs
    from agrad_backends import _numba_pool

    dx = np.zeros(x.shape, x.dtype)
    _numba_pool.max_pool_bwd(x, g, dx, *_pool_args(p["kernel_size"], p["stride"], p["padding"],
                                                     p["dilation"]))
    return [dx]


# --- GELU: the tanh form cache-blocked in NumPy, the exact form in Numba -------------------------


def _numba_ok(x: Any) -> bool:
    return isinstance(x, np.ndarray) and x.dtype in _FLOATS and use_numba(x.size)


def gelu(xp: Any, x: Any, *, approximate: str) -> np.ndarray:
    if approximate == "tanh":
        return gelu_tanh(xp, x)
    if not _numba_ok(x):
        return NotImplemented  # the portable reference runs
    from agrad_backends import _numba_special as sp

    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty_like(flat)
    (sp.gelu_f32 if flat.dtype == np.float32 else sp.gelu_f64)(flat, out)
    return out.reshape(x.shape)


def gelu_vjp(xp: Any, g: Any, ans: Any, x: Any, *, approximate: str) -> list:
    if approximate == "tanh":
        return [gelu_tanh_grad(xp, g, x)]
    if not _numba_ok(x):
        return NotImplemented  # the portable reference runs
    from agrad_backends import _numba_special as sp

    flat = np.ascontiguousarray(x).reshape(-1)
    gflat = np.ascontiguousarray(np.broadcast_to(g, x.shape), dtype=flat.dtype).reshape(-1)
    out = np.empty_like(flat)
    if flat.dtype == np.float32:
        e = np.multiply(flat, flat)
        e *= -0.5
        np.exp(e, out=e)
        sp.gelu_grad_f32(gflat, flat, e, out)
    else:
        sp.gelu_grad_f64(gflat, flat, out)
    return [out.reshape(x.shape)]


def erf(xp: Any, x: Any) -> np.ndarray:
    if not _numba_ok(x):
        return NotImplemented  # the portable reference runs
    from agrad_backends import _numba_special as sp

    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty_like(flat)
    (sp.erf_f32 if flat.dtype == np.float32 else sp.erf_f64)(flat, out)
    return out.reshape(x.shape)


def relu(xp: Any, x: Any) -> np.ndarray:
    if not _numba_ok(x):
        return np.where(x > 0, x, np.zeros_like(x))
    from agrad_backends import _numba_special as sp

    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty_like(flat)
    sp.relu(flat, out)
    return out.reshape(x.shape)


def relu_vjp(xp: Any, g: Any, ans: Any, x: Any) -> list:
    if not (_numba_ok(x) and isinstance(g, np.ndarray) and g.dtype == x.dtype and g.shape == x.shape):
        return [np.where(x > 0, g, np.zeros_like(g))]
    from agrad_backends import _numba_special as sp

    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty_like(flat)
    sp.relu_grad(np.ascontiguousarray(g).reshape(-1), flat, out)
    return [out.reshape(x.shape)]


# --- cross-entropy: log-sum-exp once, no (R, C) temporaries beyond one -------------------------


def _row_lse(z: np.ndarray) -> np.ndarray:
    """``log(sum(exp(z), axis=-1))`` with the max shift: one (R, C) temporary, exp in place."""
    mx = z.max(axis=-1, keepdims=True)
    e = np.subtract(z, mx)
    np.exp(e, out=e)
    return mx[..., 0] + np.log(e.sum(axis=-1))


def cross_entropy(xp: Any, z: Any, m: Any) -> np.ndarray:
    """Per-row ``-sum_c m log_softmax(z) = lse(z) sum_c m - sum_c m z`` (the contract in
    ``agrad/nn/functional/loss.py``); the reference builds four (R, C) temporaries."""
    if not (isinstance(z, np.ndarray) and z.dtype in _FLOATS and np.shape(m) == z.shape):
        return NotImplemented  # the portable reference runs
    m = np.asarray(m, dtype=z.dtype)
    return _row_lse(z) * m.sum(axis=-1) - np.einsum("...c,...c->...", m, z)


class _LazyGrads:
    """The joint pull-back's result, computing each cotangent only if the engine asks for it
    (the coefficient matrix of cross-entropy rarely requires grad)."""

    def __init__(self, *thunks):
        self._thunks = thunks

    def __getitem__(self, i):
        return self._thunks[i]()


def cross_entropy_vjp(xp: Any, g: Any, ans: Any, z: Any, m: Any) -> Any:
    if not (isinstance(z, np.ndarray) and z.dtype in _FLOATS and np.shape(m) == z.shape):
        return NotImplemented  # the portable reference runs
    m = np.asarray(m, dtype=z.dtype)
    g = np.asarray(g, dtype=z.dtype)[..., None]
    lse = _row_lse(z)[..., None]

    def dz():  # softmax(z) * sum_c m - m, times g
        p = np.subtract(z, lse)
        np.exp(p, out=p)
        p *= g * m.sum(axis=-1, keepdims=True)
        p -= m * g
        return p

    def dm():  # -g * log_softmax(z)
        out = np.subtract(lse, z)
        out *= g
        return out

    return _LazyGrads(dz, dm)


def adam_update(xp: Any, param: Any, grad: Any, exp_avg: Any, exp_avg_sq: Any, max_exp_avg_sq: Any,
                **hyper: Any) -> tuple:
    """Numba's one-pass Adam for float NumPy arrays of one dtype; the reference otherwise."""
    arrays = (param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq)
    if not (_numba_ok(param) and all(isinstance(a, np.ndarray) and a.dtype == param.dtype
                                     and a.shape == param.shape for a in arrays)):
        return NotImplemented  # the portable reference runs
    from agrad_backends import _numba_optim

    return _numba_optim.adam_update(*arrays, **hyper)


KERNELS = {
    "unfold2d": unfold2d,
    "fold2d": fold2d,
    "conv2d": conv2d,
    "conv2d_input_grad": conv2d_input_grad,
    "conv2d_weight_grad": conv2d_weight_grad,
    "max_pool2d": max_pool2d,
    "max_pool2d.vjp": max_pool2d_vjp,
    "relu": relu,
    "relu.vjp": relu_vjp,
    "gelu": gelu,
    "gelu.vjp": gelu_vjp,
    "erf": erf,
    "cross_entropy": cross_entropy,
    "cross_entropy.vjp": cross_entropy_vjp,
    "adam_update": adam_update,
}
