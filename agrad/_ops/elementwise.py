"""Element-wise functions (the standard's chapter of that name), each with its derivative rules.

All 67 of the standard's element-wise functions are here. Most are declared from a table: a
unary function by its derivative ``f'(x)`` (written with ``ans = f(x)`` where that is cheaper),
a binary one by its two partial derivatives. From the derivative the table builds both rules:

* VJP ``g * conj(f'(x))`` (un-broadcast to the input's shape for binary functions),
* JVP ``dx * f'(x)``.

That is the conjugate Wirtinger convention of PyTorch and JAX for complex inputs: for a
holomorphic ``f`` the cotangent is multiplied by the conjugate derivative; the non-holomorphic
``abs``, ``real``, ``imag`` and ``conj`` have their own rules. Piecewise-constant functions
(``floor``, ``round``, ``sign``, ``floor_divide``...) have a zero derivative. Comparisons,
logical, bitwise and classification functions (``isnan``...) are not differentiable: their
results never require grad.

Binary functions first bring both operands to agrad's common dtype (``agrad._ops.promote``).
Python scalars may appear in either argument position; they are constants.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from agrad._core.batching import elementwise
from agrad._core.primitive import Primitive, shape_of, unbroadcast
from agrad._core.primitive import primitive as _declare
from agrad._ops.promote import promote

_SCALAR = (int, float, complex)


def primitive(name: str, fwd: Callable[..., Any], *rules: Any, **kw: Any) -> Primitive:
    """Declare an element-wise primitive: its batching rule is the broadcasting one."""
    return _declare(name, fwd, *rules, batch=elementwise, **kw)


def _unb(xp: Any, g: Any, like: Any) -> Any:
    return unbroadcast(xp, g, shape_of(like))


_COMPLEX: dict[tuple, bool] = {}  # (type(dtype), dtype) -> is it complex; isdtype is slow


def _is_complex(xp: Any, a: Any) -> bool:
    try:
        dt = a.dtype
    except AttributeError:  # a Python scalar
        return type(a) is complex
    key = (type(dt), dt)  # the type first: dtypes of different libraries never compare
    c = _COMPLEX.get(key)
    if c is None:
        c = _COMPLEX[key] = bool(xp.isdtype(dt, "complex floating"))
    return c


def _cj(xp: Any, a: Any) -> Any:
    """``conj(a)`` for complex values, ``a`` itself otherwise (no copy on the real path)."""
    if not _is_complex(xp, a):
        return a
    return a.conjugate() if type(a) is complex else xp.conj(a)


def _zeros_vjp(xp: Any, g: Any, ans: Any, a: Any, *rest: Any) -> Any:
    return xp.zeros_like(a)


def _zeros_jvp(xp: Any, d: Any, ans: Any, *args: Any) -> Any:
    return xp.zeros_like(ans)


def _call(name: str) -> Callable[..., Any]:
    """The backend's own ``xp.<name>`` as a forward."""
    return lambda xp, *args: getattr(xp, name)(*args)


# --- unary functions: name -> derivative f'(x) as ``d(xp, ans, x)`` --------------------------------

Deriv = Callable[[Any, Any, Any], Any]


def unary(name: str, deriv: Deriv | None, fwd: Callable[..., Any] | None = None) -> Primitive:
    """A unary primitive from its derivative; ``deriv=None`` makes it non-differentiable."""
    fwd = fwd or _call(name)
    if deriv is None:
        return primitive(name, fwd)
    return primitive(
        name,
        fwd,
        vjp=(lambda xp, g, ans, a: g * _cj(xp, deriv(xp, ans, a)),),
        jvp=(lambda xp, da, ans, a: da * deriv(xp, ans, a),),
    )


def _zero_unary(name: str) -> Primitive:
    return primitive(name, _call(name), vjp=(_zeros_vjp,), jvp=(_zeros_jvp,))


_LN10, _LN2 = math.log(10.0), math.log(2.0)

