"""``python -m bench``: agrad vs PyTorch, side by side, one thread, one command.

Options: ``--backend NAME`` (agrad's backend, default numpy), ``--workload SUBSTRING``
(repeatable), ``--quick`` (a tenth of the steps), ``--no-memory``, ``--no-micro``, ``--no-vmap``,
``--no-jit``, ``--no-startup``, ``--output PATH`` (default ``bench/RESULTS.md``; ``-`` for none).
Exits non-zero if any agrad result disagrees with torch.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from bench import jit as jit_bench
from bench import memory, micro, report, startup
from bench import vmap as vmap_bench
from bench.harness import SEED, cross_check, time_side_by_side
from bench.workloads import WORKLOADS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKLOAD_HEADERS = ["workload", "agrad (µs)", "torch (µs)", "agrad / torch", "target", "met",
                    "peak MiB agrad", "peak MiB torch", "max err / scale", "agrad variant"]


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--backend", default="numpy", help="agrad backend (default numpy)")
    p.add_argument("--workload", action="append", default=[], help="only workloads whose name contains this")
    p.add_argument("--quick", action="store_true", help="a tenth of the steps (a smoke run)")
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--no-micro", action="store_true")
    p.add_argument("--no-vmap", action="store_true", help="skip vmap/jacrev against torch.func and jax")
    p.add_argument("--no-jit", action="store_true", help="skip agrad.jit against torch.compile and jax.jit")
    p.add_argument("--no-startup", action="store_true", help="skip import/compile times and the wheel")
    p.add_argument("--reuse-memory", action="store_true",
                   help="numpy backend option reuse_memory=True (glibc keeps freed memory; process-wide, "
                   "so torch gets it too)")
    p.add_argument("--output", default=os.path.join(ROOT, "bench", "RESULTS.md"))
    return p.parse_args(argv)


def workload_row(index: int, workload, backend, args) -> list[str]:
    inputs = workload.make_inputs(np.random.default_rng(SEED))
    ours, theirs = workload.agrad_step(inputs, backend), workload.torch_step(inputs)
    err = cross_check(workload, ours(), theirs())
    steps = max(5, workload.steps // 10) if args.quick else workload.steps
    med = time_side_by_side({"agrad": ours, "torch": theirs}, steps, workload.warmup)
    ratio = med["agrad"] / med["torch"]
    target = workload.target_ratio
    row = [workload.name, f"{med['agrad'] * 1e6:,.1f}", f"{med['torch'] * 1e6:,.1f}", f"{ratio:.2f}",
           "-" if target is None else f"<= {target:.2f}",
           "-" if target is None else ("yes" if ratio <= target else "NO")]
    if args.no_memory:
        row += ["-", "-"]
    else:
        mems = [memory.measure(index, fw, backend.name) for fw in ("agrad", "torch")]
        row += [f"{m['peak_mib']:.1f}" + ("" if m["method"] == "VmHWM reset" else "*") for m in mems]
    return [*row, f"{err:.1e}", workload.variant() or "-"]


def command_line(argv: list[str] | None) -> str:
    """The command as typed, with the OPENBLAS variables it unset (they change NumPy's BLAS kernel)."""
    argv = sys.argv[1:] if argv is None else argv
    unset = [v for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if v not in os.environ]
    prefix = "env " + " ".join(f"-u {v}" for v in unset) + " " if unset else ""
    return prefix + " ".join(["python -m bench", *argv])


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    import torch

    import agrad
    from bench._threads import pin_torch

    pin_torch(torch)
    if args.reuse_memory:
        os.environ[memory.REUSE_VARIABLE] = "1"  # the memory subprocesses do the same
        backend = agrad.load_backend(args.backend, reuse_memory=True)
    else:
        backend = agrad.load_backend(args.backend)
    chosen = [(i, w) for i, w in enumerate(WORKLOADS)
              if not args.workload or any(s.lower() in w.name.lower() for s in args.workload)]
    sections = []

    rows = []
    for i, w in chosen:
        rows.append(workload_row(i, w, backend, args))
        print(" | ".join(rows[-1]), flush=True)
    table = report.markdown_table(WORKLOAD_HEADERS, rows)
    sections.append((f"Workloads: agrad on {backend.name!r} vs torch {torch.__version__} (median per step)",
                     table + "\n\n" + "\n".join(f"- {w.name}: {w.description}" for _, w in chosen)
                     + "\n- Peak MiB: extra resident memory at the peak of 3 steps, fresh process per "
                     "workload and framework, after one warm-up step (see `bench/memory.py`)."))

    if not args.no_micro:
        table = report.markdown_table(micro.HEADERS, micro.run(backend))
        sections.append((f"Kernels of the {backend.name!r} backend vs the portable reference", table))
        print(table, flush=True)

    if not args.no_jit:
        table = report.markdown_table(jit_bench.HEADERS, jit_bench.run(backend, quick=args.quick))
        sections.append((f"agrad.jit on {backend.name!r}: standard-composed W1-W3 vs torch eager, "
                         "torch.compile and jax.jit (median per step)", table))
        print(table, flush=True)

    if not args.no_vmap:
        rows, notes = vmap_bench.run(backend, quick=args.quick)
        table = report.markdown_table(vmap_bench.HEADERS, rows)
        table += "".join(f"\n- {note}" for note in notes)
        sections.append((f"vmap and Jacobians on {backend.name!r} vs torch.func and jax", table))
        print(table, flush=True)

    if not args.no_startup:
        table = report.markdown_table(["cold start (fresh process)", "ms", "target ms", "met"], startup.run())
        wheel = startup.wheel_size_kib(ROOT)
        table += f"\n\nWheel (`pip wheel --no-deps .`): {wheel:.0f} KiB (target < 300 kB)."
        sections.append(("Start-up and package size", table))
        print(table, flush=True)

    print("\n" + sections[0][1])
    if args.output != "-":
        title = "agrad benchmarks" + (" (quick run)" if args.quick else "")
        report.write_markdown(args.output, title, sections, command_line(argv))
        print(f"\nwritten to {os.path.relpath(args.output)}")
    return 0


