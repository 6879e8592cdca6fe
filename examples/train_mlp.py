"""Train an MLP (DNN) on scikit-learn's bundled 8x8 handwritten digits.

    python examples/train_mlp.py [--backend torch] [--epochs N]

Target: >= 96% test accuracy on the 360 held-out images.
"""

from __future__ import annotations

import sys

from _common import load_digits_split, make_parser, setup, train_classifier

import agrad
from agrad import nn, optim


def build_model() -> nn.Module:
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
    parser = make_parser(__doc__.splitlines()[0], epochs=30, batch_size=32, lr=1e-3)
    args = parser.parse_args(argv)
    setup(args)
    model = build_model().to(dtype=agrad.float32)
    optimizer = optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    return train_classifier(model, optimizer, nn.CrossEntropyLoss(), load_digits_split(), args, "mlp")


if __name__ == "__main__":
    main(sys.argv[1:])