exp_p = unary("exp", lambda xp, ans, a: ans)
expm1_p = unary("expm1", lambda xp, ans, a: ans + 1)
log_p = unary("log", lambda xp, ans, a: 1 / a)
log1p_p = unary("log1p", lambda xp, ans, a: 1 / (1 + a))
log2_p = unary("log2", lambda xp, ans, a: 1 / (a * _LN2))
log10_p = unary("log10", lambda xp, ans, a: 1 / (a * _LN10))
sqrt_p = unary("sqrt", lambda xp, ans, a: 1 / (2 * ans))
square_p = unary("square", lambda xp, ans, a: 2 * a, fwd=lambda xp, a: a * a)
reciprocal_p = unary("reciprocal", lambda xp, ans, a: -(ans * ans), fwd=lambda xp, a: 1 / a)
sin_p = unary("sin", lambda xp, ans, a: xp.cos(a))
cos_p = unary("cos", lambda xp, ans, a: -xp.sin(a))
tan_p = unary("tan", lambda xp, ans, a: 1 + ans * ans)
asin_p = unary("asin", lambda xp, ans, a: 1 / xp.sqrt(1 - a * a))
acos_p = unary("acos", lambda xp, ans, a: -1 / xp.sqrt(1 - a * a))
atan_p = unary("atan", lambda xp, ans, a: 1 / (1 + a * a))
sinh_p = unary("sinh", lambda xp, ans, a: xp.cosh(a))
cosh_p = unary("cosh", lambda xp, ans, a: xp.sinh(a))
tanh_p = unary("tanh", lambda xp, ans, a: 1 - ans * ans)
asinh_p = unary("asinh", lambda xp, ans, a: 1 / xp.sqrt(a * a + 1))
# sqrt(x-1)*sqrt(x+1), not sqrt(x*x-1): the same for real x > 1, and the right branch for complex x.
acosh_p = unary("acosh", lambda xp, ans, a: 1 / (xp.sqrt(a - 1) * xp.sqrt(a + 1)))
atanh_p = unary("atanh", lambda xp, ans, a: 1 / (1 - a * a))
negative_p = unary("negative", lambda xp, ans, a: -1, fwd=lambda xp, a: -a)
positive_p = unary("positive", lambda xp, ans, a: 1, fwd=lambda xp, a: xp.positive(a))

ceil_p = _zero_unary("ceil")
floor_p = _zero_unary("floor")
round_p = _zero_unary("round")
trunc_p = _zero_unary("trunc")
sign_p = _zero_unary("sign")


def _sgn(xp: Any, a: Any, absolute: Any) -> Any:
    """``a / |a|`` (0 at 0): the derivative direction of ``abs`` for real and complex ``a``."""
    if not _is_complex(xp, a):
        return xp.sign(a)
    safe = xp.where(absolute == 0, xp.ones_like(absolute), absolute)
    return xp.where(absolute == 0, xp.zeros_like(a), a / safe)


abs_p = primitive(
    "abs",
    lambda xp, a: xp.abs(a),
    vjp=(lambda xp, g, ans, a: g * _sgn(xp, a, ans),),
    jvp=(lambda xp, da, ans, a: xp.real(_cj(xp, _sgn(xp, a, ans)) * da),),
)
real_p = primitive(
    "real",
    lambda xp, a: xp.real(a),
    vjp=(lambda xp, g, ans, a: g + 0j if _is_complex(xp, a) else g,),
    jvp=(lambda xp, da, ans, a: xp.real(da),),
)
imag_p = primitive(
    "imag",
    lambda xp, a: xp.imag(a),
    vjp=(lambda xp, g, ans, a: g * 1j if _is_complex(xp, a) else xp.zeros_like(a),),
    jvp=(lambda xp, da, ans, a: xp.imag(da),),
)
conj_p = primitive(
    "conj",
    lambda xp, a: xp.conj(a),
    vjp=(lambda xp, g, ans, a: _cj(xp, g),),
    jvp=(lambda xp, da, ans, a: _cj(xp, da),),
)

