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

The rest of the family is built on these primitives and needs no kernel either:
``conv_transpose2d`` (and ``conv_transpose1d``) is the adjoint of conv2d, i.e. the
``conv2d_input_grad`` primitive applied to the input; ``conv3d`` slices the depth taps and stacks
them next to the channels of one grouped ``conv2d``; ``ceil_mode`` pooling pads the end of the input
(-inf, or zeros with PyTorch's divisor); adaptive pooling reduces static slices axis by axis; ``fold``
is ``fold2d``.
"""

from __future__ import annotations

import math
from typing import Any

import agrad as ag
from agrad._core.batching import folded, front, moved
from agrad._core.primitive import device_of, extension, primitive, shape_of
from agrad._core.tensor import Tensor
from agrad._ops.manipulation import expand_dims, reshape, squeeze
from agrad.amp import lower_precision_op

Pair = tuple[int, int]


def ntuple(v: int | tuple[int, ...], n: int, name: str = "value") -> tuple[int, ...]:
    """``v`` as a tuple of ``n`` ints (an int is repeated)."""
    if isinstance(v, int):
        return (v,) * n
    t = tuple(int(a) for a in v)
    if len(t) != n:
        raise ValueError(f"{name} must be an int or a tuple of {n} ints, got {v!r}")
    return t


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


def _padding(padding: int | tuple | str, kernel: tuple, dilation: tuple, stride: tuple, op: str) -> tuple:
    """Explicit symmetric padding, one int per spatial axis, for an int, a tuple, 'valid' or 'same'."""
    nd = len(kernel)
    if padding == "valid":
        return (0,) * nd
    if padding == "same":
        if any(s != 1 for s in stride):
            raise ValueError(f"{op}: padding='same' needs stride 1, got stride {stride}")
        total = [d * (k - 1) for k, d in zip(kernel, dilation)]
        if any(t % 2 for t in total):
            raise ValueError(
                f"{op}: padding='same' with an even (dilated) kernel {kernel} needs asymmetric "
                "padding, which is not supported; pad the input explicitly instead"
            )
        return tuple(t // 2 for t in total)
    return ntuple(padding, nd, "padding")


def _check_image(op: str, x: Any, ndim: int = 4) -> None:
    if len(x.shape) != ndim:
        layout = {3: "(N, C, L)", 4: "(N, C, H, W)", 5: "(N, C, D, H, W)"}[ndim]
        raise ValueError(f"{op}: the input must be {ndim}-D {layout}, got shape {tuple(x.shape)}")


@lower_precision_op  # autocast: x, weight, bias in its dtype (conv1d goes through here)
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


def _tensor(x: Any) -> Tensor:
    """``x`` as a Tensor of the active backend (a Tensor is kept as is)."""
    return x if isinstance(x, Tensor) else ag.asarray(x)


def _block(like: Tensor, shape: tuple, value: float) -> Tensor:
    """A constant Tensor of ``shape`` with ``like``'s backend, dtype and device."""
    with ag.using_backend(like.backend):
        return ag.full(tuple(shape), value, dtype=like.dtype, device=like.device)


def _pad_end(x: Tensor, axis: int, n: int, value: float) -> Tensor:
    """``x`` with ``n`` entries of ``value`` appended along ``axis`` (a concatenation, no writes)."""
    if n <= 0:
        return x
    shape = list(x.shape)
    shape[axis] = n
    return ag.concat([x, _block(x, tuple(shape), value)], axis=axis)


def _pad_both(x: Tensor, axis: int, n: int) -> Tensor:
    """``x`` with ``n`` zeros before and after along ``axis``."""
    if n <= 0:
        return x
    shape = list(x.shape)
    shape[axis] = n
    zeros = _block(x, tuple(shape), 0.0)
    return ag.concat([zeros, x, zeros], axis=axis)


def _axis_slice(x: Tensor, axis: int, start: int, stop: int, step: int = 1) -> Tensor:
    return x[(slice(None),) * axis + (slice(start, stop, step),)]


# --- transposed convolution: the adjoint of conv2d, through conv2d_input_grad (fold2d) --------------


def _transposed_sizes(
    op: str, spatial: tuple, kernel: tuple, stride: tuple, padding: tuple, output_padding: tuple,
    dilation: tuple,
) -> tuple[int, ...]:
    sizes = []
    for n, k, s, p, o, d in zip(spatial, kernel, stride, padding, output_padding, dilation):
        if not 0 <= o < max(s, d):
            raise ValueError(
                f"{op}: output_padding {output_padding} must be smaller than either stride {stride} "
                f"or dilation {dilation}"
            )
        size = (n - 1) * s - 2 * p + d * (k - 1) + o + 1
        if size < 1:
            raise ValueError(f"{op}: the output would be empty (size {size}) for the input size {spatial}")
        sizes.append(size)
    return tuple(sizes)


def output_padding_for(
    op: str,
    spatial: tuple,
    output_size: Any,
    kernel: tuple,
    stride: tuple,
    padding: tuple,
    dilation: tuple,
) -> tuple[int, ...]:
    """The ``output_padding`` that makes a transposed convolution of ``spatial`` produce
    ``output_size`` (the trailing spatial sizes are used), as ``ConvTranspose*d.forward`` computes it."""
    want = tuple(int(v) for v in output_size)[-len(spatial) :]
    if len(want) != len(spatial):
        raise ValueError(f"{op}: output_size {output_size} needs {len(spatial)} spatial sizes")
    pads = []
    for n, k, s, p, d, w in zip(spatial, kernel, stride, padding, dilation, want):
        least = (n - 1) * s - 2 * p + d * (k - 1) + 1
        if not least <= w < least + s:
            raise ValueError(
                f"{op}: requested an output size of {want}, but valid sizes range from "
                f"{least} to {least + s - 1} along each axis for this input"
            )
        pads.append(w - least)
    return tuple(pads)


@lower_precision_op  # autocast (conv_transpose1d goes through here)
def conv_transpose2d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: int | Pair = 1,
    padding: int | Pair = 0,
    output_padding: int | Pair = 0,
    groups: int = 1,
    dilation: int | Pair = 1,
) -> Any:
    """2-D transposed convolution ("deconvolution") of ``input`` ``(N, C_in, H, W)`` with ``weight``
    ``(C_in, C_out // groups, kh, kw)`` (PyTorch's layout): the adjoint of :func:`conv2d`, computed by
    its input-gradient primitive ``conv2d_input_grad`` (a GEMM and ``fold2d``), so its derivatives
    to any order and its fused kernels are conv2d's."""
    _check_image("conv_transpose2d", input)
    c_in, og, kh, kw = weight.shape
    if input.shape[1] != c_in or c_in % groups:
        raise ValueError(
            f"conv_transpose2d: the input has {input.shape[1]} channels and the weight {tuple(weight.shape)} "
            f"expects {c_in}; in_channels must divide by groups ({groups})"
        )
    s, p, d = pair(stride, "stride"), pair(padding, "padding"), pair(dilation, "dilation")
    o = pair(output_padding, "output_padding")
    size = _transposed_sizes("conv_transpose2d", tuple(input.shape[2:]), (kh, kw), s, p, o, d)
    if o[0] < s[0] and o[1] < s[1]:
        # conv2d of an image of ``size`` gives back the input's size: the adjoint is direct.
        y = conv2d_input_grad_p(
            input, weight, input_size=size, stride=s, padding=p, dilation=d, groups=groups
        )
    else:
        # output_padding >= stride (allowed when dilation is larger): transpose without padding,
        # then crop ``padding`` in front and keep ``output_padding`` more at the end.
        full = tuple((n - 1) * si + di * (k - 1) + 1 for n, si, di, k in zip(input.shape[2:], s, d, (kh, kw)))
        y = conv2d_input_grad_p(
            input, weight, input_size=full, stride=s, padding=(0, 0), dilation=d, groups=groups
        )
        for axis, (pi, f, want) in enumerate(zip(p, full, size), start=2):
            y = _pad_end(_axis_slice(y, axis, pi, min(pi + want, f)), axis, pi + want - f, 0.0)
    if bias is not None:
        y = y + reshape(bias, (1, og * groups, 1, 1))
    return y


def conv_transpose1d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    groups: int = 1,
    dilation: int = 1,
) -> Any:
    """1-D transposed convolution of ``(N, C_in, L)`` with ``weight`` ``(C_in, C_out // groups, k)``
    (conv_transpose2d on a height-1 image)."""
    _check_image("conv_transpose1d", input, 3)
    one = lambda v: int(v if isinstance(v, int) else v[0])  # noqa: E731
    y = conv_transpose2d(
        expand_dims(input, axis=2),
        expand_dims(weight, axis=2),
        bias,
        stride=(1, one(stride)),
        padding=(0, one(padding)),
        output_padding=(0, one(output_padding)),
        groups=groups,
        dilation=(1, one(dilation)),
    )
    return squeeze(y, axis=2)


# --- 3-D convolution: the depth taps folded into the channels of one conv2d ----------------------------


@lower_precision_op  # autocast
def conv3d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: int | tuple[int, int, int] = 1,
    padding: int | tuple[int, int, int] | str = 0,
    dilation: int | tuple[int, int, int] = 1,
    groups: int = 1,
) -> Any:
    """3-D cross-correlation of ``input`` ``(N, C, D, H, W)`` with ``weight``
    ``(O, C // groups, kd, kh, kw)``.

    The ``kd`` depth taps of every output depth are strided slices of the (zero-padded) input,
    stacked next to the channels: one ``conv2d`` over ``(N * Do, C * kd, H, W)`` with the weight
    reshaped to ``(O, C // groups * kd, kh, kw)`` does the rest (channel ``c * kd + a`` meets weight
    tap ``a`` of channel ``c``, group by group)."""
    _check_image("conv3d", input, 5)
    o, cg, kd, kh, kw = weight.shape
    n, c, depth, _, _ = input.shape
    if c != cg * groups or o % groups:
        raise ValueError(
            f"conv3d: the input has {c} channels and the weight {tuple(weight.shape)} with groups={groups} "
            f"expects {cg * groups}; out_channels ({o}) and in_channels must both divide by groups"
        )
    s, d = ntuple(stride, 3, "stride"), ntuple(dilation, 3, "dilation")
    p = _padding(padding, (kd, kh, kw), d, s, "conv3d")
    do = out_size(depth, kd, s[0], p[0], d[0])
    if do < 1:
        raise ValueError(f"conv3d: the input depth {depth} is smaller than the (dilated) kernel depth {kd}")
    x = _pad_both(_tensor(input), 2, p[0])
    taps = [_axis_slice(x, 2, a * d[0], a * d[0] + s[0] * (do - 1) + 1, s[0]) for a in range(kd)]
    t = ag.permute_dims(ag.stack(taps, axis=3), (0, 2, 1, 3, 4, 5))  # (N, Do, C, kd, H, W)
    t = reshape(t, (n * do, c * kd, *t.shape[4:]))
    y = conv2d(t, reshape(weight, (o, cg * kd, kh, kw)), None, s[1:], p[1:], d[1:], groups)
    y = ag.permute_dims(reshape(y, (n, do, o, *y.shape[2:])), (0, 2, 1, 3, 4))
    if bias is not None:
        y = y + reshape(bias, (1, o, 1, 1, 1))
    return y


