"""One table of every differentiable function of the main namespace: how to call it, on what.

Used by ``tests/test_grad_table.py`` (gradcheck in float64 on every backend) and by
``docs/coverage.py`` (the generated coverage table). Each case is ``(function name, call, inputs)``:
``call(xp, *tensors)`` applies the function (with its static arguments); each input is
``(shape, low, high)`` for uniform values in ``[low, high)`` or ``(shape, None, None)`` for
standard-normal values. Domains keep away from kinks and poles, where finite differences lie.

``NON_DIFFERENTIABLE`` lists the functions whose results never require grad, with the reason.
"""

from __future__ import annotations

from typing import Any

N = None  # standard normal
POS = (0.5, 2.0)  # a positive domain
UNIT = (-0.8, 0.8)  # inside (-1, 1)
S = (3, 4)


def _u(shape: tuple, dom: tuple = (N, N)) -> tuple:
    return (shape, *dom)


UNARY_DOMAINS: dict[str, tuple] = {
    "abs": (N, N), "acos": UNIT, "acosh": (1.5, 3.0), "asin": UNIT, "asinh": (N, N),
    "atan": (N, N), "atanh": UNIT, "ceil": (N, N), "cos": (N, N), "cosh": (N, N),
    "exp": (N, N), "expm1": (N, N), "floor": (N, N), "log": POS, "log1p": POS,
    "log2": POS, "log10": POS, "negative": (N, N), "positive": (N, N),
    "reciprocal": POS, "round": (0.1, 0.4), "sign": (N, N), "sin": (N, N), "sinh": (N, N),
    "sqrt": POS, "square": (N, N), "tan": UNIT, "tanh": (N, N), "trunc": (0.1, 0.9),
}
BINARY_DOMAINS: dict[str, tuple] = {
    "add": ((N, N), (N, N)), "subtract": ((N, N), (N, N)), "multiply": ((N, N), (N, N)),
    "divide": ((N, N), POS), "pow": (POS, (N, N)), "atan2": ((N, N), POS), "hypot": (POS, POS),
    "copysign": (POS, (N, N)), "remainder": ((0.1, 0.9), (1.2, 1.8)), "floor_divide": ((0.1, 0.9), POS),
    "logaddexp": ((N, N), (N, N)), "maximum": ((N, N), (N, N)), "minimum": ((N, N), (N, N)),
}


def _fn(name: str) -> Any:
    return lambda xp, *ts: getattr(xp, name)(*ts)


def _z(xp: Any, x: Any, y: Any) -> Any:
    """``x + 1j*y`` from two real tensors: complex cases are checked through their real inputs."""
    c = xp.complex128
    return xp.astype(x, c) + xp.astype(y, c) * 1j


def _complex(f: Any) -> Any:
    return lambda xp, x, y: f(xp, _z(xp, x, y))


COMPLEX_CASES: list[tuple[str, Any, list[tuple]]] = [
    (name, _complex(f), [_u(S), _u(S)]) for name, f in [
        ("real", lambda xp, z: xp.real(z * z)),
        ("imag", lambda xp, z: xp.imag(z * (0.5 - 2j))),
        ("conj", lambda xp, z: xp.real(xp.conj(z) * (1 + 3j))),
        ("abs[complex]", lambda xp, z: xp.abs(z)),
        ("exp[complex]", lambda xp, z: xp.imag(xp.exp(z))),
        ("multiply[complex]", lambda xp, z: xp.real(z * xp.conj(z) * z)),
        ("divide[complex]", lambda xp, z: xp.imag(1 / (z + 3.0))),
        ("sqrt[complex]", lambda xp, z: xp.real(xp.sqrt(z + 4.0))),
        ("log[complex]", lambda xp, z: xp.imag(xp.log(z + 4.0))),
        ("sum[complex]", lambda xp, z: xp.real(xp.sum(z * z, axis=0))),
        ("vecdot[complex]", lambda xp, z: xp.imag(xp.vecdot(z, z * 1j))),
    ]
]
"""Complex functions, checked through real inputs ``z = x + 1j*y`` and a real output."""

