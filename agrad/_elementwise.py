"""Element-wise functions (the standard's chapter of that name), each with its derivative rules.

Binary rules un-broadcast their cotangent back to the input's shape. Python scalars may appear
in either argument position; they are constants (no cotangent is asked of them).
"""

from __future__ import annotations

import math
from typing import Any

from agrad._primitive import primitive, shape_of, unbroadcast

_SCALAR = (int, float, complex)


def _unb(xp: Any, g: Any, like: Any) -> Any:
    return unbroadcast(xp, g, shape_of(like))


# --- arithmetic ----------------------------------------------------------------------------------

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
multiply_p = primitive(
    "multiply",
    lambda xp, a, b: a * b,
    vjp=(lambda xp, g, ans, a, b: _unb(xp, g * b, a), lambda xp, g, ans, a, b: _unb(xp, g * a, b)),
    jvp=(lambda xp, da, ans, a, b: da * b, lambda xp, db, ans, a, b: a * db),
)
divide_p = primitive(
    "divide",
    lambda xp, a, b: a / b,
    vjp=(
        lambda xp, g, ans, a, b: _unb(xp, g / b, a),
        lambda xp, g, ans, a, b: _unb(xp, -g * ans / b, b),
    ),
    jvp=(lambda xp, da, ans, a, b: da / b, lambda xp, db, ans, a, b: -db * ans / b),
)
negative_p = primitive(
    "negative",
    lambda xp, a: -a,
    vjp=(lambda xp, g, ans, a: -g,),
    jvp=(lambda xp, da, ans, a: -da,),
)


def _pow_fwd(xp: Any, a: Any, b: Any) -> Any:
    if type(b) is int or type(b) is float:  # NumPy's x**3 is ~50x slower than x*x*x
        if b == 2:
            return a * a
        if b == 3:
            return a * a * a
        if b == 1:
            return a * 1
    return a**b


def _pow_dbase_factor(xp: Any, a: Any, b: Any) -> Any:
    """d(a**b)/da = b * a**(b-1), at the output's (broadcast) shape."""
    if isinstance(b, _SCALAR):
        return b * _pow_fwd(xp, a, b - 1) if b != 0 else 0
    return b * a ** (b - 1)


def _pow_dbase(xp: Any, g: Any, ans: Any, a: Any, b: Any) -> Any:
    return _unb(xp, g * _pow_dbase_factor(xp, a, b), a)


def _log_base(xp: Any, a: Any) -> Any:
    # d/db a**b = a**b log(a); at a == 0 the limit (b > 0) is 0, as in PyTorch and JAX.
    if isinstance(a, _SCALAR):
        return math.log(a) if a != 0 else 0.0
    return xp.log(xp.where(a == 0, 1.0, a))


pow_p = primitive(
    "pow",
    _pow_fwd,
    vjp=(_pow_dbase, lambda xp, g, ans, a, b: _unb(xp, g * ans * _log_base(xp, a), b)),
    jvp=(
        lambda xp, da, ans, a, b: da * _pow_dbase_factor(xp, a, b),  # no un-broadcasting here
        lambda xp, db, ans, a, b: db * ans * _log_base(xp, a),
    ),
)


def _sel(xp: Any, cond: Any, g: Any) -> Any:
    """``g`` where ``cond`` holds, 0 elsewhere (``cond`` broadcasts against ``g``)."""
    return xp.where(cond, g, xp.zeros_like(g))


def _max_rule(first: bool):
    # Ties split the cotangent evenly between both arguments (PyTorch's and JAX's convention).
    def rule(xp: Any, g: Any, ans: Any, a: Any, b: Any) -> Any:
        mine, other = (a, b) if first else (b, a)
        win = _sel(xp, mine == ans, g)
        win = win - 0.5 * _sel(xp, mine == other, g)
        return _unb(xp, win, mine)

    return rule


maximum_p = primitive(
    "maximum",
    lambda xp, a, b: xp.maximum(a, b),
    vjp=(_max_rule(True), _max_rule(False)),
)
minimum_p = primitive(
    "minimum",
    lambda xp, a, b: xp.minimum(a, b),
    vjp=(_max_rule(True), _max_rule(False)),
)

# --- transcendental ------------------------------------------------------------------------------

exp_p = primitive(
    "exp",
    lambda xp, a: xp.exp(a),
    vjp=(lambda xp, g, ans, a: g * ans,),
    jvp=(lambda xp, da, ans, a: da * ans,),
)
log_p = primitive(
    "log",
    lambda xp, a: xp.log(a),
    vjp=(lambda xp, g, ans, a: g / a,),
    jvp=(lambda xp, da, ans, a: da / a,),
)
tanh_p = primitive(
    "tanh",
    lambda xp, a: xp.tanh(a),
    vjp=(lambda xp, g, ans, a: g * (1 - ans * ans),),
    jvp=(lambda xp, da, ans, a: da * (1 - ans * ans),),
)
sqrt_p = primitive(
    "sqrt",
    lambda xp, a: xp.sqrt(a),
    vjp=(lambda xp, g, ans, a: g / (2 * ans),),
    jvp=(lambda xp, da, ans, a: da / (2 * ans),),
)
sin_p = primitive(
    "sin",
    lambda xp, a: xp.sin(a),
    vjp=(lambda xp, g, ans, a: g * xp.cos(a),),
    jvp=(lambda xp, da, ans, a: da * xp.cos(a),),
)
cos_p = primitive(
    "cos",
    lambda xp, a: xp.cos(a),
    vjp=(lambda xp, g, ans, a: -g * xp.sin(a),),
    jvp=(lambda xp, da, ans, a: -da * xp.sin(a),),
)
abs_p = primitive(
    "abs",
    lambda xp, a: xp.abs(a),
    vjp=(lambda xp, g, ans, a: g * xp.sign(a),),
    jvp=(lambda xp, da, ans, a: da * xp.sign(a),),
)
sign_p = primitive(
    "sign",
    lambda xp, a: xp.sign(a),
    vjp=(lambda xp, g, ans, a: g * 0,),
    jvp=(lambda xp, da, ans, a: da * 0,),
)

log1p_p = primitive(
    "log1p",
    lambda xp, a: xp.log1p(a),
    vjp=(lambda xp, g, ans, a: g / (1 + a),),
    jvp=(lambda xp, da, ans, a: da / (1 + a),),
)
expm1_p = primitive(
    "expm1",
    lambda xp, a: xp.expm1(a),
    vjp=(lambda xp, g, ans, a: g * (ans + 1),),
    jvp=(lambda xp, da, ans, a: da * (ans + 1),),
)
square_p = primitive(
    "square",
    lambda xp, a: a * a,
    vjp=(lambda xp, g, ans, a: g * (2 * a),),
    jvp=(lambda xp, da, ans, a: da * (2 * a),),
)


def _logaddexp_rule(first: bool):
    def rule(xp: Any, g: Any, ans: Any, a: Any, b: Any) -> Any:
        mine = a if first else b
        return _unb(xp, g * xp.exp(mine - ans), mine)

    return rule


logaddexp_p = primitive(
    "logaddexp",
    lambda xp, a, b: xp.logaddexp(a, b),
    vjp=(_logaddexp_rule(True), _logaddexp_rule(False)),
)


def _clip_fwd(xp: Any, x: Any, lo: Any, hi: Any) -> Any:
    return xp.clip(x, lo, hi)


def _clip_rule(which: int):
    # The gradient goes to whichever of x, min, max produced the output (x wins ties).
    def rule(xp: Any, g: Any, ans: Any, x: Any, lo: Any, hi: Any) -> Any:
        inside = ans == x
        if which == 0:
            return _sel(xp, inside, g)
        bound = lo if which == 1 else hi
        picked = xp.logical_and(ans == bound, xp.logical_not(inside))
        return _unb(xp, _sel(xp, picked, g), bound)

    return rule


clip_p = primitive("clip", _clip_fwd, vjp=(_clip_rule(0), _clip_rule(1), _clip_rule(2)))

# --- comparisons: not differentiable (vjp=None), results never require grad ---------------------