# --- pooling (PyTorch's signatures: ceil_mode, return_indices, divisor_override) -----------------------


def _stride(stride: Any, kernel: Pair) -> Pair:
    if stride is None or (not isinstance(stride, int) and len(stride) == 0):
        return kernel
    return pair(stride, "stride")


def _ceil_extra(n: int, k: int, s: int, p: int, d: int) -> int:
    """How many positions past the right padding the last ``ceil_mode`` window reaches (PyTorch's
    rule: one more window when a partial one remains, unless it would start in the right padding)."""
    out = (n + 2 * p - d * (k - 1) - 1 + s - 1) // s + 1
    if (out - 1) * s >= n + p:
        out -= 1
    return max(0, (out - 1) * s + d * (k - 1) + 1 - (n + 2 * p))


def _max_indices(x: Tensor, k: Pair, s: Pair, p: Pair, d: Pair, width: int) -> Tensor:
    """Flat ``h * W + w`` positions of each window's first maximum (PyTorch's ``return_indices``)."""
    cols = unfold2d_p(x.detach(), kernel_size=k, stride=s, padding=p, dilation=d, pad_value=_NEG_INF)
    slot = ag.argmax(cols, axis=2)
    _, _, ho, wo = slot.shape
    xp, dev = x.backend.xp, device_of(x.value)
    rows = xp.reshape(xp.asarray([i * s[0] - p[0] for i in range(ho)], device=dev), (ho, 1))
    cols0 = xp.reshape(xp.asarray([j * s[1] - p[1] for j in range(wo)], device=dev), (1, wo))
    r = (slot // k[1]) * d[0] + ag.astype(ag.asarray(rows), slot.dtype)
    c = (slot % k[1]) * d[1] + ag.astype(ag.asarray(cols0), slot.dtype)
    return r * width + c


def max_pool2d(
    x: Any,
    kernel_size: int | Pair,
    stride: int | Pair | None = None,
    padding: int | Pair = 0,
    dilation: int | Pair = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """The maximum of each window (padding counts as -inf); the gradient goes to the first maximum.

    ``ceil_mode`` keeps a last partial window on each axis (PyTorch's rule); ``return_indices``
    also returns the flat ``h * W + w`` position of each maximum, as ``max_unpool2d`` expects."""
    _check_image("max_pool2d", x)
    k = pair(kernel_size, "kernel_size")
    s = _stride(stride, k)
    p = pair(padding, "padding")
    d = pair(dilation, "dilation")
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"max_pool2d: padding {p} must be at most half the kernel size {k}")
    x = _tensor(x)
    width = x.shape[3]
    if ceil_mode:
        for axis in (2, 3):
            extra = _ceil_extra(x.shape[axis], k[axis - 2], s[axis - 2], p[axis - 2], d[axis - 2])
            x = _pad_end(x, axis, extra, _NEG_INF)
    y = max_pool2d_p(x, kernel_size=k, stride=s, padding=p, dilation=d)
    if return_indices:
        return y, _max_indices(x, k, s, p, d, width)
    return y


def _avg_counts(n: int, k: int, s: int, p: int, extra: int, include_pad: bool) -> list[int]:
    """PyTorch's divisor along one axis: each window clipped to ``[-p, n + p)`` (with padding) or
    to ``[0, n)`` (without)."""
    counts = []
    for a in range(out_size(n + extra, k, s, p, 1)):
        start = a * s - p
        end = min(start + k, n + p)
        counts.append(end - start if include_pad else min(end, n) - max(start, 0))
    return counts


def avg_pool2d(
    x: Any,
    kernel_size: int | Pair,
    stride: int | Pair | None = None,
    padding: int | Pair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Any:
    """The mean of each window; with ``count_include_pad=False`` padding is left out of the count,
    ``ceil_mode`` keeps a last partial window (its divisor counts only the positions inside the
    padded input, as in PyTorch) and ``divisor_override`` replaces the divisor."""
    _check_image("avg_pool2d", x)
    k = pair(kernel_size, "kernel_size")
    s = _stride(stride, k)
    p = pair(padding, "padding")
    extra = [_ceil_extra(n, kk, ss, pp, 1) if ceil_mode else 0 for n, kk, ss, pp in zip(x.shape[2:], k, s, p)]
    if divisor_override is None and not any(extra):
        return avg_pool2d_p(x, kernel_size=k, stride=s, padding=p, count_include_pad=bool(count_include_pad))
    x = _tensor(x)
    h, w = x.shape[2:]
    padded = _pad_end(_pad_end(x, 2, extra[0], 0.0), 3, extra[1], 0.0)
    cols = unfold2d_p(padded, kernel_size=k, stride=s, padding=p, dilation=(1, 1), pad_value=0.0)
    total = ag.sum(cols, axis=2)
    if divisor_override is not None:
        return total / float(divisor_override)
    rows = _avg_counts(h, k[0], s[0], p[0], extra[0], count_include_pad)
    cnts = _avg_counts(w, k[1], s[1], p[1], extra[1], count_include_pad)
    div = x.backend.xp.asarray(
        [[float(r * c) for c in cnts] for r in rows], dtype=x.value.dtype, device=device_of(x.value)
    )
    return total / div


# --- adaptive pooling: PyTorch's bins start = floor(i * n / out), end = ceil((i + 1) * n / out) -------


def _adaptive_sizes(op: str, x: Any, output_size: Any, ndim: int) -> tuple[int, ...]:
    spatial = tuple(x.shape[-ndim:])
    single = isinstance(output_size, int) or output_size is None
    sizes = (output_size,) * ndim if single else tuple(output_size)
    if len(sizes) != ndim:
        raise ValueError(f"{op}: output_size must be an int or {ndim} ints, got {output_size!r}")
    sizes = tuple(n if o is None else int(o) for n, o in zip(spatial, sizes))
    if any(o < 1 for o in sizes):
        raise ValueError(f"{op}: output sizes must be positive, got {sizes}")
    return sizes


def _adaptive_axis(x: Tensor, axis: int, out: int, reduce: Any) -> Tensor:
    """``reduce`` over PyTorch's adaptive bins of ``axis``: one reshape when the bins tile the axis,
    else one slice and reduction per bin (the output size is static)."""
    n = x.shape[axis]
    if out == n:
        return x
    if n % out == 0:
        shape = (*x.shape[:axis], out, n // out, *x.shape[axis + 1 :])
        return reduce(reshape(x, shape), axis=axis + 1)
    bins = [reduce(_axis_slice(x, axis, (i * n) // out, -(-(i + 1) * n // out)), axis=axis, keepdims=True)
            for i in range(out)]
    return ag.concat(bins, axis=axis)


def _adaptive(op: str, x: Any, output_size: Any, ndim: int, reduce: Any) -> Any:
    if len(x.shape) not in (ndim + 1, ndim + 2):
        raise ValueError(f"{op}: the input must be {ndim + 1}-D or {ndim + 2}-D, got shape {tuple(x.shape)}")
    sizes = _adaptive_sizes(op, x, output_size, ndim)
    y = _tensor(x)
    # The mean (or max) over a rectangle is the mean (max) over its rows of the means (maxima) over
    # its columns, so the axes are reduced one after another.
    for k, out in enumerate(sizes):
        y = _adaptive_axis(y, len(x.shape) - ndim + k, out, reduce)
    return y


def adaptive_avg_pool2d(input: Any, output_size: int | tuple[int | None, int | None]) -> Any:
    """The mean over PyTorch's adaptive bins, for ``(N, C, H, W)`` or ``(C, H, W)`` inputs
    (``None`` in ``output_size`` keeps that axis)."""
    return _adaptive("adaptive_avg_pool2d", input, output_size, 2, ag.mean)


def adaptive_avg_pool1d(input: Any, output_size: int | tuple[int]) -> Any:
    """The mean over PyTorch's adaptive bins, for ``(N, C, L)`` or ``(C, L)`` inputs."""
    return _adaptive("adaptive_avg_pool1d", input, output_size, 1, ag.mean)


def adaptive_max_pool2d(
    input: Any, output_size: int | tuple[int | None, int | None], return_indices: bool = False
) -> Any:
    """The maximum over PyTorch's adaptive bins, for ``(N, C, H, W)`` or ``(C, H, W)`` inputs."""
    if return_indices:
        raise NotImplementedError("adaptive_max_pool2d: return_indices=True is not supported")
    return _adaptive("adaptive_max_pool2d", input, output_size, 2, ag.max)


def adaptive_max_pool1d(input: Any, output_size: int | tuple[int], return_indices: bool = False) -> Any:
    """The maximum over PyTorch's adaptive bins, for ``(N, C, L)`` or ``(C, L)`` inputs."""
    if return_indices:
        raise NotImplementedError("adaptive_max_pool1d: return_indices=True is not supported")
    return _adaptive("adaptive_max_pool1d", input, output_size, 1, ag.max)


# --- im2col / col2im ------------------------------------------------------------------------------------


def unfold(
    x: Any, kernel_size: int | Pair, dilation: int | Pair = 1, padding: int | Pair = 0, stride: int | Pair = 1
) -> Any:
    """PyTorch's ``F.unfold`` (im2col): ``(N, C, H, W)`` to ``(N, C*kh*kw, L)`` (``(C, H, W)`` to
    ``(C*kh*kw, L)`` unbatched)."""
    if len(x.shape) == 3:
        return squeeze(unfold(expand_dims(x, axis=0), kernel_size, dilation, padding, stride), axis=0)
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


def fold(
    input: Any,
    output_size: int | Pair,
    kernel_size: int | Pair,
    dilation: int | Pair = 1,
    padding: int | Pair = 0,
    stride: int | Pair = 1,
) -> Any:
    """PyTorch's ``F.fold`` (col2im), the adjoint of :func:`unfold`: ``(N, C*kh*kw, L)`` blocks summed
    into ``(N, C, H, W)`` (overlaps add up); ``(C*kh*kw, L)`` unbatched."""
    if len(input.shape) == 2:
        batched = fold(expand_dims(input, axis=0), output_size, kernel_size, dilation, padding, stride)
        return squeeze(batched, axis=0)
    if len(input.shape) != 3:
        raise ValueError(f"fold: the input must be (N, C*kh*kw, L) or (C*kh*kw, L), got {tuple(input.shape)}")
    size, k = pair(output_size, "output_size"), pair(kernel_size, "kernel_size")
    d, p, s = pair(dilation, "dilation"), pair(padding, "padding"), pair(stride, "stride")
    n, ck, length = input.shape
    ho, wo = (out_size(size[i], k[i], s[i], p[i], d[i]) for i in range(2))
    if ck % (k[0] * k[1]) or length != ho * wo:
        raise ValueError(
            f"fold: an input of shape {tuple(input.shape)} does not match kernel_size {k} (C*kh*kw "
            f"must divide by {k[0] * k[1]}) and {ho}x{wo}={ho * wo} blocks for output_size {size}"
        )
    cols = reshape(input, (n, ck // (k[0] * k[1]), k[0] * k[1], ho, wo))
    return fold2d_p(cols, input_size=size, kernel_size=k, stride=s, padding=p, dilation=d)


# --- batching rules (agrad.vmap) -----------------------------------------------------------------


def _grouped_batch(prim: Any, xp: Any, args: list, dims: list, **params: Any) -> tuple:
    """Convolutions with a batched weight (or both operands batched, as per-example weight
    gradients): one grouped convolution, each example's channels one block of groups."""
    if prim is not conv2d_weight_grad_p and dims[1] is None:
        return folded(prim, xp, args, dims, **params)  # one weight: the batch joins N
    b = next(a.shape[d] for a, d in zip(args, dims) if d is not None)
    groups = params.pop("groups")

    def channels_blocked(t: Any, d: Any) -> Any:  # (B, N, C, ...) -> (N, B*C, ...)
        t = moved(xp, front(xp, t, d, b), 0, 1)
        return xp.reshape(t, (t.shape[0], b * t.shape[2], *t.shape[3:]))

    if prim is conv2d_weight_grad_p:
        x, g = channels_blocked(args[0], dims[0]), channels_blocked(args[1], dims[1])
        o, *rest = params.pop("weight_size")
        w = prim(x, g, weight_size=(b * o, *rest), groups=b * groups, **params)
        return xp.reshape(w, (b, o, *w.shape[1:])), 0
    first = channels_blocked(args[0], dims[0])
    w = front(xp, args[1], dims[1], b)
    w = xp.reshape(w, (b * w.shape[1], *w.shape[2:]))
    out = prim(first, w, groups=b * groups, **params)
    return xp.reshape(out, (out.shape[0], b, out.shape[1] // b, *out.shape[2:])), 1


for _p in (unfold2d_p, fold2d_p, max_pool2d_p, avg_pool2d_p):
    _p.batch = folded
for _p in (conv2d_p, conv2d_input_grad_p, conv2d_weight_grad_p):
    _p.batch = _grouped_batch
