"""The package reads downward: no import cycle inside ``agrad/``, each layer imports only layers
below it, few late (function-level) imports, each with its reason, and ``backends/`` speaks only
agrad's public API.

The graph is built from the source (``ast``), not from ``sys.modules``: an edge is an import that
runs when its module is imported (``if TYPE_CHECKING:`` blocks are skipped). An import of a name
from a package face (``from agrad.linalg import solve``) is an edge to the module that defines
the name, found by following the face's own imports; faces that re-export are meant to be
imported from anywhere.
"""

from __future__ import annotations

import ast
import functools
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
AGRAD = ROOT / "agrad"
BACKENDS = ROOT / "backends"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("agrad._base",),
    ("agrad._core",),
    ("agrad._ops",),
    ("agrad._methods",),
    ("agrad._transforms", "agrad._state"),
    ("agrad.linalg", "agrad.fft", "agrad.random", "agrad.amp"),
    ("agrad.nn", "agrad.optim"),
    ("agrad.testing",),
    ("agrad",),
)
"""Lowest first: a module may import (at module level) modules of its own layer or below."""

MAX_LATE_IMPORTS = 10
"""Function-level imports of agrad modules: each is a late binding, ``# late: <reason>``."""

pytestmark = pytest.mark.backend_independent


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@functools.cache
def modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(AGRAD.rglob("*.py"))}


def _is_package(name: str) -> bool:
    return modules()[name].name == "__init__.py"


def _resolve(base: str, level: int, module: str | None, current: str) -> str:
    if level == 0:
        return base
    pkg = current if _is_package(current) else current.rpartition(".")[0]
    for _ in range(level - 1):
        pkg = pkg.rpartition(".")[0]
    return f"{pkg}.{module}" if module else pkg


@functools.cache
def _parsed(name: str) -> ast.Module:
    return ast.parse(modules()[name].read_text(), filename=str(modules()[name]))


def _type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _attributes_of(tree: ast.AST, bound: str) -> list[str]:
    """The names a module reads as ``<bound>.name``: what ``import agrad`` is used for."""
    return sorted({n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
                   and isinstance(n.value, ast.Name) and n.value.id == bound})


def _imports(name: str):
    """``(target module, imported name or None, line, module_level)`` for every agrad import.

    ``import agrad`` counts as importing each name the module reads from it (``agrad.reshape``).
    """
    found = []
    tree = _parsed(name)

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                continue
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, True)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name == "agrad":
                        for attr in _attributes_of(tree, alias.asname or "agrad"):
                            found.append(("agrad", attr, child.lineno, not in_function))
                    elif alias.name.split(".")[0] == "agrad":
                        found.append((alias.name, None, child.lineno, not in_function))
            elif isinstance(child, ast.ImportFrom):
                target = _resolve(child.module or "", child.level, child.module, name)
                if target.split(".")[0] == "agrad":
                    for alias in child.names:
                        found.append((target, alias.name, child.lineno, not in_function))
            visit(child, in_function)

    visit(tree, False)
    return found


def _defining_module(target: str, imported: str | None, seen: frozenset = frozenset()) -> str:
    """The module an import really binds: a submodule, or the module a face re-exports from."""
    mods = modules()
    if imported is not None and f"{target}.{imported}" in mods:
        return f"{target}.{imported}"
    if imported is None or target not in mods or not _is_package(target) or target in seen:
        return target
    for t, n, _, top in _imports(target):
        if top and n == imported:
            return _defining_module(t, n, seen | {target})
    return target


@functools.cache
def graph() -> dict[str, set[str]]:
    """Module-level import edges between agrad modules."""
    edges: dict[str, set[str]] = {m: set() for m in modules()}
    for m in modules():
        for target, imported, _, top in _imports(m):
            if top:
                dest = _defining_module(target, imported)
                if dest in modules() and dest != m:
                    edges[m].add(dest)
    return edges


def cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    edges, index, low, stack, on, out = graph(), {}, {}, [], set(), []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            strong(v)
    return out


def layer_of(name: str) -> int:
    best, depth = len(LAYERS) - 1, -1
    for i, prefixes in enumerate(LAYERS):
        for p in prefixes:
            if (name == p or name.startswith(p + ".")) and p.count(".") > depth:
                best, depth = i, p.count(".")
    return best


def _at_module_level(tree: ast.Module, node: ast.AST) -> bool:
    return any(node is n for top in tree.body if not isinstance(top, (ast.FunctionDef, ast.ClassDef))
               for n in ast.walk(top))


def late_imports() -> list[tuple[str, int, str]]:
    """``(module, line, source line)`` of each function-level import of an agrad module."""
    out = []
    for m in modules():
        lines = modules()[m].read_text().splitlines()
        for _, _, line, top in _imports(m):
            if not top:
                out.append((m, line, lines[line - 1].strip()))
        tree = _parsed(m)
        out += [(m, n.lineno, lines[n.lineno - 1].strip()) for n in ast.walk(tree)
                if isinstance(n, ast.Import) and any(a.name == "agrad" for a in n.names)
                and not _at_module_level(tree, n)]
    return sorted(set(out))


def test_no_import_cycle():
    assert cycles() == []


def test_layers_import_downward():
    upward = [f"{m} (layer {layer_of(m)}) imports {d} (layer {layer_of(d)})"
              for m, ds in graph().items() for d in sorted(ds) if layer_of(d) > layer_of(m)]
    assert upward == []


def test_optim_does_not_import_nn():
    bad = [(m, d) for m, ds in graph().items() if m.startswith("agrad.optim")
           for d in ds if d.startswith("agrad.nn")]
    bad += [(m, t) for m in modules() if m.startswith("agrad.optim")
            for t, _, _, _ in _imports(m) if t.startswith("agrad.nn")]
    assert bad == []


def test_few_late_imports_each_with_a_reason():
    late = late_imports()
    assert len(late) <= MAX_LATE_IMPORTS, "\n".join(f"{m}:{n}: {s}" for m, n, s in late)
    unexplained = [f"{m}:{n}: {s}" for m, n, s in late if "# late: " not in s]
    assert unexplained == []


def test_backends_use_only_the_public_api():
    private = []
    for path in sorted(BACKENDS.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [f"{node.module}.{a.name}" for a in node.names]
            for n in names:
                parts = n.split(".")
                if parts[0] == "agrad" and any(p.startswith("_") for p in parts[1:]):
                    private.append(f"{path.name}:{node.lineno}: {n}")
    assert private == []


def test_the_checker_sees_a_cycle(tmp_path, monkeypatch):
    """The analysis itself: two modules importing each other form a cycle; a face is followed."""
    pkg = tmp_path / "agrad"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from agrad.sub import f\n")
    (pkg / "sub" / "__init__.py").write_text("from agrad.sub.a import f\n")
    (pkg / "sub" / "a.py").write_text("from agrad.sub.b import g\n\ndef f():\n    from agrad import x\n")
    (pkg / "sub" / "b.py").write_text("from agrad.sub import f\ng = 1\n")
    here = sys.modules[__name__]
    monkeypatch.setattr(here, "ROOT", tmp_path)
    monkeypatch.setattr(here, "AGRAD", pkg)
    for fn in (modules, _parsed, graph):
        fn.cache_clear()
    try:
        assert cycles() == [["agrad.sub.a", "agrad.sub.b"]]
        assert [(m, n) for m, n, _ in late_imports()] == [("agrad.sub.a", 4)]
    finally:
        for fn in (modules, _parsed, graph):
            fn.cache_clear()
