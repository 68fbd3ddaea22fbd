"""Helpers the op modules share: shapes, dims, reduced shapes, in-place-safe arrays.

Each turns a PyTorch-style argument into the form NumPy wants and raises an
error naming the op when the argument does not fit the tensor.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import xp

__all__ = ["shape_arg", "axis", "norm_dims", "reduced_shape", "as_array"]


def shape_arg(shape: tuple[Any, ...]) -> tuple[int, ...]:
    """Accept ``f(2, 3)`` and ``f((2, 3))`` alike; returns the shape as ints."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def axis(dim: int, ndim: int, op: str) -> int:
    """``dim`` as a non-negative axis; a 0-d tensor accepts 0 and -1, like PyTorch."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor of {ndim} dims")
    return dim % n


def norm_dims(
    dim: Any, ndim: int, op: str, shape: tuple[int, ...] | None = None
) -> tuple[int, ...] | None:
    """Sorted non-negative axes; None means all, an empty tuple none (as in NumPy).

    ``shape``, when given, is named in the error instead of the number of dims.
    """
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    if not dims:
        return ()
    n = max(ndim, 1)
    out = set()
    for d in dims:
        if not -n <= d < n:
            what = f"shape {tuple(shape)}" if shape is not None else f"{ndim} dims"
            raise IndexError(f"{op}: dim {d} is out of range for a tensor of {what}")
        out.add(int(d) % n)
    if ndim == 0:
        return None
    return tuple(sorted(out))


def reduced_shape(shape: tuple[int, ...], dims: tuple[int, ...] | None) -> tuple[int, ...]:
    """``shape`` with the reduced ``dims`` removed (all of them for None)."""
    if dims is None:
        return ()
    return tuple(s for i, s in enumerate(shape) if i not in dims)


def as_array(a: Any) -> Any:
    """``a`` as an array: NumPy arithmetic on 0-d arrays returns scalars, which
    cannot be written in place."""
    return a if type(a) is xp.ndarray else xp.asarray(a)
