"""Convolution and pooling: portable references from standard operations, with kernel entry points.

The portable reference works on any conforming namespace (array_api_strict included): patches
are cut by strided slicing and stacked (``unfold2d``, "im2col"), convolution is one batched
``matmul``, and the adjoint ``fold2d`` ("col2im") places the patches back by zero-interleaving
and concatenating, never by writing into an array.

Kernel entry points (a backend may register fused versions in ``Backend.kernels``; same results). Raw
backend arrays in, raw array out; every tuple below is a pair ``(h, w)`` of Python ints:

* ``"unfold2d"``: ``fn(xp, x, *, kernel_size, stride, padding, dilation, pad_value) -> cols``;
  ``x`` is ``(N, C, H, W)``, ``cols`` is ``(N, C, kh*kw, Ho, Wo)``, padding filled with ``pad_value``
  (0.0, or -inf for max pooling).
* ``"fold2d"``: ``fn(xp, cols, *, input_size, kernel_size, stride, padding, dilation) -> x``:
  the adjoint of unfold2d (overlapping patches add up); ``input_size`` is ``(H, W)``.
* ``"conv2d"``: ``fn(xp, x, w, *, stride, padding, dilation, groups) -> y``; ``x`` ``(N, C, H, W)``,
  ``w`` ``(O, C // groups, kh, kw)``, ``y`` ``(N, O, Ho, Wo)``; no bias (added outside).
* ``"conv2d_input_grad"``: ``fn(xp, g, w, *, input_size, stride, padding, dilation, groups) -> dx``.
* ``"conv2d_weight_grad"``: ``fn(xp, x, g, *, weight_size, stride, padding, dilation, groups) -> dw``
  (``weight_size`` is the full 4-tuple ``(O, C // groups, kh, kw)``).
* ``"max_pool2d"``: ``fn(xp, x, *, kernel_size, stride, padding, dilation) -> y`` (-inf padding).
* ``"avg_pool2d"``: ``fn(xp, x, *, kernel_size, stride, padding, count_include_pad) -> y``.

Each of these is an agrad primitive whose VJP is expressed with the others (conv2d's input
gradient is conv2d_input_grad, whose own VJPs are conv2d and conv2d_weight_grad...), so
``backward(create_graph=True)`` differentiates through convolutions to any order. ``conv1d`` is
``conv2d`` on a height-1 image and needs no kernel of its own.
"""

from __future__ import annotations

import math
from typing import Any

from agrad._core.primitive import device_of, extension, primitive, shape_of
from agrad._ops.manipulation import expand_dims, reshape, squeeze

Pair = tuple[int, int]



def pair(v: int | tuple[int, ...], name: str = "value") -> Pair:
    """``v`` as an ``(h, w)`` pair of ints."""
    if isinstance(v, int):
        return (v, v)
    t = tuple(int(a) for a in v)
    if len(t) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}")
    return t  # type: ignore[return-value]


def out_size(n: int, k: int, s: int, p: int, d: int) -> int:
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def _pad_axis(xp: Any, x: Any, axis: int, before: int, after: int, value: float) -> Any:
    if before == 0 and after == 0:
        return x
    parts = []
    for n in (before, after):
        shape = list(x.shape)
        shape[axis] = n
        parts.append(xp.full(tuple(shape), value, dtype=x.dtype, device=device_of(x)) if n else None)
    return xp.concat([p for p in (parts[0], x, parts[1]) if p is not None], axis=axis)


def _place_axis(xp: Any, piece: Any, axis: int, offset: int, stride: int, total: int) -> Any:
    """Zeros of length ``total`` along ``axis`` with ``piece[k]`` at ``offset + stride * k``."""
    n = piece.shape[axis]
    if stride > 1:
        zeros = xp.zeros_like(piece)
        inter = xp.stack([piece] + [zeros] * (stride - 1), axis=axis + 1)
        shape = list(piece.shape)
        shape[axis] = n * stride
        piece = xp.reshape(inter, tuple(shape))
        key = (slice(None),) * axis + (slice(0, (n - 1) * stride + 1),)
        piece = piece[key + (Ellipsis,)]
    span = (n - 1) * stride + 1
    return _pad_axis(xp, piece, axis, offset, total - offset - span, 0.0)


