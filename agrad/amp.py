"""Mixed precision: ``autocast`` (ops in float16/bfloat16 where that is safe) and ``GradScaler``.

``agrad.autocast(dtype=agrad.bfloat16)`` is a per-thread mode, like ``torch.autocast("cpu",
dtype=...)``: inside it the ops of PyTorch's CPU lower-precision list that agrad has run in the
autocast dtype: ``matmul`` and ``@`` (and through them ``tensordot``, attention and
``nn.functional.linear``, whose float32 bias is then added in float32, so linear returns float32
where PyTorch returns the autocast dtype), ``conv1d``/``conv2d``/``conv3d`` and
``conv_transpose1d``/``conv_transpose2d`` (input, weight and bias). The conversions are the
differentiable ``astype``, so each gradient arrives in its parameter's own dtype (float32
parameters get float32 gradients). ``float64``, complex and integer inputs are never converted
(PyTorch's rule). Outside autocast nothing changes: an affected op reads one thread-local attribute.

PyTorch's CPU float32 list is its losses (``mse_loss``, ``cross_entropy``, ``nll_loss``, ``l1_loss``,
``huber_loss``, ``smooth_l1_loss``, ``kl_div``, ``binary_cross_entropy[_with_logits]``...) and
``prod``: an op declared with :func:`float32_op` computes in float32 inside autocast (its float16
and bfloat16 inputs converted up). On CPU ``softmax``, ``log_softmax`` and ``layer_norm`` are on
neither list: they run in their input's dtype, as in PyTorch. :func:`lower_precision_op` declares
an op of the lower-precision list.

``GradScaler`` multiplies the loss by a scale factor so that small float16 gradients do not
underflow, divides the gradients by it before the optimizer step, skips the step when a gradient
is inf or NaN and adapts the scale, with ``torch.amp.GradScaler``'s API and scale sequence.
"""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Callable
from typing import Any, TypeVar

from agrad._base import dtypes as _dtypes
from agrad._base.dtypes import DType, bfloat16, float16, float32
from agrad._base.modes import autocast_mode, no_grad
from agrad._core.tensor import Tensor
from agrad._ops.linear_algebra import autocast_operands

F = TypeVar("F", bound=Callable[..., Any])

_LOWER = (float16, bfloat16)


class autocast:  # noqa: N801 - PyTorch's name (torch.autocast)
    """Run the lower-precision ops of the enclosed block (this thread only) in ``dtype``.

    A context manager (``with agrad.autocast():``) and a decorator (``@agrad.autocast()``).
    ``dtype`` is ``agrad.bfloat16`` (the default, as PyTorch's CPU autocast) or ``agrad.float16``;
    the backend must have it (``to_native`` names the backend that lacks it). ``enabled=False``
    turns autocast off inside an enclosing block. Blocks nest; the innermost decides.
    An instance is entered by one thread at a time; as a decorator it makes a fresh one per call.
    """

    def __init__(self, dtype: DType = bfloat16, enabled: bool = True) -> None:
        if isinstance(dtype, str):
            raise TypeError(
                f"agrad.autocast takes the dtype first and no device type (got {dtype!r}): "
                "write agrad.autocast(dtype=agrad.bfloat16)"
            )
        if dtype not in _LOWER:
            raise ValueError(f"agrad.autocast: dtype must be agrad.float16 or agrad.bfloat16, got {dtype!r}")
        self.dtype = dtype
        self.enabled = bool(enabled)
        self._previous: list[DType | None] = []

    def __enter__(self) -> autocast:
        self._previous.append(autocast_mode.dtype)
        autocast_mode.dtype = self.dtype if self.enabled else None
        return self

    def __exit__(self, *exc: object) -> None:
        autocast_mode.dtype = self._previous.pop()

    def __call__(self, fn: F) -> F:
        dtype, enabled = self.dtype, self.enabled

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            with autocast(dtype, enabled):
                return fn(*args, **kwargs)

        return run  # type: ignore[return-value]


def is_autocast_enabled() -> bool:
    """Whether this thread is inside an enabled ``agrad.autocast`` block."""
    return autocast_mode.dtype is not None


def get_autocast_dtype() -> DType | None:
    """This thread's autocast dtype, or ``None`` outside autocast."""
    return autocast_mode.dtype


def _cast_arguments(args: tuple, kwargs: dict, dtype: DType) -> tuple[tuple, dict]:
    args = autocast_operands(args, dtype)
    if kwargs:
        kwargs = dict(zip(kwargs, autocast_operands(tuple(kwargs.values()), dtype)))
    return args, kwargs


