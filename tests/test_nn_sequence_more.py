"""RNN and the recurrent cells, MultiheadAttention with kdim/vdim and extra keys, the transformer
stacks and ``Transformer``, and ``scaled_dot_product_attention``, against torch.nn (same weights,
float64): outputs, input gradients and parameter gradients under a random upstream gradient."""

import numpy as np
import pytest

import agrad
import agrad.nn as nn
import agrad.nn.functional as F
from tests.helpers import assert_close, tensor_from_np, to_np
from tests.nn_helpers import check_against_torch, torch_state_from, x_of

pytestmark = pytest.mark.requires("float64")
torch = pytest.importorskip("torch")
tnn = torch.nn
F64 = agrad.float64


class Calling:
    """``fn(module, *inputs)`` in place of ``module(*inputs)`` for check_against_torch (the rest,
    state dicts and parameters, is the module's)."""

    def __init__(self, mod, fn):
        self.mod, self.fn = mod, fn

    def __call__(self, *inputs):
        return self.fn(self.mod, *inputs)

    def __getattr__(self, name):
        return getattr(self.mod, name)


def pair(ours, theirs, fn_ours, fn_theirs=None):
    return Calling(ours, fn_ours), Calling(theirs, fn_theirs or fn_ours)


def both_masks(a):
    """The same mask for agrad and for torch."""
    return agrad.asarray(a), torch.tensor(a)


# --- recurrent layers -----------------------------------------------------------------------------


def product(out):
    return out[0] * out[1]


def outputs_and_first_state(batch_first):
    """The output's forward half times its backward half (the same half when unidirectional) plus
    h_n[0]: every output and a final state under one cotangent (written for agrad and torch)."""

    def pick(out):
        y, h = out
        return y[..., :4] * y[..., -4:] + (h[0][:, None] if batch_first else h[0])

    return pick


@pytest.mark.parametrize(
    "kw",
    [dict(nonlinearity="relu"), dict(num_layers=2, bias=False, batch_first=True, bidirectional=True)],
    ids=["relu", "2-layers-bidirectional"],
)
def test_rnn(kw):
    ours, theirs = nn.RNN(3, 4, dtype=F64, **kw), tnn.RNN(3, 4, **kw)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    x = x_of(2, 3, 3) if kw.get("batch_first") else x_of(3, 2, 3)
    layers = 2 * kw.get("num_layers", 1) if kw.get("bidirectional") else 1
    h0 = x_of(layers, 2, 4, seed=1)
    check_against_torch(ours, theirs, [x, h0], pick=outputs_and_first_state(kw.get("batch_first", False)))


@pytest.mark.parametrize(
    "cls, kw", [("RNNCell", dict(nonlinearity="relu")), ("LSTMCell", {}), ("GRUCell", dict(bias=False))]
)
def test_cells(cls, kw):
    ours, theirs = getattr(nn, cls)(3, 4, dtype=F64, **kw), getattr(tnn, cls)(3, 4, **kw)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    x, h, c = x_of(2, 3), x_of(2, 4, seed=1), x_of(2, 4, seed=2)
    if cls == "LSTMCell":  # (h, c) in, (h', c') out: check both through their product
        check_against_torch(*pair(ours, theirs, lambda m, x, h, c: product(m(x, (h, c)))), [x, h, c])
    else:
        check_against_torch(ours, theirs, [x, h])


def test_cells_unbatched_and_zero_state_and_errors():
    ours, theirs = nn.LSTMCell(3, 2, dtype=F64), tnn.LSTMCell(3, 2).double()  # shared by every cell
    theirs.load_state_dict(torch_state_from(ours))
    x = x_of(3)
    for a, b in zip(ours(tensor_from_np(x)), theirs(torch.tensor(x))):
        assert a.shape == tuple(b.shape) == (2,)
        assert_close(a, b.detach().numpy())
    with pytest.raises(ValueError, match="1D or 2D"):
        ours(tensor_from_np(x_of(1, 2, 3)))
    with pytest.raises(ValueError, match="initial state must have shape"):
        nn.GRUCell(3, 2, dtype=F64)(tensor_from_np(x_of(4, 3)), tensor_from_np(x_of(3, 2)))
    with pytest.raises(ValueError, match="Unknown nonlinearity"):
        nn.RNN(3, 2, nonlinearity="sigmoid")
    assert "nonlinearity='relu'" in repr(nn.RNNCell(3, 2, nonlinearity="relu"))


# --- attention ------------------------------------------------------------------------------------


def output_and_weights(out):
    """``(N, L, E=4)`` outputs and ``(N, L, S+2=5)`` weights under one cotangent (agrad and torch)."""
    y, w = out
    return y * w[..., :4] + w[..., 1:]