CASES: list[tuple[str, Any, list[tuple]]] = []
CASES += [(n, _fn(n), [_u(S, d)]) for n, d in UNARY_DOMAINS.items()]
CASES += [(n, _fn(n), [_u(S, d1), _u((4,), d2)]) for n, (d1, d2) in BINARY_DOMAINS.items()]
CASES += [
    ("clip", lambda xp, x, lo, hi: xp.clip(x, lo, hi),
     [_u(S), _u((4,), (-2.0, -1.0)), _u((3, 1), (1.0, 2.0))]),
    ("where", lambda xp, x, y: xp.where(x > 0, x, y), [_u(S), _u((4,))]),
    ("matmul", lambda xp, a, b: xp.matmul(a, b), [_u((2, 3, 4)), _u((4, 2))]),
    ("matrix_transpose", lambda xp, a: xp.matrix_transpose(a), [_u((2, 3, 4))]),
    ("tensordot", lambda xp, a, b: xp.tensordot(a, b, axes=([1, 2], [0, 1])), [_u((2, 3, 4)), _u((3, 4, 2))]),
    ("vecdot", lambda xp, a, b: xp.vecdot(a, b, axis=-1), [_u((2, 3, 4)), _u((3, 4))]),
    ("astype", lambda xp, a: xp.astype(a, xp.float64), [_u(S)]),
    # statistical
    ("sum", lambda xp, x: xp.sum(x, axis=1), [_u((3, 4, 2))]),
    ("mean", lambda xp, x: xp.mean(x, axis=(0, 2), keepdims=True), [_u((3, 4, 2))]),
    ("prod", lambda xp, x: xp.prod(x, axis=1), [_u((3, 4, 2))]),
    ("max", lambda xp, x: xp.max(x, axis=0), [_u(S)]),
    ("min", lambda xp, x: xp.min(x, axis=-1, keepdims=True), [_u(S)]),
    ("var", lambda xp, x: xp.var(x, axis=0, correction=1), [_u(S)]),
    ("std", lambda xp, x: xp.std(x, axis=1), [_u(S)]),
    ("cumulative_sum", lambda xp, x: xp.cumulative_sum(x, axis=1, include_initial=True), [_u(S)]),
    ("cumulative_prod", lambda xp, x: xp.cumulative_prod(x, axis=0), [_u(S)]),
    # manipulation
    ("broadcast_arrays", lambda xp, a, b: xp.broadcast_arrays(a, b), [_u((3, 1)), _u((4,))]),
    ("broadcast_to", lambda xp, a: xp.broadcast_to(a, (2, 3, 4)), [_u((3, 1))]),
    ("concat", lambda xp, a, b: xp.concat([a, b], axis=1), [_u((2, 3)), _u((2, 2))]),
    ("expand_dims", lambda xp, a: xp.expand_dims(a, axis=1), [_u(S)]),
    ("flip", lambda xp, a: xp.flip(a, axis=0), [_u(S)]),
    ("moveaxis", lambda xp, a: xp.moveaxis(a, 0, -1), [_u((2, 3, 4))]),
    ("permute_dims", lambda xp, a: xp.permute_dims(a, (2, 0, 1)), [_u((2, 3, 4))]),
    ("repeat", lambda xp, a: xp.repeat(a, 2, axis=1), [_u(S)]),
    ("reshape", lambda xp, a: xp.reshape(a, (2, 6)), [_u(S)]),
    ("roll", lambda xp, a: xp.roll(a, (1, -2), axis=(0, 1)), [_u(S)]),
    ("squeeze", lambda xp, a: xp.squeeze(a, axis=1), [_u((3, 1, 2))]),
    ("stack", lambda xp, a, b: xp.stack([a, b], axis=1), [_u(S), _u(S)]),
    ("tile", lambda xp, a: xp.tile(a, (2, 1, 3)), [_u((2, 3))]),
    ("unstack", lambda xp, a: xp.unstack(a, axis=1), [_u(S)]),
    # indexing, sorting, creation
    ("take", lambda xp, a: xp.take(a, xp.asarray([2, 0, 2]), axis=1), [_u(S)]),
    ("take_along_axis", lambda xp, a: xp.take_along_axis(
        a, xp.asarray([[0, 2, 2], [1, 1, 0], [3, 0, 3]]), axis=1), [_u(S)]),
    ("sort", lambda xp, a: xp.sort(a, axis=1, descending=True), [_u(S)]),
    ("tril", lambda xp, a: xp.tril(a, k=-1), [_u((2, 4, 4))]),
    ("triu", lambda xp, a: xp.triu(a, k=1), [_u((4, 3))]),
    ("meshgrid", lambda xp, a, b: xp.meshgrid(a, b), [_u((3,)), _u((4,))]),
    ("diff", lambda xp, a: xp.diff(a, axis=0, n=2), [_u((5, 3))]),
]

CASES += COMPLEX_CASES

