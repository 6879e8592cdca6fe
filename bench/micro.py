"""Micro-benchmarks: each fused kernel of the backend against the portable reference it replaces.

For the NumPy backend, ``scatter_add`` is also timed as plain ``np.add.at`` and as the serial
Numba loop alone, which is how the threshold in ``agrad_backends._numba_config`` was chosen.
Every kernel result is checked against the reference before it is timed.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.harness import MismatchError, to_numpy

# (rows, columns, segments): a small gradient, an embedding-sized one, a large sparse one.
SCATTER_CASES = [(100, 1, 50), (1000, 1, 100), (100_000, 1, 1000), (4096, 64, 1000), (50_000, 32, 5000)]


def median_seconds(fn: Callable[[], Any], budget: float = 0.3, max_calls: int = 200) -> float:
    fn()  # warm-up (and Numba compile or cache load)
    samples: list[float] = []
    start = time.perf_counter()
    while len(samples) < max_calls and (len(samples) < 5 or time.perf_counter() - start < budget):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def _check(got: Any, want: Any, rtol: float = 1e-4) -> None:
    a, b = to_numpy(got), to_numpy(want)
    if not np.allclose(a, b, rtol=rtol, atol=1e-4):
        raise MismatchError(f"a kernel differs from its reference: max error {np.max(np.abs(a - b))}")


def scatter_add_rows(backend) -> list[list[str]]:
    rows = []
    rng = np.random.default_rng(0)
    for n, d, size in SCATTER_CASES:
        values = rng.standard_normal((n, d) if d > 1 else (n,)).astype(np.float32)
        impls = _scatter_add_impls(backend, values, rng.integers(0, size, n), size)
        rows.append([f"scatter_add {n}x{d} -> {size}", *_cells(_checked_times(impls))])
    return rows


def _scatter_add_impls(backend, values_np: np.ndarray, index_np: np.ndarray, size: int) -> dict:
    from agrad._ops.scatter import segment_sum_ref

    kernel, xp = backend.kernels.get("scatter_add"), backend.xp
    values, index = backend.asarray(values_np), backend.asarray(index_np)
    impls = {"reference": lambda: segment_sum_ref(xp, values, index=index, size=size)}
    if kernel is not None:
        impls["kernel"] = lambda: kernel(xp, values, index=index, size=size)
    if backend.name == "numpy":
        impls["np.add.at"] = lambda: np.add.at(np.zeros((size, *values_np.shape[1:]), np.float32),
                                               index_np, values_np)
        impls["numba loop"] = _numba_loop(values_np, index_np, size)
    return impls


def _checked_times(impls: dict) -> dict[str, float]:
    """Check the kernel against the reference, then time every implementation."""
    if "kernel" in impls:
        _check(impls["kernel"](), impls["reference"]())
    return {name: median_seconds(fn) for name, fn in impls.items()}


def _numba_loop(values: np.ndarray, index: np.ndarray, size: int) -> Callable[[], Any]:
    from agrad_backends import _numba_segment_sum as seg

    rows2d = np.ascontiguousarray(values.reshape(values.shape[0], -1))
    idx = index.astype(np.int64)

    def run():
        out = np.zeros((size, rows2d.shape[1]), values.dtype)
        seg.segment_sum_rows(rows2d, idx, out)
        return out

    return run


def index_scatter_rows(backend) -> list[list[str]]:
    rng = np.random.default_rng(1)
    grid = np.zeros((1000, 100))
    cases = {
        "index_scatter pick (256,1000)[arange, labels]":
            (np.zeros((256, 1000)), (np.arange(256), rng.integers(0, 1000, 256))),
        "index_scatter mask (1000,100)": (grid, rng.random((1000, 100)) > 0.5),
        "index_scatter slice (1000,100)[::2, 1:]": (grid, (slice(None, None, 2), slice(1, None))),
    }
    rows = []
    for name, (like, key) in cases.items():
        g = rng.standard_normal(like[key].shape).astype(np.float32)
        rows.append([name, *_cells(_checked_times(_index_scatter_impls(backend, g, like.shape, key)))])
    return rows


def _index_scatter_impls(backend, g_np: np.ndarray, shape: tuple, key_np: Any) -> dict:
    from agrad._ops.scatter import index_scatter_ref

    kernel, xp = backend.kernels.get("index_scatter"), backend.xp
    g = backend.asarray(g_np)
    keys = key_np if isinstance(key_np, tuple) else (key_np,)
    key = tuple(backend.asarray(k) if isinstance(k, np.ndarray) else k for k in keys)
    key = key if isinstance(key_np, tuple) else key[0]
    impls = {"reference": lambda: index_scatter_ref(xp, g, shape=shape, key=key)}
    if kernel is not None:
        impls["kernel"] = lambda: kernel(xp, g, shape=shape, key=key)
    return impls


def gelu_rows(backend) -> list[list[str]]:
    """The GELU kernels on 1e6 float32 against the same formula as separate ``xp`` operations."""
    if "gelu_tanh" not in backend.kernels:
        return []
    xp, k = backend.xp, backend.kernels
    rng = np.random.default_rng(2)
    x = backend.asarray(rng.standard_normal(1_000_000).astype(np.float32))
    g = backend.asarray(rng.standard_normal(1_000_000).astype(np.float32))
    c = (2.0 / np.pi) ** 0.5

    def ref_fwd():
        return 0.5 * x * (1.0 + xp.tanh(c * (x + 0.044715 * (x * x * x))))

    def ref_grad():
        t = xp.tanh(c * (x + 0.044715 * (x * x * x)))
        return g * (0.5 * (1.0 + t) + 0.5 * c * x * (1.0 - t * t) * (1.0 + 3 * 0.044715 * (x * x)))

    cases = {"gelu_tanh 1e6 float32": ({"kernel": lambda: k["gelu_tanh"](xp, x), "reference": ref_fwd}),
             "gelu_tanh_grad 1e6 float32": ({"kernel": lambda: k["gelu_tanh_grad"](xp, g, x),
                                             "reference": ref_grad})}
    return [[name, *_cells(_checked_times(impls))] for name, impls in cases.items()]


def _fwd_bwd(backend, fn, arrays: list[np.ndarray], seed: int) -> Callable[[], Any]:
    """``fn`` on Tensors of ``arrays`` plus its backward pass under a fixed random cotangent."""
    import agrad

    leaves = [agrad.Tensor(backend.asarray(a), requires_grad=True, backend=backend) for a in arrays]
    with agrad.using_backend(backend):
        shape = tuple(fn(*leaves).shape)
    ct = backend.asarray(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))

    def run():
        with agrad.using_backend(backend):
            out = fn(*leaves)
            out.backward(ct)
        return [out.value, *(t.grad for t in leaves)]

    return run


def _check_all(got: list, want: list) -> None:
    for a, b in zip(got, want, strict=True):
        _check(a, b)


def nn_rows(backend) -> list[list[str]]:
    """agrad.nn's kernels at the workloads' sizes: forward + backward through agrad, with the
    backend's kernels against the same backend with none (the portable references)."""
    import dataclasses

    import agrad.nn.functional as F

    names = ("conv2d", "max_pool2d", "relu", "gelu", "erf")
    if not all(n in backend.kernels for n in names):
        return []
    reference = dataclasses.replace(backend, kernels={})
    rng = np.random.default_rng(3)

    def arr(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    cases = {
        "conv2d (32,8,13,13) * (16,8,3,3), fwd+bwd":
            (lambda x, w: F.conv2d(x, w), [arr(32, 8, 13, 13), arr(16, 8, 3, 3)]),
        "max_pool2d 2x2 (32,8,26,26), fwd+bwd": (lambda x: F.max_pool2d(x, 2), [arr(32, 8, 26, 26)]),
        "relu (128,512), fwd+bwd": (F.relu, [arr(128, 512)]),
        "gelu exact (1024,512), fwd+bwd": (F.gelu, [arr(1024, 512)]),
        "gelu tanh (1024,512), fwd+bwd": (lambda x: F.gelu(x, approximate="tanh"), [arr(1024, 512)]),
        "erf (1024,512), fwd+bwd": (F.erf, [arr(1024, 512)]),
    }
    rows = []
    for i, (name, (fn, arrays)) in enumerate(cases.items()):
        impls = {"kernel": _fwd_bwd(backend, fn, arrays, i), "reference": _fwd_bwd(reference, fn, arrays, i)}
        _check_all(impls["kernel"](), impls["reference"]())
        rows.append([name, *_cells({k: median_seconds(f) for k, f in impls.items()})])
    return rows + [adam_row(backend)]


def adam_row(backend) -> list[str]:
    """``adam_update`` on W3's first weight (512 x 784 float32) against the reference function."""
    from agrad.optim.adam import adam_update

    rng = np.random.default_rng(4)
    p, g = (backend.asarray(rng.standard_normal((512, 784)).astype(np.float32)) for _ in range(2))
    state = [backend.asarray(np.zeros((512, 784), np.float32))] * 3
    hyper = {"step": 3, "lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0,
             "decoupled_weight_decay": False, "amsgrad": False, "maximize": False}
    kernel = backend.kernels["adam_update"]
    impls = {"kernel": lambda: kernel(backend.xp, p, g, *state, **hyper),
             "reference": lambda: adam_update(backend.xp, p, g, *state, **hyper)}
    _check_all(impls["kernel"](), impls["reference"]())
    return ["adam_update (512,784) float32", *_cells({k: median_seconds(f) for k, f in impls.items()})]


HEADERS = ["case", "kernel (µs)", "reference (µs)", "reference / kernel", "np.add.at (µs)", "numba loop (µs)"]


def _cells(times: dict[str, float]) -> list[str]:
    us = {k: f"{v * 1e6:,.1f}" for k, v in times.items()}
    ratio = f"{times['reference'] / times['kernel']:.1f}x" if "kernel" in times else "-"
    extra = [us.get(k, "-") for k in ("np.add.at", "numba loop")]
    return [us.get("kernel", "-"), us["reference"], ratio, *extra]


def run(backend) -> list[list[str]]:
    return scatter_add_rows(backend) + index_scatter_rows(backend) + gelu_rows(backend) + nn_rows(backend)
