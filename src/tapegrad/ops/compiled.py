"""Whether the few compiled data-movement loops (numba_kernels.py) run, and loading them.

With Numba installed, the channels-last convolutions' im2col and col2im, the
tiled max pool and the float64 channel sums of channels-last batches run as
compiled loops; without it, or with
``TAPEGRAD_NUMBA=0`` in the environment (read when tapegrad is imported), the
NumPy code runs, with bit-identical results except where numba_kernels.py
says. Numba itself is imported at the first call that uses it: importing it
takes about 0.3 s, which ``import tapegrad`` does not pay.
"""

from __future__ import annotations

import os
import warnings
from importlib.util import find_spec
from typing import Any

import numpy

from ..backend import xp

__all__ = ["numba_status", "kernels_for"]


def _numba_choice() -> tuple[bool, str]:
    """(whether the Numba kernels are used, why) from TAPEGRAD_NUMBA, the backend and numba."""
    # A bad switch warns rather than raises: it changes only the speed, never a result,
    # and an error raised while tapegrad is imported would reach a CLI user as a traceback.
    flag = os.environ.get("TAPEGRAD_NUMBA", "")
    if flag not in ("", "0", "1"):
        warnings.warn(
            f"TAPEGRAD_NUMBA must be '0' or '1' (or unset), got {flag!r}; it is ignored",
            RuntimeWarning,
            stacklevel=2,
        )
        flag = ""
    if flag == "0":
        return False, "off (TAPEGRAD_NUMBA=0)"
    if xp is not numpy:
        return False, "off (the array backend is not NumPy)"
    if find_spec("numba") is None:
        if flag == "1":
            warnings.warn(
                "TAPEGRAD_NUMBA=1 but numba is not installed (pip install numba); "
                "the NumPy code runs",
                RuntimeWarning,
                stacklevel=2,
            )
        return False, "off (numba is not installed)"
    return True, "on"


_numba_on, _numba_why = _numba_choice()


def numba_status() -> str:
    """``"on"`` when the compiled Numba loops are used, else ``"off (why)"``."""
    return _numba_why


def kernels_for(a: Any) -> Any:
    """The numba_kernels module when its loops apply to array ``a`` (float32/64), else None.

    A numba that is installed but fails to import (one built for another NumPy,
    say) turns the Numba path off with one warning; the NumPy code then runs.
    """
    global _numba_on, _numba_why
    if not _numba_on or a.dtype.char not in "fd":
        return None
    try:
        from . import numba_kernels
    except ImportError as e:
        _numba_on, _numba_why = False, f"off (numba failed to import: {e})"
        warnings.warn(
            f"tapegrad: numba failed to import ({e}); the NumPy code runs instead",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    return numba_kernels
