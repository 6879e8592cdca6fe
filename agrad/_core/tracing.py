"""Tracing: what ``agrad.jit`` records of one run of a function, and how the record is replayed.

While a :class:`Trace` is active (this thread's ``modes.trace``), every primitive call takes the
special path, runs as usual on the concrete arrays, and is appended to the trace as an
:class:`Equation`: the primitive, its arguments and parameters (each a reference to an earlier
value of the program, or a constant) and its outputs. Values are identified by the identity of
their backend arrays, so a Tensor re-wrapped by the engine (the ``ans`` of a VJP rule) still
refers to the value it holds. A Tensor that the trace has not seen (a weight the function closes
over) becomes an implicit input, read again from that Tensor on every call.

Derivatives inside the traced function run with their rules on Tensors (as ``create_graph``
does), so the backward pass is a sequence of primitive calls too: the program holds the
forward and the backward. :class:`Program` then drops what the outputs do not need, merges
repeated computations and frees each buffer after its last use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from agrad._base.modes import modes
from agrad._core.primitive import Primitive, _mode_hooks, plain_call
from agrad._core.tensor import Tensor

DATA_DEPENDENT = frozenset(("nonzero", "unique_all", "unique_counts", "unique_inverse",
                            "unique_values"))


class TracingError(ValueError):
    """Something ``agrad.jit`` cannot compile: a Python decision on a traced value, a
    data-dependent shape, a backward() call."""


# A reference is (True, var) for a value of the program, (False, constant) otherwise; a tuple of
# references is (None, [refs]) (index keys, shapes).
Ref = tuple


class Equation:
    """One primitive application of the program (or a random draw: ``prim`` is None and
    ``draw`` makes the array)."""

    __slots__ = ("prim", "args", "params", "outs", "draw")

    def __init__(self, prim: Primitive | None, args: list, params: dict, outs: list,
                 draw: Callable[[], Any] | None = None) -> None:
        self.prim, self.args, self.params, self.outs, self.draw = prim, args, params, outs, draw

    def inputs(self) -> list[int]:
        found: list[int] = []
        for r in [*self.args, *self.params.values()]:
            _collect(r, found)
        return found

    def __repr__(self) -> str:
        outs = ", ".join(f"v{o}" for o in self.outs)
        if self.prim is None:
            return f"{outs} = random draw"
        args = ", ".join(_show(r) for r in self.args)
        params = "".join(f", {k}={_show(r)}" for k, r in self.params.items())
        return f"{outs} = {self.prim.name}({args}{params})"


def _collect(ref: Ref, found: list[int]) -> None:
    kind, v = ref
    if kind is True:
        found.append(v)
    elif kind is None:
        for r in v:
            _collect(r, found)


def _show(ref: Ref) -> str:
    kind, v = ref
    if kind is True:
        return f"v{v}"
    if kind is None:
        return "(" + ", ".join(_show(r) for r in v) + ("," if len(v) == 1 else "") + ")"
    if hasattr(v, "shape") and hasattr(v, "dtype"):
        return f"const{tuple(v.shape)}"
    return repr(v)


class Trace:
    """The record being made of one run: equations, inputs (explicit, then implicit ones
    discovered on the way) and the map from backend arrays to the program's values."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.equations: list[Equation] = []
        self.var_of: dict[int, int] = {}  # id(backend array) -> var
        self.keep: list[Any] = []  # the arrays seen, alive while tracing (their ids stay unique)
        self.inputs: list[int] = []
        self.implicit: list[tuple[Tensor, int]] = []  # (tensor read on every call, its var)
        self.count = 0

    def new_var(self, value: Any) -> int:
        var = self.count
        self.count += 1
        self.var_of[id(value)] = var
        self.keep.append(value)
        return var

    def add_input(self, value: Any) -> int:
        var = self.new_var(value)
        self.inputs.append(var)
        return var

    def ref(self, x: Any) -> Ref:
        if isinstance(x, Tensor):
            value = x.value
            var = self.var_of.get(id(value))
            if var is None:  # a tensor made before the call: read it again on every call
                var = self.new_var(value)
                self.implicit.append((x, var))
            return (True, var)
        if isinstance(x, tuple):
            return (None, [self.ref(e) for e in x])
        var = self.var_of.get(id(x)) if self.backend.is_array(x) else None
        return (False, x) if var is None else (True, var)

    def record(self, prim: Primitive, args: tuple, params: dict, out: Any) -> None:
        arg_refs = [self.ref(a) for a in args]
        param_refs = {k: self.ref(v) for k, v in params.items()}
        outs = out if prim.multi_output else (out,)
        out_vars = [self.new_var(o.value) for o in outs]
        self.equations.append(Equation(prim, arg_refs, param_refs, out_vars))

    def record_draw(self, draw: Callable[[], Any], value: Any) -> None:
        self.equations.append(Equation(None, [], {}, [self.new_var(value)], draw=draw))

    def is_traced(self, value: Any) -> bool:
        return id(value) in self.var_of

    def check_scalar(self, t: Tensor, kind: type) -> None:
        """Raise if ``t`` is a traced value: Python cannot see it while tracing."""
        if self.is_traced(t.value):
            raise TracingError(
                f"{kind.__name__}() of a traced value under agrad.jit: the value exists only when "
                "the compiled program runs, so Python cannot branch on it. Write the choice with "
                "agrad.where(condition, a, b), or make the argument static (static_argnums / "
                "static_argnames)."
            )


