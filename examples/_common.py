"""What the example scripts share: options, the bundled digits data, the training loop, outputs.

Everything model-related goes through ``agrad.nn`` and ``agrad.optim`` only, so each script runs
unchanged on any registered backend (``--backend``). NumPy and scikit-learn appear here only to
read the bundled data set; tqdm draws the progress bar, matplotlib the curves.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

import agrad

ROOT = Path(__file__).resolve().parent


def make_parser(description: str, *, epochs: int, batch_size: int, lr: float) -> argparse.ArgumentParser:
    """The options every example takes; each script may add its own."""
    p = argparse.ArgumentParser(
        description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--backend", default="numpy",
                   help="array backend to train on: one of agrad.registered_backends() "
                        "(numpy, array_api_strict, torch, and any other installed)")
    p.add_argument("--epochs", type=int, default=epochs, help="passes over the training data")
    p.add_argument("--batch-size", type=int, default=batch_size, help="examples per optimizer step")
    p.add_argument("--lr", type=float, default=lr, help="learning rate of the optimizer")
    p.add_argument("--seed", type=int, default=0,
                   help="seed for weights, shuffling and dropout (same seed = same run on every backend)")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder for the checkpoint, the history and the plot "
                        "(default: out/<example name>)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the checkpoint in --out (model, optimizer, history)")
    p.add_argument("--quick", action="store_true",
                   help="a few steps only: a smoke test of the whole pipeline (used by CI)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (e.g. in logs)")
    return p


def load_digits_split(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits (1,797 images, no download), a fixed stratified split:
    1,437 training and 360 test images, pixel values scaled to [0, 1]."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)
    return xtr, ytr, xte, yte


def minibatches(n: int, batch_size: int, rng: np.random.Generator | None) -> Iterator[np.ndarray]:
    """Index batches over ``n`` examples, shuffled when ``rng`` is given."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def to_tensor(a: np.ndarray) -> agrad.Tensor:
    """Data (no gradient) on the active backend."""
    return agrad.asarray(a)


class History:
    """Per-epoch metrics, saved as JSON beside the checkpoint and drawn as a PNG."""

    def __init__(self, records: list[dict] | None = None) -> None:
        self.records = records or []

    def add(self, **metrics: float) -> None:
        self.records.append(metrics)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.records, indent=1))

    @classmethod
    def load(cls, path: Path) -> History:
        return cls(json.loads(path.read_text()))

    def plot(self, path: Path, title: str) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        epochs = [r["epoch"] for r in self.records]
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
        ax1.plot(epochs, [r["train_loss"] for r in self.records], label="train")
        if all("test_loss" in r for r in self.records):
            ax1.plot(epochs, [r["test_loss"] for r in self.records], label="test")
        ax1.set_xlabel("epoch")
        ax1.set_ylabel("loss")
        ax1.set_yscale("log")
        ax1.legend()
        ax2.plot(epochs, [100 * r["train_acc"] for r in self.records], label="train")
        ax2.plot(epochs, [100 * r["test_acc"] for r in self.records], label="test")
        ax2.set_xlabel("epoch")
        ax2.set_ylabel("accuracy (%)")
        ax2.legend()
        fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)


class Checkpoint:
    """The model and optimizer state in safetensors (``agrad.save``), the history in JSON."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.model_path = folder / "model.safetensors"
        self.optim_path = folder / "optimizer.safetensors"
        self.history_path = folder / "history.json"

    def exists(self) -> bool:
        return self.model_path.exists() and self.history_path.exists()

    def save(self, model: Any, optimizer: Any, history: History) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        agrad.save(model.state_dict(), self.model_path)
        agrad.save(_flatten(optimizer.state_dict()), self.optim_path)
        history.save(self.history_path)

    def restore(self, model: Any, optimizer: Any) -> History:
        model.load_state_dict(agrad.load(self.model_path))
        if self.optim_path.exists():
            optimizer.load_state_dict(_unflatten(agrad.load(self.optim_path), optimizer.state_dict()))
        return History.load(self.history_path)


def _flatten(state: dict, prefix: str = "") -> dict:
    """An optimizer state dict as flat ``{name: tensor}`` for safetensors (scalars as 0-d)."""
    flat = {}
    for key, value in state.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        elif isinstance(value, (list, tuple)):
            flat.update(_flatten(dict(enumerate(value)), name + "."))
        elif isinstance(value, agrad.Tensor):
            flat[name] = value
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[name] = agrad.asarray(float(value), dtype=agrad.float64
                                       if agrad.get_backend().capabilities.float64 else agrad.float32)
        elif value is not None and agrad.get_backend().is_array(value):
            flat[name] = agrad.asarray(value)
    return flat


def _unflatten(flat: dict, template: Any, prefix: str = "") -> Any:
    """Rebuild ``template``'s structure with the values found in ``flat``."""
    if isinstance(template, dict):
        return {k: _unflatten(flat, v, f"{prefix}{k}.") for k, v in template.items()}
    if isinstance(template, (list, tuple)):
        return type(template)(_unflatten(flat, v, f"{prefix}{i}.") for i, v in enumerate(template))
    name = prefix[:-1]
    if name not in flat:
        return template
    value = flat[name]
    if isinstance(template, bool) or template is None:
        return template
    if isinstance(template, int):
        return int(value)
    if isinstance(template, float):
        return float(value)
    return value if isinstance(template, agrad.Tensor) else value.value


