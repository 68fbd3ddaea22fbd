"""Sorting: ``sort``, ``argsort`` and ``topk``.

Values are gathered from the input at the sorted positions, so their gradient
(of every order) is the gather's: each input element receives the gradient of
the place it was sorted to. Indices are int64 and carry no gradient. Sorts are
stable, so ties keep their input order (PyTorch's ``stable=True``).
"""

from __future__ import annotations

from typing import Any

from ..backend import xp
from ..tensor import ReturnTypes, Tensor, _wrap, as_tensor
from ._args import axis
from .indexing import gather

__all__ = ["sort", "argsort", "topk"]


def _order(x: Tensor, d: int, descending: bool) -> Any:
    a = x._array
    if descending:
        # a stable descending order: reverse, sort ascending stably, reverse back,
        # which keeps equal elements in their input order
        n = a.shape[d]
        rev = xp.flip(a, axis=d)
        idx = xp.argsort(rev, axis=d, kind="stable")
        return (n - 1 - xp.flip(idx, axis=d)).astype(xp.int64)
    return xp.argsort(a, axis=d, kind="stable").astype(xp.int64)


def _take(x: Tensor, d: int, idx: Any) -> ReturnTypes:
    return ReturnTypes(gather(x, d, _wrap(idx)), _wrap(idx))


def sort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> ReturnTypes:
    """``(values, indices)`` of x sorted along ``dim``; NaN sorts as the largest value."""
    x = as_tensor(x)
    if x.ndim == 0:
        return ReturnTypes(x, _wrap(xp.zeros((), dtype=xp.int64)))
    d = axis(dim, x.ndim, "sort")
    return _take(x, d, _order(x, d, descending))


def argsort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The int64 indices that sort x along ``dim``."""
    return sort(x, dim, descending, stable).indices


def topk(
    x: Tensor,
    k: int,
    dim: int = -1,
    largest: bool = True,
    sorted: bool = True,  # noqa: A002
) -> ReturnTypes:
    """``(values, indices)`` of the k largest (or smallest) elements along ``dim``.

    Returned in sorted order (largest first when ``largest``).
    """
    x = as_tensor(x)
    d = axis(dim, x.ndim, "topk")
    n = x.shape[d] if x.ndim else 1
    if not 0 <= k <= n:
        raise ValueError(f"topk: k={k} is out of range for dim {dim} of size {n}")
    if x.ndim == 0:
        return sort(x)
    idx = _order(x, d, largest)
    sl = [slice(None)] * x.ndim
    sl[d] = slice(0, k)
    return _take(x, d, idx[tuple(sl)])
