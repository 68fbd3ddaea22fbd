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
from ..ops.conv1d import adaptive_avg_pool1d, avg_pool1d, conv1d, max_pool1d
from ..ops.distance import cosine_similarity, normalize, one_hot
from ..ops.dropout import alpha_dropout, dropout, dropout2d
from ..ops.fold import fold, pixel_shuffle, pixel_unshuffle, unfold
from ..ops.linalg import linear
from ..ops.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    l1_loss,
    mse_loss,
    nll_loss,
)
from ..ops.loss_extra import huber_loss, kl_div, smooth_l1_loss
from ..ops.norm import batch_norm, group_norm, instance_norm, layer_norm
from ..ops.padding import pad
from ..ops.softmax import log_softmax, logsumexp, softmax
from .embedding import embedding

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "alpha_dropout",
    "avg_pool1d",
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv1d",
    "conv2d",
    "conv_transpose2d",
    "cosine_similarity",
    "cross_entropy",
    "dropout",
    "dropout2d",
    "elu",
    "embedding",
    "fold",
    "gelu",
    "group_norm",
    "hardtanh",
    "huber_loss",
    "instance_norm",
    "interpolate",
    "kl_div",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "logsumexp",
    "max_pool1d",
    "max_pool2d",
    "mse_loss",
    "nll_loss",
    "normalize",
    "one_hot",
    "pad",
    "pixel_shuffle",
    "pixel_unshuffle",
    "relu",
    "selu",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "softmax",
    "softplus",
    "tanh",
    "unfold",
    "upsample",
]
