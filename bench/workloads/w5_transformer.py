"""W5: a one-block pre-LN Transformer language model over 16 x 64 tokens, one Adam step.

Token embedding 1000 x 128 plus learned positions (an embedding of the position ids), one
``TransformerEncoderLayer(128, 4 heads, FFN 512, GELU, norm_first=True)`` with a causal mask,
a head to the 1000-word vocabulary, cross-entropy over all 1024 tokens.
"""

from __future__ import annotations

import numpy as np

from bench.harness import Inputs, Workload
from bench.workloads._training import initial_weights, steps_for

VOCAB, DIM, HEADS, FFN, BATCH, SEQ = 1000, 128, 4, 512, 16, 64


def define(nn):
    class TinyLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(VOCAB, DIM)
            self.pos = nn.Embedding(SEQ, DIM)
            self.block = nn.TransformerEncoderLayer(
                DIM, HEADS, FFN, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
            )
            self.head = nn.Linear(DIM, VOCAB)

        def forward(self, ids, positions, mask):
            x = self.tok(ids) + self.pos(positions)
            return self.head(self.block(x, src_mask=mask))

    return TinyLM


def make_inputs(rng: np.random.Generator) -> Inputs:
    causal = np.triu(np.full((SEQ, SEQ), -np.inf, dtype=np.float32), k=1)
    return {
        **initial_weights(define, rng),
        "ids": rng.integers(0, VOCAB, (BATCH, SEQ)).astype(np.int64),
        "positions": np.arange(SEQ, dtype=np.int64),
        "mask": causal,
        "targets": rng.integers(0, VOCAB, BATCH * SEQ).astype(np.int64),
    }


def loss_of(F, model, data):
    logits = model(data["ids"], data["positions"], data["mask"])
    return F.cross_entropy(logits.reshape(BATCH * SEQ, VOCAB), data["targets"])


agrad_step, torch_step = steps_for(define, lambda optim, ps: optim.Adam(ps, lr=1e-3), loss_of)

WORKLOAD = Workload(
    name="W5 Transformer Adam",
    description="embedding 1000x128 + positions, 1 pre-LN block (4-head causal attention, GELU FFN "
    "512), head 1000, cross-entropy over 16x64 tokens, forward + backward + Adam step",
    make_inputs=make_inputs,
    agrad_step=agrad_step,
    torch_step=torch_step,
    steps=30,
    warmup=2,
    target_ratio=1.0,
    rtol=2e-3,
    atol=1e-5,
)
