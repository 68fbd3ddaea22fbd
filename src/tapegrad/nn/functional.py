"""``tapegrad.nn.functional``: the stateless functions behind the layers (PyTorch's names).

Everything here is defined in :mod:`tapegrad.ops` (or :mod:`tapegrad.nn.embedding`)
and re-exported, so that ``import tapegrad.nn.functional as F`` reads like PyTorch.
"""

from __future__ import annotations

from ..ops.activation import (
    elu,
    gelu,
    hardtanh,
    leaky_relu,
    relu,
    selu,
    sigmoid,
    silu,
    softplus,
    tanh,
)
from ..ops.conv import (
    adaptive_avg_pool2d,
    avg_pool2d,
    conv2d,
    conv_transpose2d,
    interpolate,
    max_pool2d,
    upsample,
)
from ..ops.dropout import alpha_dropout, dropout, dropout2d
from ..ops.linalg import linear
from ..ops.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    l1_loss,
    mse_loss,
    nll_loss,
)
from ..ops.norm import batch_norm, group_norm, layer_norm
from ..ops.padding import pad
from ..ops.softmax import log_softmax, logsumexp, softmax
from .embedding import embedding

__all__ = [
    "adaptive_avg_pool2d",
    "alpha_dropout",
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv2d",
    "conv_transpose2d",
    "cross_entropy",
    "dropout",
    "dropout2d",
    "elu",
    "embedding",
    "gelu",
    "group_norm",
    "hardtanh",
    "interpolate",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "logsumexp",
    "max_pool2d",
    "mse_loss",
    "nll_loss",
    "pad",
    "relu",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "tanh",
    "upsample",
]
