"""dtype conversion and copies that stay in the graph: ``cast`` and ``clone``."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.function import Function
from ..tensor import Tensor, _wrap

__all__ = ["cast", "clone"]


class CastFunction(Function):
    def __init__(self, dtype: Any) -> None:
        self.dtype = dtype

    def forward(self, x: Any) -> Any:
        """The array converted to ``dtype``; remembers the source dtype."""
        self.src = x.dtype
        return x.astype(self.dtype)

    def backward(self, gy: Any) -> Any:
        """dL/dx: gy cast back to the source dtype."""
        return CastFunction(self.src)(gy)


def cast(x: Tensor, dtype: Any) -> Tensor:
    """x converted to ``dtype``; differentiable between floating dtypes."""
    d = np.dtype(dtype)
    if d.kind != "f" and x.requires_grad:
        # Integer results carry no gradient: cut the graph.
        return _wrap(x._array.astype(d))
    return CastFunction(d)(x)


class CloneFunction(Function):
    def forward(self, x: Any) -> Any:
        """A copy of the array."""
        return x.copy()

    def backward(self, gy: Any) -> Any:
        """dL/dx = gy."""
        return gy


def clone(x: Tensor) -> Tensor:
    """A copy of x's data that stays in the graph."""
    return CloneFunction()(x)