def traced_call(prim: Primitive, args: tuple, params: dict) -> Any:
    """The special path's work while tracing: the plain call, recorded."""
    if prim.name in DATA_DEPENDENT:
        raise TracingError(
            f"agrad.{prim.name} under agrad.jit: its output's shape depends on the values, which "
            "a compiled program cannot have. Compute it outside the jitted function, or use a "
            "fixed-size form (agrad.where with a mask)."
        )
    trace = modes.trace[-1]
    if prim.name == "getitem" and _masked(params["key"], trace):
        raise TracingError(
            "x[mask] with a traced boolean mask under agrad.jit: the result's length depends on "
            "the values. Use agrad.where(mask, x, 0) (fixed shape) or index outside the jit."
        )
    out = plain_call(prim, args, params)
    trace.record(prim, args, params, out)
    return out


def _masked(key: Any, trace: Trace) -> bool:
    keys = key if isinstance(key, tuple) else (key,)
    return any(trace.is_traced(k) and "bool" in str(getattr(k, "dtype", "")) for k in keys)


_mode_hooks["trace"] = traced_call


# --- the program ------------------------------------------------------------------------------


class Program:
    """A trace made ready to run: only what the outputs need (random draws are kept: they
    advance the stream as eagerly), repeated computations merged, and per equation the values
    that can be freed after it."""

    def __init__(self, trace: Trace, out_refs: Sequence[Ref]) -> None:
        self.backend = trace.backend
        self.inputs = list(trace.inputs)
        self.implicit = list(trace.implicit)
        eqs, alias = _cse(trace.equations)
        self.out_refs = [_rename(r, alias) for r in out_refs]
        self.equations = _dce(eqs, self.out_refs)
        self.draws = [e for e in self.equations if e.prim is None]
        self.body = [e for e in self.equations if e.prim is not None]
        self.free_after = _last_uses(self.body, self.out_refs, self.inputs + [v for _, v in self.implicit])
        self._impls = [e.prim.impl(self.backend) for e in self.body]

    def __repr__(self) -> str:
        lines = [f"agrad.jit program on {self.backend.name!r}: inputs "
                 + ", ".join(f"v{v}" for v in self.inputs)
                 + ("; implicit " + ", ".join(f"v{v}" for _, v in self.implicit) if self.implicit else "")]
        lines += [f"  {e!r}" for e in self.equations]
        lines.append("  return " + ", ".join(_show(r) for r in self.out_refs))
        return "\n".join(lines)

    def body_function(self) -> Callable[..., tuple]:
        """``f(*input arrays, *implicit arrays, *drawn arrays) -> output arrays``: the body as a
        pure function of backend arrays (what a backend's compiler, e.g. ``jax.jit``, takes).

        It is generated Python, one line per equation and nothing else: the replay costs the
        backend's own calls plus a function call per primitive."""
        feeds = self.inputs + [v for _, v in self.implicit] + [e.outs[0] for e in self.draws]
        names: dict[str, Any] = {"xp": self.backend.xp}
        lines = [f"def run({', '.join(f'v{v}' for v in feeds)}):"]
        for k, (impl, eq, free) in enumerate(zip(self._impls, self.body, self.free_after)):
            names[f"f{k}"] = impl
            args = [_source(r, names) for r in eq.args]
            args += [f"{key}={_source(r, names)}" for key, r in eq.params.items()]
            outs = ", ".join(f"v{v}" for v in eq.outs) + ("," if eq.prim.multi_output else "")
            lines.append(f"    {outs} = f{k}(xp{''.join(', ' + a for a in args)})")
            if free:
                lines.append(f"    del {', '.join(f'v{v}' for v in free)}")
        results = ", ".join(_source(r, names) for r in self.out_refs)
        lines.append(f"    return ({results}{',' if len(self.out_refs) == 1 else ''})")
        source = "\n".join(lines)
        exec(compile(source, f"<agrad.jit program {id(self):x}>", "exec"), names)  # noqa: S102
        run = names["run"]
        run.source = source
        return run


