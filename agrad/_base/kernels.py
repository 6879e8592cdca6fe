"""The kernel contract: every name a backend may register in ``Backend(kernels={...})``.

A kernel replaces a portable reference with a faster function of the same signature that
returns the same values. Names are declared where the reference is, never by a backend:
``primitive(name, fwd, ..., kernel="k")`` declares ``"k"`` (the forward, reference ``fwd``) and
``"k.vjp"`` (a joint pull-back on raw arrays, ``(xp, g, ans, *args, **params) -> [cotangent or
None per argument]``, replacing the per-argument VJP rules when no graph of the backward pass is
recorded); an optimizer declares its update (``Optimizer.kernel``).

A kernel may decline a call by returning ``NotImplemented`` (a dtype or layout it does not
handle): the reference runs instead, so a backend never needs agrad's private functions.
``Backend`` rejects a name that nothing declares, listing the known ones; a renamed kernel keeps
its old name in :data:`DEPRECATED` for one release.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class KernelSpec:
    """One declared kernel: its name, what it replaces, and who asks for it."""

    name: str
    reference: Callable[..., Any] | None
    """The portable function it must agree with (``None``: the per-argument VJP rules)."""
    owner: str
    """The primitive or optimizer that looks it up."""
    role: str
    """``"forward"``, ``"joint vjp"`` or ``"update"``."""

    @property
    def signature(self) -> str:
        if self.reference is None:
            return "(xp, g, ans, *args, **params) -> [cotangent | None per argument]"
        try:
            return str(inspect.signature(self.reference))
        except (TypeError, ValueError):
            return "(...)"


KERNELS: dict[str, KernelSpec] = {}
"""Every declared kernel, by name."""

DEPRECATED: dict[str, str] = {}
"""Old kernel names still accepted (with a ``DeprecationWarning``): ``{old: new}``."""


def declare(name: str, reference: Callable[..., Any] | None, owner: str, role: str = "forward") -> None:
    """Declare kernel ``name``; the same name declared again must mean the same thing."""
    spec = KernelSpec(name, reference, owner, role)
    old = KERNELS.setdefault(name, spec)
    if old.role != role:
        raise ValueError(f"kernel {name!r} is declared twice, as {old.role} and as {role}")


def rename(old: str, new: str) -> None:
    """Keep ``old`` working as a deprecated alias of ``new`` (for third-party backends)."""
    DEPRECATED[old] = new


def checked(backend_name: str, kernels: Mapping[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """``kernels`` with deprecated names replaced; a name nothing declares is a ``ValueError``."""
    out: dict[str, Callable[..., Any]] = {}
    for name, fn in kernels.items():
        if name in DEPRECATED:
            new = DEPRECATED[name]
            warnings.warn(f"backend {backend_name!r}: kernel name {name!r} is deprecated, register "
                          f"it as {new!r}", DeprecationWarning, stacklevel=4)
            name = new
        if name not in KERNELS:
            raise ValueError(
                f"backend {backend_name!r} registers a kernel {name!r} that no agrad operation "
                f"declares, so it would never run. Known kernels: {', '.join(sorted(KERNELS))} "
                "(docs/writing-a-backend.md lists their signatures)."
            )
        if not callable(fn):
            raise TypeError(f"backend {backend_name!r}: kernel {name!r} must be callable, got "
                            f"{type(fn).__name__}")
        out[name] = fn
    return out


def declared_kernels() -> dict[str, KernelSpec]:
    """Every kernel name a backend may register, with its portable reference and signature."""
    return dict(KERNELS)


def table() -> str:
    """The declared kernels as a Markdown table (docs/writing-a-backend.md is generated from it)."""
    rows = ["| kernel | role | declared by | signature |", "| --- | --- | --- | --- |"]
    for name in sorted(KERNELS):
        k = KERNELS[name]
        rows.append(f"| `{name}` | {k.role} | {k.owner} | `{k.signature}` |")
    return "\n".join(rows)
