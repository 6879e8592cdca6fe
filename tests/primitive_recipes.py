"""The one table of input recipes: every differentiable function and primitive, how to call it, on what.

It drives every derivative check of the suite (``tests/test_primitive_table.py``): ``gradcheck``
(float64, random cotangents), forward mode through ``agrad.jvp`` against finite differences and
against reverse mode (``<u, J v> = <J^T u, v>``), ``gradgradcheck`` (second derivatives), and the
non-differentiable results; ``docs/coverage.py`` generates ``docs/coverage.md`` from it.

Each case is ``(name, call, inputs)``: ``call(xp, *tensors)`` applies the function (with its
static arguments, ``xp`` is ``agrad``) and returns a real Tensor or a tuple of them; each input is
``(shape, low, high)`` for uniform values in ``[low, high)`` or ``(shape, None, None)`` for
standard-normal values. Domains keep away from kinks, poles and degenerate points (acos inside
(-1, 1), logs of positives, SPD matrices for cholesky, distinct eigen/singular values), where
finite differences lie. ``name`` is the public name (``"linalg.solve"``, ``"nn.functional.conv2d"``)
or, for internal primitives, the primitive's name; ``"[variant]"`` marks further cases of a name.
The suite checks that the cases together exercise every differentiable primitive of
``agrad._core.primitive.PRIMITIVES``.

``NON_DIFFERENTIABLE`` lists the functions whose results never require grad, with the reason, and
``FORWARD_CALLS`` one call of each.
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
CASES += [(n, _fn(n), [_u((3, 1), d1), _u((4,), d2)]) for n, (d1, d2) in BINARY_DOMAINS.items()]
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
    ("min[axes]", lambda xp, x: xp.min(x, axis=(0, 1)), [_u((3, 4, 2))]),
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
    ("stack", lambda xp, a, b, c: xp.stack([a, b, c], axis=1), [_u(S), _u(S), _u(S)]),
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


def _prim(name: str) -> Any:
    """An internal primitive (no public function of its own), called directly."""
    from agrad._core.primitive import PRIMITIVES

    return PRIMITIVES[name]


def _raw(xp: Any, values: Any) -> Any:
    """A backend array (not a Tensor) for a primitive's static index parameter."""
    return xp.asarray(values).value


def _setitem(x: Any, key: Any, value: Any) -> Any:
    """What ``x[key] = value`` records: a new tensor."""
    from agrad._ops.indexing import setitem

    return setitem(x, key, value)


def _sym(xp: Any, a: Any) -> Any:
    """A symmetric matrix (eigh reads one triangle, so the perturbation must stay symmetric)."""
    return (a + xp.matrix_transpose(a)) * 0.5


def _spd(xp: Any, a: Any) -> Any:
    """A well-conditioned symmetric positive-definite matrix built from ``a``."""
    n = a.shape[-1]
    return a @ xp.matrix_transpose(a) + n * xp.eye(n, dtype=a.dtype)


def _parts(xp: Any, z: Any) -> tuple:
    """A complex result as two real ones (the checks need real outputs)."""
    return xp.real(z), xp.imag(z)


_CONV = {"stride": (1, 1), "padding": (1, 0), "dilation": (1, 1), "groups": 1}
_POOL = {"kernel_size": (2, 2), "stride": (1, 2), "padding": (1, 0), "dilation": (1, 1)}

