"""Generate ``docs/coverage.md``: every function of the standard's main namespace and every
extension (linalg, fft, einsum, nn.functional, internal primitives), whether agrad's forward, VJP,
JVP, second derivatives and Hessian-vector products work, and on which backends that was verified.

Run from the repository root: ``python docs/coverage.py``. For each installed backend it runs,
per case of the test suite's one recipe table (``tests/primitive_recipes.py``), the same checks
as ``tests/test_primitive_table.py``: ``gradcheck`` (float64, random cotangents) for the VJP,
``agrad.jvp`` against finite differences and reverse mode for the JVP, ``gradgradcheck`` for
second derivatives, forward-over-reverse Hessian-vector products against reverse-over-reverse
ones, or a plain forward call for the non-differentiable functions. Nothing in the table is
written by hand: a failing check shows up as ✗ with the backend's name.
"""

from __future__ import annotations

import inspect
import sys
import warnings
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import array_api_strict  # noqa: E402

import agrad  # noqa: E402
from tests.primitive_recipes import (  # noqa: E402
    CASES,
    EXTENSION_CASES,
    FORWARD_CALLS,
    NON_DIFFERENTIABLE,
    ZERO_DERIVATIVE,
    derivative_checks,
    forward_input,
    make_inputs,
    needs,
)

CHECKS = derivative_checks()
KINDS = ("forward", *CHECKS)
TITLES = {"forward": "forward", "vjp": "VJP", "jvp": "JVP", "2nd": "2nd order", "hvp": "HVP (fwd-over-rev)"}


def standard_functions() -> list[str]:
    s = array_api_strict
    return sorted(n for n in dir(s) if inspect.isfunction(getattr(s, n)) and not n.startswith("_")
                  and "strict_flags" not in n)


def _error(e: Exception) -> str:
    return f"{type(e).__name__}: {str(e).splitlines()[0][:80] if str(e) else ''}"


def _merge(row: dict[str, str], kind: str, status: str) -> None:
    """A row's status: ``ok`` only if every case of that name passed the check."""
    if row.get(kind, "ok") == "ok":
        row[kind] = status


def run_checks(backend_name: str) -> dict[str, dict[str, str]]:
    """``{name: {"forward"|"vjp"|"jvp"|"2nd": "ok", "skip: <capability>" or the error}}``."""
    results: dict[str, dict[str, str]] = defaultdict(dict)
    be = agrad.load_backend(backend_name)
    with agrad.using_backend(be), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, call, specs in CASES:
            row = results[name.split("[")[0]]
            lacking = needs(name, be) or (None if be.capabilities.float64 else "float64")
            if lacking:
                for kind in KINDS:
                    _merge(row, kind, f"skip: needs {lacking}")
                continue
            try:
                call(agrad, *make_inputs(agrad, specs, agrad.float64, seed=len(name)))
                _merge(row, "forward", "ok")
            except Exception as e:  # reported in the table, not raised
                _merge(row, "forward", _error(e))
            for kind, check in CHECKS.items():
                try:
                    inputs = make_inputs(agrad, specs, agrad.float64, seed=len(name))
                    check(lambda *ts, call=call: call(agrad, *ts), *inputs)
                    _merge(row, kind, "ok")
                except Exception as e:
                    _merge(row, kind, _error(e))
        for name, call in FORWARD_CALLS.items():
            lacking = needs(name, be)
            try:
                if lacking:
                    raise RuntimeError(f"skip: needs {lacking}")
                out = call(agrad, forward_input(agrad))
                leaves = out if isinstance(out, (tuple, list)) else (out,)
                grad = [t for t in leaves if isinstance(t, agrad.Tensor) and t.requires_grad]
                results[name]["forward"] = "ok" if not grad else "result requires grad"
            except Exception as e:
                results[name]["forward"] = str(e) if lacking else _error(e)
    return results


