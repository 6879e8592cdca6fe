"""Train a small decoder-only Transformer to sort digit strings, then decode greedily.

    python examples/train_transformer.py [--backend torch] [--epochs N]

The data are generated in code: strings of 3 to 8 random digits, written as one token sequence
``BOS x1 .. xn SEP y1 .. yn EOS PAD ..`` where ``y`` is ``x`` sorted; sequences of different
lengths are right-padded to one length. The model predicts every next token under a causal mask,
but the loss counts only the answer (``y1 .. yn EOS``): prompt and padding targets are set to
``ignore_index`` so the model never trains on them (and, being right padding under a causal mask,
no real token ever attends to a PAD). At the end of every epoch the held-out strings (none of
them in the training set) are decoded autoregressively, greedy, from ``BOS x SEP``; the accuracy
reported is the exact-match rate of whole sequences (target: >= 99%). Writes out/transformer/.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator

import numpy as np
from _common import Metrics, Task, fit, make_parser, minibatches, parse, setup, to_host, to_tensor

import agrad
from agrad import nn, optim

PAD, BOS, SEP, EOS = 10, 11, 12, 13
VOCAB = 14
MIN_LEN, MAX_LEN = 3, 8
SEQ_LEN = 2 * MAX_LEN + 3  # BOS, x, SEP, y, EOS
IGNORE = -100


def make_strings(n_train: int, n_test: int, seed: int = 1234) -> tuple[list[tuple], list[tuple]]:
    """Distinct held-out digit strings and training strings that never repeat one of them."""
    rng = np.random.default_rng(seed)

    def draw() -> tuple:
        return tuple(int(d) for d in rng.integers(0, 10, size=int(rng.integers(MIN_LEN, MAX_LEN + 1))))

    test: dict[tuple, None] = {}
    while len(test) < n_test:
        test[draw()] = None
    train = []
    while len(train) < n_train:
        s = draw()
        if s not in test:
            train.append(s)
    return train, list(test)


def encode(strings: list[tuple]) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs ``(N, SEQ_LEN - 1)`` and next-token targets, ``IGNORE`` except on the answer."""
    seqs = np.full((len(strings), SEQ_LEN), PAD, dtype=np.int64)
    targets = np.full((len(strings), SEQ_LEN - 1), IGNORE, dtype=np.int64)
    for i, s in enumerate(strings):
        n = len(s)
        row = [BOS, *s, SEP, *sorted(s), EOS]
        seqs[i, : len(row)] = row
        targets[i, n + 1 : 2 * n + 2] = row[n + 2 :]  # predict y1 .. yn EOS, from SEP .. yn
    return seqs[:, :-1], targets


class SortingTransformer(nn.Module):
    """Token + learned position embeddings, pre-norm causal Transformer layers, a linear head."""

    def __init__(self, d_model: int, nhead: int, layers: int, dim_feedforward: int) -> None:
        super().__init__()
        self.tokens = nn.Embedding(VOCAB, d_model)
        self.positions = nn.Embedding(SEQ_LEN, d_model)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout=0.0, batch_first=True,
                                       norm_first=True)
            for _ in range(layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, VOCAB)

    def forward(self, tokens: agrad.Tensor) -> agrad.Tensor:
        """``(N, L)`` token ids -> ``(N, L, VOCAB)`` next-token logits (position i sees 0..i)."""
        x = self.tokens(tokens) + self.positions(agrad.arange(tokens.shape[1]))
        for layer in self.layers:
            x = layer(x, is_causal=True)
        return self.head(self.norm(x))


def greedy_decode(model: nn.Module, strings: list[tuple]) -> np.ndarray:
    """Decode ``len(s) + 1`` tokens for each prompt ``BOS s SEP`` (batched by length), greedy.

    Returns a bool per string: the output up to its first EOS is exactly ``sorted(s)``. Decoding
    more tokens would not change that: later tokens cannot alter earlier ones.
    """
    ok = np.zeros(len(strings), dtype=bool)
    lengths = np.array([len(s) for s in strings])
    for n in np.unique(lengths):
        rows = np.flatnonzero(lengths == n)
        prompt = np.array([[BOS, *strings[r], SEP] for r in rows], dtype=np.int64)
        seq = to_tensor(prompt)
        for _ in range(n + 1):
            nxt = agrad.argmax(model(seq)[:, -1, :], axis=-1)
            seq = agrad.concat([seq, agrad.reshape(nxt, (-1, 1))], axis=1)
        expected = np.array([[*sorted(strings[r]), EOS] for r in rows])
        ok[rows] = np.all(to_host(seq)[:, n + 2 :] == expected, axis=1)
    return ok


def sorting_task(model: nn.Module, train: list[tuple], test: list[tuple], batch_size: int) -> Task:
    loss_fn = nn.CrossEntropyLoss(ignore_index=IGNORE)
    xtr, ytr = encode(train)
    xte, yte = (to_tensor(a) for a in encode(test))

    def loss_of(x: agrad.Tensor, y: agrad.Tensor) -> tuple[agrad.Tensor, agrad.Tensor]:
        logits = model(x)
        return loss_fn(agrad.reshape(logits, (-1, VOCAB)), agrad.reshape(y, (-1,))), logits

    def batches(rng: np.random.Generator) -> Iterator[tuple]:
        for idx in minibatches(len(xtr), batch_size, rng):
            yield to_tensor(xtr[idx]), to_tensor(ytr[idx]), int(np.sum(ytr[idx] != IGNORE))

    def step(batch: tuple) -> Metrics:
        x, y, counted = batch
        loss, logits = loss_of(x, y)
        hits = (agrad.argmax(logits.detach(), axis=-1) == y) & (y != IGNORE)
        return loss, float(agrad.sum(agrad.astype(hits, agrad.float32))), counted

    def evaluate() -> tuple[float, float]:
        return float(loss_of(xte, yte)[0]), float(np.mean(greedy_decode(model, test)))

    return Task(batches, math.ceil(len(xtr) / batch_size), step, evaluate,
                acc_label="exact match (%)", train_acc="train (per token)")


def main(argv: list[str] | None = None) -> dict:
    parser = make_parser(__doc__, "transformer", epochs=10, batch_size=64, lr=2e-3)
    parser.add_argument("--train-size", type=int, default=12000,
                        help="training strings generated (default: 12000)")
    parser.add_argument("--test-size", type=int, default=None,
                        help="held-out strings, none of them in the training set (default: 1000, "
                             "or 200 with --quick)")
    parser.add_argument("--d-model", type=int, default=64, help="width of the model (default: 64)")
    parser.add_argument("--layers", type=int, default=2, help="Transformer layers (default: 2)")
    parser.add_argument("--heads", type=int, default=4, help="attention heads (default: 4)")
    args = parse(parser, argv)
    if args.test_size is None:
        args.test_size = 200 if args.quick else 1000
    setup(args)
    train, test = make_strings(args.train_size, args.test_size)
    model = SortingTransformer(args.d_model, args.heads, args.layers, 2 * args.d_model)
    model = model.to(dtype=agrad.float32)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    task = sorting_task(model, train, test, args.batch_size)
    return fit(model, optimizer, task, args, "transformer", scheduler)


if __name__ == "__main__":
    main(sys.argv[1:])
