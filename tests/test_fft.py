"""``agrad.fft``: values against NumPy, gradients by finite differences (complex inputs given by
their real and imaginary parts) and against ``torch.fft`` (the conjugate-Wirtinger convention)."""

import numpy as np
import pytest

import agrad
from agrad._core.engine import backprop
from agrad._ops.complex_parts import complex_p, imag_p, real_p
from agrad.testing import gradcheck, randn
from tests.helpers import assert_close, tensor_from_np, to_np

pytestmark = pytest.mark.requires("float64", "complex")
F64 = agrad.float64
NORMS = ["backward", "ortho", "forward"]


def r(*shape, seed=0):
    return randn(*shape, dtype=F64, seed=seed)


def parts(f):
    """``f`` with complex outputs split into real and imaginary parts (gradcheck needs reals)."""

    def g(*xs):
        y = f(*xs)
        return (real_p(y), imag_p(y)) if y.dtype.kind == "complex floating" else y

    return g


def cplx(f):
    """``f`` of a complex input given as two real tensors."""
    return lambda a, b: f(complex_p(a, b))


# name -> (function of one array, input shape, complex input?)
CASES = {
    "fft": (lambda m, x, norm: m.fft(x, norm=norm), (3, 6), True),
    "fft_pad": (lambda m, x, norm: m.fft(x, n=8, norm=norm), (3, 6), True),
    "fft_trunc_axis0": (lambda m, x, norm: m.fft(x, n=2, axis=0, norm=norm), (3, 5), True),
    "fft_real_input": (lambda m, x, norm: m.fft(x, norm=norm), (2, 5), False),
    "ifft": (lambda m, x, norm: m.ifft(x, norm=norm), (3, 6), True),
    "fftn": (lambda m, x, norm: m.fftn(x, norm=norm), (3, 4), True),
    "fftn_s_axes": (lambda m, x, norm: m.fftn(x, s=(5, 2), axes=(1, 0), norm=norm), (3, 4), True),
    "ifftn": (lambda m, x, norm: m.ifftn(x, axes=(0,), norm=norm), (3, 4), True),
    "rfft": (lambda m, x, norm: m.rfft(x, norm=norm), (3, 6), False),
    "rfft_odd_n": (lambda m, x, norm: m.rfft(x, n=5, norm=norm), (3, 6), False),
    "irfft": (lambda m, x, norm: m.irfft(x, norm=norm), (3, 4), True),
    "irfft_odd_n": (lambda m, x, norm: m.irfft(x, n=7, norm=norm), (3, 4), True),
    "irfft_axis0": (lambda m, x, norm: m.irfft(x, n=4, axis=0, norm=norm), (4, 2), True),
    "rfftn": (lambda m, x, norm: m.rfftn(x, norm=norm), (4, 6), False),
    "irfftn": (lambda m, x, norm: m.irfftn(x, norm=norm), (4, 4), True),
    "irfftn_s": (lambda m, x, norm: m.irfftn(x, s=(3, 5), axes=(0, 1), norm=norm), (4, 4), True),
    "hfft": (lambda m, x, norm: m.hfft(x, norm=norm), (3, 4), True),
    "ihfft": (lambda m, x, norm: m.ihfft(x, norm=norm), (3, 6), False),
    "fftshift": (lambda m, x, norm: m.fftshift(x), (3, 5), False),
    "ifftshift": (lambda m, x, norm: m.ifftshift(x, axes=0), (3, 5), False),
}


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck(name, norm):
    fn, shape, complex_input = CASES[name]
    f = lambda x: fn(agrad.fft, x, norm)  # noqa: E731
    if complex_input:
        gradcheck(parts(cplx(f)), r(*shape, seed=1), r(*shape, seed=2))
    else:
        gradcheck(parts(f), r(*shape, seed=1))


def _np_input(shape, complex_input, seed):
    x = to_np(r(*shape, seed=seed))
    return x + 1j * to_np(r(*shape, seed=seed + 50)) if complex_input else x


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_match_numpy(name):
    fn, shape, complex_input = CASES[name]
    x = _np_input(shape, complex_input, seed=3)
    for norm in NORMS:
        assert_close(fn(agrad.fft, tensor_from_np(x, False), norm), fn(np.fft, x, norm), rtol=1e-10,
                     atol=1e-12)


def test_frequencies(backend):
    assert_close(agrad.fft.fftfreq(5, d=0.5, dtype=F64), np.fft.fftfreq(5, d=0.5))
    assert_close(agrad.fft.rfftfreq(6, dtype=F64), np.fft.rfftfreq(6))
    assert not agrad.fft.fftfreq(4).requires_grad


def test_shift_round_trip():
    x = r(4, 5, seed=4)
    assert_close(agrad.fft.ifftshift(agrad.fft.fftshift(x)), x)
    assert_close(agrad.fft.fftshift(x, axes=1), np.fft.fftshift(to_np(x), axes=1))


# --- agreement with torch.fft, complex leaves included ---------------------------------------------------

TORCH_CASES = ["fft", "fft_pad", "ifft", "fftn_s_axes", "rfft_odd_n", "irfft", "irfft_odd_n", "rfftn",
               "irfftn_s", "hfft", "ihfft", "fft_real_input"]


class _TorchFFT:
    """``torch.fft`` with the standard's keyword names (``axis``/``axes`` -> ``dim``)."""

    def __init__(self, torch):
        self.torch = torch

    def __getattr__(self, name):
        def call(a, **kw):
            for key in ("axis", "axes"):
                if key in kw:
                    kw["dim"] = kw.pop(key)
            return getattr(self.torch.fft, name)(a, **kw)

        return call


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("name", TORCH_CASES)
def test_gradients_match_torch(name, norm):
    torch = pytest.importorskip("torch")
    fn, shape, complex_input = CASES[name]
    x_np = _np_input(shape, complex_input, seed=5)
    x = tensor_from_np(x_np)
    y = fn(agrad.fft, x, norm)
    rng = np.random.default_rng(2)
    c_re, c_im = rng.standard_normal(tuple(y.shape)), rng.standard_normal(tuple(y.shape))
    is_c = y.dtype.kind == "complex floating"
    outs = [real_p(y), imag_p(y)] if is_c else [y]
    cots = [c_re, c_im] if is_c else [c_re]
    grads = backprop(outs, [tensor_from_np(c, False).value for c in cots], inputs=[x])
    tx = torch.tensor(x_np, requires_grad=True)
    ty = fn(_TorchFFT(torch), tx, norm)
    loss = (ty.real * torch.tensor(c_re)).sum() + ((ty.imag * torch.tensor(c_im)).sum() if is_c else 0)
    loss.backward()
    assert_close(grads[id(x)][1], tx.grad.resolve_conj().numpy(), rtol=1e-9, atol=1e-11)


def test_second_derivative_through_rfft():
    def grad_of(x):
        with agrad.enable_grad():
            x = x if x.requires_grad else x.detach().requires_grad_()
            y = agrad.fft.rfft(x * x)
            out = real_p(y) * imag_p(y)
            c = tensor_from_np(np.linspace(-1.0, 1.0, 4), False)
            return backprop([out], [c], inputs=[x], create_graph=True)[id(x)][1]

    gradcheck(grad_of, r(6, seed=7))


def test_clear_errors():
    with pytest.raises(ValueError, match="norm must be"):
        agrad.fft.fft(r(4), norm="none")
    with pytest.raises(ValueError, match="same length"):
        agrad.fft.fftn(r(4, 4), s=(4,), axes=(0, 1))
    with pytest.raises(ValueError, match="n must be a positive"):
        agrad.fft.fft(r(4), n=0)
