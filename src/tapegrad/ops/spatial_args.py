"""Argument helpers shared by the 2-D spatial ops (convolution, pooling, resizing)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor


def _pair(v: Any, name: str, op: str) -> tuple[int, int]:
    """An int, or a pair of ints, as a pair (PyTorch's int-or-tuple arguments)."""
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return int(v), int(v)
    if isinstance(v, (tuple, list)) and len(v) == 1:
        v = (v[0], v[0])
    if (
        isinstance(v, (tuple, list))
        and len(v) == 2
        and all(isinstance(e, (int, np.integer)) and not isinstance(e, bool) for e in v)
    ):
        return int(v[0]), int(v[1])
    raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")


def _shape(t: Tensor) -> tuple[int, ...]:
    return tuple(t.shape)


def _batched(op: str, x: Tensor) -> bool:
    """True when x is (N, C, H, W); False for an unbatched (C, H, W); raises otherwise."""
    if x.ndim == 4:
        return True
    if x.ndim == 3:
        return False
    raise ValueError(
        f"{op}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape {_shape(x)}"
    )
