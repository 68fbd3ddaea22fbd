"""Shape ops: reshape, transpose, broadcasting, joining, splitting, indexing.

Each op's backward is another shape op (reshape undoes reshape, ``sum_to``
undoes ``broadcast_to`` and the other way round), so all are twice
differentiable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..autograd.function import Function
from ..tensor import Tensor

__all__ = [
    "sum_to",
    "broadcast_to",
    "expand",
    "reshape",
    "view",
    "permute",
    "transpose",
    "swapaxes",
    "unsqueeze",
    "squeeze",
]


def _shape_arg(shape: tuple[Any, ...]) -> tuple[int, ...]:
    """Accept ``f(2, 3)`` and ``f((2, 3))`` alike."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def _axis(dim: int, ndim: int, op: str) -> int:
    if not -ndim <= dim < max(ndim, 1):
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor of {ndim} dims")
    return dim % max(ndim, 1)


# ------------------------------------------------------ broadcasting pairs
class SumTo(Function):
    """Sum a broadcast array back down to ``shape`` (the adjoint of broadcast_to)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = tuple(shape)

    def forward(self, x):
        shape = self.shape
        lead = x.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, s in enumerate(shape) if s == 1 and x.shape[lead + i] != 1
        )
        y = x.sum(axis=axes, keepdims=True) if axes else x
        if lead:
            y = y.reshape(shape)
        return y

    def backward(self, gy):
        return broadcast_to(gy, self.in_shapes[0])


class BroadcastTo(Function):
    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = tuple(shape)

    def forward(self, x):
        return np.broadcast_to(x, self.shape)

    def backward(self, gy):
        return sum_to(gy, self.in_shapes[0])


def sum_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    """Sum ``x`` over the axes broadcasting added or stretched, giving ``shape``."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    return SumTo(shape)(x)


def broadcast_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    """A read-only broadcast view of x with ``shape``."""
    shape = tuple(int(s) for s in shape)
    if x.shape == shape:
        return x
    try:
        np.broadcast_shapes(x.shape, shape)
        if np.broadcast_shapes(x.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(
            f"broadcast_to: shape {tuple(x.shape)} cannot be broadcast to {shape}"
        ) from None
    return BroadcastTo(shape)(x)


def expand(x: Tensor, *sizes: Any) -> Tensor:
    """Like ``torch.Tensor.expand``: -1 keeps a dim's size."""
    sizes = _shape_arg(sizes)
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ValueError(f"expand: {len(sizes)} sizes given for a tensor of {x.ndim} dims")
    shape = tuple(x.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    return broadcast_to(x, shape)


# ---------------------------------------------------------------- reshape
class Reshape(Function):
    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def forward(self, x):
        return x.reshape(self.shape)

    def backward(self, gy):
        return reshape(gy, self.in_shapes[0])


def reshape(x: Tensor, *shape: Any) -> Tensor:
    """x with a new shape of the same size; one entry may be -1."""
    shape = _shape_arg(shape)
    if shape == x.shape:
        return x
    try:
        return Reshape(shape)(x)
    except ValueError:
        raise ValueError(
            f"reshape: cannot reshape a tensor of shape {tuple(x.shape)} "
            f"({x.data.size} elements) into {shape}"
        ) from None


view = reshape


class Transpose(Function):
    def __init__(self, axes: tuple[int, ...]) -> None:
        self.axes = axes

    def forward(self, x):
        return x.transpose(self.axes)

    def backward(self, gy):
        return Transpose(tuple(np.argsort(self.axes)))(gy)


def permute(x: Tensor, *dims: Any) -> Tensor:
    """Reorder the axes: output axis i is input axis ``dims[i]``."""
    dims = _shape_arg(dims)
    if sorted(d % max(x.ndim, 1) for d in dims) != list(range(x.ndim)) or len(dims) != x.ndim:
        raise ValueError(f"permute: {dims} is not a permutation of the {x.ndim} dims of {x.shape}")
    dims = tuple(d % x.ndim for d in dims)
    if dims == tuple(range(x.ndim)):
        return x
    return Transpose(dims)(x)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two axes."""
    a, b = _axis(dim0, x.ndim, "transpose"), _axis(dim1, x.ndim, "transpose")
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return permute(x, *axes)


swapaxes = transpose


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert an axis of size 1 at ``dim`` (negative counts from the end of the result)."""
    nd = x.ndim + 1
    if not -nd <= dim < nd:
        raise IndexError(f"unsqueeze: dim {dim} is out of range for a result of {nd} dims")
    d = dim % nd
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


def squeeze(x: Tensor, dim: Any = None) -> Tensor:
    """Remove axes of size 1 (all, or those in ``dim`` that have size 1)."""
    if dim is None:
        return reshape(x, tuple(s for s in x.shape if s != 1))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    drop = {_axis(d, x.ndim, "squeeze") for d in dims}
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if not (i in drop and s == 1)))
