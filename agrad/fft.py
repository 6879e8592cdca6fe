"""``agrad.fft``: the Array API standard's FFT extension (14 functions), with gradients.

Three primitives carry the derivatives; everything else is built from them:

* complex-to-complex ``fftn``/``ifftn`` over ``axes``: the adjoint of a transform with
  normalisation ``norm`` is the inverse transform with the *dual* normalisation
  (``backward <-> forward``, ``ortho`` stays), because ``F^H = n * ifft``;
* real-to-complex ``rfft``: adjoint ``Re(ifft(zero-padded g))``;
* complex-to-real ``irfft``: adjoint ``w * rfft(g)``, with ``w = 2`` for the bins that stand for a
  conjugate pair and ``1`` for the DC (and Nyquist) bin.

``n``/``s`` (pad or truncate) are differentiable slices and concatenations in front. ``hfft`` and
``ihfft`` are ``irfft``/``rfft`` with conjugation. Complex gradients use PyTorch's convention
(see :mod:`agrad._ops.complex_parts`). Backends without complex dtypes cannot run these.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agrad._base.backend import get_backend
from agrad._base.dtypes import to_native
from agrad._core.batching import moved, shifted
from agrad._core.primitive import TENSOR_OPS, device_of, extension, primitive, shape_of
from agrad._core.tensor import Tensor, _wrap
from agrad._ops import complex_parts as cp

_DUAL = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


def _check_norm(name: str, norm: str) -> str:
    if norm not in _DUAL:
        raise ValueError(f"agrad.fft.{name}: norm must be 'backward', 'ortho' or 'forward', got {norm!r}")
    return norm


def _as_tensor(x: Any) -> Any:

    return x if isinstance(x, Tensor) else Tensor(x, requires_grad=False)


# --- the three primitives -----------------------------------------------------------------------------


def _c2c_fwd(xp: Any, x: Any, *, axes: tuple, norm: str, inverse: bool) -> Any:
    fn = xp.fft.ifftn if inverse else xp.fft.fftn
    return fn(cp.as_complex(xp, x), axes=axes, norm=norm)


def _c2c_vjp(xp: Any, g: Any, ans: Any, x: Any, *, axes: tuple, norm: str, inverse: bool) -> Any:
    gx = xp._fft_c2c(g, axes=axes, norm=_DUAL[norm], inverse=not inverse)
    return gx if cp.is_complex(x) else xp.real(gx)


c2c_p = extension(primitive(
    "_fft_c2c",
    _c2c_fwd,
    vjp=(_c2c_vjp,),
    jvp=(lambda xp, dx, ans, x, **kw: xp._fft_c2c(dx, **kw),),
    batch=shifted("axes"),
))


def _r2c_vjp(xp: Any, g: Any, ans: Any, x: Any, *, axis: int, norm: str) -> Any:
    n = shape_of(x)[axis]
    padded = _fit(xp, g, n, axis)
    return xp.real(xp._fft_c2c(padded, axes=(axis,), norm=_DUAL[norm], inverse=True))


r2c_p = extension(primitive(
    "_fft_r2c",
    lambda xp, x, *, axis, norm: xp.fft.rfft(x, axis=axis, norm=norm),
    vjp=(_r2c_vjp,),
    jvp=(lambda xp, dx, ans, x, **kw: xp._fft_r2c(dx, **kw),),
    batch=shifted("axis"),
))


def _hermitian_weights_fwd(xp: Any, like: Any, *, n: int, axis: int) -> Any:
    """``[1, 2, ..., 2, 1 (n even)]`` of length ``n // 2 + 1`` along ``axis`` (real dtype)."""
    m = n // 2 + 1
    real = xp.float64 if like.dtype == xp.complex128 else xp.float32
    k = xp.arange(m, device=device_of(like))
    single = (k == 0) | (k == (m - 1 if n % 2 == 0 else -1))  # bins without a conjugate twin
    w = 2 - xp.astype(single, real)
    shape = [1] * len(like.shape)
    shape[axis] = m
    return xp.reshape(w, tuple(shape))


def _weights_batch(prim: Any, xp: Any, args: list, dims: list, *, n: int, axis: int) -> tuple:
    like = moved(xp, args[0], dims[0])  # the weights depend on the shape only: not batched
    w = prim(like, n=n, axis=axis % (like.ndim - 1) + 1)
    return xp.squeeze(w, axis=0), None


extension(primitive("_fft_hermitian_weights", _hermitian_weights_fwd, batch=_weights_batch))