def unfold2d_ref(
    xp: Any, x: Any, *, kernel_size: Pair, stride: Pair, padding: Pair, dilation: Pair, pad_value: float = 0.0
) -> Any:
    """Patches of ``x`` ``(N, C, H, W)`` as ``(N, C, kh*kw, Ho, Wo)``."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel_size, stride, padding, dilation
    _, _, h, w = x.shape
    ho, wo = out_size(h, kh, sh, ph, dh), out_size(w, kw, sw, pw, dw)
    if ho < 1 or wo < 1:
        raise ValueError(
            f"the input {tuple(x.shape)} is smaller than the (dilated) kernel {kernel_size} "
            f"with padding {padding}: the output would be empty"
        )
    xp_ = _pad_axis(xp, _pad_axis(xp, x, 2, ph, ph, pad_value), 3, pw, pw, pad_value)
    pieces = [
        xp_[:, :, i * dh : i * dh + sh * (ho - 1) + 1 : sh, j * dw : j * dw + sw * (wo - 1) + 1 : sw]
        for i in range(kh)
        for j in range(kw)
    ]
    return xp.stack(pieces, axis=2)


def fold2d_ref(
    xp: Any, cols: Any, *, input_size: Pair, kernel_size: Pair, stride: Pair, padding: Pair, dilation: Pair
) -> Any:
    """The adjoint of :func:`unfold2d_ref`: patches ``(N, C, kh*kw, Ho, Wo)`` summed into ``(N, C, H, W)``."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel_size, stride, padding, dilation
    h, w = input_size
    hp, wp = h + 2 * ph, w + 2 * pw
    total = None
    for i in range(kh):
        row = None
        for j in range(kw):
            placed = _place_axis(xp, cols[:, :, i * kw + j, :, :], 3, j * dw, sw, wp)
            row = placed if row is None else row + placed
        placed = _place_axis(xp, row, 2, i * dh, sh, hp)
        total = placed if total is None else total + placed
    return total[:, :, ph : ph + h, pw : pw + w]


unfold2d_p = extension(
    primitive(
        "unfold2d",
        unfold2d_ref,
        vjp=(
            lambda xp, g, ans, x, *, kernel_size, pad_value=0.0, **geo: xp.fold2d(
                g, input_size=tuple(shape_of(x)[2:]), kernel_size=kernel_size, **geo
            ),
        ),
        jvp=(lambda xp, dx, ans, x, *, pad_value=0.0, **p: xp.unfold2d(dx, pad_value=0.0, **p),),
        kernel="unfold2d",
    )
)
fold2d_p = extension(
    primitive(
        "fold2d",
        fold2d_ref,
        vjp=(lambda xp, g, ans, cols, *, input_size, **p: xp.unfold2d(g, pad_value=0.0, **p),),
        jvp=(lambda xp, dc, ans, cols, **p: xp.fold2d(dc, **p),),
        kernel="fold2d",
    )
)


# --- convolution: forward, input gradient and weight gradient, each a primitive ----------------


