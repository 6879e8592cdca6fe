"""Cold-start costs, each in a fresh interpreter (median of several): ``import agrad``, the first
Tensor operation (loads the NumPy backend), and the first Numba kernel call with Numba's on-disk
cache warm (what the first training step pays for compilation on every run after the first)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

SNIPPETS = {
    "import agrad": "import agrad",
    "import agrad; agrad.Tensor(1.0) * 2": "import agrad; agrad.Tensor(1.0) * 2",
    "first Numba scatter_add (cache warm)": (
        "import agrad, numpy as np; from agrad_backends.numpy_kernels import scatter_add; "
        "v = np.ones((4096, 8), np.float32); i = np.zeros(4096, np.int64); "
        "scatter_add(np, v, index=i, size=4)"
    ),
}
TARGETS = {"import agrad": 0.3, "first Numba scatter_add (cache warm)": 2.0}


def _time_snippet(code: str) -> float:
    timed = f"import time; t0 = time.perf_counter()\n{code}\nprint(time.perf_counter() - t0)"
    env = dict(os.environ)
    out = subprocess.run([sys.executable, "-c", timed], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def run(repeats: int = 5) -> list[list[str]]:
    rows = []
    for name, code in SNIPPETS.items():
        _time_snippet(code)  # fills the OS file cache and Numba's on-disk cache
        secs = statistics.median(_time_snippet(code) for _ in range(repeats))
        target = TARGETS.get(name)
        verdict = "-" if target is None else ("yes" if secs <= target else "NO")
        rows.append([name, f"{secs * 1000:.0f}", f"< {target * 1000:.0f}" if target else "-", verdict])
    return rows


def wheel_size_kib(root: str) -> float:
    """Build the wheel (``pip wheel --no-deps``) into a temporary folder and return its size."""
    import glob
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", root, "-w", tmp],
                       check=True, capture_output=True)
        (wheel,) = glob.glob(os.path.join(tmp, "*.whl"))
        return os.path.getsize(wheel) / 1024


if __name__ == "__main__":
    print(json.dumps(run()))