def _source(ref: Ref, names: dict) -> str:
    """Python source for a reference: a variable, a literal, or a named constant."""
    kind, v = ref
    if kind is True:
        return f"v{v}"
    if kind is None:
        return "(" + "".join(_source(r, names) + ", " for r in v) + ")"
    if v is None or isinstance(v, (bool, int, str)) or type(v) is float and v == v and abs(v) != float("inf"):
        return repr(v)
    name = f"c{len(names)}"
    names[name] = v
    return name


def _freeze(ref: Ref) -> Any:
    """A hashable key for a reference (constants by value where hashable, else by identity)."""
    kind, v = ref
    if kind is None:
        return (None, tuple(_freeze(r) for r in v))
    if kind is True:
        return (True, v)
    if hasattr(v, "shape"):
        return (False, "array", id(v))
    try:
        hash(v)
    except TypeError:
        return (False, "object", id(v))
    return (False, type(v), v)


def _cse(eqs: list[Equation]) -> tuple[list[Equation], dict[int, int]]:
    """Merge equations that apply the same primitive to the same values and parameters; returns
    the equations kept and the renames of the merged values."""
    seen: dict[Any, list[int]] = {}
    alias: dict[int, int] = {}
    out = []
    for e in eqs:
        if e.prim is None:
            out.append(e)
            continue
        args = [_rename(r, alias) for r in e.args]
        params = {k: _rename(r, alias) for k, r in e.params.items()}
        key = (id(e.prim), tuple(_freeze(r) for r in args),
               tuple((k, _freeze(r)) for k, r in sorted(params.items())))
        earlier = seen.get(key)
        if earlier is not None:
            alias.update(zip(e.outs, earlier))
            continue
        seen[key] = e.outs
        out.append(Equation(e.prim, args, params, e.outs))
    return out, alias


def _rename(ref: Ref, alias: dict) -> Ref:
    kind, v = ref
    if kind is True:
        return (True, alias.get(v, v))
    if kind is None:
        return (None, [_rename(r, alias) for r in v])
    return ref


def _dce(eqs: list[Equation], out_refs: list[Ref]) -> list[Equation]:
    """The equations the outputs need (and every random draw)."""
    needed: set[int] = set()
    for r in out_refs:
        found: list[int] = []
        _collect(r, found)
        needed.update(found)
    kept = []
    for e in reversed(eqs):
        if e.prim is None or any(o in needed for o in e.outs):
            kept.append(e)
            needed.update(e.inputs())
    return kept[::-1]


def _last_uses(body: list[Equation], out_refs: list[Ref], feeds: list[int]) -> list[list[int]]:
    """Per equation, the values whose last use it is (outputs are never freed)."""
    keep: set[int] = set()
    for r in out_refs:
        found: list[int] = []
        _collect(r, found)
        keep.update(found)
    last: dict[int, int] = {}
    for i, e in enumerate(body):
        for v in e.inputs():
            last[v] = i
        for v in e.outs:
            last.setdefault(v, i)  # an output nobody reads is freed at once
    free: list[list[int]] = [[] for _ in body]
    for v, i in last.items():
        if v not in keep:
            free[i].append(v)
    return free