EXTENSION_CASES: list[tuple[str, Any, list[tuple]]] = [
    # internal primitives of the main namespace
    ("alias", lambda xp, a: _prim("alias")(a), [_u(S)]),
    ("getitem", lambda xp, a: a[1:3, ..., ::2], [_u((4, 5))]),
    ("setitem", lambda xp, a, v: _setitem(a, (slice(1, 3), 0), v), [_u((4, 3)), _u((2,))]),
    ("scatter_add", lambda xp, a: _prim("scatter_add")(a, index=_raw(xp, [0, 2, 2, 1, 0]), size=3),
     [_u((5, 3))]),
    ("index_scatter", lambda xp, a: _prim("index_scatter")(a, shape=(4, 5), key=(slice(1, 3), Ellipsis)),
     [_u((2, 5))]),
    ("to_device", lambda xp, a: _prim("to_device")(a, device=a.device), [_u(S)]),
    ("einsum", lambda xp, a, b, c: xp.einsum("bij,jk,k->bi", a, b, c), [_u((2, 3, 4)), _u((4, 5)), _u((5,))]),
    ("einsum[trace]", lambda xp, a: xp.einsum("iij->ji", a), [_u((3, 3, 2))]),
    # linalg
    ("linalg.cholesky", lambda xp, a: xp.linalg.cholesky(_spd(xp, a)), [_u((2, 3, 3))]),
    ("linalg.cross", lambda xp, a, b: xp.linalg.cross(a, b), [_u((4, 3)), _u((3,))]),
    ("linalg.det", lambda xp, a: xp.linalg.det(a), [_u((2, 3, 3))]),
    ("linalg.diagonal", lambda xp, a: xp.linalg.diagonal(a, offset=-1), [_u((2, 4, 3))]),
    ("linalg.eigh", lambda xp, a: tuple(xp.linalg.eigh(_sym(xp, a))), [_u((2, 4, 4))]),
    ("linalg.inv", lambda xp, a: xp.linalg.inv(a), [_u((2, 3, 3))]),
    ("linalg.pinv", lambda xp, a: xp.linalg.pinv(a), [_u((4, 3))]),
    ("linalg.qr", lambda xp, a: tuple(xp.linalg.qr(a)), [_u((4, 3))]),
    ("linalg.slogdet", lambda xp, a: xp.linalg.slogdet(a)[1], [_u((2, 3, 3))]),
    ("linalg.solve", lambda xp, a, b: xp.linalg.solve(a, b), [_u((2, 3, 3)), _u((3, 2))]),
    ("linalg.svd", lambda xp, a: tuple(xp.linalg.svd(a, full_matrices=False)), [_u((2, 4, 3))]),
    ("linalg.vector_norm", lambda xp, a: xp.linalg.vector_norm(a, ord=3, axis=1), [_u((3, 4))]),
    ("linalg.matrix_norm", lambda xp, a: xp.linalg.matrix_norm(a, ord="nuc"), [_u((2, 4, 3))]),
    ("linalg.matrix_power", lambda xp, a: xp.linalg.matrix_power(a, -2), [_u((3, 3))]),
    ("linalg.eigvalsh", lambda xp, a: xp.linalg.eigvalsh(_sym(xp, a)), [_u((4, 4))]),
    ("linalg.svdvals", lambda xp, a: xp.linalg.svdvals(a), [_u((2, 3, 4))]),
    ("linalg.trace", lambda xp, a: xp.linalg.trace(a, offset=1), [_u((2, 3, 4))]),
    ("linalg.outer", lambda xp, a, b: xp.linalg.outer(a, b), [_u((3,)), _u((4,))]),
    # fft (complex inputs as two real tensors, complex outputs as two real ones)
    ("fft.fft", lambda xp, x, y: _parts(xp, xp.fft.fft(_z(xp, x, y), n=5)), [_u(S), _u(S)]),
    ("fft.rfft", lambda xp, x: _parts(xp, xp.fft.rfft(x, norm="ortho")), [_u((3, 6))]),
    ("fft.irfft", lambda xp, x, y: xp.fft.irfft(_z(xp, x, y), n=7), [_u(S), _u(S)]),
    ("fft.ifft", lambda xp, x, y: _parts(xp, xp.fft.ifft(_z(xp, x, y), axis=0)), [_u(S), _u(S)]),
    ("fft.fftn", lambda xp, x, y: _parts(xp, xp.fft.fftn(_z(xp, x, y), s=(5, 2), axes=(1, 0))),
     [_u(S), _u(S)]),
    ("fft.ifftn", lambda xp, x, y: _parts(xp, xp.fft.ifftn(_z(xp, x, y), norm="forward")), [_u(S), _u(S)]),
    ("fft.rfftn", lambda xp, x: _parts(xp, xp.fft.rfftn(x)), [_u((3, 4))]),
    ("fft.irfftn", lambda xp, x, y: xp.fft.irfftn(_z(xp, x, y), s=(3, 5)), [_u(S), _u(S)]),
    ("fft.hfft", lambda xp, x, y: xp.fft.hfft(_z(xp, x, y)), [_u(S), _u(S)]),
    ("fft.ihfft", lambda xp, x: _parts(xp, xp.fft.ihfft(x)), [_u((3, 6))]),
    ("fft.fftshift", lambda xp, x: xp.fft.fftshift(x), [_u((3, 5))]),
    ("fft.ifftshift", lambda xp, x: xp.fft.ifftshift(x, axes=0), [_u((3, 5))]),
    ("_complex", lambda xp, x, y: _parts(xp, _prim("_complex")(x, y) * (1 - 2j)), [_u(S), _u(S)]),
    # nn.functional
    ("nn.functional.linear", lambda xp, x, w, b: xp.nn.functional.linear(x, w, b),
     [_u((2, 3)), _u((4, 3)), _u((4,))]),
    ("nn.functional.relu", lambda xp, x: xp.nn.functional.relu(x), [_u(S)]),
    ("nn.functional.sigmoid", lambda xp, x: xp.nn.functional.sigmoid(x), [_u(S)]),
    ("nn.functional.silu", lambda xp, x: xp.nn.functional.silu(x), [_u(S)]),
    ("nn.functional.gelu", lambda xp, x: xp.nn.functional.gelu(x), [_u(S)]),
    ("nn.functional.gelu[tanh]", lambda xp, x: xp.nn.functional.gelu(x, approximate="tanh"), [_u(S)]),
    ("nn.functional.erf", lambda xp, x: xp.nn.functional.erf(x), [_u(S)]),
    ("nn.functional.softmax", lambda xp, x: xp.nn.functional.softmax(x, axis=1), [_u(S)]),
    ("nn.functional.log_softmax", lambda xp, x: xp.nn.functional.log_softmax(x, axis=0), [_u(S)]),
    ("nn.functional.leaky_relu", lambda xp, x: xp.nn.functional.leaky_relu(x, 0.2), [_u(S)]),
    ("nn.functional.elu", lambda xp, x: xp.nn.functional.elu(x, 0.7), [_u(S)]),
    ("nn.functional.selu", lambda xp, x: xp.nn.functional.selu(x), [_u(S)]),
    ("nn.functional.prelu", lambda xp, x, w: xp.nn.functional.prelu(x, w), [_u((2, 3, 2)), _u((3,))]),
    ("nn.functional.softplus",  # both sides of the threshold (beta * x > 3 is linear)
     lambda xp, x: xp.nn.functional.softplus(x, beta=2.0, threshold=3.0), [_u(S, (-3.0, 3.0))]),
    ("nn.functional.mish", lambda xp, x: xp.nn.functional.mish(x), [_u(S)]),
    ("nn.functional.hardswish", lambda xp, x: xp.nn.functional.hardswish(x), [_u(S, (-5.0, 5.0))]),
    ("nn.functional.group_norm", lambda xp, x, w, b: xp.nn.functional.group_norm(x, 2, w, b),
     [_u((2, 4, 3)), _u((4,)), _u((4,))]),
    ("nn.functional.rms_norm", lambda xp, x, w: xp.nn.functional.rms_norm(x, (4,), w),
     [_u((2, 3, 4)), _u((4,))]),
    ("nn.functional.cross_entropy",
     lambda xp, z: xp.nn.functional.cross_entropy(z, xp.asarray([2, 0, 3]), reduction="none"), [_u(S)]),
    ("nn.functional.cross_entropy[probabilities]",
     lambda xp, z, q: xp.nn.functional.cross_entropy(z, q, label_smoothing=0.1), [_u(S), _u(S, (0.1, 1.0))]),
    ("nn.functional.layer_norm",
     lambda xp, x, w, b: xp.nn.functional.layer_norm(x, (4,), w, b), [_u((2, 3, 4)), _u((4,)), _u((4,))]),
    ("nn.functional.conv2d",
     lambda xp, x, w: _prim("conv2d")(x, w, **_CONV), [_u((1, 2, 4, 5)), _u((2, 2, 2, 3))]),
    ("conv2d_input_grad",
     lambda xp, g, w: _prim("conv2d_input_grad")(g, w, input_size=(4, 5), **_CONV),
     [_u((1, 2, 5, 3)), _u((2, 2, 2, 3))]),
    ("conv2d_weight_grad",
     lambda xp, x, g: _prim("conv2d_weight_grad")(x, g, weight_size=(2, 2, 2, 3), **_CONV),
     [_u((1, 2, 4, 5)), _u((1, 2, 5, 3))]),
    ("nn.functional.max_pool2d", lambda xp, x: xp.nn.functional.max_pool2d(x, 2, (1, 2), 1),
     [_u((1, 2, 5, 6))]),
    ("nn.functional.avg_pool2d",
     lambda xp, x: xp.nn.functional.avg_pool2d(x, 3, 2, 1, count_include_pad=False), [_u((1, 2, 5, 6))]),
    ("nn.functional.unfold", lambda xp, x: xp.nn.functional.unfold(x, 2, padding=1, stride=(1, 2)),
     [_u((1, 2, 4, 5))]),
    ("fold2d", lambda xp, c: _prim("fold2d")(c, input_size=(4, 5), **_POOL), [_u((1, 2, 4, 5, 2))]),
]
"""Extensions, linalg, fft, einsum, nn and the internal primitives."""

