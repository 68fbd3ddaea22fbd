"""Moving and masking elements: ``roll``, ``tril`` and ``triu``.

``roll``'s backward rolls the gradient back; ``tril``/``triu`` multiply by a
constant 0/1 mask, so their backward masks the gradient the same way.
"""

from __future__ import annotations

from typing import Any

from ..autograd.function import Function
from ..backend import xp
from ..tensor import Tensor, _wrap, as_tensor
from ._args import axis
from .shape import flatten, reshape

__all__ = ["roll", "tril", "triu"]


class RollFunction(Function):
    def __init__(self, shifts: tuple[int, ...], dims: tuple[int, ...]) -> None:
        self.shifts, self.dims = shifts, dims

    def forward(self, x: Any) -> Any:
        """x rolled by ``shifts`` along ``dims`` (``np.roll``)."""
        return xp.roll(x, self.shifts, axis=self.dims)

    def backward(self, gy: Any) -> Any:
        """dL/dx: gy rolled back by ``-shifts``."""
        return RollFunction(tuple(-s for s in self.shifts), self.dims)(gy)


def roll(x: Tensor, shifts: Any, dims: Any = None) -> Tensor:
    """x with elements shifted ``shifts`` places along ``dims`` (wrapping around).

    Without ``dims`` the tensor is flattened, rolled and restored to its shape.
    """
    x = as_tensor(x)
    if dims is None:
        if not isinstance(shifts, int):
            raise ValueError("roll: without dims, shifts must be one int")
        return reshape(RollFunction((shifts,), (0,))(flatten(x)), x.shape)
    sh = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    ds = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(sh) != len(ds):
        raise ValueError(f"roll: shifts {shifts!r} and dims {dims!r} must have the same length")
    ds = tuple(axis(d, x.ndim, "roll") for d in ds)
    return RollFunction(tuple(int(s) for s in sh), ds)(x)


def _tri(x: Any, diagonal: int, lower: bool, op: str) -> Tensor:
    x = as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"{op}: needs a tensor of at least 2 dims, got shape {tuple(x.shape)}")
    n, m = x.shape[-2:]
    mask = (xp.tril if lower else xp.triu)(xp.ones((n, m), dtype=bool), diagonal)
    if x.dtype.kind != "f":
        return _wrap(xp.where(mask, x._array, xp.zeros((), dtype=x.dtype)))
    return x * _wrap(mask.astype(x.dtype))


def tril(x: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dims (on and below ``diagonal``), zeros elsewhere."""
    return _tri(x, diagonal, True, "tril")


def triu(x: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dims (on and above ``diagonal``), zeros elsewhere."""
    return _tri(x, diagonal, False, "triu")
