"""Linear algebra: batched matmul, ``linear`` (x @ W.T + b), ``einsum``."""

from __future__ import annotations

from typing import Any

from ..autograd.function import Function
from ..tensor import Tensor, as_tensor
from .shape import sum_to, transpose

__all__ = [
    "matmul",
]


class MatMul(Function):
    keep_inputs = True

    def forward(self, a, b):
        return a @ b

    def backward(self, gy):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        ga = gb = None
        # 1-D operands are treated as a row (a) or column (b) vector, as in NumPy.
        if a.ndim == 1 and b.ndim == 1:
            return (gy * b if na else None), (gy * a if nb else None)
        if a.ndim == 1:
            if na:
                ga = sum_to(matmul(gy.unsqueeze(-2), transpose(b, -1, -2)).squeeze(-2), a.shape)
            if nb:
                gb = sum_to(a.unsqueeze(-1) @ gy.unsqueeze(-2), b.shape)
            return ga, gb
        if b.ndim == 1:
            if na:
                ga = sum_to(gy.unsqueeze(-1) @ b.unsqueeze(-2), a.shape)
            if nb:
                gb = sum_to((transpose(a, -1, -2) @ gy.unsqueeze(-1)).squeeze(-1), b.shape)
            return ga, gb
        if na:
            ga = sum_to(matmul(gy, transpose(b, -1, -2)), a.shape)
        if nb:
            gb = sum_to(matmul(transpose(a, -1, -2), gy), b.shape)
        return ga, gb


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with NumPy's rules: batched, broadcasting over leading dims."""
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must have at least 1 dim, got {a.shape} @ {b.shape}")
    ka = a.shape[-1]
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if ka != kb:
        raise ValueError(
            f"matmul: shapes {tuple(a.shape)} @ {tuple(b.shape)}: inner sizes {ka} and {kb} differ"
        )
    try:
        return MatMul()(a, b)
    except ValueError:
        raise ValueError(
            f"matmul: batch dims of {tuple(a.shape)} and {tuple(b.shape)} do not broadcast"
        ) from None
