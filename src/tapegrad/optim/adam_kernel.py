"""Adam's elementwise update in one pass, compiled with Numba when it is installed.

The NumPy form of the update (:meth:`tapegrad.optim.Adam.step`) makes about a dozen
passes over each parameter-sized array; on small models those passes cost more
than the matrix products. The kernel here walks the arrays once and does, per
element, exactly the operations of the NumPy form in the same order and the same
precision, so both paths give bit-identical parameters and moments (the tests
check this). No ``fastmath``: LLVM may not reorder or fuse the arithmetic.

Numba is optional (``pip install tapegrad[fast]``). Without it, or with the
environment variable ``TAPEGRAD_NUMBA=0``, :func:`fused_adam` returns ``False``
and the caller runs the NumPy form.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

_kernel: Any = None  # the compiled kernel, None until first use, False if unavailable


def numba_enabled() -> bool:
    """Whether compiled kernels may be used: Numba importable and not switched off
    with ``TAPEGRAD_NUMBA=0``."""
    if os.environ.get("TAPEGRAD_NUMBA", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def _adam_update(p, g, m, v, w, wm1, small, b2, omb2, rbc2, eps, neg_step):  # noqa: ANN001
    """One Adam step over flat arrays, in place. The scalars have the arrays' dtype.

    Per element, the operations of the NumPy form in its order:
    ``m += w * (g - m)`` (or ``m = g + (w - 1) * (g - m)`` for ``w >= 0.5``, as
    PyTorch's lerp), ``v = v * b2 + (g * g) * (1 - b2)``,
    ``p += (m * -step) / (sqrt(v) / sqrt(bc2) + eps)``.
    """
    for i in range(p.shape[0]):
        gi = g[i]
        d = gi - m[i]
        if small:
            mi = m[i] + d * w
        else:
            mi = gi + d * wm1
        vi = v[i] * b2 + (gi * gi) * omb2
        den = np.sqrt(vi) / rbc2 + eps
        p[i] = p[i] + (mi * neg_step) / den
        m[i] = mi
        v[i] = vi


def _compiled() -> Any:
    global _kernel
    if _kernel is None:
        if not numba_enabled():
            _kernel = False
        else:
            import numba

            # error_model="numpy": x / 0 gives inf as in NumPy, and the loop vectorizes
            # (the Python model tests every divisor and raises).
            _kernel = numba.njit(cache=True, nogil=True, error_model="numpy")(_adam_update)
    return _kernel


def fused_adam(
    p: Any, g: Any, m: Any, v: Any, *, beta1: float, beta2: float, eps: float,
    step_size: float, bias_correction2: float,
) -> bool:  # fmt: skip
    """Adam's update of ``p``, ``m``, ``v`` in place from gradient ``g`` in one pass.

    All four are NumPy arrays of one shape and one floating dtype, C-contiguous
    (``g`` may be the parameter's ``.grad``: it is only read). Returns ``False``
    without touching anything when the compiled kernel cannot be used (no Numba,
    ``TAPEGRAD_NUMBA=0``, another array type, layout or dtype); the caller then
    runs the NumPy form.
    """
    kernel = _compiled()
    if kernel is False:
        return False
    dt = p.dtype
    if dt not in (np.float32, np.float64):
        return False
    for a in (p, g, m, v):
        if type(a) is not np.ndarray or a.dtype != dt or not a.flags.c_contiguous:
            return False
    f = dt.type
    # The NumPy form's Python-float scalars act in the array's precision (NEP 50).
    w = f(1 - beta1)
    kernel(
        p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1),
        w, f(float(w - f(1))), bool(abs(w) < 0.5), f(beta2), f(1 - beta2),
        f(bias_correction2**0.5), f(eps), f(-step_size),
    )  # fmt: skip
    return True
