"""``agrad.nn``: modules, layers, losses and initialisers, portable to every backend.

``agrad.nn.functional`` has every layer as a function; ``agrad.nn.init`` the initialisers;
``agrad.nn.utils`` gradient clipping.
"""

from agrad.nn import functional, init, utils
from agrad.nn.layers.activation import (
    ELU,
    GELU,
    SELU,
    Hardswish,
    LeakyReLU,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
    Unflatten,
)
from agrad.nn.layers.attention import MultiheadAttention
from agrad.nn.layers.containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from agrad.nn.layers.conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, Fold, Unfold
from agrad.nn.layers.dropout import Dropout
from agrad.nn.layers.embedding import Embedding
from agrad.nn.layers.linear import Flatten, Identity, Linear
from agrad.nn.layers.normalization import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm, RMSNorm
from agrad.nn.layers.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AvgPool2d,
    MaxPool2d,
)
from agrad.nn.layers.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from agrad.nn.layers.sampling import (
    PixelShuffle,
    PixelUnshuffle,
    Upsample,
    UpsamplingBilinear2d,
    UpsamplingNearest2d,
)
from agrad.nn.layers.transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)
from agrad.nn.losses import (
    BCELoss,
    BCEWithLogitsLoss,
    CosineEmbeddingLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MarginRankingLoss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from agrad.nn.module import HookHandle, Module, Parameter, functional_call, stack_module_state