CASES += EXTENSION_CASES

NEEDS_COMPLEX = frozenset(
    [n for n, _, _ in COMPLEX_CASES] + ["_complex"]
    + [n for n, _, _ in EXTENSION_CASES if n.startswith("fft.") and "shift" not in n]
)
"""Cases that compute with complex dtypes (skipped where the backend lacks ``complex``)."""

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


def derivative_checks() -> dict[str, Any]:
    """The checks every case runs, by the column they fill: reverse mode (``gradcheck``), forward
    mode (``jvp_check``: finite differences and agreement with reverse mode), second order
    (``gradgradcheck``) and forward-over-reverse Hessian-vector products (``hvp_check``)."""
    from agrad.testing import gradcheck, gradgradcheck
    from tests.jvp_check import hvp_check, jvp_check

    return {"vjp": gradcheck, "jvp": jvp_check, "2nd": gradgradcheck, "hvp": hvp_check}


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


def _ints(xp: Any, x: Any) -> Any:
    return xp.asarray([3, 1, 3, 0, 2], dtype=xp.int32)


def _applies(make_args: Any) -> Any:
    """``name -> (lambda xp, x: xp.<name>(*make_args(xp, x)))``."""
    def for_name(name: str) -> Any:
        return lambda xp, x: getattr(xp, name)(*make_args(xp, x))

    return for_name


