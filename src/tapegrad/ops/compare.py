"""Comparisons and logic, elementwise: boolean results that carry no gradient.

Operands broadcast like NumPy; a Python number is first converted to PyTorch's
result dtype (:mod:`.promotion`), so ``uint8_tensor == 300`` compares as PyTorch does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import xp
from ..tensor import Tensor, _wrap
from .promotion import is_number, result_type

__all__ = [
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "logical_and",
    "logical_or",
    "logical_not",
    "isnan",
    "isfinite",
]


def _cmp(ufunc: Any, op: str, a: Any, b: Any) -> Tensor:
    if (isinstance(a, Tensor) or is_number(a)) and (isinstance(b, Tensor) or is_number(b)):
        dt = result_type(a, b)
        ad = a._array if isinstance(a, Tensor) else np.asarray(a).astype(dt)
        bd = b._array if isinstance(b, Tensor) else np.asarray(b).astype(dt)
    else:
        ad = a._array if isinstance(a, Tensor) else a
        bd = b._array if isinstance(b, Tensor) else b
    try:
        return _wrap(xp.asarray(ufunc(ad, bd)))
    except ValueError:
        raise ValueError(
            f"{op}: shapes {np.shape(ad)} and {np.shape(bd)} cannot be broadcast together"
        ) from None


def eq(a: Any, b: Any) -> Tensor:
    """a == b elementwise, as ``torch.eq``: a bool tensor of the broadcast shape."""
    return _cmp(np.equal, "eq", a, b)


def ne(a: Any, b: Any) -> Tensor:
    """a != b elementwise, as ``torch.ne``: a bool tensor of the broadcast shape."""
    return _cmp(np.not_equal, "ne", a, b)


def lt(a: Any, b: Any) -> Tensor:
    """a < b elementwise, as ``torch.lt``: a bool tensor of the broadcast shape."""
    return _cmp(np.less, "lt", a, b)


def le(a: Any, b: Any) -> Tensor:
    """a <= b elementwise, as ``torch.le``: a bool tensor of the broadcast shape."""
    return _cmp(np.less_equal, "le", a, b)


def gt(a: Any, b: Any) -> Tensor:
    """a > b elementwise, as ``torch.gt``: a bool tensor of the broadcast shape."""
    return _cmp(np.greater, "gt", a, b)


def ge(a: Any, b: Any) -> Tensor:
    """a >= b elementwise, as ``torch.ge``: a bool tensor of the broadcast shape."""
    return _cmp(np.greater_equal, "ge", a, b)


def logical_and(a: Any, b: Any) -> Tensor:
    """a and b (nonzero is true), as ``torch.logical_and``: bool, broadcast shape."""
    return _cmp(np.logical_and, "logical_and", a, b)


def logical_or(a: Any, b: Any) -> Tensor:
    """a or b (nonzero is true), as ``torch.logical_or``: bool, broadcast shape."""
    return _cmp(np.logical_or, "logical_or", a, b)


def logical_not(a: Tensor) -> Tensor:
    """not a (nonzero is true), as ``torch.logical_not``: bool, same shape."""
    return _wrap(xp.logical_not(a._array))


def isnan(a: Tensor) -> Tensor:
    """True where a is NaN, as ``torch.isnan``: bool, same shape."""
    return _wrap(xp.isnan(a._array))


def isfinite(a: Tensor) -> Tensor:
    """True where a is neither infinite nor NaN, as ``torch.isfinite``: bool, same shape."""
    return _wrap(xp.isfinite(a._array))