def progress(iterable: Any, total: int, disable: bool, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(iterable, total=total, disable=disable, desc=desc, leave=False,
                file=sys.stderr, dynamic_ncols=True)


def accuracy(logits: agrad.Tensor, labels: agrad.Tensor) -> float:
    return float(agrad.sum(agrad.astype(agrad.argmax(logits, axis=-1) == labels, agrad.float32)))


def train_classifier(
    model: Any,
    optimizer: Any,
    loss_fn: Callable[[Any, Any], Any],
    data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    args: argparse.Namespace,
    name: str,
    scheduler: Any = None,
) -> dict:
    """Train with a progress bar (loss and accuracy), evaluate every epoch, checkpoint, plot.

    Returns the final metrics. ``--resume`` continues from the checkpoint in ``--out``.
    """
    xtr, ytr, xte, yte = data
    out = args.out or Path("out") / name
    ckpt = Checkpoint(out)
    history = History()
    if args.resume and ckpt.exists():
        history = ckpt.restore(model, optimizer)
        print(f"resumed from {ckpt.model_path} after epoch {history.records[-1]['epoch']}")
    first = history.records[-1]["epoch"] + 1 if history.records else 1
    rng = np.random.default_rng(args.seed + first)
    steps_per_epoch = math.ceil(len(xtr) / args.batch_size)
    epochs = 1 if args.quick else args.epochs
    xte_t, yte_t = to_tensor(xte), to_tensor(yte)
    start = time.perf_counter()
    for epoch in range(first, first + epochs):
        model.train()
        total_loss = total_correct = seen = 0.0
        bar = progress(minibatches(len(xtr), args.batch_size, rng), steps_per_epoch,
                       args.no_progress, f"epoch {epoch}")
        for step, idx in enumerate(bar):
            if args.quick and step >= 3:
                break
            xb, yb = to_tensor(xtr[idx]), to_tensor(ytr[idx])
            logits = model(xb)
            loss = loss_fn(logits, yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            n = len(idx)
            total_loss += float(loss) * n
            total_correct += accuracy(logits.detach(), yb)
            seen += n
            bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{total_correct / seen:.3f}")
        if scheduler is not None:
            scheduler.step()
        model.eval()
        with agrad.no_grad():
            test_logits = model(xte_t)
            test_loss = float(loss_fn(test_logits, yte_t))
            test_acc = accuracy(test_logits, yte_t) / len(xte)
        history.add(epoch=epoch, train_loss=total_loss / seen, train_acc=total_correct / seen,
                    test_loss=test_loss, test_acc=test_acc)
        if not args.no_progress:
            print(f"epoch {epoch}: train loss {total_loss / seen:.4f} acc {total_correct / seen:.4f} | "
                  f"test loss {test_loss:.4f} acc {test_acc:.4f}", file=sys.stderr)
    wall = time.perf_counter() - start
    ckpt.save(model, optimizer, history)
    plot_path = out / "curves.png"
    history.plot(plot_path, f"{name} on {agrad.get_backend().name}")
    final = history.records[-1]
    print(f"{name} [{agrad.get_backend().name}]: test accuracy {100 * final['test_acc']:.2f}% "
          f"after {final['epoch']} epochs ({wall:.1f} s); checkpoint {ckpt.model_path}, plot {plot_path}")
    return {**final, "wall_s": wall}


def setup(args: argparse.Namespace) -> None:
    """Select the backend and seed every random stream."""
    os.environ.setdefault("TQDM_MININTERVAL", "0.5")
    agrad.set_backend(args.backend)
    agrad.manual_seed(args.seed)