_two_floats = _applies(lambda xp, x: (x, x * 0.5))
_two_bools = _applies(lambda xp, x: (x > 0, x < 1))
_int_and_one = _applies(lambda xp, x: (_ints(xp, x), xp.asarray(1, dtype=xp.int32)))
_one_float = _applies(lambda xp, x: (x,))
_one_int = _applies(lambda xp, x: (_ints(xp, x),))

FORWARD_CALLS: dict[str, Any] = {
    **{n: _two_floats(n) for n in
       ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "nextafter")},
    **{n: _two_bools(n) for n in ("logical_and", "logical_or", "logical_xor")},
    **{n: _int_and_one(n) for n in
       ("bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift")},
    **{n: _one_float(n) for n in
       ("isfinite", "isinf", "isnan", "signbit", "argmax", "argmin", "argsort", "count_nonzero",
        "zeros_like", "ones_like", "empty_like", "unique_all", "unique_counts", "unique_inverse",
        "unique_values", "nonzero")},
    "logical_not": lambda xp, x: xp.logical_not(x > 0),
    "bitwise_invert": lambda xp, x: xp.bitwise_invert(_ints(xp, x)),
    "isin": lambda xp, x: xp.isin(xp.astype(x, xp.int32), _ints(xp, x)),
    "searchsorted": lambda xp, x: xp.searchsorted(xp.sort(x), x),
    "all": lambda xp, x: xp.all(x > -2), "any": lambda xp, x: xp.any(x > 1),
    "arange": lambda xp, x: xp.arange(1, 7, 2), "asarray": lambda xp, x: xp.asarray([[1, 2]]),
    "empty": lambda xp, x: xp.empty((2, 3)), "eye": lambda xp, x: xp.eye(3, 4, k=1),
    "from_dlpack": lambda xp, x: xp.from_dlpack(x.detach() if hasattr(x, "detach") else x),
    "full": lambda xp, x: xp.full((2,), 3.0),
    "full_like": lambda xp, x: xp.full_like(x, 2.0), "linspace": lambda xp, x: xp.linspace(0, 1, 5),
    "ones": lambda xp, x: xp.ones((2, 2)), "zeros": lambda xp, x: xp.zeros(3),
    "broadcast_shapes": lambda xp, x: xp.broadcast_shapes((2, 1), (3,)),
    "can_cast": lambda xp, x: xp.can_cast(xp.int8, xp.int16), "finfo": lambda xp, x: xp.finfo(xp.float32),
    "iinfo": lambda xp, x: xp.iinfo(xp.int8), "isdtype": lambda xp, x: xp.isdtype(xp.int8, "integral"),
    "result_type": lambda xp, x: xp.result_type(xp.int8, xp.uint8),
}
"""A forward call of each non-differentiable function, ``call(xp, x)`` with ``x`` a float Tensor that
requires grad (``forward_input``): the results must not require grad."""

DATA_DEPENDENT_SHAPES = ("nonzero", "unique_all", "unique_counts", "unique_inverse", "unique_values")
"""Non-differentiable functions whose result shapes depend on the values."""


def forward_input(xp: Any) -> Any:
    """The float input of ``FORWARD_CALLS``: it requires grad (with a repeated value for unique_*)."""
    return xp.asarray([0.5, -1.0, 2.0, 0.0, 0.5], dtype=xp.float32).requires_grad_()


def needs(name: str, backend: Any) -> str | None:
    """The capability a case needs and ``backend`` lacks (its name), or ``None``."""
    if name in NEEDS_COMPLEX and not backend.capabilities.complex:
        return "complex"
    if name in DATA_DEPENDENT_SHAPES and not backend.capabilities.data_dependent_shapes:
        return "data_dependent_shapes"
    if name == "from_dlpack" and not hasattr(backend.xp.asarray([1.0]), "__dlpack__"):
        return "DLPack export (lazy arrays)"
    return None