def _grouped_cols(xp: Any, cols: Any, groups: int) -> Any:
    n, c, k, ho, wo = cols.shape
    return xp.reshape(cols, (n, groups, (c // groups) * k, ho * wo))


def conv2d_ref(xp: Any, x: Any, w: Any, *, stride: Pair, padding: Pair, dilation: Pair, groups: int) -> Any:
    o, _, kh, kw = w.shape
    cols = unfold2d_ref(xp, x, kernel_size=(kh, kw), stride=stride, padding=padding, dilation=dilation)
    n, _, _, ho, wo = cols.shape
    wm = xp.reshape(w, (groups, o // groups, -1))
    return xp.reshape(xp.matmul(wm, _grouped_cols(xp, cols, groups)), (n, o, ho, wo))


def conv2d_input_grad_ref(
    xp: Any, g: Any, w: Any, *, input_size: Pair, stride: Pair, padding: Pair, dilation: Pair, groups: int
) -> Any:
    n, o, ho, wo = g.shape
    _, cg, kh, kw = w.shape
    gm = xp.reshape(g, (n, groups, o // groups, ho * wo))
    wm = xp.reshape(w, (groups, o // groups, cg * kh * kw))
    cols = xp.reshape(xp.matmul(xp.matrix_transpose(wm), gm), (n, groups * cg, kh * kw, ho, wo))
    return fold2d_ref(
        xp,
        cols,
        input_size=input_size,
        kernel_size=(kh, kw),
        stride=stride,
        padding=padding,
        dilation=dilation,
    )


def conv2d_weight_grad_ref(
    xp: Any, x: Any, g: Any, *, weight_size: tuple, stride: Pair, padding: Pair, dilation: Pair, groups: int
) -> Any:
    o = weight_size[0]
    cols = unfold2d_ref(
        xp, x, kernel_size=tuple(weight_size[2:]), stride=stride, padding=padding, dilation=dilation
    )
    n, _, _, ho, wo = cols.shape
    gm = xp.reshape(g, (n, groups, o // groups, ho * wo))
    dw = xp.sum(xp.matmul(gm, xp.matrix_transpose(_grouped_cols(xp, cols, groups))), axis=0)
    return xp.reshape(dw, tuple(weight_size))


def _conv_dx(xp, g, ans, x, w, **p):
    return xp.conv2d_input_grad(g, w, input_size=tuple(shape_of(x)[2:]), **p)


def _conv_dw(xp, g, ans, x, w, **p):
    return xp.conv2d_weight_grad(x, g, weight_size=tuple(shape_of(w)), **p)


conv2d_p = extension(
    primitive(
        "conv2d",
        conv2d_ref,
        vjp=(_conv_dx, _conv_dw),
        jvp=(
            lambda xp, dx, ans, x, w, **p: xp.conv2d(dx, w, **p),
            lambda xp, dw, ans, x, w, **p: xp.conv2d(x, dw, **p),
        ),
        kernel="conv2d",
    )
)
# conv2d_input_grad(g, w) is bilinear: <Ti(g, w), u> = <g, conv(u, w)> = <Tw(u, g), w>.
conv2d_input_grad_p = extension(
    primitive(
        "conv2d_input_grad",
        conv2d_input_grad_ref,
        vjp=(
            lambda xp, u, ans, g, w, *, input_size, **p: xp.conv2d(u, w, **p),
            lambda xp, u, ans, g, w, *, input_size, **p: xp.conv2d_weight_grad(
                u, g, weight_size=tuple(shape_of(w)), **p
            ),
        ),
        jvp=(
            lambda xp, dg, ans, g, w, **p: xp.conv2d_input_grad(dg, w, **p),
            lambda xp, dw, ans, g, w, **p: xp.conv2d_input_grad(g, dw, **p),
        ),
        kernel="conv2d_input_grad",
    )
)
# conv2d_weight_grad(x, g): <Tw(x, g), v> = <g, conv(x, v)> = <Ti(g, v), x>.
conv2d_weight_grad_p = extension(
    primitive(
        "conv2d_weight_grad",
        conv2d_weight_grad_ref,
        vjp=(
            lambda xp, v, ans, x, g, *, weight_size, **p: xp.conv2d_input_grad(
                g, v, input_size=tuple(shape_of(x)[2:]), **p
            ),
            lambda xp, v, ans, x, g, *, weight_size, **p: xp.conv2d(x, v, **p),
        ),
        jvp=(
            lambda xp, dx, ans, x, g, **p: xp.conv2d_weight_grad(dx, g, **p),
            lambda xp, dg, ans, x, g, **p: xp.conv2d_weight_grad(x, dg, **p),
        ),
        kernel="conv2d_weight_grad",
    )
)


# --- pooling -----------------------------------------------------------------------------------

_NEG_INF = -math.inf


def max_pool2d_ref(xp: Any, x: Any, *, kernel_size: Pair, stride: Pair, padding: Pair, dilation: Pair) -> Any:
    cols = unfold2d_ref(
        xp, x, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation, pad_value=_NEG_INF
    )
    return xp.max(cols, axis=2)


def _first_max(xp: Any, x: Any, **p: Any) -> Any:
    """``(N, C, k, Ho, Wo)`` one-hot of each window's first maximum (PyTorch's choice at ties)."""
    cols = xp.unfold2d(x, pad_value=_NEG_INF, **p)
    k = p["kernel_size"][0] * p["kernel_size"][1]
    first = xp.argmax(cols, axis=2, keepdims=True)
    slots = xp.reshape(xp.arange(k, device=device_of(x)), (1, 1, k, 1, 1))
    return slots == first


def _max_pool_dx(xp: Any, g: Any, ans: Any, x: Any, **p: Any) -> Any:
    # The whole cotangent goes to the first maximum of each window.
    hit = xp.astype(_first_max(xp, x, **p), g.dtype)
    return xp.fold2d(hit * xp.expand_dims(g, axis=2), input_size=tuple(shape_of(x)[2:]), **p)


def _max_pool_jvp(xp: Any, dx: Any, ans: Any, x: Any, **p: Any) -> Any:
    # The tangent of each window's first maximum.
    hit = xp.astype(_first_max(xp, x, **p), dx.dtype)
    return xp.sum(hit * xp.unfold2d(dx, pad_value=0.0, **p), axis=2)


max_pool2d_p = extension(
    primitive("max_pool2d", max_pool2d_ref, vjp=(_max_pool_dx,), jvp=(_max_pool_jvp,), kernel="max_pool2d")
)


def _window_counts(n: int, k: int, s: int, p: int) -> list[int]:
    """How many of each window's ``k`` positions fall inside an axis of length ``n`` (not padding)."""
    return [sum(0 <= a * s - p + i < n for i in range(k)) for a in range(out_size(n, k, s, p, 1))]


def _avg_divisor(xp: Any, x: Any, kernel_size: Pair, stride: Pair, padding: Pair, count_include_pad: bool):
    if count_include_pad or padding == (0, 0):
        return float(kernel_size[0] * kernel_size[1])
    h, w = shape_of(x)[2:]
    rows = _window_counts(h, kernel_size[0], stride[0], padding[0])
    cols = _window_counts(w, kernel_size[1], stride[1], padding[1])
    return xp.asarray([[float(r * c) for c in cols] for r in rows], dtype=x.dtype, device=device_of(x))


def avg_pool2d_ref(
    xp: Any, x: Any, *, kernel_size: Pair, stride: Pair, padding: Pair, count_include_pad: bool
) -> Any:
    cols = unfold2d_ref(xp, x, kernel_size=kernel_size, stride=stride, padding=padding, dilation=(1, 1))
    return xp.sum(cols, axis=2) / _avg_divisor(xp, x, kernel_size, stride, padding, count_include_pad)


def _avg_pool_dx(xp: Any, g: Any, ans: Any, x: Any, *, kernel_size, stride, padding, count_include_pad):
    k = kernel_size[0] * kernel_size[1]
    div = _avg_divisor(xp, x, kernel_size, stride, padding, count_include_pad)
    share = xp.expand_dims(g / div, axis=2)
    cols = xp.broadcast_to(share, (*shape_of(share)[:2], k, *shape_of(share)[3:]))
    return xp.fold2d(
        cols,
        input_size=tuple(shape_of(x)[2:]),
        kernel_size=kernel_size,
        stride=stride,
        padding=padding,
        dilation=(1, 1),
    )


avg_pool2d_p = extension(
    primitive(
        "avg_pool2d",
        avg_pool2d_ref,
        vjp=(_avg_pool_dx,),
        jvp=(lambda xp, dx, ans, x, **p: xp.avg_pool2d(dx, **p),),
        kernel="avg_pool2d",
    )
)


# --- public functions (PyTorch's signatures) -----------------------------------------------------


def _padding(padding: int | tuple | str, kernel: Pair, dilation: Pair, stride: Pair, op: str) -> Pair:
    if padding == "valid":
        return (0, 0)
    if padding == "same":
        if stride != (1, 1):
            raise ValueError(f"{op}: padding='same' needs stride 1, got stride {stride}")
        total = [d * (k - 1) for k, d in zip(kernel, dilation)]
        if any(t % 2 for t in total):
            raise ValueError(
                f"{op}: padding='same' with an even (dilated) kernel {kernel} needs asymmetric "
                "padding, which is not supported; pad the input explicitly instead"
            )
        return (total[0] // 2, total[1] // 2)
    return pair(padding, "padding")


def _check_image(op: str, x: Any, ndim: int = 4) -> None:
    if len(x.shape) != ndim:
        layout = "(N, C, H, W)" if ndim == 4 else "(N, C, L)"
        raise ValueError(f"{op}: the input must be {ndim}-D {layout}, got shape {tuple(x.shape)}")


def conv2d(
    x: Any,
    weight: Any,
    bias: Any = None,
    stride: int | Pair = 1,
    padding: int | Pair | str = 0,
    dilation: int | Pair = 1,
    groups: int = 1,
) -> Any:
    """2-D cross-correlation of ``x`` ``(N, C, H, W)`` with ``weight`` ``(O, C // groups, kh, kw)``."""
    _check_image("conv2d", x)
    o, cg, kh, kw = weight.shape
    c = x.shape[1]
    if c != cg * groups or o % groups:
        raise ValueError(
            f"conv2d: the input has {c} channels and the weight {tuple(weight.shape)} with groups={groups} "
            f"expects {cg * groups}; out_channels ({o}) and in_channels must both divide by groups"
        )
    stride, dilation = pair(stride, "stride"), pair(dilation, "dilation")
    pad = _padding(padding, (kh, kw), dilation, stride, "conv2d")
    y = conv2d_p(x, weight, stride=stride, padding=pad, dilation=dilation, groups=groups)
    if bias is not None:

        y = y + reshape(bias, (1, o, 1, 1))
    return y


def conv1d(
    x: Any,
    weight: Any,
    bias: Any = None,
    stride: int = 1,
    padding: int | str = 0,
    dilation: int = 1,
    groups: int = 1,
) -> Any:
    """1-D cross-correlation of ``x`` ``(N, C, L)`` with ``weight`` ``(O, C // groups, k)`` (conv2d on
    a height-1 image)."""

    _check_image("conv1d", x, 3)
    if isinstance(padding, str):
        pad: Any = padding
    else:
        pad = (0, int(padding if isinstance(padding, int) else padding[0]))
    one = lambda v: (1, int(v if isinstance(v, int) else v[0]))
    y = conv2d(
        expand_dims(x, axis=2),
        expand_dims(weight, axis=2),
        bias,
        stride=one(stride),
        padding=pad,
        dilation=one(dilation),
        groups=groups,
    )
    return squeeze(y, axis=2)


def max_pool2d(
    x: Any,
    kernel_size: int | Pair,
    stride: int | Pair | None = None,
    padding: int | Pair = 0,
    dilation: int | Pair = 1,
) -> Any:
    """The maximum of each window (padding counts as -inf); the gradient goes to the first maximum."""
    _check_image("max_pool2d", x)
    k = pair(kernel_size, "kernel_size")
    s = k if stride is None else pair(stride, "stride")
    p = pair(padding, "padding")
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"max_pool2d: padding {p} must be at most half the kernel size {k}")
    return max_pool2d_p(x, kernel_size=k, stride=s, padding=p, dilation=pair(dilation, "dilation"))


def avg_pool2d(
    x: Any,
    kernel_size: int | Pair,
    stride: int | Pair | None = None,
    padding: int | Pair = 0,
    count_include_pad: bool = True,
) -> Any:
    """The mean of each window; with ``count_include_pad=False`` padding is left out of the count."""
    _check_image("avg_pool2d", x)
    k = pair(kernel_size, "kernel_size")
    s = k if stride is None else pair(stride, "stride")
    return avg_pool2d_p(
        x,
        kernel_size=k,
        stride=s,
        padding=pair(padding, "padding"),
        count_include_pad=bool(count_include_pad),
    )


def unfold(
    x: Any, kernel_size: int | Pair, dilation: int | Pair = 1, padding: int | Pair = 0, stride: int | Pair = 1
) -> Any:
    """PyTorch's ``F.unfold`` (im2col): ``(N, C, H, W)`` to ``(N, C*kh*kw, L)``."""

    _check_image("unfold", x)
    cols = unfold2d_p(
        x,
        kernel_size=pair(kernel_size),
        stride=pair(stride),
        padding=pair(padding),
        dilation=pair(dilation),
        pad_value=0.0,
    )
    n, c, k, ho, wo = cols.shape
    return reshape(cols, (n, c * k, ho * wo))
