"""Dropout: ``dropout`` (elements), ``dropout2d`` (whole channels), ``alpha_dropout``.

Masks are drawn from :func:`tapegrad.random.default_generator`, so
``tapegrad.manual_seed`` makes them reproducible. In evaluation mode
(``training=False``) or with ``p == 0`` every function returns its input
unchanged. The output is the input times a constant mask (plus a constant for
alpha dropout), so the backward is ``gy * mask``, exact to every order.
"""

from __future__ import annotations

import math
from typing import Any

from ..autograd.function import Function
from ..backend import xp
from ..random import default_generator
from ..tensor import Tensor, as_tensor
from .elementwise import mul_const
from .inplace import apply_inplace

__all__ = ["dropout", "dropout2d", "alpha_dropout"]


class _ScaleMaskFunction(Function):
    """y = x * mask (+ shift), with a constant mask broadcastable to x."""

    def __init__(self, mask: Any, shift: Any = None) -> None:
        self.mask, self.shift = mask, shift

    def forward(self, x):
        y = x * self.mask
        if self.shift is not None:
            y += self.shift
        return y

    def backward(self, gy):
        return mul_const(gy, self.mask)


def _check(op: str, x: Any, p: float) -> Tensor:
    x = as_tensor(x)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability p must be in [0, 1], got {p}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: input must be a floating-point tensor, got {x.dtype}")
    return x


def _keep_mask(shape: tuple[int, ...], p: float, dtype: Any) -> Any:
    """1 / (1 - p) with probability 1 - p, else 0 (all zeros for p == 1)."""
    if p == 1.0:
        return xp.zeros(shape, dtype=dtype)
    keep = default_generator().random(shape, dtype=xp.float32) >= p
    return keep.astype(dtype) * dtype.type(1.0 / (1.0 - p))


def _apply(x: Tensor, fn: Function, inplace: bool, op: str) -> Tensor:
    if inplace:
        return apply_inplace(x, op, fn)
    return fn(x)


def dropout(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Inverted dropout: each element is zeroed with probability ``p``.

    The kept elements are scaled by ``1 / (1 - p)`` so the expected value is
    unchanged; ``p == 1`` gives zeros.

    Args:
        input: float tensor of any shape.
        p: drop probability in [0, 1].
        training: when False, return ``input`` itself.

    Returns:
        A tensor of the input's shape and dtype.
    """
    x = _check("dropout", input, p)
    if not training or p == 0.0:
        return x
    return _apply(x, _ScaleMaskFunction(_keep_mask(x.shape, p, x.dtype)), inplace, "dropout_")


def dropout2d(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Channel dropout: each channel of (N, C, H, W) or (C, H, W) is zeroed whole.

    Kept channels are scaled by ``1 / (1 - p)``. A 3-D input is one sample
    (C, H, W); PyTorch currently reads it as (N, C, L) with a warning that this
    will change to (C, H, W).

    Returns:
        A tensor of the input's shape and dtype.
    """
    x = _check("dropout2d", input, p)
    if x.ndim not in (3, 4):
        raise ValueError(
            f"dropout2d: expects input of shape (N, C, H, W) or (C, H, W), got {tuple(x.shape)}"
        )
    if not training or p == 0.0:
        return x
    mask_shape = x.shape[:-2] + (1, 1)
    return _apply(x, _ScaleMaskFunction(_keep_mask(mask_shape, p, x.dtype)), inplace, "dropout2d_")


# SELU's constants: alpha * scale, the value a dropped unit takes, is its negative saturation.
_SELU_ALPHA = 1.6732632423543772
_SELU_SCALE = 1.0507009873554805
_ALPHA_PRIME = _SELU_ALPHA * _SELU_SCALE  # 1.7580993408473766


def alpha_dropout(input: Any, p: float = 0.5, training: bool = True) -> Tensor:
    """Dropout for SELU networks: keeps the mean 0 and variance 1 of a standardised input.

    Dropped elements are set to SELU's negative saturation ``-alpha'`` and the
    result is transformed affinely (``a * x + b``) to restore mean and
    variance, with PyTorch's constants: ``a = 1 / sqrt((alpha'^2 p + 1)(1 - p))``,
    ``b = alpha' a p`` on kept and ``-alpha' a (1 - p)`` on dropped elements.

    Returns:
        A tensor of the input's shape and dtype (zeros for ``p == 1``).
    """
    x = _check("alpha_dropout", input, p)
    if not training or p == 0.0:
        return x
    dt = x.dtype
    if p == 1.0:
        return _ScaleMaskFunction(xp.zeros(x.shape, dtype=dt))(x)
    keep = default_generator().random(x.shape, dtype=xp.float32) >= p
    a = 1.0 / math.sqrt((_ALPHA_PRIME * _ALPHA_PRIME * p + 1.0) * (1.0 - p))
    mask = keep.astype(dt) * dt.type(a)
    shift = (keep.astype(dt) - 1) * dt.type(_ALPHA_PRIME * a) + dt.type(_ALPHA_PRIME * a * p)
    return _ScaleMaskFunction(mask, shift)(x)