NON_DIFFERENTIABLE: dict[str, str] = {
    **{n: "comparison: boolean result" for n in
       ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal")},
    **{n: "logical: boolean in and out" for n in ("logical_and", "logical_or", "logical_xor", "logical_not")},
    **{n: "bitwise: integer in and out" for n in (
        "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_invert", "bitwise_left_shift",
        "bitwise_right_shift")},
    **{n: "classification: boolean result" for n in ("isfinite", "isinf", "isnan", "signbit", "isin")},
    "nextafter": "a step to the next float: no useful derivative",
    **{n: "integer result (indices)" for n in ("argmax", "argmin", "argsort", "searchsorted", "nonzero",
                                               "count_nonzero")},
    **{n: "set of values: not a smooth function of the input" for n in
       ("unique_all", "unique_counts", "unique_inverse", "unique_values")},
    **{n: "boolean reduction" for n in ("all", "any")},
    **{n: "creates a new array from no differentiable input" for n in
       ("arange", "asarray", "empty", "empty_like", "eye", "from_dlpack", "full", "full_like", "linspace",
        "ones", "ones_like", "zeros", "zeros_like")},
    **{n: "returns dtype information, not an array" for n in
       ("broadcast_shapes", "can_cast", "finfo", "iinfo", "isdtype", "result_type")},
}
"""Functions whose results never require grad, and why."""

ZERO_DERIVATIVE = ("ceil", "floor", "round", "trunc", "sign", "floor_divide")
"""Piecewise constant: differentiable, with a zero derivative wherever it exists."""


def make_inputs(xp: Any, specs: list[tuple], dtype: Any, seed: int = 0) -> list[Any]:
    """Tensors for a case's input specs (requires_grad, reproducible)."""
    from agrad.testing import rand, randn

    out = []
    for i, (shape, low, high) in enumerate(specs):
        if low is None:
            out.append(randn(*shape, dtype=dtype, seed=seed + i))
        else:
            out.append(rand(*shape, dtype=dtype, seed=seed + i, low=low, high=high))
    return out


def _ints(xp: Any) -> Any:
    return xp.asarray([3, 1, 3, 0, 2], dtype=xp.int32)


def _floats(xp: Any) -> Any:
    return xp.asarray([0.5, -1.0, 2.0, 0.0])


def _applies(make_args: Any) -> Any:
    """``name -> (lambda xp: xp.<name>(*make_args(xp)))``."""
    def for_name(name: str) -> Any:
        return lambda xp: getattr(xp, name)(*make_args(xp))

    return for_name


_two_floats = _applies(lambda xp: (_floats(xp), _floats(xp)))
_two_bools = _applies(lambda xp: (_floats(xp) > 0, _floats(xp) < 1))
_int_and_one = _applies(lambda xp: (_ints(xp), xp.asarray(1, dtype=xp.int32)))
_one_float = _applies(lambda xp: (_floats(xp),))
_one_int = _applies(lambda xp: (_ints(xp),))

FORWARD_CALLS: dict[str, Any] = {
    **{n: _two_floats(n) for n in
       ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "nextafter")},
    **{n: _two_bools(n) for n in ("logical_and", "logical_or", "logical_xor")},
    **{n: _int_and_one(n) for n in
       ("bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift")},
    **{n: _one_float(n) for n in
       ("isfinite", "isinf", "isnan", "signbit", "argmax", "argmin", "argsort", "count_nonzero",
        "zeros_like", "ones_like", "empty_like")},
    **{n: _one_int(n) for n in ("unique_all", "unique_counts", "unique_inverse", "unique_values")},
    "logical_not": lambda xp: xp.logical_not(_floats(xp) > 0),
    "bitwise_invert": lambda xp: xp.bitwise_invert(_ints(xp)),
    "isin": lambda xp: xp.isin(_ints(xp), xp.asarray([3, 0], dtype=xp.int32)),
    "searchsorted": lambda xp: xp.searchsorted(xp.sort(_floats(xp)), _floats(xp)),
    "nonzero": lambda xp: xp.nonzero(_floats(xp)),
    "all": lambda xp: xp.all(_floats(xp) > -2), "any": lambda xp: xp.any(_floats(xp) > 1),
    "arange": lambda xp: xp.arange(1, 7, 2), "asarray": lambda xp: xp.asarray([[1, 2]]),
    "empty": lambda xp: xp.empty((2, 3)), "eye": lambda xp: xp.eye(3, 4, k=1),
    "from_dlpack": lambda xp: xp.from_dlpack(_floats(xp)), "full": lambda xp: xp.full((2,), 3.0),
    "full_like": lambda xp: xp.full_like(_floats(xp), 2.0), "linspace": lambda xp: xp.linspace(0, 1, 5),
    "ones": lambda xp: xp.ones((2, 2)), "zeros": lambda xp: xp.zeros(3),
    "broadcast_shapes": lambda xp: xp.broadcast_shapes((2, 1), (3,)),
    "can_cast": lambda xp: xp.can_cast(xp.int8, xp.int16), "finfo": lambda xp: xp.finfo(xp.float32),
    "iinfo": lambda xp: xp.iinfo(xp.int8), "isdtype": lambda xp: xp.isdtype(xp.int8, "integral"),
    "result_type": lambda xp: xp.result_type(xp.int8, xp.uint8),
}
"""A forward call of each non-differentiable function (the coverage table runs them)."""

PIECEWISE_LINEAR = frozenset((
    "add", "astype", "broadcast_arrays", "broadcast_to", "ceil", "clip", "concat", "conj", "copysign",
    "cumulative_sum", "diff", "expand_dims", "flip", "floor", "floor_divide", "imag", "matrix_transpose",
    "max", "maximum", "mean", "meshgrid", "min", "minimum", "moveaxis", "negative", "permute_dims",
    "positive", "remainder", "repeat", "reshape", "roll", "round", "sign", "sort", "squeeze", "stack",
    "subtract", "sum", "take", "take_along_axis", "tile", "tril", "triu", "trunc", "unstack", "where",
))
"""Cases whose gradient does not depend on the input (second derivative zero): the second-order
check has nothing to differentiate there."""
