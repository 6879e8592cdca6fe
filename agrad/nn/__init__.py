"""``agrad.nn``: modules, layers, losses and initialisers, portable to every backend.

``agrad.nn.functional`` has every layer as a function; ``agrad.nn.init`` the initialisers;
``agrad.nn.utils`` gradient clipping.
"""

from agrad.nn import functional, init, utils
from agrad.nn.layers.activation import GELU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Tanh
from agrad.nn.layers.attention import MultiheadAttention
from agrad.nn.layers.containers import ModuleList, Sequential
from agrad.nn.layers.conv import Conv1d, Conv2d
from agrad.nn.layers.dropout import Dropout
from agrad.nn.layers.embedding import Embedding
from agrad.nn.layers.linear import Flatten, Identity, Linear
from agrad.nn.layers.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from agrad.nn.layers.pooling import AvgPool2d, MaxPool2d
from agrad.nn.layers.rnn import GRU, LSTM
from agrad.nn.layers.transformer import TransformerDecoderLayer, TransformerEncoderLayer
from agrad.nn.losses import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
)
from agrad.nn.module import Module, Parameter