def _c2r_vjp(xp: Any, g: Any, ans: Any, x: Any, *, n: int, axis: int, norm: str) -> Any:
    gx = xp._fft_r2c(g, axis=axis, norm=_DUAL[norm])
    gx = gx * xp._fft_hermitian_weights(gx, n=n, axis=axis % len(shape_of(gx)))
    return gx if cp.is_complex(x) else xp.real(gx)


c2r_p = extension(primitive(
    "_fft_c2r",
    lambda xp, x, *, n, axis, norm: xp.fft.irfft(cp.as_complex(xp, x), n=n, axis=axis, norm=norm),
    vjp=(_c2r_vjp,),
    jvp=(lambda xp, dx, ans, x, **kw: xp._fft_c2r(dx, **kw),),
    batch=shifted("axis"),
))


# --- padding / truncation (works in rules and on Tensors) -------------------------------------------------


def _fit(xp: Any, x: Any, n: int, axis: int) -> Any:
    """``x`` truncated or zero-padded to length ``n`` along ``axis``."""
    shape = tuple(shape_of(x))
    axis = axis % len(shape)
    have = shape[axis]
    if have == n:
        return x
    if have > n:
        return x[(slice(None),) * axis + (slice(0, n), Ellipsis)]
    pad_shape = shape[:axis] + (n - have,) + shape[axis + 1:]
    zeros = xp.zeros_like(x[(slice(None),) * axis + (slice(0, 1), Ellipsis)])
    return xp.concat((x, xp.broadcast_to(zeros, pad_shape)), axis=axis)


def _fit_tensor(x: Any, n: int | None, axis: int, name: str) -> Any:

    x = _as_tensor(x)
    if n is None:
        return x
    if n < 1:
        raise ValueError(f"agrad.fft.{name}: n must be a positive integer, got {n}")
    return _fit(TENSOR_OPS, x, n, axis)


def _axes_and_sizes(name: str, x: Any, s: Sequence[int] | None, axes: Sequence[int] | None):
    ndim = len(shape_of(x))
    if axes is None:
        axes = tuple(range(ndim)) if s is None else tuple(range(ndim - len(s), ndim))
    axes = tuple(a % ndim for a in axes)
    if len(set(axes)) != len(axes):
        raise ValueError(f"agrad.fft.{name}: axes {axes} repeat an axis")
    if s is not None and len(s) != len(axes):
        raise ValueError(f"agrad.fft.{name}: s={tuple(s)} and axes={axes} must have the same length")
    sizes = tuple(shape_of(x)[a] for a in axes) if s is None else tuple(s)
    return axes, sizes


def _fit_all(x: Any, sizes: Sequence[int], axes: Sequence[int], name: str) -> Any:
    for n, a in zip(sizes, axes):
        x = _fit_tensor(x, n, a, name)
    return x


# --- the standard's functions -------------------------------------------------------------------------------


