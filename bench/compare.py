"""``python -m bench.compare --base REV``: this checkout's agrad against another revision's.

For a change that must not cost speed (a refactor of the core): both versions run the same
workloads (default W1, per-op dispatch) in alternating subprocesses, one thread, several rounds,
so that a slow moment of the machine hits both alike; the median and the fastest round of each
are reported (on a shared machine the fastest round is the steadiest estimate). REV is checked
out with ``git worktree`` into a temporary folder (removed afterwards); its ``backends/`` folder
is what ``agrad_backends`` imports there. Prints the median µs per step of each and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from bench._threads import THREAD_VARIABLES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_CHILD = r"""
import json, sys
import numpy as np
from bench.harness import SEED, time_steps
from bench.workloads import WORKLOADS
import agrad
w = next(w for w in WORKLOADS if args["workload"] in w.name)
backend = agrad.load_backend(args["backend"])
step = w.agrad_step(w.make_inputs(np.random.default_rng(SEED)), backend)
for _ in range(w.warmup):
    step()
samples = time_steps(step, args["steps"])
print(json.dumps({"agrad": agrad.__file__, "median": float(np.median(samples))}))
"""


def _run(root: str, workload: str, backend: str, steps: int) -> dict:
    env = dict(os.environ, **{v: "1" for v in THREAD_VARIABLES})
    env["PYTHONPATH"] = os.pathsep.join([root, ROOT])  # agrad from ``root``; bench from here
    code = f"args = {json.dumps({'workload': workload, 'backend': backend, 'steps': steps})}\n" + _CHILD
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.splitlines()[0])
    p.add_argument("--base", required=True, help="git revision to compare against")
    p.add_argument("--workload", action="append", default=[], help="name substring (default W1)")
    p.add_argument("--backend", default="numpy")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--steps", type=int, default=2000, help="steps per round and side")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        old = os.path.join(tmp, "base")
        subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", "-q", old, args.base], check=True)
        try:
            os.symlink(os.path.join(old, "backends"), os.path.join(old, "agrad_backends"))
            for workload in args.workload or ["W1"]:
                times: dict[str, list[float]] = {"base": [], "this": []}
                for _ in range(args.rounds):
                    for side, root in (("base", old), ("this", ROOT)):
                        r = _run(root, workload, args.backend, args.steps)
                        assert r["agrad"].startswith(root), r  # the intended checkout ran
                        times[side].append(r["median"])
                b, t = statistics.median(times["base"]), statistics.median(times["this"])
                bmin, tmin = min(times["base"]), min(times["this"])
                print(f"{workload} on {args.backend}: base {args.base} {b * 1e6:.1f} µs, this checkout "
                      f"{t * 1e6:.1f} µs per step (median of rounds), this / base = {t / b:.3f}; "
                      f"fastest rounds {bmin * 1e6:.1f} vs {tmin * 1e6:.1f} µs, ratio {tmin / bmin:.3f} "
                      f"({args.rounds} alternating rounds of {args.steps} steps, 1 thread)")
        finally:
            subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", old], check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
