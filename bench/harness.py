"""What a workload is, and how it is timed and checked.

A workload builds one *step* closure per framework from the same NumPy inputs. A step does the
whole unit of work (forward and backward) and returns its results (loss, gradients) in the
framework's own arrays; :func:`to_numpy` converts them only for the cross-check, outside timing.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Step = Callable[[], Sequence[Any]]
Inputs = dict[str, np.ndarray]
SEED = 0  # every framework gets the inputs drawn from np.random.default_rng(SEED)


@dataclass(frozen=True)
class Workload:
    """One benchmark: inputs from a seed, a step builder per framework, the targets."""

    name: str
    description: str
    make_inputs: Callable[[np.random.Generator], Inputs]
    agrad_step: Callable[[Inputs, Any], Step]  # (inputs, agrad backend) -> step
    torch_step: Callable[[Inputs], Step]
    steps: int  # timed steps (median reported)
    warmup: int = 3
    target_ratio: float | None = None  # agrad median / torch median must be <= this
    rtol: float = 1e-5
    atol: float = 1e-6
    variant: Callable[[], str] = lambda: ""  # which implementation ran (e.g. composed vs nn)


class MismatchError(AssertionError):
    """agrad and torch disagree: the benchmark refuses to report a fast wrong answer."""


def to_numpy(x: Any) -> np.ndarray:
    """An agrad Tensor, a backend array or a torch tensor as a NumPy array (float64)."""
    import agrad

    if isinstance(x, agrad.Tensor):
        x = x.value
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    if hasattr(x, "compute"):
        x = x.compute()
    return np.asarray(x, dtype=np.float64)


def cross_check(workload: Workload, ours: Sequence[Any], theirs: Sequence[Any]) -> float:
    """Compare result by result; raise if out of tolerance. Returns the worst error relative to
    each result's scale, ``max|agrad - torch| / max|torch|``."""
    worst = 0.0
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        a, b = to_numpy(a), to_numpy(b)
        if a.shape != b.shape:
            raise MismatchError(
                f"{workload.name}: result {i} has shape {a.shape} in agrad, {b.shape} in torch"
            )
        err = np.abs(a - b)
        if not np.all(err <= workload.atol + workload.rtol * np.abs(b)):
            j = int(np.argmax(err - workload.rtol * np.abs(b)))
            raise MismatchError(
                f"{workload.name}: result {i} differs from torch beyond rtol={workload.rtol}, "
                f"atol={workload.atol}: agrad {a.flat[j]!r} vs torch {b.flat[j]!r} at flat index {j}"
            )
        scale = float(np.max(np.abs(b), initial=0.0)) or 1.0
        worst = max(worst, float(np.max(err, initial=0.0)) / scale)
    return worst


def time_steps(step: Step, count: int) -> list[float]:
    """Seconds per call of ``step``, ``count`` calls (garbage collected first, GC left on)."""
    gc.collect()
    clock = time.perf_counter
    out = []
    for _ in range(count):
        t0 = clock()
        step()
        out.append(clock() - t0)
    return out


def time_side_by_side(steps: dict[str, Step], count: int, warmup: int, rounds: int = 5) -> dict[str, float]:
    """Median seconds per step for each framework, interleaved in ``rounds`` blocks so that a
    slow moment of the machine hits both alike."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    samples: dict[str, list[float]] = {name: [] for name in steps}
    per_round = max(1, count // rounds)
    for _ in range(rounds):
        for name, step in steps.items():
            samples[name] += time_steps(step, per_round)
    return {name: statistics.median(s) for name, s in samples.items()}
