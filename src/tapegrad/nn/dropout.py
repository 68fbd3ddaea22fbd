"""Dropout modules: active in training mode, the identity in eval mode."""

from __future__ import annotations

from ..ops import dropout as _drop
from ..tensor import Tensor
from .module import Module

__all__ = ["Dropout", "Dropout2d", "AlphaDropout"]


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(
                f"{type(self).__name__}: dropout probability has to be between 0 and 1, but got {p}"
            )
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``
    (training mode only; eval mode returns the input)."""

    def forward(self, x: Tensor) -> Tensor:
        """``x`` -> a tensor of the same shape (``x`` itself in eval mode)."""
        return _drop.dropout(x, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Zero whole channels of ``(N, C, H, W)`` (or ``(C, H, W)``) inputs with probability
    ``p`` and scale the rest by ``1 / (1 - p)`` (training mode only)."""

    def forward(self, x: Tensor) -> Tensor:
        """``x`` -> a tensor of the same shape (``x`` itself in eval mode)."""
        return _drop.dropout2d(x, self.p, self.training, self.inplace)


class AlphaDropout(_DropoutNd):
    """Dropout that keeps SELU's zero mean and unit variance (training mode only)."""

    def forward(self, x: Tensor) -> Tensor:
        """``x`` -> a tensor of the same shape (``x`` itself in eval mode)."""
        return _drop.alpha_dropout(x, self.p, self.training)
