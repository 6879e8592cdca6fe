"""examples/distributed_dask.py trains data-parallel on a 2-process LocalCluster, like NumPy."""

import importlib.util
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

pytestmark = [pytest.mark.backend_independent, pytest.mark.slow]

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "distributed_dask.py"


def _example():
    spec = importlib.util.spec_from_file_location("distributed_dask_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cluster():
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit="512MiB",
                      host="127.0.0.1", dashboard_address=None) as c:
        yield c


def test_help_explains_the_options():
    out = subprocess.run([sys.executable, str(EXAMPLE), "--help"], capture_output=True, text=True,
                         check=True, timeout=60)
    for option in ("--scheduler", "--workers", "--chunks", "--steps", "--backend"):
        assert option in out.stdout


def test_chunks_train_on_both_workers_and_match_numpy(cluster):
    from dask.distributed import Client, get_task_stream

    ex = _example()
    x, y = ex.make_data(400, 4, seed=3)
    params0 = ex.init_params(4, 16, seed=3)
    expected = ex.train("numpy", x, y, params0, steps=12, lr=0.3)
    with Client(cluster) as client, get_task_stream(client) as stream:
        losses = ex.train("dask", x, y, params0, steps=12, lr=0.3, rows_per_chunk=100)
    workers = {t["worker"] for t in stream.data if t["key"][0].startswith("matmul")}
    assert len(workers) == 2, workers  # the per-chunk products ran on both workers
    np.testing.assert_allclose(losses, expected, rtol=1e-10)
    assert losses[-1] < 0.7 * losses[0]


def test_command_line_against_a_running_scheduler(cluster, tmp_path):
    ex = _example()
    out_file = tmp_path / "losses.json"
    args = ["--samples", "300", "--chunks", "3", "--hidden", "8", "--steps", "8", "--seed", "5"]
    run = subprocess.run(
        [sys.executable, str(EXAMPLE), "--scheduler", cluster.scheduler_address, *args,
         "--losses-out", str(out_file)],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "2 workers" in run.stdout
    x, y = ex.make_data(300, 4, seed=5)
    expected = ex.train("numpy", x, y, ex.init_params(4, 8, seed=5), steps=8, lr=0.3)
    np.testing.assert_allclose(json.loads(out_file.read_text()), expected, rtol=1e-10)
