"""Graph recording and the backward pass.

- :class:`Function`: base class of every op (and of user-defined ops).
- :func:`backward`, :func:`grad`: run a backward pass.
- :class:`no_grad`, :class:`enable_grad`, :class:`set_grad_enabled`: recording modes.
- :func:`gradcheck`, :func:`gradgradcheck`: finite-difference checks.
- :class:`detect_anomaly`: name the op that produced a NaN/Inf.
"""

from .anomaly import detect_anomaly
from .function import Function
from .functional import backward, grad
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = [
    "Function",
    "GradcheckError",
    "backward",
    "detect_anomaly",
    "enable_grad",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "is_grad_enabled",
    "no_grad",
    "inference_mode",
    "set_grad_enabled",
]