def _row(name: str, per_backend: dict, totals: dict) -> str:
    backends = list(per_backend)
    ok_on, failures = [], []
    for b, res in per_backend.items():
        r = res.get(name, {})
        bad = [f"{k}: {v}" for k, v in r.items() if v != "ok"]
        if r and not bad:
            ok_on.append(b)
        elif bad:
            failures.append(f"✗ {b} ({'; '.join(bad)})")
        for kind in KINDS:
            totals[b, kind] += r.get(kind) == "ok"
    differentiable = name not in NON_DIFFERENTIABLE

    def mark(kind: str) -> str:
        return "✓" if all(res.get(name, {}).get(kind) == "ok" for res in per_backend.values()) else "✗"

    if differentiable:
        vjp = mark("vjp") + (" (zero: piecewise constant)" if name in ZERO_DERIVATIVE else "")
        cells = [mark("forward"), vjp, *(mark(k) for k in KINDS[2:])]
    else:
        cells = [mark("forward"), f"— {NON_DIFFERENTIABLE[name]}", *("—" for _ in KINDS[2:])]
    totals["rows"] += 1
    totals["differentiable"] += differentiable
    totals["all backends"] += len(ok_on) == len(backends)
    return f"| `{name}` | {' | '.join(cells)} | {', '.join(ok_on + failures)} |"


def _table(title: str, names: list[str], per_backend: dict) -> tuple[list[str], dict]:
    totals: dict = defaultdict(int)
    lines = [f"## {title}", "", f"| function | {' | '.join(TITLES[k] for k in KINDS)} | backends |",
             "| --- " * (len(KINDS) + 2) + "|"]
    lines += [_row(n, per_backend, totals) for n in names]
    lines += ["", f"{totals['rows']} functions, {totals['differentiable']} differentiable; "
              f"{totals['all backends']} pass every check on all {len(per_backend)} backends.", ""]
    return lines, totals


def _summary(sections: list[tuple[str, dict]], backends: list[str]) -> list[str]:
    lines = ["## Per backend", "", "Functions whose checks pass (forward: the call runs; the derivative "
             "columns: of the differentiable ones).", "",
             f"| backend | section | {' | '.join(TITLES[k] for k in KINDS)} |",
             "| --- " * (len(KINDS) + 2) + "|"]
    for b in backends:
        for title, totals in sections:
            d = totals["differentiable"]
            counts = [f"{totals[b, 'forward']}/{totals['rows']}"] + [f"{totals[b, k]}/{d}" for k in KINDS[1:]]
            lines.append(f"| {b} | {title} | {' | '.join(counts)} |")
    return lines + [""]


def main() -> None:
    backends = [n for n, status in agrad.available_backends().items() if status == "ok"]
    per_backend = {b: run_checks(b) for b in backends}
    extensions = sorted({n.split("[")[0] for n, _, _ in EXTENSION_CASES})
    main_lines, main_totals = _table("Main namespace", standard_functions(), per_backend)
    ext_lines, ext_totals = _table("Extensions and internal primitives", extensions, per_backend)
    lines = [
        "# Coverage",
        "",
        "Generated by `python docs/coverage.py` (do not edit) from the recipe table "
        "`tests/primitive_recipes.py`: every function of the Array API standard "
        f"{agrad.__array_api_version__} and every extension (linalg, fft, einsum, nn.functional, the "
        f"internal primitives), checked on the installed backends ({', '.join(backends)}). "
        "VJP: `gradcheck` in float64 with random cotangents. JVP: `agrad.jvp` against finite "
        "differences and against reverse mode. 2nd order: `gradgradcheck`. HVP: Hessian-vector products "
        "by forward-over-reverse (`agrad.hvp`, what `agrad.hessian` uses) against reverse-over-reverse. "
        "A row is ✓ when the check "
        "passed on every backend; a backend is listed when every check of that row passed there.",
        "",
        *_summary([("main namespace", main_totals), ("extensions", ext_totals)], backends),
        *main_lines,
        *ext_lines,
    ]
    out = ROOT / "docs" / "coverage.md"
    out.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {out}: main {main_totals['all backends']}/{main_totals['rows']}, "
          f"extensions {ext_totals['all backends']}/{ext_totals['rows']} on all backends")


if __name__ == "__main__":
    main()
