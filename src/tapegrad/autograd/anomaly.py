"""Anomaly detection: name the op that made a NaN or Inf.

Inside ``detect_anomaly()`` every op checks its forward outputs, and every
backward checks the gradients it returns; the first NaN or Inf raises an error
naming the op, the direction, and (for backward) where in the user's code the
op was called.
"""

from __future__ import annotations

from typing import Any

from .grad_mode import state


class detect_anomaly:
    """Context manager: raise at the first op whose output or gradient is NaN/Inf.

    Slows every op down (a finiteness check per array and a stack trace per
    node), so use it to debug, not to train.
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.mode = check_nan

    def __enter__(self) -> None:
        self.prev = state.anomaly
        state.anomaly = self.mode

    def __exit__(self, *exc: object) -> None:
        state.anomaly = self.prev


def _bad(a: Any) -> str | None:
    import numpy as np

    if getattr(a, "dtype", None) is None or a.dtype.kind != "f":
        return None
    if np.isnan(a).any():
        return "NaN"
    if np.isinf(a).any():
        return "Inf"
    return None


def check_forward(fn: Any, ys: tuple[Any, ...]) -> None:
    """Raise ``FloatingPointError`` naming ``fn`` and the output if an output is not finite."""
    for i, y in enumerate(ys):
        kind = _bad(y)
        if kind:
            raise FloatingPointError(
                f"anomaly: {fn.name} produced {kind} in its forward output {i} "
                f"(shape {tuple(y.shape)})"
            )


def check_backward(fn: Any, gxs: tuple[Any, ...]) -> None:
    """Raise ``FloatingPointError`` naming ``fn`` and the input if a gradient is not finite."""
    for i, g in enumerate(gxs):
        if g is None:
            continue
        kind = _bad(g._array)
        if kind:
            where = "".join(fn._trace[-4:]) if fn._trace else "  (no trace recorded)\n"
            raise FloatingPointError(
                f"anomaly: {fn.name}Backward returned {kind} in the gradient of input {i} "
                f"(shape {tuple(g.shape)}). The op was called here:\n{where}"
            )
