"""Activation modules: thin Modules over the functions of :mod:`tapegrad.ops.activation`.

``inplace=True`` (ReLU, LeakyReLU, ELU, SELU, Hardtanh, ReLU6) overwrites the
input and returns it, with PyTorch's autograd rules for in-place ops; other
modules accept the argument for PyTorch compatibility and compute out of place.
"""

from __future__ import annotations

import warnings
from typing import Any

from ..backend import xp
from ..dtypes import get_default_dtype
from ..ops import activation as _act
from ..ops import elementwise as _ew
from ..ops import softmax as _sm
from ..tensor import Tensor
from .module import Module
from .parameter import Parameter

__all__ = [
    "ReLU",
    "LeakyReLU",
    "ELU",
    "SELU",
    "GELU",
    "Sigmoid",
    "Tanh",
    "Softplus",
    "SiLU",
    "Hardtanh",
    "ReLU6",
    "PReLU",
    "Softmax",
    "LogSoftmax",
]


def _inplace_repr(inplace: bool) -> str:
    return "inplace=True" if inplace else ""


class ReLU(Module):
    """``max(x, 0)``, elementwise."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        """Elementwise: ``x`` of any shape -> a tensor of the same shape."""
        return _act.relu(x, self.inplace)

    def extra_repr(self) -> str:
        """Its setting for the repr: ``inplace=True`` when set."""
        return _inplace_repr(self.inplace)


class LeakyReLU(Module):
    """``x if x > 0 else negative_slope * x``, elementwise."""

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        """Elementwise: ``x`` of any shape -> a tensor of the same shape."""
        return _act.leaky_relu(x, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        """Its settings for the repr: ``negative_slope`` (and ``inplace``)."""
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    """``x if x > 0 else alpha * (exp(x) - 1)``, elementwise."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        """Elementwise: ``x`` of any shape -> a tensor of the same shape."""
        return _act.elu(x, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        """Its settings for the repr: ``alpha`` (and ``inplace``)."""
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class SELU(Module):
    """``scale * elu(x, alpha)`` with the self-normalising constants, elementwise."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        """Elementwise: ``x`` of any shape -> a tensor of the same shape."""
        return _act.selu(x, self.inplace)

    def extra_repr(self) -> str:
        """Its setting for the repr: ``inplace=True`` when set."""
        return _inplace_repr(self.inplace)


class GELU(Module):
    """``x * Phi(x)``; ``approximate='tanh'`` uses the tanh approximation."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        """Elementwise: ``x`` of any shape -> a tensor of the same shape."""
        return _act.gelu(x, approximate=self.approximate)

    def extra_repr(self) -> str:
        """Its setting for the repr: ``approximate``."""
        return f"approximate={self.approximate!r}"


class Sigmoid(Module):
    """``1 / (1 + exp(-x))``, elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        """Elementwise: ``x`` of any shape -> a tensor of the same shape."""
        return _act.sigmoid(x)


class Tanh(Module):
    """``tanh(x)``, elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        """Elementwise: ``x`` of any shape -> a tensor of the same shape."""
        return _act.tanh(x)


class Softplus(Module):
    """``log(1 + exp(beta * x)) / beta``, linear above ``threshold``, elementwise."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, x: Tensor) -> Tensor:
        """Elementwise: ``x`` of any shape -> a tensor of the same shape."""
        return _act.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        """Its settings for the repr: ``beta`` and ``threshold``."""
        return f"beta={self.beta}, threshold={self.threshold}"


class SiLU(Module):
    """``x * sigmoid(x)`` (swish), elementwise."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        """Elementwise: ``x`` of any shape -> a tensor of the same shape."""
        return _act.silu(x)

    def extra_repr(self) -> str:
        """Its setting for the repr: ``inplace=True`` when set."""
        return _inplace_repr(self.inplace)


class Hardtanh(Module):
    """``clamp(x, min_val, max_val)``, elementwise."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        if max_val <= min_val:
            raise ValueError(
                f"Hardtanh: max_val ({max_val}) must be larger than min_val ({min_val})"
            )
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        """Elementwise: ``x`` of any shape -> a tensor of the same shape."""
        return _act.hardtanh(x, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        """Its settings for the repr: ``min_val``, ``max_val`` (and ``inplace``)."""
        return f"min_val={self.min_val}, max_val={self.max_val}" + (
            ", inplace=True" if self.inplace else ""
        )


class ReLU6(Hardtanh):
    """``min(max(x, 0), 6)``, elementwise."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        """Its setting for the repr: ``inplace=True`` when set."""
        return _inplace_repr(self.inplace)


class PReLU(Module):
    """Leaky ReLU with a learned slope: ``max(x, 0) + weight * min(x, 0)``.

    ``weight`` has ``num_parameters`` entries (1, or the channel count: one per
    entry of dim 1), initialised to ``init``.
    """

    def __init__(
        self, num_parameters: int = 1, init: float = 0.25, device: Any = None, dtype: Any = None
    ) -> None:
        super().__init__()
        self.num_parameters = num_parameters
        dt = get_default_dtype() if dtype is None else dtype
        self.weight = Parameter(xp.full((num_parameters,), init, dtype=dt))

    def forward(self, x: Tensor) -> Tensor:
        """``x`` ``(N, C, *)`` (or any shape with one slope) -> the same shape."""
        w: Tensor = self.weight
        if self.num_parameters != 1:
            if x.ndim < 2 or x.shape[1] != self.num_parameters:
                raise ValueError(
                    f"PReLU(num_parameters={self.num_parameters}): expected input "
                    f"(N, {self.num_parameters}, *), got {tuple(x.shape)}"
                )
            w = w.reshape((self.num_parameters,) + (1,) * (x.ndim - 2))
        return _ew.maximum(x, 0.0) + w * _ew.minimum(x, 0.0)

    def extra_repr(self) -> str:
        """Its setting for the repr: ``num_parameters``."""
        return f"num_parameters={self.num_parameters}"


def _softmax_dim(name: str, ndim: int) -> int:
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. "
        "Change the call to include dim=X as an argument.",
        stacklevel=3,
    )
    return 0 if ndim in (0, 1, 3) else 1


class Softmax(Module):
    """``exp(x) / sum(exp(x), dim)``: entries along ``dim`` are positive and sum to 1."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        """``x`` of any shape -> the same shape, summing to 1 along ``dim``."""
        dim = self.dim if self.dim is not None else _softmax_dim("softmax", x.ndim)
        return _sm.softmax(x, dim)

    def extra_repr(self) -> str:
        """Its setting for the repr: ``dim``."""
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """``x - logsumexp(x, dim)``, computed stably."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        """``x`` of any shape -> the same shape: log-probabilities along ``dim``."""
        dim = self.dim if self.dim is not None else _softmax_dim("log_softmax", x.ndim)
        return _sm.log_softmax(x, dim)

    def extra_repr(self) -> str:
        """Its setting for the repr: ``dim``."""
        return f"dim={self.dim}"
