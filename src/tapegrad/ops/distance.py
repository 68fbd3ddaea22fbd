"""Vector similarity along a dim: ``normalize``, ``cosine_similarity``; and ``one_hot``.

Written in differentiable tapegrad ops (norms, clamps, products), so gradients
of every order follow.
"""

from __future__ import annotations

from typing import Any

from ..backend import xp
from ..tensor import Tensor, _wrap, as_tensor
from .elementwise import clamp
from .reduce import norm
from .reduce import sum as _sum

__all__ = ["normalize", "cosine_similarity", "one_hot"]


def normalize(
    input: Any,  # noqa: A002 - PyTorch's name
    p: float = 2.0,
    dim: int = 1,
    eps: float = 1e-12,
) -> Tensor:
    """x / max(||x||_p, eps) along ``dim``; same shape as x."""
    x = as_tensor(input)
    return x / clamp(norm(x, p, dim, keepdim=True), eps, None)


def cosine_similarity(x1: Any, x2: Any, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """The cosine of the angle between x1 and x2 along ``dim`` (they broadcast).

    Each vector is divided by its norm clamped below at ``eps`` before the dot
    product, as PyTorch computes it. Returns the broadcast shape without ``dim``.
    """
    a, b = as_tensor(x1), as_tensor(x2)
    na = clamp(norm(a, 2, dim, keepdim=True), eps, None)
    nb = clamp(norm(b, 2, dim, keepdim=True), eps, None)
    return _sum((a / na) * (b / nb), dim)


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """Class indices (int64, any shape) -> int64 (*shape, num_classes) with a 1 at each index.

    ``num_classes=-1`` takes the largest index + 1.
    """
    t = as_tensor(tensor)
    if t.dtype.kind not in "iu":
        raise TypeError(f"one_hot: class values must be an integer tensor, got {t.dtype}")
    a = t._array
    if a.size and a.min() < 0:
        raise ValueError(f"one_hot: class values must be non-negative, got {int(a.min())}")
    n = (int(a.max()) + 1 if a.size else 0) if num_classes == -1 else int(num_classes)
    if a.size and a.max() >= n:
        raise ValueError(f"one_hot: class value {int(a.max())} is out of range for {n} classes")
    out = xp.zeros(a.shape + (n,), dtype=xp.int64)
    xp.put_along_axis(out, a[..., None].astype(xp.int64), 1, axis=-1)
    return _wrap(out)
