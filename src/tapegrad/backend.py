"""The array module every op goes through.

tapegrad computes on NumPy arrays. All array creation in op code goes through
``xp`` from this module, and all other calls are NumPy functions or ufuncs that
CuPy also implements (NumPy dispatches them to CuPy arrays through
``__array_ufunc__``/``__array_function__``), so a CuPy backend needs no change to
op code. Choose the backend before importing tapegrad with the environment
variable ``TAPEGRAD_BACKEND`` (``numpy``, the default, or ``cupy``).
"""

from __future__ import annotations

import os
from typing import Any

import numpy

_name = os.environ.get("TAPEGRAD_BACKEND", "numpy").lower()
if _name == "numpy":
    xp: Any = numpy
elif _name == "cupy":  # pragma: no cover - needs a GPU
    import cupy

    xp = cupy
else:
    raise ValueError(f"TAPEGRAD_BACKEND must be 'numpy' or 'cupy', got {_name!r}")

name: str = _name


def to_numpy(a: Any) -> numpy.ndarray:
    """Return ``a`` as a NumPy array (copies from the device under CuPy)."""
    if isinstance(a, numpy.ndarray):
        return a
    if hasattr(a, "get"):  # pragma: no cover - CuPy
        return a.get()
    return numpy.asarray(a)


def is_array(a: Any) -> bool:
    """True for an array of the active backend."""
    return isinstance(a, xp.ndarray)
