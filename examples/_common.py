"""What the example scripts share: options, the bundled digits data, the training loop, outputs.

Everything model-related goes through ``agrad.nn`` and ``agrad.optim`` only, so each script runs
unchanged on any registered backend (``--backend``). NumPy and scikit-learn appear here only to
read the bundled data set and to keep host-side bookkeeping (shuffling, checkpoint metadata);
tqdm draws the progress bar, matplotlib the curves.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# These models multiply small matrices, where BLAS threads cost more than they give (and fight the
# other processes of a busy machine): one thread unless the caller's environment says otherwise.
# Set before NumPy is first imported, which is when BLAS reads it.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import agrad  # noqa: E402

Batch = Any
Metrics = tuple[Any, float, int]  # (loss Tensor, number correct, number counted)


def make_parser(
    description: str, name: str, *, epochs: int, batch_size: int, lr: float
) -> argparse.ArgumentParser:
    """The options every example takes; each script may add its own."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", default="numpy",
                   help="array backend to train on: a name from agrad.available_backends() "
                        "(numpy, array_api_strict, torch, and any other installed). Default: numpy")
    p.add_argument("--epochs", type=int, default=None,
                   help=f"total passes over the training data, counted across --resume runs "
                        f"(default: {epochs}, or 1 with --quick)")
    p.add_argument("--batch-size", type=int, default=batch_size,
                   help=f"examples per optimizer step (default: {batch_size})")
    p.add_argument("--lr", type=float, default=lr,
                   help=f"peak learning rate of the optimizer (cosine schedule; default: {lr})")
    p.add_argument("--seed", type=int, default=0,
                   help="seed for weights, shuffling and dropout; the same seed gives the same run on "
                        "every backend, up to float rounding (default: 0)")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder for the checkpoint (model.safetensors, training.safetensors), "
                        f"history.json and curves.png (default: out/{name})")
    p.add_argument("--resume", action="store_true",
                   help="continue from the checkpoint in --out (model, optimizer, schedule, random "
                        "stream and history) up to --epochs in total")
    p.add_argument("--quick", action="store_true",
                   help="3 optimizer steps per epoch and 1 epoch unless --epochs is given: a smoke "
                        "test of the whole pipeline (used by CI)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar and no per-epoch lines (e.g. in logs)")
    p.set_defaults(default_epochs=epochs)
    return p


def parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse ``argv`` and fill in the epoch count that depends on ``--quick``."""
    args = parser.parse_args(argv)
    if args.epochs is None:
        args.epochs = 1 if args.quick else args.default_epochs
    if args.epochs < 1 or args.batch_size < 1:
        parser.error("--epochs and --batch-size must be positive")
    return args


def setup(args: argparse.Namespace) -> None:
    """Select the backend and seed every random stream."""
    agrad.set_backend(args.backend)
    agrad.manual_seed(args.seed)


# --- data ------------------------------------------------------------------------------------------


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


def minibatches(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Shuffled index batches over ``n`` examples (the last one may be smaller)."""
    order = rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def to_tensor(a: np.ndarray) -> agrad.Tensor:
    """Host data (no gradient) on the active backend."""
    return agrad.asarray(a)


def to_host(t: agrad.Tensor) -> np.ndarray:
    """A Tensor's values as a NumPy array (through agrad's own conversion, from any backend)."""
    return np.asarray(agrad.Tensor(t.detach().value, requires_grad=False, backend="numpy").value)


# --- history and checkpoints -----------------------------------------------------------------------


class History:
    """Per-epoch metrics, saved as JSON beside the checkpoint and drawn as a PNG."""

    def __init__(self, records: list[dict] | None = None) -> None:
        self.records = records or []

    def add(self, **metrics: float) -> None:
        self.records.append(metrics)

    @property
    def epochs_done(self) -> int:
        return self.records[-1]["epoch"] if self.records else 0

    def plot(self, path: Path, title: str, acc_label: str = "accuracy (%)", train_acc: str = "train") -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        epochs = [r["epoch"] for r in self.records]
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3))
        ax1.plot(epochs, [r["train_loss"] for r in self.records], "o-", ms=3, label="train")
        ax1.plot(epochs, [r["test_loss"] for r in self.records], "o-", ms=3, label="test")
        ax1.set(xlabel="epoch", ylabel="loss", yscale="log")
        ax1.legend()
        ax2.plot(epochs, [100 * r["train_acc"] for r in self.records], "o-", ms=3, label=train_acc)
        ax2.plot(epochs, [100 * r["test_acc"] for r in self.records], "o-", ms=3, label="test")
        ax2.set(xlabel="epoch", ylabel=acc_label)
        ax2.legend()
        fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(path, dpi=72)
        plt.close(fig)


