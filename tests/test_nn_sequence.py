"""Attention, transformer layers and recurrent layers against torch.nn (same weights, float64)."""

import numpy as np
import pytest

import agrad
import agrad.nn as nn
from tests.helpers import assert_close, tensor_from_np, to_np
from tests.nn_helpers import check_against_torch, np_rng

pytestmark = pytest.mark.requires("float64")
torch = pytest.importorskip("torch")
tnn = torch.nn
F64 = agrad.float64


def x_of(*shape, seed=0):
    return np_rng(seed).normal(size=shape)


@pytest.mark.parametrize("batch_first", [True, False])
def test_multihead_attention_with_key_padding_and_causal_mask(batch_first):
    e, h, n, lq, lk = 8, 2, 3, 4, 5
    ours = nn.MultiheadAttention(e, h, batch_first=batch_first, dtype=F64)
    theirs = tnn.MultiheadAttention(e, h, batch_first=batch_first)
    shape_q = (n, lq, e) if batch_first else (lq, n, e)
    shape_k = (n, lk, e) if batch_first else (lk, n, e)
    kpm = np.zeros((n, lk), dtype=bool)
    kpm[0, -2:] = True
    kpm[2, 0] = True
    attn = np.triu(np.ones((lq, lk), dtype=bool), k=2)  # True = not allowed (PyTorch's convention)

    def run_ours(q, k, v):
        return ours(q, k, v, key_padding_mask=agrad.asarray(kpm), attn_mask=agrad.asarray(attn))

    def run_theirs(q, k, v):
        return theirs(q, k, v, key_padding_mask=torch.tensor(kpm), attn_mask=torch.tensor(attn))

    class Wrap:  # check_against_torch calls module(*inputs) and loads state dicts
        def __init__(self, mod, fn):
            self.mod, self.fn = mod, fn

        def __call__(self, *a):
            return self.fn(*a)

        def __getattr__(self, name):
            return getattr(self.mod, name)

    for pick in (lambda out: out[0], lambda out: out[1]):
        check_against_torch(
            Wrap(ours, run_ours),
            Wrap(theirs, run_theirs),
            [x_of(*shape_q, seed=1), x_of(*shape_k, seed=2), x_of(*shape_k, seed=3)],
            pick=pick,
        )


def test_multihead_attention_float_mask_causal_and_per_head_weights():
    e, h = 6, 3
    ours = nn.MultiheadAttention(e, h, batch_first=True, dtype=F64)
    theirs = tnn.MultiheadAttention(e, h, batch_first=True).double()
    theirs.load_state_dict({k: torch.tensor(to_np(v)) for k, v in ours.state_dict().items()})
    x = x_of(2, 4, e)
    y, w = ours(*(tensor_from_np(x),) * 3, is_causal=True, attn_mask=None, average_attn_weights=False)
    causal = torch.triu(torch.ones(4, 4, dtype=torch.bool), 1)
    yt, wt = theirs(*(torch.tensor(x),) * 3, attn_mask=causal, average_attn_weights=False)
    assert_close(y, yt.detach().numpy())
    assert_close(w, wt.detach().numpy())
    fm = x_of(4, 4, seed=5)
    y, _ = ours(*(tensor_from_np(x),) * 3, attn_mask=tensor_from_np(fm, False))
    yt, _ = theirs(*(torch.tensor(x),) * 3, attn_mask=torch.tensor(fm))
    assert_close(y, yt.detach().numpy())


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_transformer_encoder_layer(norm_first, activation):
    kw = dict(dim_feedforward=16, dropout=0.0, activation=activation, batch_first=True, norm_first=norm_first)
    ours = nn.TransformerEncoderLayer(8, 2, dtype=F64, **kw)
    theirs = tnn.TransformerEncoderLayer(8, 2, **kw)
    kpm = np.zeros((2, 5), dtype=bool)
    kpm[1, -1] = True

    class Enc:
        def __init__(self, mod, mask):
            self.mod, self.mask = mod, mask

        def __call__(self, x):
            return self.mod(x, src_key_padding_mask=self.mask, is_causal=False)

        def __getattr__(self, name):
            return getattr(self.mod, name)

    check_against_torch(Enc(ours, agrad.asarray(kpm)), Enc(theirs, torch.tensor(kpm)), [x_of(2, 5, 8)])


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_decoder_layer(norm_first):
    kw = dict(dim_feedforward=16, dropout=0.0, batch_first=False, norm_first=norm_first)
    ours = nn.TransformerDecoderLayer(8, 2, dtype=F64, **kw)
    theirs = tnn.TransformerDecoderLayer(8, 2, **kw)
    causal = np.triu(np.ones((4, 4), dtype=bool), 1)

    class Dec:
        def __init__(self, mod, mask):
            self.mod, self.mask = mod, mask

        def __call__(self, tgt, mem):
            return self.mod(tgt, mem, tgt_mask=self.mask)

        def __getattr__(self, name):
            return getattr(self.mod, name)

    check_against_torch(
        Dec(ours, agrad.asarray(causal)),
        Dec(theirs, torch.tensor(causal)),
        [x_of(4, 2, 8, seed=1), x_of(3, 2, 8, seed=2)],
    )


@pytest.mark.parametrize("cls", ["LSTM", "GRU"])
@pytest.mark.parametrize("kw", [dict(), dict(num_layers=2, batch_first=True, bidirectional=True)], ids=str)
def test_recurrent_layers(cls, kw):
    ours = getattr(nn, cls)(3, 4, dtype=F64, **kw)
    theirs = getattr(tnn, cls)(3, 4, **kw)
    x = x_of(2, 5, 3) if kw.get("batch_first") else x_of(5, 2, 3)
    check_against_torch(ours, theirs, [x], pick=lambda out: out[0])
    if cls == "LSTM":
        check_against_torch(ours, theirs, [x], pick=lambda out: out[1][1], seed=1)
    else:
        check_against_torch(ours, theirs, [x], pick=lambda out: out[1], seed=1)


def test_lstm_initial_state_and_unbatched_input():
    ours = nn.LSTM(3, 2, dtype=F64)
    theirs = tnn.LSTM(3, 2).double()
    theirs.load_state_dict({k: torch.tensor(to_np(v)) for k, v in ours.state_dict().items()})
    h0, c0, x = x_of(1, 2, seed=1), x_of(1, 2, seed=2), x_of(4, 3, seed=3)
    y, (h, c) = ours(tensor_from_np(x), (tensor_from_np(h0), tensor_from_np(c0)))
    yt, (ht, ct) = theirs(torch.tensor(x), (torch.tensor(h0), torch.tensor(c0)))
    for a, b in ((y, yt), (h, ht), (c, ct)):
        assert_close(a, b.detach().numpy())
    with pytest.raises(ValueError, match="initial state must have shape"):
        ours(tensor_from_np(x_of(4, 5, 3)), (tensor_from_np(x_of(2, 5, 2)), tensor_from_np(x_of(2, 5, 2))))