less_p = primitive("less", lambda xp, a, b: a < b)
less_equal_p = primitive("less_equal", lambda xp, a, b: a <= b)
greater_p = primitive("greater", lambda xp, a, b: a > b)
greater_equal_p = primitive("greater_equal", lambda xp, a, b: a >= b)
equal_p = primitive("equal", lambda xp, a, b: a == b)
not_equal_p = primitive("not_equal", lambda xp, a, b: a != b)
logical_and_p = primitive("logical_and", lambda xp, a, b: xp.logical_and(a, b))
logical_or_p = primitive("logical_or", lambda xp, a, b: xp.logical_or(a, b))
logical_not_p = primitive("logical_not", lambda xp, a: xp.logical_not(a))


# --- the public functions, with the standard's signatures ----------------------------------------


def add(x1: Any, x2: Any, /) -> Any:
    """``x1 + x2`` element-wise, broadcasting."""
    return add_p(x1, x2)


def subtract(x1: Any, x2: Any, /) -> Any:
    """``x1 - x2`` element-wise, broadcasting."""
    return subtract_p(x1, x2)


def multiply(x1: Any, x2: Any, /) -> Any:
    """``x1 * x2`` element-wise, broadcasting."""
    return multiply_p(x1, x2)


def divide(x1: Any, x2: Any, /) -> Any:
    """``x1 / x2`` element-wise, broadcasting."""
    return divide_p(x1, x2)


def pow(x1: Any, x2: Any, /) -> Any:  # noqa: A001 - the standard's name
    """``x1 ** x2`` element-wise; d/dx2 at x1 == 0 is taken as 0 (the limit for x2 > 0)."""
    return pow_p(x1, x2)


def negative(x: Any, /) -> Any:
    return negative_p(x)


def maximum(x1: Any, x2: Any, /) -> Any:
    """Element-wise maximum; at ties the gradient is split evenly between both inputs."""
    return maximum_p(x1, x2)


def minimum(x1: Any, x2: Any, /) -> Any:
    """Element-wise minimum; at ties the gradient is split evenly between both inputs."""
    return minimum_p(x1, x2)


def exp(x: Any, /) -> Any:
    return exp_p(x)


def log(x: Any, /) -> Any:
    return log_p(x)


def tanh(x: Any, /) -> Any:
    return tanh_p(x)


def sqrt(x: Any, /) -> Any:
    return sqrt_p(x)


def sin(x: Any, /) -> Any:
    return sin_p(x)


def cos(x: Any, /) -> Any:
    return cos_p(x)


def abs(x: Any, /) -> Any:  # noqa: A001 - the standard's name
    """``|x|``; its gradient at 0 is 0 (``sign(0)``), as in PyTorch."""
    return abs_p(x)


def sign(x: Any, /) -> Any:
    return sign_p(x)


def log1p(x: Any, /) -> Any:
    return log1p_p(x)


def expm1(x: Any, /) -> Any:
    return expm1_p(x)


def square(x: Any, /) -> Any:
    return square_p(x)


def logaddexp(x1: Any, x2: Any, /) -> Any:
    return logaddexp_p(x1, x2)


def clip(x: Any, /, min: Any = None, max: Any = None) -> Any:  # noqa: A002 - the standard's names
    """``x`` limited to ``[min, max]``; the gradient goes to whichever value was chosen."""
    return clip_p(x, min, max)


def less(x1: Any, x2: Any, /) -> Any:
    return less_p(x1, x2)


def less_equal(x1: Any, x2: Any, /) -> Any:
    return less_equal_p(x1, x2)


def greater(x1: Any, x2: Any, /) -> Any:
    return greater_p(x1, x2)


def greater_equal(x1: Any, x2: Any, /) -> Any:
    return greater_equal_p(x1, x2)


def equal(x1: Any, x2: Any, /) -> Any:
    return equal_p(x1, x2)


def not_equal(x1: Any, x2: Any, /) -> Any:
    return not_equal_p(x1, x2)


def logical_and(x1: Any, x2: Any, /) -> Any:
    return logical_and_p(x1, x2)


def logical_or(x1: Any, x2: Any, /) -> Any:
    return logical_or_p(x1, x2)


def logical_not(x: Any, /) -> Any:
    return logical_not_p(x)