def test_multihead_attention_kdim_vdim_bias_kv_zero_attn():
    e, h, n, lq, lk = 4, 2, 2, 3, 3
    kw = dict(kdim=3, vdim=5, add_bias_kv=True, add_zero_attn=True, batch_first=True)
    ours, theirs = nn.MultiheadAttention(e, h, dtype=F64, **kw), tnn.MultiheadAttention(e, h, **kw)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    assert ours.in_proj_weight is None and ours.k_proj_weight.shape == (e, 3)
    kpm = np.zeros((n, lk), dtype=bool)
    kpm[0, -1] = True
    attn = np.zeros((n * h, lq, lk), dtype=bool)  # per-(batch, head) masks
    attn[1, 0, :2] = True
    (kpm_a, kpm_t), (attn_a, attn_t) = both_masks(kpm), both_masks(attn)
    check_against_torch(
        *pair(
            ours,
            theirs,
            lambda m, q, k, v: output_and_weights(m(q, k, v, key_padding_mask=kpm_a, attn_mask=attn_a)),
            lambda m, q, k, v: output_and_weights(m(q, k, v, key_padding_mask=kpm_t, attn_mask=attn_t)),
        ),
        [x_of(n, lq, e, seed=1), x_of(n, lk, 3, seed=2), x_of(n, lk, 5, seed=3)],
    )


@pytest.mark.filterwarnings("ignore:Support for mismatched")  # torch: a bool padding mask with a float mask
def test_multihead_attention_learned_float_mask_and_fully_masked_query():
    """A float mask given as an input gets its gradient; with need_weights=False a query whose every
    key is padded gets a zero attention output (PyTorch's fused path), not NaN."""
    e, h = 4, 2
    ours, theirs = (
        nn.MultiheadAttention(e, h, batch_first=True, dtype=F64),
        tnn.MultiheadAttention(e, h, batch_first=True),
    )
    kpm = np.zeros((2, 3), dtype=bool)
    kpm[1] = True  # the second sequence has no key at all
    kpm_a, kpm_t = both_masks(kpm)
    check_against_torch(
        *pair(
            ours,
            theirs,
            lambda m, x, mask: m(x, x, x, attn_mask=mask, key_padding_mask=kpm_a, need_weights=False)[0],
            lambda m, x, mask: m(x, x, x, attn_mask=mask, key_padding_mask=kpm_t, need_weights=False)[0],
        ),
        [x_of(2, 3, e), x_of(3, 3, seed=4)],
    )


class Fn:
    """A function for check_against_torch: no parameters."""

    def __init__(self, f):
        self.f = f

    def __call__(self, *a):
        return self.f(*a)

    def double(self):
        return self

    def zero_grad(self):
        pass

    def named_parameters(self):
        return iter(())


def test_scaled_dot_product_attention_masks():
    q, k, v = x_of(2, 2, 3, 4, seed=1), x_of(2, 2, 5, 4, seed=2), x_of(2, 2, 5, 3, seed=3)
    allowed = np.tril(np.ones((3, 5), dtype=bool))  # True = allowed (sdpa's convention)
    allowed[1] = False  # a query with no key: zeros, zero gradients
    ma, mt = both_masks(allowed)
    tF = torch.nn.functional
    check_against_torch(
        Fn(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=ma)),
        Fn(lambda q, k, v: tF.scaled_dot_product_attention(q, k, v, attn_mask=mt)),
        [q, k, v],
        load=False,
    )
    check_against_torch(  # causal with more keys than queries
        Fn(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True)),
        Fn(lambda q, k, v: tF.scaled_dot_product_attention(q, k, v, is_causal=True)),
        [q, k, v],
        load=False,
    )
    check_against_torch(  # grouped-query heads (4 query, 2 key heads), a learned per-head float bias
        Fn(
            lambda q, k, v, b: F.scaled_dot_product_attention(
                q, k, v, attn_mask=b, scale=0.3, enable_gqa=True
            )
        ),
        Fn(
            lambda q, k, v, b: tF.scaled_dot_product_attention(
                q, k, v, attn_mask=b, scale=0.3, enable_gqa=True
            )
        ),
        [x_of(2, 4, 3, 4, seed=5), k, v, x_of(4, 3, 5, seed=4)],
        load=False,
    )
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(*(tensor_from_np(a) for a in (q, k, v)), attn_mask=ma, is_causal=True)


