"""Peak memory of a workload step, measured the same way for agrad and torch.

Method: a fresh Python process per (workload, framework) imports only that framework, builds the
inputs and the step, runs one warm-up step (one-time allocations such as caches are not counted),
then resets the kernel's resident-set high-water mark (``/proc/self/clear_refs``, Linux) and runs
a few steps. Reported: ``VmHWM - VmRSS before the steps``, the extra resident memory the steps
needed at their peak, in MiB. RSS counts every allocator alike (NumPy's, torch's, Numba's), which
``tracemalloc`` would not (it cannot see torch's allocations). Where the high-water mark cannot be
reset, the peak since process start (``ru_maxrss``) is used and the report says so.

Run as ``python -m bench.memory WORKLOAD_INDEX FRAMEWORK BACKEND`` (prints one JSON line).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

STEPS = 3
REUSE_VARIABLE = "AGRAD_BENCH_REUSE_MEMORY"  # set by ``python -m bench --reuse-memory``


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _reset_high_water() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def measure(index: int, framework: str, backend: str) -> dict:
    """Run workload ``index`` in a subprocess; its peak extra RSS in MiB and the method used."""
    env = dict(os.environ)
    cmd = [sys.executable, "-m", "bench.memory", str(index), framework, backend]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=root)
    if out.returncode != 0:
        raise RuntimeError(f"memory measurement {cmd[3:]} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _child(index: int, framework: str, backend_name: str) -> dict:
    import gc

    import numpy as np

    from bench.harness import SEED
    from bench.workloads import WORKLOADS

    reuse = os.environ.get(REUSE_VARIABLE) == "1"
    if reuse:  # process-wide, for either framework, as in the timing process
        from agrad_backends._numpy_memory import reuse_freed_memory

        reuse_freed_memory()
    workload = WORKLOADS[index]
    inputs = workload.make_inputs(np.random.default_rng(SEED))
    if framework == "torch":
        import torch

        from bench._threads import pin_torch

        pin_torch(torch)
        step = workload.torch_step(inputs)
    else:
        import agrad

        options = {"reuse_memory": True} if reuse and backend_name == "numpy" else {}
        step = workload.agrad_step(inputs, agrad.load_backend(backend_name, **options))
    step()  # warm-up; its results are dropped
    gc.collect()
    before = _status_kib("VmRSS")
    exact = _reset_high_water()
    for _ in range(STEPS):
        step()
    if exact:
        peak = _status_kib("VmHWM")
    else:
        import resource

        before, peak = 0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"peak_mib": (peak - before) / 1024, "method": "VmHWM reset" if exact else "ru_maxrss"}


if __name__ == "__main__":
    from bench._threads import pin_single_thread

    pin_single_thread()
    print(json.dumps(_child(int(sys.argv[1]), sys.argv[2], sys.argv[3])))