def lower_precision_op(fn: F) -> F:
    """Declare ``fn`` an op of autocast's lower-precision list: inside ``agrad.autocast`` its
    floating Tensor arguments (positional and keyword) are converted to the autocast dtype first.
    The hook of the convolutions; outside autocast it costs one thread-local read."""

    @functools.wraps(fn)
    def op(*args: Any, **kwargs: Any) -> Any:
        dtype = autocast_mode.dtype
        if dtype is not None:
            args, kwargs = _cast_arguments(args, kwargs, dtype)
        return fn(*args, **kwargs)

    return op  # type: ignore[return-value]


def float32_op(fn: F) -> F:
    """Declare ``fn`` an op of autocast's float32 list (losses, reductions that lose precision):
    inside ``agrad.autocast`` its float16/bfloat16 Tensor arguments are converted to float32
    first, so it computes (and returns) float32, as PyTorch's CPU autocast does for its losses."""

    @functools.wraps(fn)
    def op(*args: Any, **kwargs: Any) -> Any:
        if autocast_mode.dtype is not None:
            args, kwargs = _cast_arguments(args, kwargs, float32)
        return fn(*args, **kwargs)

    return op  # type: ignore[return-value]


# --- GradScaler ---------------------------------------------------------------------------------


def _f32(x: float) -> float:
    """``x`` rounded to float32: PyTorch keeps the scale in a float32 tensor, so do we (in a float)."""
    try:
        return struct.unpack("f", struct.pack("f", x))[0]
    except OverflowError:
        return math.copysign(math.inf, x)


_READY, _UNSCALED, _STEPPED = "ready", "unscaled", "stepped"


class _OptimizerState:
    __slots__ = ("stage", "checks", "found_inf")

    def __init__(self) -> None:
        self.stage = _READY
        self.checks: list[Any] | None = None  # 0-d "all finite" arrays, one per backend
        self.found_inf: bool | None = None

    def read(self) -> bool:
        """Whether a gradient was inf/NaN: the one place GradScaler reads array values."""
        if self.found_inf is None:
            self.found_inf = not all(bool(ok) for ok in self.checks)
        return self.found_inf