# Not differentiable: boolean or integer results.
isfinite_p = unary("isfinite", None)
isinf_p = unary("isinf", None)
isnan_p = unary("isnan", None)
signbit_p = unary("signbit", None)
logical_not_p = unary("logical_not", None)
bitwise_invert_p = unary("bitwise_invert", None)


# --- binary functions: name -> partial derivatives ``d(xp, ans, a, b)`` ---------------------------


def binary(name: str, d1: Callable[..., Any] | None, d2: Callable[..., Any] | None,
           fwd: Callable[..., Any] | None = None) -> Primitive:
    """A binary primitive from its two partial derivatives (``None`` for both: not differentiable)."""
    fwd = fwd or _call(name)
    if d1 is None and d2 is None:
        return primitive(name, fwd)

    def vjp(d, i):
        return lambda xp, g, ans, a, b: _unb(xp, g * _cj(xp, d(xp, ans, a, b)), (a, b)[i])

    def jvp(d):
        return lambda xp, dx, ans, a, b: dx * d(xp, ans, a, b)

    return primitive(name, fwd, vjp=(vjp(d1, 0), vjp(d2, 1)), jvp=(jvp(d1), jvp(d2)))


add_p = primitive(
    "add",
    lambda xp, a, b: a + b,
    vjp=(lambda xp, g, ans, a, b: _unb(xp, g, a), lambda xp, g, ans, a, b: _unb(xp, g, b)),
    jvp=(lambda xp, da, ans, a, b: da, lambda xp, db, ans, a, b: db),
)
subtract_p = primitive(
    "subtract",
    lambda xp, a, b: a - b,
    vjp=(lambda xp, g, ans, a, b: _unb(xp, g, a), lambda xp, g, ans, a, b: _unb(xp, -g, b)),
    jvp=(lambda xp, da, ans, a, b: da, lambda xp, db, ans, a, b: -db),
)
multiply_p = primitive(  # spelled out: the hottest binary rule in training loops
    "multiply",
    lambda xp, a, b: a * b,
    vjp=(lambda xp, g, ans, a, b: _unb(xp, g * _cj(xp, b), a),
         lambda xp, g, ans, a, b: _unb(xp, g * _cj(xp, a), b)),
    jvp=(lambda xp, da, ans, a, b: da * b, lambda xp, db, ans, a, b: a * db),
)
divide_p = binary("divide", lambda xp, ans, a, b: 1 / b, lambda xp, ans, a, b: -ans / b,
                  fwd=lambda xp, a, b: a / b)


def _pow_fwd(xp: Any, a: Any, b: Any) -> Any:
    if type(b) is int or type(b) is float:  # NumPy's x**3 is ~50x slower than x*x*x
        if b == 2:
            return a * a
        if b == 3:
            return a * a * a
        if b == 1:
            return a * 1
    return a**b


def _pow_dbase(xp: Any, ans: Any, a: Any, b: Any) -> Any:
    if isinstance(b, _SCALAR):
        return a * 0 if b == 0 else b * _pow_fwd(xp, a, b - 1)
    return b * a ** (b - 1)


def _pow_dexp(xp: Any, ans: Any, a: Any, b: Any) -> Any:
    # d/db a**b = a**b log(a); at a == 0 the limit (b > 0) is 0, as in PyTorch and JAX.
    if isinstance(a, _SCALAR):
        return ans * (math.log(a) if a != 0 else 0.0)
    return ans * xp.log(xp.where(a == 0, xp.ones_like(a), a))


pow_p = binary("pow", _pow_dbase, _pow_dexp, fwd=_pow_fwd)
atan2_p = binary("atan2", lambda xp, ans, a, b: b / (a * a + b * b),
                 lambda xp, ans, a, b: -a / (a * a + b * b))
