"""``Linear``: ``y = x @ weight.T + bias``, with PyTorch's parameters and initialisation."""

from __future__ import annotations

import math
from typing import Any

from ..backend import xp
from ..dtypes import get_default_dtype
from ..ops import linalg as _la
from ..tensor import Tensor
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Linear"]


def _empty(shape: tuple[int, ...], dtype: Any) -> Parameter:
    return Parameter(xp.empty(shape, dtype=get_default_dtype() if dtype is None else dtype))


class Linear(Module):
    """Affine map of the last dimension: ``(*, in_features) -> (*, out_features)``.

    Args:
        in_features: size of each input's last dimension.
        out_features: size of each output's last dimension.
        bias: learn an additive bias (default ``True``).
        dtype: the parameters' dtype (default float32).

    Parameters: ``weight`` of shape ``(out_features, in_features)`` and ``bias`` of
    shape ``(out_features,)``, both drawn as in PyTorch: weight by
    ``kaiming_uniform_(a=sqrt(5))``, i.e. U(-1/sqrt(in), 1/sqrt(in)), and bias
    from U(-1/sqrt(in), 1/sqrt(in)).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = _empty((out_features, in_features), dtype)
        if bias:
            self.bias = _empty((out_features,), dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Redraw weight and bias from PyTorch's default distributions."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        """``(*, in_features) -> (*, out_features)``."""
        shape = x.shape
        if not shape or shape[-1] != self.in_features:
            raise ValueError(
                f"Linear(in_features={self.in_features}, out_features={self.out_features}): "
                f"expected input (*, {self.in_features}), got {tuple(shape)}"
            )
        return _la.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        """Its settings for the repr: ``in_features``, ``out_features``, ``bias``."""
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )
