"""Padding: ``pad`` with constant, reflect, replicate and circular modes.

Constant padding writes the input into a filled array (its backward slices the
gradient back out); the other modes gather border positions with
``index_select``, whose backward scatters the gradient back onto them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..autograd.function import Function
from ..backend import xp
from ..tensor import Tensor
from .indexing import IndexSelectFunction

__all__ = ["pad"]


class PadConstantFunction(Function):
    """Pad (or, for negative widths, crop) each axis by ``(before, after)``, filling ``value``."""

    def __init__(self, widths: tuple[tuple[int, int], ...], value: Any) -> None:
        self.widths, self.value = widths, value

    def forward(self, x: Any) -> Any:
        """x cropped or padded with ``value`` by ``widths`` on each axis."""
        crop = tuple(slice(max(-b, 0), n - max(-a, 0)) for (b, a), n in zip(self.widths, x.shape))
        x = x[crop]
        out_shape = tuple(n + max(b, 0) + max(a, 0) for (b, a), n in zip(self.widths, x.shape))
        inner = tuple(slice(max(b, 0), max(b, 0) + n) for (b, _), n in zip(self.widths, x.shape))
        y = xp.full(out_shape, self.value, dtype=x.dtype)
        y[inner] = x
        return y

    def backward(self, gy: Any) -> Any:
        """dL/dx: gy with the padding cut off (and the crop padded with 0)."""
        return PadConstantFunction(tuple((-b, -a) for b, a in self.widths), 0)(gy)


def _pad_index(n: int, before: int, after: int, mode: str) -> Any:
    """Source positions of a padded axis of size ``n`` for a non-constant mode."""
    p = xp.arange(-before, n + after)
    if mode == "replicate":
        return xp.clip(p, 0, n - 1)
    if mode == "circular":
        return p % n
    # reflect: mirror about the edge elements, which are not repeated
    period = 2 * (n - 1)
    p = xp.abs(p) % period if period else xp.zeros_like(p)
    return xp.where(p >= n, period - p, p)


def pad(x: Tensor, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Tensor:  # noqa: A002
    """``torch.nn.functional.pad``: pad the last ``len(pad) // 2`` dims.

    ``pad`` is ``(left, right)`` for the last dim, then ``(top, bottom)`` for
    the one before, and so on. ``mode``: ``'constant'`` (fill ``value``;
    negative widths crop), ``'reflect'`` (mirror without repeating the edge;
    widths must be smaller than the dim), ``'replicate'`` (repeat the edge)
    or ``'circular'`` (wrap around).
    """
    pads = [int(p) for p in pad]
    if len(pads) % 2 or len(pads) // 2 > x.ndim:
        raise ValueError(
            f"pad: {len(pads)} pad widths given for a tensor of shape {tuple(x.shape)}; "
            f"give an even number, at most {2 * x.ndim}"
        )
    widths = [(0, 0)] * x.ndim
    for i in range(len(pads) // 2):
        widths[x.ndim - 1 - i] = (pads[2 * i], pads[2 * i + 1])
    for (b, a), n in zip(widths, x.shape):
        if n + b + a < 0:
            raise ValueError(f"pad: widths {pads} leave a negative size for shape {x.shape}")
    if mode == "constant":
        if all(w == (0, 0) for w in widths):
            return x
        return PadConstantFunction(tuple(widths), value)(x)
    if mode not in ("reflect", "replicate", "circular"):
        raise ValueError(
            f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}"
        )
    # A non-constant pad is a gather along each padded axis: index_select, whose
    # backward is a scatter-add, so repeated source positions accumulate.
    out = x
    for d, ((b, a), n) in enumerate(zip(widths, x.shape)):
        if b == 0 and a == 0:
            continue
        if mode == "reflect" and (b >= n or a >= n):
            raise ValueError(
                f"pad: reflect padding ({b}, {a}) must be smaller than the size {n} of dim {d} "
                f"(tensor of shape {tuple(x.shape)})"
            )
        if n == 0 or (mode == "circular" and (b > n or a > n)):
            raise ValueError(
                f"pad: {mode} padding ({b}, {a}) of dim {d} of size {n} is not possible "
                f"(tensor of shape {tuple(x.shape)})"
            )
        out = IndexSelectFunction(d, _pad_index(n, b, a, mode))(out)
    return out
