"""1-D convolution and pooling: ``conv1d``, ``max_pool1d``, ``avg_pool1d``,
``adaptive_avg_pool1d``.

Each runs the 2-D op on the input with a height of one, ``(N, C, L) ->
(N, C, 1, L)``, so values and gradients of every order are the 2-D op's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor, as_tensor
from .convolution import conv2d
from .pooling import adaptive_avg_pool2d, avg_pool2d, max_pool2d
from .shape import squeeze, unsqueeze

__all__ = ["conv1d", "max_pool1d", "avg_pool1d", "adaptive_avg_pool1d"]


def _one(v: Any, name: str, op: str) -> int:
    if isinstance(v, (tuple, list)):
        if len(v) != 1:
            raise TypeError(f"{op}: {name} must be an int or a 1-tuple, got {v!r}")
        v = v[0]
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
        raise TypeError(f"{op}: {name} must be an int or a 1-tuple, got {v!r}")
    return int(v)


def _as_2d(x: Any, op: str) -> tuple[Tensor, bool]:
    """(N, C, 1, L) from (N, C, L), or from an unbatched (C, L); and whether batched."""
    x = as_tensor(x)
    if x.ndim not in (2, 3):
        raise ValueError(
            f"{op}: expected a 2-D (C, L) or 3-D (N, C, L) input, got shape {tuple(x.shape)}"
        )
    batched = x.ndim == 3
    return unsqueeze(x if batched else unsqueeze(x, 0), 2), batched


def _back(y: Tensor, batched: bool) -> Tensor:
    y = squeeze(y, 2)
    return y if batched else squeeze(y, 0)


def conv1d(
    input: Any,  # noqa: A002 - PyTorch's name
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """1-D cross-correlation: (N, C, L) with weight (O, C/groups, k) -> (N, O, Lo).

    ``padding`` is an int, ``'valid'`` or ``'same'``; Lo = (L + 2*pad -
    dilation*(k-1) - 1) // stride + 1.
    """
    op = "conv1d"
    x, batched = _as_2d(input, op)
    w = as_tensor(weight)
    if w.ndim != 3:
        raise ValueError(f"{op}: weight must be 3-D (O, C/groups, k), got {tuple(w.shape)}")
    pad = padding if isinstance(padding, str) else (0, _one(padding, "padding", op))
    y = conv2d(
        x,
        unsqueeze(w, 2),
        bias,
        (1, _one(stride, "stride", op)),
        pad,
        (1, _one(dilation, "dilation", op)),
        groups,
    )
    return _back(y, batched)


def max_pool1d(
    input: Any,  # noqa: A002 - PyTorch's name
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """Max pooling over L of (N, C, L); with ``return_indices`` also the argmax positions."""
    op = "max_pool1d"
    x, batched = _as_2d(input, op)
    k = _one(kernel_size, "kernel_size", op)
    s = k if stride is None or stride == () else _one(stride, "stride", op)
    out = max_pool2d(
        x,
        (1, k),
        (1, s),
        (0, _one(padding, "padding", op)),
        (1, _one(dilation, "dilation", op)),
        ceil_mode,
        return_indices,
    )
    if isinstance(out, tuple):  # return_indices
        return _back(out[0], batched), _back(out[1], batched)
    return _back(out, batched)


def avg_pool1d(
    input: Any,  # noqa: A002 - PyTorch's name
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """Average pooling over L of (N, C, L)."""
    op = "avg_pool1d"
    x, batched = _as_2d(input, op)
    k = _one(kernel_size, "kernel_size", op)
    s = k if stride is None or stride == () else _one(stride, "stride", op)
    p = _one(padding, "padding", op)
    return _back(avg_pool2d(x, (1, k), (1, s), (0, p), ceil_mode, count_include_pad), batched)


def adaptive_avg_pool1d(input: Any, output_size: Any) -> Tensor:  # noqa: A002
    """Average pooling of (N, C, L) to (N, C, output_size) with PyTorch's windows."""
    op = "adaptive_avg_pool1d"
    x, batched = _as_2d(input, op)
    return _back(adaptive_avg_pool2d(x, (1, _one(output_size, "output_size", op))), batched)