class GradScaler:
    """Dynamic loss scaling for float16 training, as ``torch.amp.GradScaler``.

    Per iteration::

        with agrad.autocast(dtype=agrad.float16):
            loss = loss_fn(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)     # unscales the gradients; skips the step if one is inf/NaN
        scaler.update()            # backs off after a skip, grows after growth_interval good steps

    The scale is a float32 value kept in Python (no device array to update in place). ``step``
    must know whether a gradient overflowed before it can decide to skip: it reads one boolean
    per backend (the documented exception to agrad's never-read-values rule; on Dask it computes
    the gradients). ``enabled=False`` makes every method a pass-through.
    """

    def __init__(
        self,
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
        enabled: bool = True,
    ) -> None:
        if growth_factor <= 1.0:
            raise ValueError("GradScaler: the growth factor must be > 1.0.")
        if backoff_factor >= 1.0:
            raise ValueError("GradScaler: the backoff factor must be < 1.0.")
        self._enabled = bool(enabled)
        self._scale = _f32(float(init_scale))
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = int(growth_interval)
        self._growth_tracker = 0
        self._started = False  # scale() has been called (PyTorch creates its scale tensor there)
        self._per_optimizer: dict[int, _OptimizerState] = {}

    # --- the iteration ------------------------------------------------------------------------

    def scale(self, outputs: Any) -> Any:
        """``outputs`` (a Tensor, or a list/tuple of them, nested) multiplied by the scale factor;
        the dtype of each is kept. Unchanged when disabled."""
        if not self._enabled:
            return outputs
        self._started = True
        s = self._scale

        def apply(v: Any) -> Any:
            if isinstance(v, Tensor):
                return v * s
            if isinstance(v, (list, tuple)):
                return type(v)(apply(u) for u in v)
            raise ValueError(f"GradScaler.scale: outputs must be a Tensor or a list/tuple of Tensors, "
                             f"got {type(v).__name__}")

        return apply(outputs)

    def _check_started(self, what: str) -> None:
        if not self._started:
            raise RuntimeError(f"GradScaler: attempted {what} before scale(); this may indicate your "
                               "script did not use scaler.scale(loss or outputs) earlier in the iteration.")

    def _state(self, optimizer: Any) -> _OptimizerState:
        st = self._per_optimizer.get(id(optimizer))
        if st is None:
            st = self._per_optimizer[id(optimizer)] = _OptimizerState()
        return st

    def unscale_(self, optimizer: Any) -> None:
        """Divide ``optimizer``'s gradients by the scale (functionally: ``p.grad`` is rebound) and
        record whether any is inf/NaN. Call it before clipping gradients; ``step`` calls it if you
        did not. At most once per optimizer per iteration. float16 gradients are refused (keep
        float32 parameters: autocast gives them float32 gradients), as in PyTorch."""
        if not self._enabled:
            return
        self._check_started("unscale_")
        st = self._state(optimizer)
        if st.stage == _UNSCALED:
            raise RuntimeError(
                "unscale_() has already been called on this optimizer since the last update()."
            )
        if st.stage == _STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        inv = _f32(1.0 / self._scale)
        flags: dict[int, tuple[Any, list[Any]]] = {}
        with no_grad():
            for group in optimizer.param_groups:
                for p in group["params"]:
                    g = p.grad
                    if g is None:
                        continue
                    be = p._backend
                    if _dtypes.from_native(be, g.dtype) is float16:
                        raise ValueError("Attempting to unscale FP16 gradients.")
                    xp = be.xp
                    g = g * inv
                    p.grad = g
                    flags.setdefault(id(be), (xp, []))[1].append(xp.all(xp.isfinite(g)))
        st.checks = [xp.all(xp.stack(fs)) if len(fs) > 1 else fs[0] for xp, fs in flags.values()]
        st.found_inf = None
        st.stage = _UNSCALED

    def step(self, optimizer: Any, *args: Any, **kwargs: Any) -> Any:
        """``optimizer.step(*args, **kwargs)`` on unscaled gradients, unless one is inf/NaN (then the
        step is skipped and ``None`` returned). Reads the overflow flag: see the class doc."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        self._check_started("step")
        st = self._state(optimizer)
        if st.stage == _STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if st.stage == _READY:
            self.unscale_(optimizer)
        if not st.checks:
            raise RuntimeError("No inf checks were recorded for this optimizer (none of its parameters "
                               "has a gradient).")
        out = None if st.read() else optimizer.step(*args, **kwargs)
        st.stage = _STEPPED
        return out

    def update(self, new_scale: float | Tensor | None = None) -> None:
        """Adapt the scale for the next iteration: ``* backoff_factor`` if any step of this
        iteration saw an inf/NaN gradient, ``* growth_factor`` after ``growth_interval`` steps in a
        row without one (unless that overflows float32); or set it to ``new_scale``."""
        if not self._enabled:
            return
        self._check_started("update")
        if new_scale is not None:
            self._scale = _f32(float(new_scale))
        else:
            recorded = [st for st in self._per_optimizer.values() if st.checks]
            if not recorded:
                raise RuntimeError("No inf checks were recorded prior to update.")
            if any(st.read() for st in recorded):
                self._scale = _f32(self._scale * self._backoff_factor)
                self._growth_tracker = 0
            else:
                successful = self._growth_tracker + 1
                if successful == self._growth_interval:
                    grown = _f32(self._scale * self._growth_factor)
                    if math.isfinite(grown):
                        self._scale = grown
                    self._growth_tracker = 0
                else:
                    self._growth_tracker = successful
        self._per_optimizer = {}

    # --- settings and state -------------------------------------------------------------------

    def get_scale(self) -> float:
        """The current scale factor (``1.0`` when disabled)."""
        return self._scale if self._enabled else 1.0

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        self._growth_factor = float(new_factor)

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        self._backoff_factor = float(new_factor)

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        self._growth_interval = int(new_interval)

    def is_enabled(self) -> bool:
        return self._enabled

    def state_dict(self) -> dict[str, Any]:
        """PyTorch's keys: ``scale``, ``growth_factor``, ``backoff_factor``, ``growth_interval``,
        ``_growth_tracker`` (``{}`` when disabled)."""
        if not self._enabled:
            return {}
        return {
            "scale": self.get_scale(),
            "growth_factor": self._growth_factor,
            "backoff_factor": self._backoff_factor,
            "growth_interval": self._growth_interval,
            "_growth_tracker": self._growth_tracker,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (also PyTorch's GradScaler state dicts)."""
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved "
                               "from a disabled instance of GradScaler.")
        self._scale = _f32(float(state_dict["scale"]))
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._growth_tracker = int(state_dict["_growth_tracker"])


__all__ = [
    "GradScaler",
    "autocast",
    "float32_op",
    "get_autocast_dtype",
    "is_autocast_enabled",
    "lower_precision_op",
]
