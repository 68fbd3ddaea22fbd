"""PyTorch's type promotion, in one place: the dtype of ``a (op) b``.

Dtypes fall into categories, bool < integer < floating. Operands are of three
kinds, by priority: tensors with dimensions, 0-d tensors, and Python numbers.
A kind of lower priority changes the result only when its category is higher:
``float32 tensor * tensor(1.0, float64)`` stays float32, ``int8 tensor + 1000``
stays int8 (wrapping, as in PyTorch), ``int32 tensor * 2.5`` is float32.
Python floats count as the default float dtype, Python ints as int64, Python
bools as bool. Across categories the higher one wins outright (``int64`` with
``float32`` gives float32, where NumPy gives float64); within one category
NumPy's promotion agrees with PyTorch's (``uint8`` with ``int8`` gives int16).

Functions that only make sense on floats (true division, ``exp``, ``sqrt``,
``sigmoid``...) give the default float dtype for bool and integer inputs
(:func:`float_dtype`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..dtypes import get_default_dtype
from ..tensor import Tensor

__all__ = ["category", "promote_types", "result_type", "float_dtype", "is_number"]

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def category(dtype: Any) -> int:
    """0 for bool, 1 for integers, 2 for floats, 3 for complex."""
    return _CATEGORY[np.dtype(dtype).kind]


def promote_types(a: Any, b: Any) -> np.dtype:
    """The smallest dtype both ``a`` and ``b`` fit in, by PyTorch's table."""
    a, b = np.dtype(a), np.dtype(b)
    ca, cb = category(a), category(b)
    if ca == cb:
        return np.promote_types(a, b)
    return a if ca > cb else b


def is_number(x: Any) -> bool:
    """A Python (or NumPy scalar) bool, int or float: a "wrapped number" to PyTorch."""
    return isinstance(x, (bool, int, float, np.bool_, np.integer, np.floating))


def _number_dtype(x: Any) -> np.dtype:
    if isinstance(x, (bool, np.bool_)):
        return np.dtype(bool)
    if isinstance(x, (int, np.integer)):
        return np.dtype(np.int64)
    return np.dtype(get_default_dtype())


def _combine(higher: np.dtype | None, lower: np.dtype | None) -> np.dtype | None:
    """PyTorch's combine_categories: ``lower`` matters only from a higher category."""
    if higher is None:
        return lower
    if lower is None:
        return higher
    if category(higher) >= 2:
        return higher
    if higher.kind == "b" or category(lower) >= 2:
        return promote_types(higher, lower)
    return higher


def result_type(*operands: Any) -> np.dtype:
    """The dtype PyTorch gives an elementwise op on ``operands``.

    Operands are Tensors (with dimensions or 0-d) or Python numbers; anything
    else counts as a tensor of the dtype NumPy gives it.
    """
    dims = zero = number = None
    for x in operands:
        if isinstance(x, Tensor):
            dt = x._array.dtype
            if x._array.ndim:
                dims = dt if dims is None else promote_types(dims, dt)
            else:
                zero = dt if zero is None else promote_types(zero, dt)
        elif is_number(x):
            dt = _number_dtype(x)
            number = dt if number is None else promote_types(number, dt)
        else:
            dt = Tensor(x)._array.dtype
            dims = dt if dims is None else promote_types(dims, dt)
    out = _combine(dims, _combine(zero, number))
    if out is None:
        raise TypeError("result_type: no operands")
    return out


def float_dtype(dtype: Any) -> np.dtype:
    """``dtype`` itself if floating, else the default float dtype."""
    d = np.dtype(dtype)
    return d if d.kind in "fc" else np.dtype(get_default_dtype())
