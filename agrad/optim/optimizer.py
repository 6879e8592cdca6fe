"""The optimizer base class: parameter groups, per-parameter state, two-phase functional steps.

Each optimizer's arithmetic is one pure function on raw backend arrays (``sgd_update``,
``adam_update``...) named by its ``kernel`` attribute; a backend may replace it by registering a
function of the same signature under that name in ``Backend.kernels``. ``step`` first computes
every parameter's new value and state, then rebinds them all (``p.value = ...``), so an error
leaves no parameter half-updated, and no backend array is ever mutated.

An optimizer declares its hyper-parameters once, in ``hyperparameters`` (name -> default or
:class:`Hyper`, in constructor order); from that table the base class makes the constructor
``(params, <name>=<default>, ...)``, fills and checks every parameter group, and passes the
update function the group's values of its keyword-only parameters.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from agrad._base import kernels as _kernels
from agrad._base.modes import enable_grad, no_grad
from agrad._core.tensor import Tensor

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]]


@dataclass(frozen=True)
class Hyper:
    """One hyper-parameter's declaration, where a bare default is not enough.

    ``convert`` normalises the constructor's argument (not a group's own value); a value for
    which ``invalid(value)`` is true, in the constructor or in any group, is refused with
    ``ValueError("<Optimizer>: " + error.format(value))``.
    """

    default: Any
    convert: Callable[[Any], Any] | None = None
    invalid: Callable[[Any], bool] | None = None
    error: str = "invalid value {}"
    keyword_only: bool = False
    """Keyword-only in the constructor (after ``*``, as PyTorch declares ``maximize``...)."""


def nonnegative(default: float, what: str) -> Hyper:
    """A hyper-parameter that must be ``>= 0`` (weight decay, eps...), named ``what`` in errors."""
    return Hyper(default, invalid=lambda v: v < 0, error=f"invalid {what} {{}}")


def implementation_flags(*, positional_foreach: bool = False) -> dict[str, Hyper]:
    """PyTorch's implementation switches, accepted so that its constructor calls run unchanged.

    ``foreach`` and ``capturable`` choose how PyTorch runs the same arithmetic (and are kept in
    the groups, as PyTorch keeps them); agrad has one implementation, so they change nothing.
    ``differentiable=True`` (a step recorded for autograd) is refused: agrad's steps run under
    ``no_grad``. Some PyTorch optimizers take ``foreach`` positionally (``positional_foreach``).
    """
    return dict(
        foreach=Hyper(None, keyword_only=not positional_foreach),
        capturable=Hyper(False, keyword_only=True),
        differentiable=Hyper(
            False,
            keyword_only=True,
            invalid=bool,
            error="differentiable={} is not supported: agrad's optimizer steps run under no_grad",
        ),
    )


def descent_direction(grad: Any, param: Any, weight_decay: float, maximize: bool) -> Any:
    """The gradient the update rules start from: negated to maximise, plus L2 weight decay."""
    g = -grad if maximize else grad
    return g + weight_decay * param if weight_decay else g


def weight_decayed(
    grad: Any, param: Any, lr: float, weight_decay: float, decoupled: bool, maximize: bool
) -> tuple[Any, Any]:
    """``(param, gradient)`` after weight decay: decoupled (AdamW's ``param *= 1 - lr * wd``, the
    gradient untouched) or L2 (``wd * param`` added to the gradient)."""
    if decoupled and weight_decay:
        return param * (1.0 - lr * weight_decay), descent_direction(grad, param, 0.0, maximize)
    return param, descent_direction(grad, param, weight_decay, maximize)


def lerp(start: Any, end: Any, weight: float) -> Any:
    """``start + weight * (end - start)``, evaluated as PyTorch's ``lerp`` is (from the nearer end),
    so running averages round as PyTorch's do."""
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1.0 - weight)