hypot_p = binary("hypot", lambda xp, ans, a, b: a / ans, lambda xp, ans, a, b: b / ans)
# copysign(a, b) = ±a: slope sign(a) * sign(result), 0 at a == 0 (PyTorch's choice); none in b.
copysign_p = binary("copysign", lambda xp, ans, a, b: xp.sign(a) * xp.sign(ans),
                    lambda xp, ans, a, b: xp.zeros_like(ans))
# remainder(a, b) = a - floor(a / b) * b.
remainder_p = binary("remainder", lambda xp, ans, a, b: xp.ones_like(ans),
                     lambda xp, ans, a, b: -xp.floor(a / b))
floor_divide_p = binary("floor_divide", lambda xp, ans, a, b: xp.zeros_like(ans),
                        lambda xp, ans, a, b: xp.zeros_like(ans))
logaddexp_p = binary("logaddexp", lambda xp, ans, a, b: xp.exp(a - ans),
                     lambda xp, ans, a, b: xp.exp(b - ans))


def _sel(xp: Any, cond: Any, g: Any) -> Any:
    """``g`` where ``cond`` holds, 0 elsewhere (``cond`` broadcasts against ``g``)."""
    return xp.where(cond, g, xp.zeros_like(g))


def _extremum_share(first: bool) -> Callable[..., Any]:
    # The selected argument has slope 1; ties split it evenly (PyTorch's and JAX's convention).
    def d(xp: Any, ans: Any, a: Any, b: Any) -> Any:
        mine, other = (a, b) if first else (b, a)
        one = xp.ones_like(ans)
        return _sel(xp, mine == ans, one) - 0.5 * _sel(xp, mine == other, one)

    return d


maximum_p = binary("maximum", _extremum_share(True), _extremum_share(False))
minimum_p = binary("minimum", _extremum_share(True), _extremum_share(False))


def _clip_fwd(xp: Any, x: Any, lo: Any, hi: Any) -> Any:
    return xp.clip(x, lo, hi)


def _clip_pick(which: int, xp: Any, ans: Any, x: Any, lo: Any, hi: Any) -> Any:
    """Where the output came from argument ``which`` (x wins ties with a bound)."""
    inside = ans == x
    if which == 0:
        return inside
    bound = lo if which == 1 else hi
    return xp.logical_and(ans == bound, xp.logical_not(inside))


def _clip_vjp(which: int):
    def rule(xp: Any, g: Any, ans: Any, x: Any, lo: Any, hi: Any) -> Any:
        return _unb(xp, _sel(xp, _clip_pick(which, xp, ans, x, lo, hi), g), (x, lo, hi)[which])

    return rule


def _clip_jvp(which: int):
    def rule(xp: Any, d: Any, ans: Any, x: Any, lo: Any, hi: Any) -> Any:
        return _sel(xp, _clip_pick(which, xp, ans, x, lo, hi), d * xp.ones_like(ans))

    return rule


clip_p = primitive("clip", _clip_fwd, vjp=tuple(_clip_vjp(i) for i in range(3)),
                   jvp=tuple(_clip_jvp(i) for i in range(3)))

# Not differentiable: comparisons, logical and bitwise functions, nextafter.
less_p = binary("less", None, None, fwd=lambda xp, a, b: a < b)
less_equal_p = binary("less_equal", None, None, fwd=lambda xp, a, b: a <= b)
greater_p = binary("greater", None, None, fwd=lambda xp, a, b: a > b)
greater_equal_p = binary("greater_equal", None, None, fwd=lambda xp, a, b: a >= b)
equal_p = binary("equal", None, None, fwd=lambda xp, a, b: a == b)
not_equal_p = binary("not_equal", None, None, fwd=lambda xp, a, b: a != b)
logical_and_p = binary("logical_and", None, None)
logical_or_p = binary("logical_or", None, None)
logical_xor_p = binary("logical_xor", None, None)
bitwise_and_p = binary("bitwise_and", None, None)
bitwise_or_p = binary("bitwise_or", None, None)
bitwise_xor_p = binary("bitwise_xor", None, None)
bitwise_left_shift_p = binary("bitwise_left_shift", None, None)
bitwise_right_shift_p = binary("bitwise_right_shift", None, None)
nextafter_p = binary("nextafter", None, None)


