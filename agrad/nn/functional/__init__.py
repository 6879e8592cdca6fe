"""``agrad.nn.functional``: every layer as a function (PyTorch's names and signatures).

The implementations live in small modules by topic: ``activation`` (fused activations),
``conv`` (convolution and pooling), ``layers`` (linear, dropout, embedding, normalisation),
``loss`` (losses, fused cross-entropy) and ``attention``.
"""

from agrad.nn._special import erf
from agrad.nn.functional.activation import gelu, log_softmax, relu, sigmoid, silu, softmax, tanh
from agrad.nn.functional.attention import scaled_dot_product_attention
from agrad.nn.functional.conv import avg_pool2d, conv1d, conv2d, max_pool2d, unfold
from agrad.nn.functional.layers import batch_norm, dropout, embedding, flatten, layer_norm, linear
from agrad.nn.functional.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)

__all__ = [
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv1d",
    "conv2d",
    "cross_entropy",
    "dropout",
    "embedding",
    "erf",
    "flatten",
    "gelu",
    "huber_loss",
    "l1_loss",
    "layer_norm",
    "linear",
    "log_softmax",
    "max_pool2d",
    "mse_loss",
    "nll_loss",
    "relu",
    "scaled_dot_product_attention",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "softmax",
    "tanh",
    "unfold",
]