def fft(x: Any, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Any:
    """One-dimensional discrete Fourier transform along ``axis``."""
    x = _fit_tensor(x, n, axis, "fft")
    return c2c_p(x, axes=(axis % len(x.shape),), norm=_check_norm("fft", norm), inverse=False)


def ifft(x: Any, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Any:
    """One-dimensional inverse discrete Fourier transform along ``axis``."""
    x = _fit_tensor(x, n, axis, "ifft")
    return c2c_p(x, axes=(axis % len(x.shape),), norm=_check_norm("ifft", norm), inverse=True)


def fftn(x: Any, /, *, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
         norm: str = "backward") -> Any:
    """n-dimensional discrete Fourier transform over ``axes`` (all by default)."""
    axes, sizes = _axes_and_sizes("fftn", x, s, axes)
    return c2c_p(_fit_all(x, sizes, axes, "fftn"), axes=axes, norm=_check_norm("fftn", norm), inverse=False)


def ifftn(x: Any, /, *, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
          norm: str = "backward") -> Any:
    """n-dimensional inverse discrete Fourier transform over ``axes``."""
    axes, sizes = _axes_and_sizes("ifftn", x, s, axes)
    return c2c_p(_fit_all(x, sizes, axes, "ifftn"), axes=axes, norm=_check_norm("ifftn", norm), inverse=True)


def rfft(x: Any, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Any:
    """Transform of a real signal: the ``n // 2 + 1`` non-negative-frequency bins."""
    x = _fit_tensor(x, n, axis, "rfft")
    return r2c_p(x, axis=axis % len(x.shape), norm=_check_norm("rfft", norm))


def irfft(x: Any, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Any:
    """Inverse of ``rfft``: a real signal of length ``n`` (default ``2 * (m - 1)``)."""
    x = _as_tensor(x)
    axis = axis % len(x.shape)
    n = 2 * (x.shape[axis] - 1) if n is None else n
    if n < 1:
        raise ValueError(f"agrad.fft.irfft: the output length must be positive, got n={n}")
    x = _fit_tensor(x, n // 2 + 1, axis, "irfft")
    return c2r_p(x, n=n, axis=axis, norm=_check_norm("irfft", norm))


def rfftn(x: Any, /, *, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
          norm: str = "backward") -> Any:
    """n-dimensional ``rfft``: ``rfft`` over the last of ``axes``, ``fft`` over the others."""
    axes, sizes = _axes_and_sizes("rfftn", x, s, axes)
    out = rfft(_fit_all(x, sizes, axes, "rfftn"), axis=axes[-1], norm=norm)
    return fftn(out, axes=axes[:-1], norm=norm) if len(axes) > 1 else out


def irfftn(x: Any, /, *, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
           norm: str = "backward") -> Any:
    """Inverse of ``rfftn``: ``ifft`` over all but the last of ``axes``, then ``irfft``."""
    axes, sizes = _axes_and_sizes("irfftn", x, s, axes)
    if s is None:
        sizes = sizes[:-1] + (2 * (sizes[-1] - 1),)
    x = _fit_all(x, sizes[:-1], axes[:-1], "irfftn")
    if len(axes) > 1:
        x = ifftn(x, axes=axes[:-1], norm=norm)
    return irfft(x, n=sizes[-1], axis=axes[-1], norm=norm)


def hfft(x: Any, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Any:
    """Transform of a Hermitian-symmetric signal (given by its first half): a real spectrum."""
    return irfft(cp.conj_p(_as_tensor(x)), n=n, axis=axis, norm=_DUAL[_check_norm("hfft", norm)])


def ihfft(x: Any, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Any:
    """Inverse of ``hfft`` for a real signal: half of a Hermitian-symmetric spectrum."""
    return cp.conj_p(rfft(x, n=n, axis=axis, norm=_DUAL[_check_norm("ihfft", norm)]))


def _freq(name: str, n: int, d: float, dtype: Any, device: Any) -> Any:

    be = get_backend()
    kw = {"d": d, "device": device or be.device}
    if dtype is not None:
        kw["dtype"] = to_native(be, dtype)
    return _wrap(getattr(be.xp.fft, name)(n, **kw), be, None, 0)


def fftfreq(n: int, /, *, d: float = 1.0, dtype: Any = None, device: Any = None) -> Any:
    """Sample frequencies of ``fft`` for a signal of length ``n`` and spacing ``d`` (no gradient)."""
    return _freq("fftfreq", n, d, dtype, device)


def rfftfreq(n: int, /, *, d: float = 1.0, dtype: Any = None, device: Any = None) -> Any:
    """Sample frequencies of ``rfft`` (the non-negative ones; no gradient)."""
    return _freq("rfftfreq", n, d, dtype, device)


def _shift_axes(x: Any, axes: Any) -> tuple:
    ndim = len(shape_of(x))
    if axes is None:
        return tuple(range(ndim))
    return tuple(a % ndim for a in ((axes,) if isinstance(axes, int) else axes))


fftshift_p = primitive(
    "fft.fftshift",
    lambda xp, x, *, axes: xp.fft.fftshift(x, axes=axes),
    vjp=(lambda xp, g, ans, x, *, axes: xp.fft.ifftshift(g, axes=axes),),
    jvp=(lambda xp, dx, ans, x, *, axes: xp.fft.fftshift(dx, axes=axes),),
    batch=shifted("axes"),
)
ifftshift_p = primitive(
    "fft.ifftshift",
    lambda xp, x, *, axes: xp.fft.ifftshift(x, axes=axes),
    vjp=(lambda xp, g, ans, x, *, axes: xp.fft.fftshift(g, axes=axes),),
    jvp=(lambda xp, dx, ans, x, *, axes: xp.fft.ifftshift(dx, axes=axes),),
    batch=shifted("axes"),
)


def fftshift(x: Any, /, *, axes: int | Sequence[int] | None = None) -> Any:
    """Move the zero-frequency bin to the centre of ``axes`` (all by default)."""
    return fftshift_p(x, axes=_shift_axes(x, axes))


def ifftshift(x: Any, /, *, axes: int | Sequence[int] | None = None) -> Any:
    """Inverse of ``fftshift``."""
    return ifftshift_p(x, axes=_shift_axes(x, axes))


__all__ = [
    "fft", "ifft", "fftn", "ifftn", "rfft", "irfft", "rfftn", "irfftn", "hfft", "ihfft",
    "fftfreq", "rfftfreq", "fftshift", "ifftshift",
]  # fmt: skip