# --- transformers ---------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Support for mismatched")  # torch: a bool padding mask with a float mask
def test_transformer_encoder_causal_and_padding():
    """Two post-norm layers and a final norm; ``is_causal=True`` alone against torch's causal mask
    with the hint, plus a key padding mask."""
    layer_kw = dict(dim_feedforward=8, dropout=0.0)
    ours = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(4, 2, dtype=F64, **layer_kw), 2, nn.LayerNorm(4, dtype=F64)
    )
    theirs = tnn.TransformerEncoder(
        tnn.TransformerEncoderLayer(4, 2, **layer_kw), 2, tnn.LayerNorm(4), enable_nested_tensor=False
    )
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    assert "layers.1.self_attn.in_proj_weight" in ours.state_dict()
    kpm = np.zeros((2, 3), dtype=bool)
    kpm[0, -1] = True
    kpm_a, kpm_t = both_masks(kpm)
    causal = tnn.Transformer.generate_square_subsequent_mask(3, dtype=torch.float64)
    check_against_torch(
        *pair(
            ours,
            theirs,
            lambda m, x: m(x, src_key_padding_mask=kpm_a, is_causal=True),
            lambda m, x: m(x, mask=causal, src_key_padding_mask=kpm_t, is_causal=True),
        ),
        [x_of(3, 2, 4)],
    )


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")
def test_transformer_pre_norm_without_bias():
    """One encoder and one decoder layer (pre-norm, gelu, no biases, batch first) with a causal
    target mask (and the hint), a boolean memory mask and key padding of the source."""
    kw = dict(
        d_model=4,
        nhead=2,
        num_encoder_layers=1,
        num_decoder_layers=1,
        dim_feedforward=8,
        dropout=0.0,
        activation="gelu",
        batch_first=True,
        norm_first=True,
        bias=False,
    )
    ours, theirs = nn.Transformer(dtype=F64, **kw), tnn.Transformer(**kw)
    keys = ours.state_dict()
    assert sorted(keys) == sorted(theirs.state_dict())
    assert "encoder.norm.weight" in keys and "decoder.layers.0.multihead_attn.out_proj.weight" in keys
    assert not any("bias" in k for k in keys)
    src_pad = np.zeros((2, 3), dtype=bool)
    src_pad[1, -1] = True
    mem_mask = np.zeros((2, 3), dtype=bool)
    mem_mask[0, 1] = True  # True = not allowed
    (sp_a, sp_t), (mm_a, mm_t) = both_masks(src_pad), both_masks(mem_mask)
    tgt_a = nn.Transformer.generate_square_subsequent_mask(2, dtype=F64)
    tgt_t = tnn.Transformer.generate_square_subsequent_mask(2, dtype=torch.float64)

    def run(tgt_mask, src_pad, mem_mask):
        return lambda m, s, t: m(
            s,
            t,
            tgt_mask=tgt_mask,
            memory_mask=mem_mask,
            src_key_padding_mask=src_pad,
            memory_key_padding_mask=src_pad,
            tgt_is_causal=True,
        )

    check_against_torch(
        *pair(ours, theirs, run(tgt_a, sp_a, mm_a), run(tgt_t, sp_t, mm_t)),
        [x_of(2, 3, 4, seed=1), x_of(2, 2, 4, seed=2)],
    )


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")
def test_transformer_construction():
    """Layer copies start equal and are independent; Transformer re-initialises every matrix;
    the causal mask matches torch's; shape errors are reported."""
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=8, dtype=F64)
    enc = nn.TransformerEncoder(layer, 2)
    a, b = enc.layers[0].linear1.weight, enc.layers[1].linear1.weight
    assert a is not b and a is not layer.linear1.weight and enc.norm is None
    assert_close(a, to_np(b))
    nn.init.zeros_(a)
    assert np.any(to_np(b)) and np.any(to_np(layer.linear1.weight))
    assert len(list(enc.parameters())) == 2 * len(list(layer.parameters()))
    t = nn.Transformer(4, 2, 1, 1, 8, dtype=F64)
    w0, w1 = (
        to_np(t.encoder.layers[0].self_attn.in_proj_weight),
        to_np(t.decoder.layers[0].self_attn.in_proj_weight),
    )
    assert not np.allclose(w0, w1)
    mask = nn.Transformer.generate_square_subsequent_mask(3)
    assert_close(mask, tnn.Transformer.generate_square_subsequent_mask(3).numpy())
    with pytest.raises(ValueError, match="batch number"):
        t(tensor_from_np(x_of(3, 2, 4)), tensor_from_np(x_of(3, 1, 4)))
    with pytest.raises(ValueError, match="d_model"):
        t(tensor_from_np(x_of(3, 2, 4)), tensor_from_np(x_of(3, 2, 5)))