# --- the public functions, with the standard's signatures ----------------------------------------


def _unary_fn(prim: Primitive, doc: str) -> Callable[..., Any]:
    def fn(x: Any, /) -> Any:
        return prim(x)

    fn.__name__ = fn.__qualname__ = prim.name
    fn.__doc__ = doc
    fn.__module__ = __name__
    return fn


def _binary_fn(prim: Primitive, doc: str) -> Callable[..., Any]:
    def fn(x1: Any, x2: Any, /) -> Any:
        return prim(*promote(x1, x2))

    fn.__name__ = fn.__qualname__ = prim.name
    fn.__doc__ = doc
    fn.__module__ = __name__
    return fn


_ZERO_DOC = " Piecewise constant: its derivative is zero wherever it exists."
_NONDIFF_DOC = " Not differentiable: the result never requires grad."

abs = _unary_fn(abs_p, "``|x|``; the gradient is ``sign(x)`` (0 at 0, as in PyTorch); complex: ``x/|x|``.")
acos = _unary_fn(acos_p, "Inverse cosine.")
acosh = _unary_fn(acosh_p, "Inverse hyperbolic cosine.")
asin = _unary_fn(asin_p, "Inverse sine.")
asinh = _unary_fn(asinh_p, "Inverse hyperbolic sine.")
atan = _unary_fn(atan_p, "Inverse tangent.")
atanh = _unary_fn(atanh_p, "Inverse hyperbolic tangent.")
bitwise_invert = _unary_fn(bitwise_invert_p, "Bitwise NOT of an integer or boolean array." + _NONDIFF_DOC)
ceil = _unary_fn(ceil_p, "Round up to an integer value." + _ZERO_DOC)
conj = _unary_fn(conj_p, "Complex conjugate; the cotangent is conjugated too.")
cos = _unary_fn(cos_p, "Cosine.")
cosh = _unary_fn(cosh_p, "Hyperbolic cosine.")
exp = _unary_fn(exp_p, "``e**x``.")
expm1 = _unary_fn(expm1_p, "``exp(x) - 1``, accurate for small ``x``.")
floor = _unary_fn(floor_p, "Round down to an integer value." + _ZERO_DOC)
imag = _unary_fn(imag_p, "Imaginary part; the cotangent ``g`` flows back as ``1j * g``.")
isfinite = _unary_fn(isfinite_p, "Whether each element is finite." + _NONDIFF_DOC)
isinf = _unary_fn(isinf_p, "Whether each element is infinite." + _NONDIFF_DOC)
isnan = _unary_fn(isnan_p, "Whether each element is NaN." + _NONDIFF_DOC)
log = _unary_fn(log_p, "Natural logarithm.")
log1p = _unary_fn(log1p_p, "``log(1 + x)``, accurate for small ``x``.")
log2 = _unary_fn(log2_p, "Base-2 logarithm.")
log10 = _unary_fn(log10_p, "Base-10 logarithm.")
logical_not = _unary_fn(logical_not_p, "Logical NOT." + _NONDIFF_DOC)
negative = _unary_fn(negative_p, "``-x``.")
positive = _unary_fn(positive_p, "``+x``.")
real = _unary_fn(real_p, "Real part; a real cotangent flows back unchanged (as complex).")
reciprocal = _unary_fn(reciprocal_p, "``1 / x``.")
round = _unary_fn(round_p, "Round to the nearest integer value (ties to even)." + _ZERO_DOC)
sign = _unary_fn(sign_p, "Sign (``x/|x|`` for complex)." + _ZERO_DOC)
signbit = _unary_fn(signbit_p, "Whether the sign bit is set." + _NONDIFF_DOC)
sin = _unary_fn(sin_p, "Sine.")
sinh = _unary_fn(sinh_p, "Hyperbolic sine.")
sqrt = _unary_fn(sqrt_p, "Square root.")
square = _unary_fn(square_p, "``x * x``.")
tan = _unary_fn(tan_p, "Tangent.")
tanh = _unary_fn(tanh_p, "Hyperbolic tangent.")
trunc = _unary_fn(trunc_p, "Round toward zero." + _ZERO_DOC)