class Checkpoint:
    """Model weights in ``model.safetensors`` (``agrad.save``: loadable by PyTorch too); the
    optimizer's tensors in ``training.safetensors``, whose metadata hold everything else needed to
    resume exactly: the optimizer's structure and hyper-parameters, the random stream and the
    history (JSON). ``history.json`` is a readable copy of the history."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.model_path = folder / "model.safetensors"
        self.training_path = folder / "training.safetensors"
        self.history_path = folder / "history.json"

    def exists(self) -> bool:
        return self.model_path.exists() and self.training_path.exists()

    def save(self, model: Any, optimizer: Any, history: History) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tensors: dict[str, Any] = {}
        meta = {
            "optimizer": json.dumps(_encode(optimizer.state_dict(), "optimizer", tensors)),
            "rng": json.dumps(_encode(_rng_state(), "rng", tensors)),
            "history": json.dumps(history.records),
        }
        agrad.save(model.state_dict(), self.model_path)
        agrad.save(tensors, self.training_path, metadata=meta)
        self.history_path.write_text(json.dumps(history.records, indent=1))

    def restore(self, model: Any, optimizer: Any) -> History:
        """Load everything back; the backend may differ from the one that saved."""
        meta = _metadata(self.training_path)
        tensors = agrad.load(self.training_path)
        model.load_state_dict(agrad.load(self.model_path))
        optimizer.load_state_dict(_decode(json.loads(meta["optimizer"]), tensors))
        rng = agrad.get_backend().rng
        if hasattr(rng, "set_state"):
            rng.set_state(_decode(json.loads(meta["rng"]), {k: to_host(v) for k, v in tensors.items()}))
        return History(json.loads(meta["history"]))


def _metadata(path: Path) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file (8-byte header length, then the JSON header)."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        return json.loads(f.read(n))["__metadata__"]


def _rng_state() -> Any:
    rng = agrad.get_backend().rng
    return rng.get_state() if hasattr(rng, "get_state") else None


def _encode(value: Any, name: str, tensors: dict[str, Any]) -> Any:
    """``value`` as JSON, with each array moved into ``tensors`` under a dotted name."""
    if isinstance(value, dict):
        return {"dict": [[k, _encode(v, f"{name}.{k}", tensors)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return {type(value).__name__: [_encode(v, f"{name}.{i}", tensors) for i, v in enumerate(value)]}
    if isinstance(value, (agrad.Tensor, np.ndarray)) or agrad.get_backend().is_array(value):
        tensors[name] = value if isinstance(value, agrad.Tensor) else agrad.asarray(value)
        return {"tensor": name}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decode(value: Any, tensors: dict[str, Any]) -> Any:
    """The inverse of :func:`_encode` (dict keys keep their type: the optimizer's are ints)."""
    if not isinstance(value, dict):
        return value
    (kind, body), = value.items()
    if kind == "tensor":
        return tensors[body]
    if kind == "dict":
        return {k: _decode(v, tensors) for k, v in body}
    items = [_decode(v, tensors) for v in body]
    return tuple(items) if kind == "tuple" else items


# --- the training loop -----------------------------------------------------------------------------


@dataclass
class Task:
    """What :func:`fit` needs from an example.

    ``batches(rng)`` yields one epoch of training batches; ``step(batch)`` returns the loss Tensor
    and (correct, counted) for the running accuracy; ``evaluate()`` returns ``(test loss, test
    accuracy)`` on the held-out data (called under ``no_grad`` in eval mode). ``train_acc`` names
    what the running training accuracy counts, when it differs from the test accuracy.
    """

    batches: Callable[[np.random.Generator], Iterable[Batch]]
    steps_per_epoch: int
    step: Callable[[Batch], Metrics]
    evaluate: Callable[[], tuple[float, float]]
    acc_label: str = "accuracy (%)"
    train_acc: str = "train"


def progress(iterable: Iterable, total: int, disable: bool, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(iterable, total=total, disable=disable, desc=desc, leave=False, file=sys.stderr,
                dynamic_ncols=True, mininterval=0.5)


def fit(model: Any, optimizer: Any, task: Task, args: argparse.Namespace, name: str,
        scheduler: Any = None) -> dict:
    """Train with a progress bar (loss and accuracy), evaluate every epoch, checkpoint, plot.

    The scheduler (if any) steps once per epoch. Returns the last epoch's metrics and the wall
    time. With ``--resume`` the run continues from the checkpoint in ``--out``; an interrupted run
    resumed to the same ``--epochs`` gives the same result as an uninterrupted one.
    """
    out = args.out or Path("out") / name
    ckpt = Checkpoint(out)
    history = History()
    if args.resume and ckpt.exists():
        history = ckpt.restore(model, optimizer)
        print(f"resumed from {ckpt.folder} after epoch {history.epochs_done}", file=sys.stderr)
        if scheduler is not None:  # the schedule is a formula of the epoch: jump to where we were
            scheduler.last_epoch = history.epochs_done - 1
            scheduler.step()
    max_steps = 3 if args.quick else task.steps_per_epoch
    start = time.perf_counter()
    for epoch in range(history.epochs_done + 1, args.epochs + 1):
        rng = np.random.default_rng([args.seed, epoch])
        model.train()
        total_loss = total_correct = 0.0
        seen = counted = 0
        bar = progress(task.batches(rng), min(max_steps, task.steps_per_epoch), args.no_progress,
                       f"{name} epoch {epoch}/{args.epochs}")
        for i, batch in enumerate(bar):
            if i >= max_steps:
                break
            loss, correct, count = task.step(batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total_loss += float(loss)
            total_correct += correct
            seen, counted = seen + 1, counted + count
            bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{total_correct / counted:.3f}")
        bar.close()
        if scheduler is not None:
            scheduler.step()
        model.eval()
        with agrad.no_grad():
            test_loss, test_acc = task.evaluate()
        history.add(epoch=epoch, train_loss=total_loss / seen, train_acc=total_correct / counted,
                    test_loss=test_loss, test_acc=test_acc)
        if not args.no_progress:
            print(f"epoch {epoch}: train loss {total_loss / seen:.4f} acc {total_correct / counted:.4f} | "
                  f"test loss {test_loss:.4f} acc {test_acc:.4f}", file=sys.stderr)
    wall = time.perf_counter() - start
    if not history.records:
        raise SystemExit(f"{name}: nothing to do (no checkpoint to resume and --epochs {args.epochs})")
    ckpt.save(model, optimizer, history)
    plot_path = out / "curves.png"
    backend = agrad.get_backend().name
    final = history.records[-1]
    score = f"test {task.acc_label.replace(' (%)', '')} {100 * final['test_acc']:.2f}%"
    history.plot(plot_path, f"{name} on {backend} (agrad): {score} after {final['epoch']} epochs",
                 task.acc_label, task.train_acc)
    print(f"{name} [{backend}]: {score} after {final['epoch']} epochs ({wall:.1f} s this run); "
          f"checkpoint in {out}, plot {plot_path}")
    return {**final, "wall_s": wall, "history": history.records}


# --- image classification (the MLP and the CNN) ----------------------------------------------------


def correct_count(logits: agrad.Tensor, labels: agrad.Tensor) -> float:
    """How many rows of ``logits`` have their maximum at ``labels``."""
    return float(agrad.sum(agrad.astype(agrad.argmax(logits, axis=-1) == labels, agrad.float32)))


def classification_task(model: Any, loss_fn: Any, data: tuple, batch_size: int) -> Task:
    """Minibatch training and held-out evaluation for a classifier of ``data = (xtr, ytr, xte,
    yte)`` (NumPy arrays; moved to the active backend batch by batch)."""
    xtr, ytr, xte, yte = data
    xte_t, yte_t = to_tensor(xte), to_tensor(yte)

    def batches(rng: np.random.Generator) -> Iterator[tuple]:
        for idx in minibatches(len(xtr), batch_size, rng):
            yield to_tensor(xtr[idx]), to_tensor(ytr[idx])

    def step(batch: tuple) -> Metrics:
        xb, yb = batch
        logits = model(xb)
        return loss_fn(logits, yb), correct_count(logits.detach(), yb), len(yb)

    def evaluate() -> tuple[float, float]:
        logits = model(xte_t)
        return float(loss_fn(logits, yte_t)), correct_count(logits, yte_t) / len(yte)

    return Task(batches, math.ceil(len(xtr) / batch_size), step, evaluate)

