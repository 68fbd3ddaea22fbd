"""More unary math: ``reciprocal``, ``expm1``, ``log2``, ``tan``, ``atan``, ``erf``.

Each op's forward and backward side by side; the backward passes are written
in tapegrad ops, so every op here is twice differentiable.
"""

from __future__ import annotations

import math
from typing import Any

from ..autograd.function import Function
from ..backend import xp
from ..dtypes import get_default_dtype
from ..tensor import Tensor, as_tensor
from . import special
from .elementwise import cast, exp, mul

__all__ = ["reciprocal", "expm1", "log2", "tan", "atan", "erf"]


def _float(x: Tensor, op: str) -> Tensor:
    x = as_tensor(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: needs a floating-point tensor, got {x.dtype}")
    return x


class ReciprocalFunction(Function):
    keep_outputs = True

    def forward(self, x: Any) -> Any:
        """y = 1 / x on the array."""
        return 1.0 / x

    def backward(self, gy: Any) -> Any:
        """dL/dx = -gy * y^2."""
        y = self.output()
        return -gy * y * y


class Expm1Function(Function):
    keep_inputs = True

    def forward(self, x: Any) -> Any:
        """y = exp(x) - 1 on the array, accurate for small x."""
        return xp.expm1(x)

    def backward(self, gy: Any) -> Any:
        """dL/dx = gy * exp(x)."""
        assert self.inputs is not None
        return gy * exp(self.inputs[0])


class Log2Function(Function):
    keep_inputs = True

    def forward(self, x: Any) -> Any:
        """y = log2(x) on the array."""
        return xp.log2(x)

    def backward(self, gy: Any) -> Any:
        """dL/dx = gy / (x ln 2)."""
        assert self.inputs is not None
        return gy / (self.inputs[0] * math.log(2.0))


class TanFunction(Function):
    keep_outputs = True

    def forward(self, x: Any) -> Any:
        """y = tan(x) on the array."""
        return xp.tan(x)

    def backward(self, gy: Any) -> Any:
        """dL/dx = gy * (1 + y^2)."""
        y = self.output()
        return gy * (1.0 + y * y)


class AtanFunction(Function):
    keep_inputs = True

    def forward(self, x: Any) -> Any:
        """y = atan(x) on the array."""
        return xp.arctan(x)

    def backward(self, gy: Any) -> Any:
        """dL/dx = gy / (1 + x^2)."""
        assert self.inputs is not None
        x = self.inputs[0]
        return gy / (1.0 + x * x)


class ErfFunction(Function):
    keep_inputs = True

    def forward(self, x: Any) -> Any:
        """y = erf(x) on the array, in x's dtype."""
        return special.erf(x).astype(x.dtype, copy=False)

    def backward(self, gy: Any) -> Any:
        """dL/dx = gy * 2 / sqrt(pi) * exp(-x^2)."""
        assert self.inputs is not None
        x = self.inputs[0]
        return gy * (2.0 / math.sqrt(math.pi)) * exp(-mul(x, x))


def reciprocal(x: Tensor) -> Tensor:
    """1 / x, elementwise; integer tensors give the default float dtype, like PyTorch."""
    x = as_tensor(x)
    if x.dtype.kind != "f":
        x = cast(x, get_default_dtype())
    return ReciprocalFunction()(x)


def expm1(x: Tensor) -> Tensor:
    """exp(x) - 1, accurate near 0."""
    return Expm1Function()(_float(x, "expm1"))


def log2(x: Tensor) -> Tensor:
    """Base-2 logarithm."""
    return Log2Function()(_float(x, "log2"))


def tan(x: Tensor) -> Tensor:
    """Elementwise tangent of a floating tensor, as ``torch.tan``; same shape."""
    return TanFunction()(_float(x, "tan"))


def atan(x: Tensor) -> Tensor:
    """Arctangent, in (-pi/2, pi/2)."""
    return AtanFunction()(_float(x, "atan"))


def erf(x: Tensor) -> Tensor:
    """The error function, 2/sqrt(pi) * integral of exp(-t^2) from 0 to x."""
    return ErfFunction()(_float(x, "erf"))
