"""The example scripts (examples/) run on every backend, agree across backends, resume exactly,
and the CNN reaches its accuracy target (slow)."""

from __future__ import annotations

import importlib
import json
import math
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest

import agrad

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = ["train_mlp", "train_cnn", "train_transformer"]
QUICK = {"train_transformer": ("--train-size", "400", "--test-size", "24")}
"""Smaller generated data for the quick runs: greedy decoding on lazy (Dask) or compiling (JAX)
backends costs per sequence length, and the quick run only checks the pipeline."""

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")


def script(name: str):
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    return importlib.import_module(name)


def run(name: str, backend: str, out: Path, *extra: str) -> dict:
    with agrad.using_backend(backend):  # main() selects the backend; restore the test's afterwards
        return script(name).main(["--backend", backend, "--out", str(out), "--no-progress", *extra])


@cache
def numpy_history(name: str, tmp: str) -> list[dict]:
    return run(name, "numpy", Path(tmp) / name, "--quick", *QUICK.get(name, ()))["history"]


@pytest.mark.parametrize("name", SCRIPTS)
def test_quick_run_on_every_backend_matches_numpy(name, backend, tmp_path, tmp_path_factory):
    """A few steps of each example, on this backend: same losses as on NumPy (same seed), and the
    checkpoint and plot are written."""
    result = run(name, backend.name, tmp_path, "--quick", *QUICK.get(name, ()))
    ref = numpy_history(name, str(tmp_path_factory.getbasetemp() / "numpy_ref"))
    (rec,), (want,) = result["history"], ref
    assert rec["epoch"] == 1
    assert math.isfinite(rec["train_loss"]) and rec["train_loss"] > 0
    for key in ("train_loss", "test_loss"):
        assert rec[key] == pytest.approx(want[key], rel=1e-4), key
    for key in ("train_acc", "test_acc"):
        assert rec[key] == pytest.approx(want[key], abs=0.01), key
    for f in ("model.safetensors", "training.safetensors", "curves.png"):
        assert (tmp_path / f).stat().st_size > 0
    assert json.loads((tmp_path / "history.json").read_text()) == result["history"]


def test_resume_continues_exactly(backend, tmp_path):
    """Two epochs in one run == one epoch, then --resume to two (optimizer, schedule, dropout
    stream and history all restored)."""
    whole = run("train_mlp", backend.name, tmp_path / "whole", "--quick", "--epochs", "2")["history"]
    run("train_mlp", backend.name, tmp_path / "split", "--quick", "--epochs", "1")
    resumed = run("train_mlp", backend.name, tmp_path / "split", "--quick", "--epochs", "2", "--resume")
    assert [r["epoch"] for r in resumed["history"]] == [1, 2]
    for a, b in zip(whole, resumed["history"]):
        for key in ("train_loss", "test_loss", "train_acc", "test_acc"):
            assert a[key] == pytest.approx(b[key], rel=1e-6), (a["epoch"], key)
    assert resumed["history"][1]["train_loss"] != whole[0]["train_loss"]


@pytest.mark.backend_independent
def test_checkpoint_loads_on_another_backend(tmp_path):
    """A checkpoint written on NumPy resumes on array_api_strict (and the weights are the same)."""
    pytest.importorskip("array_api_strict")
    run("train_mlp", "numpy", tmp_path, "--quick")
    resumed = run("train_mlp", "array_api_strict", tmp_path, "--quick", "--epochs", "2", "--resume")
    assert [r["epoch"] for r in resumed["history"]] == [1, 2]


@pytest.mark.backend_independent
@pytest.mark.parametrize("name", SCRIPTS)
def test_help_explains_every_option(name, capsys):
    with pytest.raises(SystemExit) as exc:
        script(name).main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for option in ("--backend", "--epochs", "--batch-size", "--lr", "--seed", "--out", "--resume",
                   "--quick", "--no-progress"):
        assert option in text
    assert text.lower().count("default") >= 6


@pytest.mark.backend_independent
def test_transformer_loss_ignores_prompt_and_padding():
    t = script("train_transformer")
    x, y = t.encode([(3, 1, 2), (5, 0, 0, 9)])
    ig, eos = t.IGNORE, t.EOS
    np.testing.assert_array_equal(x[0, :9], [t.BOS, 3, 1, 2, t.SEP, 1, 2, 3, eos])
    np.testing.assert_array_equal(x[0, 9:], [t.PAD] * (t.SEQ_LEN - 10))
    np.testing.assert_array_equal(y[0], [ig, ig, ig, ig, 1, 2, 3, eos] + [ig] * (t.SEQ_LEN - 9))
    np.testing.assert_array_equal(y[1, 5:10], [0, 0, 5, 9, eos])
    assert (y[1] != ig).sum() == 5 and (y[0] != ig).sum() == 4


@pytest.mark.backend_independent
def test_transformer_held_out_strings_are_unseen():
    train, test = script("train_transformer").make_strings(3000, 300)
    assert len(set(test)) == 300 and not set(test) & set(train)
    assert {len(s) for s in test} == set(range(3, 9))


@pytest.mark.slow
@pytest.mark.backend_independent
def test_cnn_reaches_98_percent(tmp_path):
    """The main job, as the README runs it (default options, NumPy): >= 98% on the held-out digits."""
    result = run("train_cnn", "numpy", tmp_path)
    assert result["test_acc"] >= 0.98


def test_dp_sgd_with_per_example_gradients(backend):
    """One epoch of DP-SGD (vmap(grad) per-example gradients, clipped and noised): the script
    checks vmap against the Python loop itself; every backend reaches NumPy's accuracy."""
    with agrad.using_backend(backend.name):
        result = script("per_sample_gradients").main(
            ["--backend", backend.name, "--epochs", "1", "--no-progress"])
    assert result["test_acc"] == pytest.approx(79.72, abs=0.3)  # within one of the 360 images