class Optimizer:
    """Base class. Subclasses set ``kernel``, ``update`` (the reference), ``state_names`` and
    ``hyperparameters``; :meth:`_hyper` (the update's keyword arguments for one group) needs
    overriding only where a group's values are not passed as they are."""

    kernel: str = ""
    update: Callable[..., tuple] = staticmethod(lambda xp, p, g: (p,))
    state_names: tuple[str, ...] = ()
    uses_step: bool = False
    """Count steps per parameter and pass ``step=``; by default, whether ``update`` takes it."""
    hyperparameters: ClassVar[Mapping[str, Any]] = {}
    """Name -> default (or :class:`Hyper`), in the constructor's positional order. A class that
    sets it, and defines no ``__init__`` of its own, gets ``__init__(self, params, <name>=<default>,
    ...)``; bare defaults are wrapped in :class:`Hyper` when the class is created."""
    _update_keywords: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "hyperparameters" in cls.__dict__:
            cls.hyperparameters = {
                name: h if isinstance(h, Hyper) else Hyper(h) for name, h in cls.hyperparameters.items()
            }
            if "__init__" not in cls.__dict__:
                cls.__init__ = _declared_init(cls)  # type: ignore[method-assign]
        keywords = [
            name
            for name, prm in inspect.signature(cls.update).parameters.items()
            if prm.kind is inspect.Parameter.KEYWORD_ONLY
        ]
        cls._update_keywords = tuple(name for name in keywords if name != "step")
        if "update" in cls.__dict__ and "uses_step" not in cls.__dict__:
            cls.uses_step = "step" in keywords
        if cls.__dict__.get("kernel"):  # the name a backend may register a faster update under
            _kernels.declare(cls.kernel, cls.update, f"agrad optimizer {cls.__name__}", "update")

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self._check_defaults(defaults)
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

    def _check_defaults(self, defaults: dict[str, Any]) -> None:
        """Constraints between the constructor's values, checked before anything else."""

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
        for name, h in self.hyperparameters.items():
            if h.invalid is not None and name in group and h.invalid(group[name]):
                raise ValueError(f"{type(self).__name__}: {h.error.format(group[name])}")

    def _hyper(self, group: Mapping[str, Any]) -> dict[str, Any]:
        """The update's keyword arguments for one group (``step`` is added per parameter): the
        group's values of the update function's keyword-only parameters, in its order; a
        ``betas`` pair is passed as ``beta1`` and ``beta2``."""
        if "betas" in group:
            group = {**group, "beta1": group["betas"][0], "beta2": group["betas"][1]}
        return {name: group[name] for name in self._update_keywords if name in group}

    def _advance(self, state: dict[str, Any], group: Mapping[str, Any]) -> dict[str, Any]:
        """Advance one parameter's host scalars in ``state`` (Python numbers, never arrays: the
        ``step`` counted from 1 where the update takes it) and return them as the update's
        keyword arguments. Subclasses add their own (NAdam's ``mu_product``)."""
        if not self.uses_step:
            return {}
        state["step"] = state.get("step", 0) + 1
        return {"step": state["step"]}

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
                    keywords = {**hyper, **self._advance(state, group)}
                    fn = be.kernels.get(self.kernel, type(self).update)
                    args = (be.xp, p.value, p.grad, *(state[n] for n in self.state_names))
                    out = fn(*args, **keywords)
                    if out is NotImplemented:  # the backend's kernel declined: the reference runs
                        out = type(self).update(*args, **keywords)
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
        layout; arrays, also inside lists, as detached Tensors)."""
        index = {id(p): i for i, p in enumerate(self._params())}
        state = {}
        for i, p in enumerate(self._params()):
            s = self.state.get(id(p))
            if s is not None:
                state[i] = {k: _exported(v, p) for k, v in s.items()}
        groups = [
            {**{k: v for k, v in g.items() if k != "params"}, "params": [index[id(p)] for p in g["params"]]}
            for g in self.param_groups
        ]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyper-parameters and state; checked fully before anything changes.

        Per-element state (``state_names``) must have its parameter's shape and comes back on its
        backend and dtype; other entries are host scalars, where a 0-d array (PyTorch saves
        ``step`` so) comes back as a Python number, or arrays and lists of them (L-BFGS)."""
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
            converted = {
                k: _to_param(v, p) if k in self.state_names else _restored(v, p) for k, v in s.items()
            }
            for k in self.state_names:
                v = converted.get(k)
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
    if not hasattr(v, "shape"):
        return v
    be = p._backend
    t = v if isinstance(v, Tensor) else Tensor(v, requires_grad=False, backend=be)
    if t._backend is not be:
        t = Tensor(t.value, requires_grad=False, backend=be)
    if t.dtype is not p.dtype:
        t = Tensor(t.value, requires_grad=False, dtype=p.dtype, backend=be)
    return t.value


def _exported(v: Any, p: Tensor) -> Any:
    """A state entry for ``state_dict``: backend arrays (also in lists) as detached Tensors."""
    if isinstance(v, list):
        return [_exported(x, p) for x in v]
    return Tensor(v, requires_grad=False, backend=p._backend) if p._backend.is_array(v) else v


def _restored(v: Any, p: Tensor) -> Any:
    """A saved host entry: a 0-d array as a Python number, arrays on ``p``'s backend and dtype,
    lists entry by entry."""
    if isinstance(v, (list, tuple)):
        return [_restored(x, p) for x in v]
    if hasattr(v, "shape") and tuple(v.shape) == ():
        return float(v)
    return _to_param(v, p)


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


def _declared_init(cls: type[Optimizer]) -> Callable[..., None]:
    """``cls.__init__(self, params, <name>=<default>, ...)`` from ``cls.hyperparameters``."""
    declared = cls.hyperparameters
    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    ordered = sorted(declared.items(), key=lambda item: item[1].keyword_only)  # stable: `*` after
    signature = inspect.Signature(
        [inspect.Parameter("self", positional), inspect.Parameter("params", positional, annotation=ParamsT)]
        + [
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY if h.keyword_only else positional,
                default=h.default,
                annotation=type(h.default),
            )
            for name, h in ordered
        ],
        return_annotation=None,
    )

    def __init__(self: Optimizer, *args: Any, **kwargs: Any) -> None:
        try:
            given = signature.bind(self, *args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{cls.__qualname__}.__init__() {e}") from None
        given.apply_defaults()
        args_ = given.arguments
        defaults = {
            name: args_[name] if h.convert is None else h.convert(args_[name]) for name, h in declared.items()
        }
        Optimizer.__init__(self, args_["params"], defaults)

    __init__.__signature__ = signature  # type: ignore[attr-defined]
    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    __init__.__module__ = cls.__module__
    __init__.__doc__ = "Hyper-parameters (defaults): " + ", ".join(
        f"{name}={h.default!r}" for name, h in declared.items()
    )
    return __init__
