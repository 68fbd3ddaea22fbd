"""Reductions: sum, mean, max/min, var/std, prod, argmax/argmin, norm.

Every reduction takes ``dim`` (or NumPy's ``axis``) as an int, a tuple or
None, and ``keepdim`` (or ``keepdims``).
"""

from __future__ import annotations

from typing import Any

from ..autograd.function import Function
from ..tensor import Tensor
from .shape import broadcast_to, reshape

__all__ = [
    "sum",
    "mean",
]


def _norm_dims(dim: Any, ndim: int, op: str) -> tuple[int, ...] | None:
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    out = []
    for d in dims:
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(f"{op}: dim {d} is out of range for a tensor of {ndim} dims")
        out.append(d % max(ndim, 1))
    return tuple(sorted(set(out)))


def _args(dim: Any, keepdim: bool, kw: dict[str, Any], op: str) -> tuple[Any, bool]:
    if "axis" in kw:
        dim = kw.pop("axis")
    if "keepdims" in kw:
        keepdim = kw.pop("keepdims")
    if kw:
        raise TypeError(f"{op}: unexpected arguments {sorted(kw)}")
    return dim, bool(keepdim)


def _kept_shape(in_shape: tuple[int, ...], dims: tuple[int, ...] | None) -> tuple[int, ...]:
    """The shape of a keepdim=True reduction over ``dims``."""
    if dims is None:
        return (1,) * len(in_shape)
    return tuple(1 if i in dims else s for i, s in enumerate(in_shape))


class Sum(Function):
    def __init__(self, dims: tuple[int, ...] | None, keepdim: bool) -> None:
        self.dims, self.keepdim = dims, keepdim

    def forward(self, x):
        return x.sum(axis=self.dims, keepdims=self.keepdim)

    def backward(self, gy):
        shape = self.in_shapes[0]
        if not self.keepdim:
            gy = reshape(gy, _kept_shape(shape, self.dims))
        return broadcast_to(gy, shape)


def sum(x: Tensor, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:  # noqa: A001
    """Sum over ``dim`` (all axes when None)."""
    dim, keepdim = _args(dim, keepdim, kw, "sum")
    return Sum(_norm_dims(dim, x.ndim, "sum"), keepdim)(x)


def _count(shape: tuple[int, ...], dims: tuple[int, ...] | None) -> int:
    n = 1
    for i, s in enumerate(shape):
        if dims is None or i in dims:
            n *= s
    return n


def mean(x: Tensor, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
    """Mean over ``dim`` (all axes when None)."""
    dim, keepdim = _args(dim, keepdim, kw, "mean")
    dims = _norm_dims(dim, x.ndim, "mean")
    n = _count(x.shape, dims)
    return Sum(dims, keepdim)(x) * (1.0 / n) if n else Sum(dims, keepdim)(x) * float("nan")
