"""An out-of-tree backend (tests/fixtures/thirdparty_backend) registers through the entry point
and passes agrad's conformance suite with ``pytest --backend strictwrap``.

Installing it with pip into a fresh venv would take minutes; instead its folder goes on the path
of a subprocess, where the ready-made ``*.dist-info/entry_points.txt`` is what
``importlib.metadata`` reads for an installed distribution.
"""

import os
import pathlib
import re
import subprocess
import sys

import pytest

pytest.importorskip("array_api_strict")

pytestmark = [pytest.mark.backend_independent, pytest.mark.slow]

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "thirdparty_backend"


def _run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(FIXTURE), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=240)


def _passed(run: subprocess.CompletedProcess) -> int:
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    m = re.search(r"(\d+) passed", run.stdout)
    assert m and "failed" not in run.stdout.splitlines()[-1], run.stdout[-2000:]
    return int(m.group(1))


def test_it_registers_through_the_entry_point():
    run = _run("-c", "import agrad; print('strictwrap' in agrad.registered_backends(), "
                     "agrad.load_backend('strictwrap').name)")
    assert run.stdout.split() == ["True", "strictwrap"], run.stdout + run.stderr
    unlisted = subprocess.run([sys.executable, "-c", "import agrad; print(agrad.registered_backends())"],
                              cwd=ROOT, capture_output=True, text=True, check=True)
    assert "strictwrap" not in unlisted.stdout  # only the path makes it visible


def test_agrads_suite_passes_on_it():
    run = _run("-m", "pytest", "-v", "-p", "no:cacheprovider", "--backend", "strictwrap",
               "tests/test_engine.py", "tests/test_mlp_by_hand.py", "tests/test_gradcheck_batched.py",
               "-k", "not deep_chain and not graph_memory")  # the two slow engine tests: 8 s here
    assert _passed(run) >= 15
    assert "test_hand_written_mlp_loss_falls[strictwrap] PASSED" in run.stdout


def test_its_own_tests_use_agrad_testing_fixtures():
    f = str(FIXTURE)
    run = _run("-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", f, "-c",
               str(FIXTURE / "pyproject.toml"), "--confcutdir", f, f, "--backend", "strictwrap")
    assert _passed(run) == 2
