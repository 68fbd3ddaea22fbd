"""Broadcasting and its adjoint, the two ops the engine itself needs.

When an op broadcast an input, the gradient that comes back has the broadcast
shape; the engine reduces it to the input's shape with :func:`sum_to`, once and
centrally, so no op's backward has to. ``sum_to`` and ``broadcast_to`` are each
other's backward, so the reduction is itself differentiable to any order. They
live in the autograd core (not in ``ops``) so the engine depends on nothing
above it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..backend import xp
from ..tensor import Tensor
from .function import Function

__all__ = ["SumToFunction", "BroadcastToFunction", "sum_to", "broadcast_to"]


class SumToFunction(Function):
    """Sum a broadcast array back down to ``shape`` (the adjoint of broadcast_to)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = tuple(shape)

    def forward(self, x: Any) -> Any:
        """x summed over its broadcast dims down to ``shape``."""
        shape = self.shape
        lead = x.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, s in enumerate(shape) if s == 1 and x.shape[lead + i] != 1
        )
        y = x.sum(axis=axes, keepdims=True) if axes else x
        if lead:
            y = y.reshape(shape)
        return y

    def backward(self, gy: Tensor) -> Tensor:
        """dL/dx: gy broadcast back to the input's shape."""
        return broadcast_to(gy, self.in_shapes[0])


class BroadcastToFunction(Function):
    """A read-only view of an array broadcast to ``shape`` (the adjoint of sum_to)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = tuple(shape)

    def forward(self, x: Any) -> Any:
        """A read-only broadcast view of x in ``shape``."""
        return xp.broadcast_to(x, self.shape)

    def backward(self, gy: Tensor) -> Tensor:
        """dL/dx: gy summed down to the input's shape."""
        return sum_to(gy, self.in_shapes[0])


def sum_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    """Sum ``x`` over the axes broadcasting added or stretched, giving ``shape``.

    ``shape`` may also have more dims than x, all extra leading ones of size 1."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    extra = len(shape) - x.ndim
    if extra > 0 and all(s == 1 for s in shape[:extra]):
        # an operand with more leading 1-dims than the result (x[...] = v of shape (1,)
        # into a 0-d tensor): its gradient gets them back
        inner = shape[extra:]
        z: Tensor = BroadcastToFunction(shape)(x if x.shape == inner else SumToFunction(inner)(x))
        return z
    y: Tensor = SumToFunction(shape)(x)
    return y


def broadcast_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    """A read-only broadcast view of x with ``shape``."""
    shape = tuple(int(s) for s in shape)
    if x.shape == shape:
        return x
    try:
        if np.broadcast_shapes(x.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(
            f"broadcast_to: shape {tuple(x.shape)} cannot be broadcast to {shape}"
        ) from None
    y: Tensor = BroadcastToFunction(shape)(x)
    return y
