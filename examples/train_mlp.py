"""Train an MLP (DNN) on scikit-learn's bundled 8x8 handwritten digits.

    python examples/train_mlp.py [--backend torch] [--epochs N]

Writes out/mlp/ (checkpoint, history, curves.png); target: >= 96% test accuracy on the 360
held-out images.
"""

from __future__ import annotations

import sys

from _common import classification_task, fit, load_digits_split, make_parser, parse, setup

import agrad
from agrad import nn, optim


def build_model() -> nn.Module:
    """64 pixels -> 256 -> ReLU -> dropout -> 128 -> ReLU -> 10 logits."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(64, 256),
        nn.ReLU(),
        nn.Dropout(0.2),
        nn.Linear(256, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )


def main(argv: list[str] | None = None) -> dict:
    parser = make_parser(__doc__, "mlp", epochs=30, batch_size=32, lr=1e-3)
    args = parse(parser, argv)
    setup(args)
    model = build_model().to(dtype=agrad.float32)
    optimizer = optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    task = classification_task(model, nn.CrossEntropyLoss(), load_digits_split(), args.batch_size)
    return fit(model, optimizer, task, args, "mlp", scheduler)


if __name__ == "__main__":
    main(sys.argv[1:])