add = _binary_fn(add_p, "``x1 + x2`` element-wise, broadcasting.")
atan2 = _binary_fn(atan2_p, "Angle of the point ``(x2, x1)``, quadrant-aware.")
bitwise_and = _binary_fn(bitwise_and_p, "Bitwise AND." + _NONDIFF_DOC)
bitwise_left_shift = _binary_fn(bitwise_left_shift_p, "``x1 << x2``." + _NONDIFF_DOC)
bitwise_or = _binary_fn(bitwise_or_p, "Bitwise OR." + _NONDIFF_DOC)
bitwise_right_shift = _binary_fn(bitwise_right_shift_p, "``x1 >> x2``." + _NONDIFF_DOC)
bitwise_xor = _binary_fn(bitwise_xor_p, "Bitwise XOR." + _NONDIFF_DOC)
copysign = _binary_fn(copysign_p, "``|x1|`` with the sign of ``x2``; no gradient flows to ``x2``.")
divide = _binary_fn(divide_p, "``x1 / x2`` element-wise, broadcasting.")
equal = _binary_fn(equal_p, "``x1 == x2``." + _NONDIFF_DOC)
floor_divide = _binary_fn(floor_divide_p, "``floor(x1 / x2)``." + _ZERO_DOC)
greater = _binary_fn(greater_p, "``x1 > x2``." + _NONDIFF_DOC)
greater_equal = _binary_fn(greater_equal_p, "``x1 >= x2``." + _NONDIFF_DOC)
hypot = _binary_fn(hypot_p, "``sqrt(x1**2 + x2**2)`` without overflow.")
less = _binary_fn(less_p, "``x1 < x2``." + _NONDIFF_DOC)
less_equal = _binary_fn(less_equal_p, "``x1 <= x2``." + _NONDIFF_DOC)
logaddexp = _binary_fn(logaddexp_p, "``log(exp(x1) + exp(x2))`` without overflow.")
logical_and = _binary_fn(logical_and_p, "Logical AND." + _NONDIFF_DOC)
logical_or = _binary_fn(logical_or_p, "Logical OR." + _NONDIFF_DOC)
logical_xor = _binary_fn(logical_xor_p, "Logical XOR." + _NONDIFF_DOC)
maximum = _binary_fn(maximum_p, "Element-wise maximum; at ties the gradient is split evenly.")
minimum = _binary_fn(minimum_p, "Element-wise minimum; at ties the gradient is split evenly.")
multiply = _binary_fn(multiply_p, "``x1 * x2`` element-wise, broadcasting.")
nextafter = _binary_fn(nextafter_p, "The next representable value after ``x1`` toward ``x2``." + _NONDIFF_DOC)
not_equal = _binary_fn(not_equal_p, "``x1 != x2``." + _NONDIFF_DOC)
pow = _binary_fn(pow_p, "``x1 ** x2``; d/dx2 at x1 == 0 is taken as 0 (the limit for x2 > 0).")
remainder = _binary_fn(remainder_p, "``x1 - floor(x1 / x2) * x2`` (the sign of ``x2``).")
subtract = _binary_fn(subtract_p, "``x1 - x2`` element-wise, broadcasting.")


def clip(x: Any, /, min: Any = None, max: Any = None) -> Any:  # noqa: A002 - the standard's names
    """``x`` limited to ``[min, max]``; the gradient goes to whichever value was chosen
    (``x`` wins ties with a bound). The result has ``x``'s dtype."""
    return clip_p(x, min, max)
