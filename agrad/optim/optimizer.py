"""The optimizer base class: parameter groups, per-parameter state, two-phase functional steps.

Each optimizer's arithmetic is one pure function on raw backend arrays (``sgd_update``,
``adam_update``...) named by its ``kernel`` attribute; a backend may replace it by registering a
function of the same signature under that name in ``Backend.kernels``. ``step`` first computes
every parameter's new value and state, then rebinds them all (``p.value = ...``), so an error
leaves no parameter half-updated, and no backend array is ever mutated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from agrad._core.engine import enable_grad, no_grad
from agrad._core.tensor import Tensor
from agrad.nn.module import convert_value

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]]


def descent_direction(grad: Any, param: Any, weight_decay: float, maximize: bool) -> Any:
    """The gradient the update rules start from: negated to maximise, plus L2 weight decay."""
    g = -grad if maximize else grad
    return g + weight_decay * param if weight_decay else g


class Optimizer:
    """Base class. Subclasses set ``kernel``, ``update`` (the reference), ``state_names`` and
    implement :meth:`_hyper` (the update's keyword arguments for one group)."""

    kernel: str = ""
    update: Callable[..., tuple] = staticmethod(lambda xp, p, g: (p,))
    state_names: tuple[str, ...] = ()
    uses_step: bool = False

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[int, dict[str, Any]] = {}
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyper-parameters (defaults fill the rest)."""
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for p in params:
            if not isinstance(p, Tensor) or not p.is_leaf:
                raise TypeError(
                    f"{type(self).__name__} can only optimise leaf Tensors, got {type(p).__name__}"
                )
            if id(p) in seen:
                raise ValueError("some parameters appear in more than one parameter group")
            seen.add(id(p))
        unknown = set(group) - set(self.defaults) - {"params", "initial_lr"}
        if unknown:
            raise TypeError(
                f"{type(self).__name__}: unknown hyper-parameters {sorted(unknown)}; "
                f"known: {sorted(self.defaults)}"
            )
        new = {**self.defaults, **group, "params": params}
        self._validate(new)
        self.param_groups.append(new)

    def _validate(self, group: dict[str, Any]) -> None:
        if group.get("lr", 0.0) < 0.0:
            raise ValueError(f"{type(self).__name__}: invalid learning rate {group['lr']}")

    def _hyper(self, group: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def _initial_state(self, xp: Any, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {name: xp.zeros_like(p.value) for name in self.state_names}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for g in self.param_groups:
            for p in g["params"]:
                p._grad = None if set_to_none or p._grad is None else p._backend.xp.zeros_like(p.value)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns ``closure()``'s loss if given."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        pending = []
        with no_grad():
            for group in self.param_groups:
                hyper = self._hyper(group)
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    be = p._backend
                    old = self.state.get(id(p))
                    if old is None:
                        state = self._initial_state(be.xp, p, group)
                    else:  # after model.to(backend=..., dtype=...), bring the state along
                        state = {k: _to_param(v, p) if _stale(v, p) else v for k, v in old.items()}
                    if self.uses_step:
                        state["step"] = state.get("step", 0) + 1
                        hyper = {**hyper, "step": state["step"]}
                    fn = be.kernels.get(self.kernel, type(self).update)
                    out = fn(be.xp, p.value, p.grad, *(state[n] for n in self.state_names), **hyper)
                    pending.append((p, out[0], state, out[1:]))
        for p, value, state, arrays in _materialized(pending):
            state.update(zip(self.state_names, arrays))
            self.state[id(p)] = state
            p.value = value
        return loss

    # --- state ----------------------------------------------------------------------------------

    def _params(self) -> list[Tensor]:
        return [p for g in self.param_groups for p in g["params"]]

    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [index...]}]}`` (PyTorch's
        layout; arrays as detached Tensors)."""
        index = {id(p): i for i, p in enumerate(self._params())}
        state = {}
        for i, p in enumerate(self._params()):
            s = self.state.get(id(p))
            if s is not None:
                state[i] = {
                    k: (Tensor(v, requires_grad=False, backend=p._backend) if p._backend.is_array(v) else v)
                    for k, v in s.items()
                }
        groups = [
            {**{k: v for k, v in g.items() if k != "params"}, "params": [index[id(p)] for p in g["params"]]}
            for g in self.param_groups
        ]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyper-parameters and state; checked fully before anything changes."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
            len(a["params"]) != len(b["params"]) for a, b in zip(groups, self.param_groups)
        ):
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: the saved parameter groups do not match "
                "this optimizer's (different number of groups or of parameters per group)"
            )
        params = self._params()
        new_state = {}
        for key, s in state_dict["state"].items():
            p = params[int(key)]
            converted = {k: _to_param(v, p) for k, v in s.items()}
            for k, v in converted.items():
                if hasattr(v, "shape") and tuple(v.shape) != p.shape:
                    raise ValueError(
                        f"{type(self).__name__}.load_state_dict: state {k!r} of parameter {key} "
                        f"has shape {tuple(v.shape)}, the parameter {p.shape}"
                    )
            new_state[id(p)] = converted
        new_groups = [
            {**{k: v for k, v in saved.items() if k != "params"}, "params": own["params"]}
            for saved, own in zip(groups, self.param_groups)
        ]
        self.state = new_state
        self.param_groups = new_groups


def _to_param(v: Any, p: Tensor) -> Any:
    """A saved state entry on ``p``'s backend and dtype (plain numbers pass through)."""
    return convert_value(v, p._backend, p.dtype) if hasattr(v, "shape") else v


def _stale(v: Any, p: Tensor) -> bool:
    """A state array left on another backend or dtype than its parameter (the model was moved)."""
    return hasattr(v, "shape") and not (p._backend.is_array(v) and v.dtype == p.value.dtype)


def _materialized(pending: list) -> list:
    """The step's new parameters and state, evaluated now on lazy backends (Dask: one persist
    per step, so work the parameters share, the backward pass, is done once), so the next step's
    task graph starts from computed values instead of replaying every earlier step. Eager
    backends (no ``materializer``) pass through untouched."""
    lazy = [i for i, (p, *_) in enumerate(pending) if p._backend.materializer is not None]
    if not lazy:
        return pending
    backend = pending[lazy[0]][0]._backend
    flat = [a for i in lazy for a in (pending[i][1], *pending[i][3])]
    values = iter(backend.materialize(flat))
    out = list(pending)
    for i in lazy:
        p, _, state, arrays = pending[i]
        value = next(values)
        out[i] = (p, value, state, tuple(next(values) for _ in arrays))
    return out
