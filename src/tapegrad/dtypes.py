"""dtype names as in PyTorch (``tapegrad.float32`` ...), as NumPy dtypes, and the default float."""

from __future__ import annotations

from typing import Any

import numpy as np

float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int8 = np.dtype(np.int8)
int16 = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)
float = float32  # noqa: A001 - torch.float is float32
double = float64
long = int64


_default_dtype = float32


def set_default_dtype(dtype: Any) -> None:
    """Set the floating dtype used for Python floats and random factories."""
    global _default_dtype
    d = np.dtype(dtype)
    if d.kind != "f":
        raise TypeError(f"set_default_dtype needs a floating dtype, got {d}")
    _default_dtype = d


def get_default_dtype() -> np.dtype:
    """The floating dtype used for Python floats and random factories (float32)."""
    return _default_dtype
