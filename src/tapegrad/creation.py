"""Tensor factories: ``tensor``, ``from_numpy``, ``zeros``, ``ones``, ``full``, ``arange``,
``linspace``, ``eye``, ``rand``, ``randn``, ``randint``, ``randperm``, ``empty`` and the
``*_like`` forms, with PyTorch's keywords.

Every factory takes ``dtype=``, ``device=`` and ``requires_grad=``; the random
ones also take ``generator=`` (a :class:`tapegrad.Generator`, or a NumPy
Generator). ``device`` must be one tensors can live on (see
:mod:`tapegrad.devices`): anything else raises. Floating factories default to
float32 (``tapegrad.get_default_dtype()``); random ones draw from tapegrad's
global generator unless given one, so ``manual_seed`` fixes them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import random as _random
from .backend import xp
from .devices import check_device
from .dtypes import get_default_dtype
from .tensor import Tensor, _wrap

__all__ = [
    "tensor",
    "from_numpy",
    "zeros",
    "ones",
    "empty",
    "full",
    "arange",
    "linspace",
    "eye",
    "rand",
    "randn",
    "randint",
    "randperm",
    "zeros_like",
    "ones_like",
    "empty_like",
    "full_like",
    "rand_like",
    "randn_like",
    "randint_like",
]


def _size(size: tuple[Any, ...]) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    out = tuple(int(s) for s in size)
    if any(s < 0 for s in out):
        raise ValueError(f"negative dimension in size {out}")
    return out


def _make(arr: Any, requires_grad: bool, device: Any = None, who: str = "tensor") -> Tensor:
    if device is not None:
        check_device(device, who)
    t = _wrap(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _float(dtype: Any) -> np.dtype:
    return np.dtype(dtype) if dtype is not None else get_default_dtype()


def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data``."""
    src = data._array if isinstance(data, Tensor) else data
    t = Tensor(np.array(src, copy=True) if isinstance(src, np.ndarray) else src, dtype=dtype)
    return _make(t._array, requires_grad, device, "tensor")


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing ``array``'s memory (and keeping its dtype): writes show in both."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    if array.dtype.kind not in "fiub":
        raise TypeError(f"from_numpy: unsupported dtype {array.dtype}")
    if xp is not np:  # pragma: no cover - CuPy: device memory cannot alias host memory
        raise RuntimeError("from_numpy: tensors live on cuda:0 under CuPy; use tapegrad.tensor")
    return _wrap(array)


def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros of shape ``size``, as ``torch.zeros`` (the default float dtype)."""
    return _make(xp.zeros(_size(size), dtype=_float(dtype)), requires_grad, device, "zeros")


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones of shape ``size``, as ``torch.ones`` (the default float dtype)."""
    return _make(xp.ones(_size(size), dtype=_float(dtype)), requires_grad, device, "ones")


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor of shape ``size``, as ``torch.empty``."""
    return _make(xp.empty(_size(size), dtype=_float(dtype)), requires_grad, device, "empty")


def _fill_dtype(fill_value: Any) -> Any:
    if isinstance(fill_value, (bool, np.bool_)):
        return np.bool_
    if isinstance(fill_value, (int, np.integer)):
        return np.int64
    return get_default_dtype()


def full(
    size: Any, fill_value: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value`` (int64 for an int, bool for a bool)."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    d = dtype if dtype is not None else _fill_dtype(fill_value)
    return _make(xp.full(_size((size,)), fill_value, dtype=d), requires_grad, device, "full")


def arange(
    start: Any,
    end: Any = None,
    step: Any = 1,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Values from start (inclusive) to end (exclusive). Ints give int64 unless dtype."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if ints else get_default_dtype()
    return _make(xp.arange(start, end, step, dtype=dtype), requires_grad, device, "arange")


def linspace(
    start: float,
    end: float,
    steps: int,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive, as ``torch.linspace``."""
    a = xp.linspace(start, end, int(steps), dtype=_float(dtype))
    return _make(a, requires_grad, device, "linspace")


def eye(
    n: int,
    m: int | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """The (n, m) identity matrix (m defaults to n), as ``torch.eye``."""
    return _make(xp.eye(n, m, dtype=_float(dtype)), requires_grad, device, "eye")


def _gen(generator: Any, who: str) -> np.random.Generator:
    return _random.numpy_generator(generator, who)


def rand(
    *size: Any,
    generator: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Uniform on [0, 1)."""
    a = _gen(generator, "rand").random(_size(size), dtype=np.float64)
    return _make(xp.asarray(a.astype(_float(dtype))), requires_grad, device, "rand")


def randn(
    *size: Any,
    generator: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Standard normal."""
    a = _gen(generator, "randn").standard_normal(_size(size))
    return _make(xp.asarray(a.astype(_float(dtype))), requires_grad, device, "randn")


def randint(
    low: int,
    high: int | None = None,
    size: Any = (),
    *,
    generator: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Integers from low (inclusive) to high (exclusive); ``randint(high, size=...)`` too."""
    if high is None:
        low, high = 0, low
    a = _gen(generator, "randint").integers(low, high, size=_size((size,)))
    return _make(xp.asarray(a.astype(dtype or np.int64)), requires_grad, device, "randint")


def randperm(
    n: int,
    *,
    generator: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """A random permutation of 0..n-1."""
    a = _gen(generator, "randperm").permutation(n).astype(dtype or np.int64)
    return _make(xp.asarray(a), requires_grad, device, "randperm")


def _like(x: Tensor, dtype: Any) -> tuple[tuple[int, ...], np.dtype]:
    return x.shape, np.dtype(dtype) if dtype is not None else x.dtype


def zeros_like(
    x: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """Zeros of x's shape and dtype (or ``dtype``), as ``torch.zeros_like``."""
    s, d = _like(x, dtype)
    return _make(xp.zeros(s, dtype=d), requires_grad, device, "zeros_like")


def ones_like(
    x: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """Ones of x's shape and dtype (or ``dtype``), as ``torch.ones_like``."""
    s, d = _like(x, dtype)
    return _make(xp.ones(s, dtype=d), requires_grad, device, "ones_like")


def empty_like(
    x: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """An uninitialised tensor of x's shape and dtype, as ``torch.empty_like``."""
    s, d = _like(x, dtype)
    return _make(xp.empty(s, dtype=d), requires_grad, device, "empty_like")


def full_like(
    x: Tensor, fill_value: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """``fill_value`` in x's shape and dtype, as ``torch.full_like``."""
    s, d = _like(x, dtype)
    return _make(xp.full(s, fill_value, dtype=d), requires_grad, device, "full_like")


def rand_like(
    x: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """Uniform [0, 1) samples in x's shape and dtype, as ``torch.rand_like``."""
    s, d = _like(x, dtype)
    return rand(s, dtype=d, device=device, requires_grad=requires_grad)


def randn_like(
    x: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """Standard normal samples in x's shape and dtype, as ``torch.randn_like``."""
    s, d = _like(x, dtype)
    return randn(s, dtype=d, device=device, requires_grad=requires_grad)


def randint_like(
    x: Tensor,
    low: int,
    high: int | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Integers in [low, high) in x's shape, as ``torch.randint_like`` (one bound: [0, low))."""
    s, d = _like(x, dtype)
    return randint(low, high, s, dtype=d, device=device, requires_grad=requires_grad)
