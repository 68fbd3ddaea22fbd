"""Tensor factories: ``tensor``, ``zeros``, ``ones``, ``full``, ``arange``, ``linspace``,
``eye``, ``rand``, ``randn``, ``randint``, ``empty`` and the ``*_like`` forms.

Floating factories default to float32 (``tapegrad.get_default_dtype()``);
random ones draw from tapegrad's generator, so ``manual_seed`` fixes them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import random as _random
from .backend import xp
from .dtypes import get_default_dtype
from .tensor import Tensor, _wrap


def _size(size: tuple[Any, ...]) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    out = tuple(int(s) for s in size)
    if any(s < 0 for s in out):
        raise ValueError(f"negative dimension in size {out}")
    return out


def _make(arr: Any, requires_grad: bool) -> Tensor:
    t = _wrap(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _float(dtype: Any) -> np.dtype:
    return np.dtype(dtype) if dtype is not None else get_default_dtype()


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data``."""
    src = data._array if isinstance(data, Tensor) else data
    t = Tensor(np.array(src, copy=True) if isinstance(src, np.ndarray) else src, dtype=dtype)
    if requires_grad:
        t.requires_grad_(True)
    return t


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros of shape ``size`` (ints or one sequence), default float dtype unless ``dtype``."""
    return _make(xp.zeros(_size(size), dtype=_float(dtype)), requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones of shape ``size`` (ints or one sequence), default float dtype unless ``dtype``."""
    return _make(xp.ones(_size(size), dtype=_float(dtype)), requires_grad)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor of shape ``size`` (ints or one sequence), default float dtype."""
    return _make(xp.empty(_size(size), dtype=_float(dtype)), requires_grad)


def full(size: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of shape ``size`` filled with ``fill_value``; a bool gives bool, an int int64,
    a float the default float dtype, unless ``dtype``."""
    if dtype is None:
        if isinstance(fill_value, bool):
            dtype = np.bool_
        elif isinstance(fill_value, int):
            dtype = np.int64
        else:
            dtype = get_default_dtype()
    return _make(xp.full(_size((size,)), fill_value, dtype=dtype), requires_grad)


def arange(
    start: Any, end: Any = None, step: Any = 1, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """Values from start (inclusive) to end (exclusive). Ints give int64 unless dtype."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if ints else get_default_dtype()
    return _make(xp.arange(start, end, step, dtype=dtype), requires_grad)


def linspace(
    start: float, end: float, steps: int, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """``(steps,)`` evenly spaced values from ``start`` to ``end``, both included."""
    return _make(xp.linspace(start, end, int(steps), dtype=_float(dtype)), requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """The ``(n, m)`` identity matrix (``m`` defaults to ``n``): ones on the diagonal."""
    return _make(xp.eye(n, m, dtype=_float(dtype)), requires_grad)


def rand(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1)."""
    a = _random.default_generator().random(_size(size), dtype=np.float64)
    return _make(xp.asarray(a.astype(_float(dtype))), requires_grad)


def randn(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal."""
    a = _random.default_generator().standard_normal(_size(size))
    return _make(xp.asarray(a.astype(_float(dtype))), requires_grad)


def randint(low: int, high: int | None = None, size: Any = (), dtype: Any = None) -> Tensor:
    """Integers from low (inclusive) to high (exclusive); ``randint(high, size=...)`` too."""
    if high is None:
        low, high = 0, low
    a = _random.default_generator().integers(low, high, size=_size((size,)))
    return _wrap(xp.asarray(a.astype(dtype or np.int64)))


def randperm(n: int, dtype: Any = None) -> Tensor:
    """A random permutation of 0..n-1."""
    return _wrap(xp.asarray(_random.default_generator().permutation(n).astype(dtype or np.int64)))


def _like(x: Tensor, dtype: Any) -> tuple[tuple[int, ...], np.dtype]:
    return x.shape, np.dtype(dtype) if dtype is not None else x.dtype


def zeros_like(x: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros of ``x``'s shape and dtype (or ``dtype``)."""
    s, d = _like(x, dtype)
    return _make(xp.zeros(s, dtype=d), requires_grad)


def ones_like(x: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones of ``x``'s shape and dtype (or ``dtype``)."""
    s, d = _like(x, dtype)
    return _make(xp.ones(s, dtype=d), requires_grad)


def empty_like(x: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor of ``x``'s shape and dtype (or ``dtype``)."""
    s, d = _like(x, dtype)
    return _make(xp.empty(s, dtype=d), requires_grad)


def full_like(x: Tensor, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """``fill_value`` in ``x``'s shape and dtype (or ``dtype``)."""
    s, d = _like(x, dtype)
    return _make(xp.full(s, fill_value, dtype=d), requires_grad)


def rand_like(x: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1) in ``x``'s shape and dtype (or ``dtype``)."""
    s, d = _like(x, dtype)
    return rand(s, dtype=d, requires_grad=requires_grad)


def randn_like(x: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal in ``x``'s shape and dtype (or ``dtype``)."""
    s, d = _like(x, dtype)
    return randn(s, dtype=d, requires_grad=requires_grad)
