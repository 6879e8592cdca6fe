"""Train a small CNN on scikit-learn's bundled 8x8 handwritten digits (the main job).

    python examples/train_cnn.py                   # default backend (numpy), about a minute on 2 cores
    python examples/train_cnn.py --backend torch   # the same program on PyTorch arrays
    python examples/train_cnn.py --resume --epochs 40   # continue the saved run up to 40 epochs

Writes out/cnn/model.safetensors, training.safetensors, history.json and curves.png, and prints
the final test accuracy (target: >= 98% on the 360 held-out images).
"""

from __future__ import annotations

import sys

from _common import classification_task, fit, load_digits_split, make_parser, parse, setup

import agrad
from agrad import nn, optim


def build_model() -> nn.Module:
    """(N,1,8,8) -> conv3x3 32 -> ReLU -> conv3x3 64 -> ReLU -> maxpool2 -> dropout -> linear 128
    -> ReLU -> linear 10."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.25),
        nn.Linear(64 * 4 * 4, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )


def main(argv: list[str] | None = None) -> dict:
    parser = make_parser(__doc__, "cnn", epochs=30, batch_size=32, lr=2e-3)
    args = parse(parser, argv)
    setup(args)
    xtr, ytr, xte, yte = load_digits_split()
    data = (xtr[:, None], ytr, xte[:, None], yte)  # add the channel axis
    model = build_model().to(dtype=agrad.float32)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    task = classification_task(model, nn.CrossEntropyLoss(), data, args.batch_size)
    return fit(model, optimizer, task, args, "cnn", scheduler)


if __name__ == "__main__":
    main(sys.argv[1:])
