"""Adam's elementwise update in one pass, through the compiled loop when Numba is on.

The NumPy form of the update (:meth:`tapegrad.optim.Adam.step`) makes about a dozen
passes over each parameter-sized array; on small models those passes cost more
than the matrix products. The compiled loop (``adam_update`` in
:mod:`tapegrad.ops.numba_kernels`) walks the arrays once and does, per element,
exactly the operations of the NumPy form in the same order and precision, so both
paths give bit-identical parameters and moments (the tests check this).
Whether it runs is decided with the other compiled loops
(:mod:`tapegrad.ops.compiled`: Numba installed, ``TAPEGRAD_NUMBA`` not ``0``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ops.compiled import kernels_for


def adam_scalars(
    dtype: Any, beta1: float, beta2: float, eps: float, step_size: float,
    bias_correction2: float,
) -> tuple[Any, ...]:  # fmt: skip
    """The scalar arguments of one Adam step for :func:`fused_adam`, in ``dtype``.

    The same for every parameter of a group at one step, so computed once per group.
    """
    f = np.dtype(dtype).type
    # The NumPy form's Python-float scalars act in the array's precision (NEP 50).
    w = f(1 - beta1)
    return (
        w, f(float(w - f(1))), bool(abs(w) < 0.5), f(beta2), f(1 - beta2),
        f(bias_correction2**0.5), f(eps), f(-step_size),
    )  # fmt: skip


def fused_adam(p: Any, g: Any, m: Any, v: Any, scalars: tuple[Any, ...]) -> bool:
    """Adam's update of ``p``, ``m``, ``v`` in place from gradient ``g`` in one pass.

    All four are NumPy arrays of one shape and one floating dtype (float32 or
    float64), C-contiguous (``g`` may be the parameter's ``.grad``: it is only
    read); ``scalars`` is :func:`adam_scalars` for that dtype. Returns ``False``
    without touching anything when the compiled loop cannot be used (Numba off,
    another array type, layout or dtype); the caller then runs the NumPy form.
    """
    k = kernels_for(p)
    if k is None:
        return False
    dt = p.dtype
    for a in (p, g, m, v):
        if type(a) is not np.ndarray or a.dtype != dt or not a.flags.c_contiguous:
            return False
    if type(scalars[0]) is not dt.type:
        return False
    k.adam_update(p.ravel(), g.ravel(), m.ravel(), v.ravel(), *scalars)
    return True
