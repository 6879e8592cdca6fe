"""Resampling: ``interpolate`` (``upsample``), ``pixel_shuffle`` / ``pixel_unshuffle`` and
``grid_sample``, with PyTorch's signatures and numerics.

Everything here is a composition of differentiable agrad operations, so VJPs, JVPs and higher
derivatives come for free and every backend runs it:

* ``interpolate`` is separable: along each resized axis, ``nearest`` is one ``take`` of static
  indices and ``linear`` two ``take``s blended by static weights. The indices and weights are
  computed in Python from the shapes, with PyTorch's formulas (``nearest`` in float32, as PyTorch
  does, so the same source pixels are picked); ``area`` is adaptive average pooling.
* ``pixel_shuffle`` and ``pixel_unshuffle`` are a reshape, a transpose and a reshape.
* ``grid_sample`` gathers the corner pixels at data-dependent positions with one
  ``take_along_axis`` over the flattened image and blends them with weights that are
  differentiable functions of the grid, so gradients reach both the input and the grid.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import agrad as ag
from agrad._core.primitive import device_of
from agrad._core.tensor import Tensor
from agrad.nn.functional.conv import adaptive_avg_pool1d, adaptive_avg_pool2d, ntuple

_LINEAR = {"linear": 1, "bilinear": 2, "trilinear": 3}
_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "trilinear", "area", "bicubic")


def _f32(v: float) -> float:
    """``v`` rounded to float32 (PyTorch computes nearest-neighbour indices in float32)."""
    return struct.unpack("f", struct.pack("f", v))[0]


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else ag.asarray(x)


def _nearest_indices(n_in: int, n_out: int, scale: float | None, exact: bool) -> list[int]:
    """PyTorch's ``nearest_idx`` / ``nearest_exact_idx``: ``floor(dst * s)`` (``floor((dst + 0.5) *
    s)`` for ``nearest-exact``) in float32 with ``s = 1 / scale_factor`` or ``n_in / n_out``."""
    if not exact and n_out == n_in:
        return list(range(n_out))
    if not exact and n_out == 2 * n_in:
        return [i >> 1 for i in range(n_out)]
    s = _f32(1.0 / scale) if scale is not None and scale > 0 else _f32(n_in / n_out)
    off = 0.5 if exact else 0.0
    return [min(int(math.floor(_f32((i + off) * s))), n_in - 1) for i in range(n_out)]


def _linear_taps(
    n_in: int, n_out: int, scale: float | None, align_corners: bool
) -> tuple[list[int], list[int], list[float], list[float]]:
    """PyTorch's linear source indices ``i0, i1`` and weights ``l0, l1`` along one axis
    (``area_pixel_compute_source_index`` and ``guard_index_and_lambda``)."""
    if align_corners:
        ratio = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    else:
        ratio = 1.0 / scale if scale is not None and scale > 0 else n_in / n_out
    i0, i1, l0, l1 = [], [], [], []
    for dst in range(n_out):
        src = ratio * dst if align_corners else max(ratio * (dst + 0.5) - 0.5, 0.0)
        lo = min(int(math.floor(_f32(src))), n_in - 1)
        lam = min(max(src - lo, 0.0), 1.0)
        i0.append(lo)
        i1.append(lo + (1 if lo < n_in - 1 else 0))
        l0.append(1.0 - lam)
        l1.append(lam)
    return i0, i1, l0, l1


def _output_sizes(
    x: Any, size: Any, scale_factor: Any, recompute_scale_factor: bool | None
) -> tuple[tuple[int, ...], tuple[float | None, ...]]:
    nd = len(x.shape) - 2
    spatial = tuple(x.shape[2:])
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: exactly one of size or scale_factor must be given")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError("interpolate: recompute_scale_factor is not meaningful with an explicit size")
        return ntuple(size, nd, "size"), (None,) * nd
    factors = (
        (float(scale_factor),) * nd
        if isinstance(scale_factor, (int, float))
        else tuple(float(f) for f in scale_factor)
    )
    if len(factors) != nd:
        raise ValueError(
            f"interpolate: scale_factor needs {nd} values for a {nd + 2}-D input, got {scale_factor}"
        )
    sizes = tuple(int(math.floor(float(n) * f)) for n, f in zip(spatial, factors))
    return sizes, ((None,) * nd if recompute_scale_factor else factors)


def _along(x: Tensor, axis: int, n_out: int, values: list[float]) -> Any:
    """``values`` as a raw array shaped to broadcast along ``axis`` of ``x``."""
    shape = [1] * x.ndim
    shape[axis] = n_out
    xp = x.backend.xp
    return xp.reshape(xp.asarray(values, dtype=x.value.dtype, device=device_of(x.value)), tuple(shape))


def _indices(x: Tensor, values: list[int]) -> Any:
    xp = x.backend.xp
    return xp.asarray(values, device=device_of(x.value))


def interpolate(
    input: Any,
    size: int | tuple[int, ...] | None = None,
    scale_factor: float | tuple[float, ...] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Any:
    """Resize the spatial axes of ``(N, C, *spatial)`` to ``size`` or by ``scale_factor``
    (PyTorch's ``F.interpolate``): ``nearest``, ``nearest-exact``, ``linear`` (3-D), ``bilinear``
    (4-D), ``trilinear`` (5-D) and ``area``; ``align_corners`` as in PyTorch (linear modes only)."""
    if mode not in _MODES:
        raise ValueError(f"interpolate: unknown mode {mode!r}; expected one of {', '.join(_MODES)}")
    if mode == "bicubic":
        raise NotImplementedError("interpolate: mode='bicubic' is not supported")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    nd = len(input.shape) - 2
    if nd < 1 or nd > 3:
        raise ValueError(
            f"interpolate: the input must be 3-D, 4-D or 5-D (N, C, ...), got {tuple(input.shape)}"
        )
    if mode in _LINEAR:
        if _LINEAR[mode] != nd:
            raise ValueError(
                f"interpolate: mode {mode!r} needs a {_LINEAR[mode] + 2}-D input, got {nd + 2}-D"
            )
        align_corners = bool(align_corners)
    elif align_corners is not None:
        raise ValueError(
            "interpolate: align_corners can only be set with the interpolating modes: "
            "linear | bilinear | bicubic | trilinear"
        )
    sizes, scales = _output_sizes(input, size, scale_factor, recompute_scale_factor)
    if any(s < 1 for s in sizes):
        raise ValueError(f"interpolate: the output size {sizes} must be positive")
    x = _tensor(input)
    if mode == "area":
        if nd == 1:
            return adaptive_avg_pool1d(x, sizes)
        if nd == 2:
            return adaptive_avg_pool2d(x, sizes)
        raise NotImplementedError("interpolate: mode='area' is supported for 3-D and 4-D inputs")
    # Last axis first: PyTorch blends along the innermost axis first, so the sums are the same.
    for axis in range(x.ndim - 1, 1, -1):
        n_in, n_out, scale = x.shape[axis], sizes[axis - 2], scales[axis - 2]
        if mode.startswith("nearest"):
            idx = _nearest_indices(n_in, n_out, scale, exact=mode == "nearest-exact")
            if idx != list(range(n_in)):
                x = ag.take(x, _indices(x, idx), axis=axis)
        elif n_out != n_in:
            i0, i1, l0, l1 = _linear_taps(n_in, n_out, scale, align_corners)
            x = (ag.take(x, _indices(x, i0), axis=axis) * _along(x, axis, n_out, l0)
                 + ag.take(x, _indices(x, i1), axis=axis) * _along(x, axis, n_out, l1))
    return x


def upsample(
    input: Any,
    size: int | tuple[int, ...] | None = None,
    scale_factor: float | tuple[float, ...] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
) -> Any:
    """PyTorch's (deprecated) ``F.upsample``: :func:`interpolate`."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Any, size: Any = None, scale_factor: Any = None) -> Any:
    """``interpolate(..., mode='nearest')``."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Any, size: Any = None, scale_factor: Any = None) -> Any:
    """``interpolate(..., mode='bilinear', align_corners=True)``, as PyTorch's ``upsample_bilinear``."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# --- pixel (un)shuffle ---------------------------------------------------------------------------------


def pixel_shuffle(input: Any, upscale_factor: int) -> Any:
    """``(*, C * r**2, H, W)`` to ``(*, C, H * r, W * r)``: sub-pixel channels moved into space."""
    r = int(upscale_factor)
    if len(input.shape) < 3:
        raise ValueError(f"pixel_shuffle: the input must be at least 3-D, got shape {tuple(input.shape)}")
    *batch, c, h, w = input.shape
    if r < 1 or c % (r * r):
        raise ValueError(f"pixel_shuffle: {c} channels do not divide by upscale_factor**2 = {r * r}")
    nb = len(batch)
    x = ag.reshape(_tensor(input), (*batch, c // (r * r), r, r, h, w))
    x = ag.permute_dims(x, (*range(nb), nb, nb + 3, nb + 1, nb + 4, nb + 2))
    return ag.reshape(x, (*batch, c // (r * r), h * r, w * r))


def pixel_unshuffle(input: Any, downscale_factor: int) -> Any:
    """``(*, C, H * r, W * r)`` to ``(*, C * r**2, H, W)``: the inverse of :func:`pixel_shuffle`."""
    r = int(downscale_factor)
    if len(input.shape) < 3:
        raise ValueError(f"pixel_unshuffle: the input must be at least 3-D, got shape {tuple(input.shape)}")
    *batch, c, hr, wr = input.shape
    if r < 1 or hr % r or wr % r:
        raise ValueError(
            f"pixel_unshuffle: the spatial size {(hr, wr)} does not divide by downscale_factor {r}"
        )
    nb = len(batch)
    x = ag.reshape(_tensor(input), (*batch, c, hr // r, r, wr // r, r))
    x = ag.permute_dims(x, (*range(nb), nb, nb + 2, nb + 4, nb + 1, nb + 3))
    return ag.reshape(x, (*batch, c * r * r, hr // r, wr // r))


# --- grid_sample -----------------------------------------------------------------------------------------


def _unnormalize(coord: Tensor, size: int, align_corners: bool) -> Tensor:
    """Grid values in [-1, 1] to pixel coordinates (PyTorch's ``grid_sampler_unnormalize``)."""
    if align_corners:
        return (coord + 1.0) / 2.0 * (size - 1)
    return ((coord + 1.0) * size - 1.0) / 2.0


def _reflect(coord: Tensor, twice_low: int, twice_high: int) -> Tensor:
    """PyTorch's ``reflect_coordinates``: fold ``coord`` back into ``[low, high]`` by reflections."""
    if twice_low == twice_high:
        return coord * 0.0
    low, span = twice_low / 2.0, (twice_high - twice_low) / 2.0
    c = ag.abs(coord - low)
    extra = ag.remainder(c, span)
    flips = ag.floor(c.detach() / span)
    return ag.where(ag.remainder(flips, 2.0) == 0.0, extra + low, span - extra + low)


def _source(coord: Tensor, size: int, padding_mode: str, align_corners: bool) -> Tensor:
    c = _unnormalize(coord, size, align_corners)
    if padding_mode == "reflection":
        c = _reflect(c, 0, 2 * (size - 1)) if align_corners else _reflect(c, -1, 2 * size - 1)
    if padding_mode in ("border", "reflection"):
        c = ag.clip(c, 0.0, float(size - 1))
    return c


def grid_sample(
    input: Any,
    grid: Any,
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool | None = None,
) -> Any:
    """Sample ``input`` ``(N, C, H, W)`` at the points ``grid`` ``(N, Ho, Wo, 2)`` (``x`` then ``y``,
    in [-1, 1]), giving ``(N, C, Ho, Wo)`` (PyTorch's ``F.grid_sample``, 4-D input).

    ``mode`` is ``bilinear`` or ``nearest`` (round half to even, as PyTorch); ``padding_mode`` is
    ``zeros`` (out-of-range corners count as 0), ``border`` (coordinates clamped) or
    ``reflection``. The corners are one gather over the flattened image; the bilinear weights are
    differentiable in the grid, so gradients reach both ``input`` and ``grid``."""
    if mode not in ("bilinear", "nearest"):
        raise NotImplementedError(f"grid_sample: mode {mode!r} is not supported (bilinear, nearest)")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(
            f"grid_sample: padding_mode must be 'zeros', 'border' or 'reflection', got {padding_mode!r}"
        )
    shapes_ok = len(input.shape) == 4 and len(grid.shape) == 4 and grid.shape[-1] == 2
    if not shapes_ok or grid.shape[0] != input.shape[0]:
        raise ValueError(
            f"grid_sample: expected input (N, C, H, W) and grid (N, Ho, Wo, 2), got {tuple(input.shape)} "
            f"and {tuple(grid.shape)}"
        )
    ac = bool(align_corners)
    x, g = _tensor(input), _tensor(grid)
    n, c, h, w = x.shape
    _, ho, wo, _ = g.shape
    ix = _source(g[..., 0], w, padding_mode, ac)
    iy = _source(g[..., 1], h, padding_mode, ac)
    if mode == "bilinear":
        x0, y0 = ag.floor(ix.detach()), ag.floor(iy.detach())
        x1, y1 = x0 + 1.0, y0 + 1.0
        corners = [
            (x0, y0, (x1 - ix) * (y1 - iy)),
            (x1, y0, (ix - x0) * (y1 - iy)),
            (x0, y1, (x1 - ix) * (iy - y0)),
            (x1, y1, (ix - x0) * (iy - y0)),
        ]
    else:
        corners = [(ag.round(ix.detach()), ag.round(iy.detach()), None)]
    with ag.using_backend(x.backend):  # the backend's index dtype (int32 on JAX without x64)
        index_dtype = ag.__array_namespace_info__().default_dtypes(device=x.device)["indexing"]
    flats, weights = [], []
    for cx, cy, wt in corners:
        inside = ag.astype((cx >= 0.0) & (cx <= w - 1.0) & (cy >= 0.0) & (cy <= h - 1.0), x.dtype)
        col = ag.astype(ag.clip(cx, 0.0, w - 1.0), index_dtype)
        row = ag.astype(ag.clip(cy, 0.0, h - 1.0), index_dtype)
        flats.append(row * w + col)
        weights.append(inside if wt is None else wt * inside)
    k = len(corners)
    idx = ag.reshape(ag.stack(flats, axis=1), (n, 1, k * ho * wo))
    idx = ag.broadcast_to(idx, (n, c, k * ho * wo))
    vals = ag.take_along_axis(ag.reshape(x, (n, c, h * w)), idx, axis=2)
    vals = ag.reshape(vals, (n, c, k, ho, wo))
    wts = ag.expand_dims(ag.stack(weights, axis=1), axis=1)  # (N, 1, k, Ho, Wo)
    return ag.sum(vals * wts, axis=2)
