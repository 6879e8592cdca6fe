"""Real/imaginary parts, conjugation and assembly of complex tensors, for the ``fft`` rules.

Complex gradients follow PyTorch's and JAX's convention: for a real loss ``L`` of complex ``z``
the gradient is ``dL/dRe(z) + 1j * dL/dIm(z)`` (the conjugate Wirtinger derivative, doubled), so
the VJP of a complex-linear map ``A`` is ``A^H g``.

The parts and the conjugate are the main namespace's primitives (``real_p``, ``imag_p``,
``conj_p`` of ``agrad._ops.elementwise``, whose rules are complex-aware), re-exported here; rules call
them as ``xp.real``/``xp.imag``/``xp.conj`` in both engine modes. Assembling ``re + 1j*im`` has no
standard function, so it is the private extension ``xp._complex``.
"""

from __future__ import annotations

from typing import Any

from agrad._core.batching import elementwise
from agrad._core.primitive import extension, primitive
from agrad._ops.elementwise import conj_p, imag_p, real_p

__all__ = ["as_complex", "complex_dtype", "complex_p", "conj_p", "imag_p", "is_complex", "real_p"]


def is_complex(x: Any) -> bool:
    return "complex" in str(getattr(x, "dtype", ""))


def complex_dtype(xp: Any, x: Any) -> Any:
    """The complex dtype with ``x``'s precision (``float32 -> complex64``, ``float64 -> complex128``)."""
    wide = x.dtype == xp.float64 or x.dtype == xp.complex128
    return xp.complex128 if wide else xp.complex64


def as_complex(xp: Any, x: Any) -> Any:
    return x if is_complex(x) else xp.astype(x, complex_dtype(xp, x))


complex_p = extension(primitive(
    "_complex",
    lambda xp, re, im: xp.astype(re, complex_dtype(xp, re)) + xp.astype(im, complex_dtype(xp, im)) * 1j,
    vjp=(lambda xp, g, ans, re, im: xp.real(g), lambda xp, g, ans, re, im: xp.imag(g)),
    jvp=(
        lambda xp, dre, ans, re, im: xp._complex(dre, dre * 0),
        lambda xp, dim, ans, re, im: xp._complex(dim * 0, dim),
    ),
))


complex_p.batch = elementwise  # batching rule (agrad.vmap)
