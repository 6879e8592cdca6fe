"""Real/imaginary parts, conjugation and assembly of complex tensors, for the ``fft`` rules.

Complex gradients follow PyTorch's and JAX's convention: for a real loss ``L`` of complex ``z``
the gradient is ``dL/dRe(z) + 1j * dL/dIm(z)`` (the conjugate Wirtinger derivative, doubled), so
the VJP of a complex-linear map ``A`` is ``A^H g``.

These are registered as *private* extensions (``xp._real``, ``xp._imag``, ``xp._conj``,
``xp._complex``) so that derivative rules can use them in both engine modes before the main
namespace gains ``real``/``imag``/``conj``; the public spellings belong to the main namespace.
"""

from __future__ import annotations

from typing import Any

from agrad._primitive import extension, primitive


def is_complex(x: Any) -> bool:
    return "complex" in str(getattr(x, "dtype", ""))


def complex_dtype(xp: Any, x: Any) -> Any:
    """The complex dtype with ``x``'s precision (``float32 -> complex64``, ``float64 -> complex128``)."""
    wide = x.dtype == xp.float64 or x.dtype == xp.complex128
    return xp.complex128 if wide else xp.complex64


def as_complex(xp: Any, x: Any) -> Any:
    return x if is_complex(x) else xp.astype(x, complex_dtype(xp, x))


# Built with ``_complex`` rather than ``astype``/``* 1j``: those rules are not complex-aware, and
# these run again on Tensors for higher-order derivatives.
def _real_vjp(xp: Any, g: Any, ans: Any, z: Any) -> Any:
    return xp._complex(g, g * 0) if is_complex(z) else g


def _imag_vjp(xp: Any, g: Any, ans: Any, z: Any) -> Any:
    return xp._complex(g * 0, g)


real_p = extension(primitive(
    "_real",
    lambda xp, z: xp.real(z) if is_complex(z) else z,
    vjp=(_real_vjp,),
    jvp=(lambda xp, dz, ans, z: xp._real(dz),),
))
imag_p = extension(primitive(
    "_imag",
    lambda xp, z: xp.imag(z),
    vjp=(_imag_vjp,),
    jvp=(lambda xp, dz, ans, z: xp._imag(dz),),
))
conj_p = extension(primitive(
    "_conj",
    lambda xp, z: xp.conj(z) if is_complex(z) else z,
    vjp=(lambda xp, g, ans, z: xp._conj(g) if is_complex(z) else xp._real(g),),
    jvp=(lambda xp, dz, ans, z: xp._conj(dz),),
))
complex_p = extension(primitive(
    "_complex",
    lambda xp, re, im: xp.astype(re, complex_dtype(xp, re)) + xp.astype(im, complex_dtype(xp, im)) * 1j,
    vjp=(lambda xp, g, ans, re, im: xp._real(g), lambda xp, g, ans, re, im: xp._imag(g)),
    jvp=(
        lambda xp, dre, ans, re, im: xp._complex(dre, dre * 0),
        lambda xp, dim, ans, re, im: xp._complex(dim * 0, dim),
    ),
))
