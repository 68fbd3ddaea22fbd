"""Scans along one dim: ``cumsum`` and ``cumprod``, forward and backward side by side.

The backward of a cumulative sum is a reversed cumulative sum; that of a
cumulative product divides by the input where it is non-zero and, where the
input has zeros, forms the products that skip each element explicitly. Both
are written in tapegrad ops, so both are twice differentiable.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.function import Function
from ..backend import xp
from ..dtypes import int64
from ..tensor import Tensor, _wrap, as_tensor
from ._args import axis
from .elementwise import cast, where
from .reduce import sum as _sum
from .shape import flip, transpose, unsqueeze

__all__ = ["cumsum", "cumprod"]


def _prepare(x: Any, dim: int, dtype: Any, op: str) -> tuple[Tensor, int]:
    x = as_tensor(x)
    if dtype is not None:
        x = cast(x, dtype)
    elif x.dtype.kind in "biu":
        x = cast(x, int64)  # as PyTorch: integer and bool scans accumulate in int64
    return x, axis(dim, x.ndim, op)


class CumsumFunction(Function):
    def __init__(self, dim: int) -> None:
        self.dim = dim

    def forward(self, x: Any) -> Any:
        """Cumulative sum of the array along ``dim``."""
        return xp.cumsum(x, axis=self.dim)

    def backward(self, gy: Any) -> Any:
        """dL/dx: the reversed cumulative sum of gy along ``dim``."""
        return flip(CumsumFunction(self.dim)(flip(gy, self.dim)), self.dim)


def cumsum(x: Tensor, dim: int, dtype: Any = None) -> Tensor:
    """Running sums along ``dim``: ``out[i] = x[0] + ... + x[i]``; same shape as x."""
    x, d = _prepare(x, dim, dtype, "cumsum")
    if x.ndim == 0:
        return x
    return CumsumFunction(d)(x)


def _rev_cumsum(t: Tensor, d: int) -> Tensor:
    return flip(cumsum(flip(t, d), d), d)


class CumprodFunction(Function):
    keep_inputs = True
    keep_outputs = True

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def forward(self, x: Any) -> Any:
        """Cumulative product of the array along ``dim``."""
        return xp.cumprod(x, axis=self.dim)

    def backward(self, gy: Any) -> Any:
        """dL/dx: reversed cumsum of gy * y over x, exact where x has zeros."""
        assert self.inputs is not None
        (x,) = self.inputs
        d = self.dim
        if not (x._array == 0).any():
            return _rev_cumsum(gy * self.output(), d) / x
        return _cumprod_grad_with_zeros(x, gy, d)


def _cumprod_grad_with_zeros(x: Tensor, gy: Tensor, d: int) -> Tensor:
    """grad_i = sum_{j >= i} gy_j prod_{k <= j, k != i} x_k, with (n, n) products per lane."""
    xl, gl = transpose(x, d, -1), transpose(gy, d, -1)
    n = xl.shape[-1]
    eye = np.eye(n, dtype=bool)
    # row i: x with x_i replaced by 1, so its cumprod skips element i
    rows = where(_wrap(eye), _wrap(xp.ones((), dtype=x.dtype)), unsqueeze(xl, -2))
    skip = cumprod(rows, -1)
    upper = _wrap(xp.asarray(np.triu(np.ones((n, n), dtype=x.dtype))))
    g = _sum(skip * upper * unsqueeze(gl, -2), -1)
    return transpose(g, d, -1)


def cumprod(x: Tensor, dim: int, dtype: Any = None) -> Tensor:
    """Running products along ``dim``: ``out[i] = x[0] * ... * x[i]``; same shape as x."""
    x, d = _prepare(x, dim, dtype, "cumprod")
    if x.ndim == 0:
        return x
    return CumprodFunction(d)(x)
