"""1-D layers: ``Conv1d``, ``MaxPool1d``, ``AvgPool1d``, ``AdaptiveAvgPool1d``.

Parameter names, shapes and initialisation are PyTorch's, so state dicts load
across both frameworks.
"""

from __future__ import annotations

import math
from typing import Any

from ..backend import xp
from ..dtypes import get_default_dtype
from ..ops import conv1d as _c1
from ..tensor import Tensor
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Conv1d", "MaxPool1d", "AvgPool1d", "AdaptiveAvgPool1d"]


def _int(v: Any) -> int:
    return int(v[0]) if isinstance(v, (tuple, list)) else int(v)


class Conv1d(Module):
    """1-D cross-correlation: ``(N, C_in, L) -> (N, C_out, L_out)``.

    Args:
        in_channels, out_channels: channel counts (each divisible by ``groups``).
        kernel_size, stride, dilation: int.
        padding: int, ``'valid'`` or ``'same'``.
        bias: learn an additive bias (C_out,).
        padding_mode: only ``'zeros'``.

    Weight (C_out, C_in/groups, k), drawn like PyTorch's (kaiming_uniform_ with
    a=sqrt(5); bias U(-1/sqrt(fan_in), 1/sqrt(fan_in))).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if padding_mode != "zeros":
            raise ValueError(
                f"Conv1d: only padding_mode='zeros' is supported, got {padding_mode!r}"
            )
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(
                f"Conv1d: in_channels ({in_channels}) and out_channels ({out_channels}) must be "
                f"divisible by groups ({groups})"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = (_int(kernel_size),)
        self.stride, self.dilation = (_int(stride),), (_int(dilation),)
        self.padding: Any = padding if isinstance(padding, str) else (_int(padding),)
        self.groups = groups
        dt = get_default_dtype() if dtype is None else dtype
        shape = (out_channels, in_channels // groups, self.kernel_size[0])
        self.weight = Parameter(xp.empty(shape, dtype=dt))
        if bias:
            self.bias = Parameter(xp.empty((out_channels,), dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Redraw weight and bias from PyTorch's default distributions."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        """``(N, C_in, L)`` or ``(C_in, L)`` -> ``(..., C_out, L_out)``."""
        pad = self.padding if isinstance(self.padding, str) else self.padding[0]
        return _c1.conv1d(
            x, self.weight, self.bias, self.stride[0], pad, self.dilation[0], self.groups
        )

    def extra_repr(self) -> str:
        """Its settings for the repr, those at their defaults left out."""
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
        s += f"stride={self.stride}"
        if self.padding not in ((0,), "valid"):
            s += f", padding={self.padding}"
        if self.dilation != (1,):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s + (", bias=False" if self.bias is None else "")


class MaxPool1d(Module):
    """Max pooling over L of ``(N, C, L)``; stride defaults to ``kernel_size``."""

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.return_indices, self.ceil_mode = dilation, return_indices, ceil_mode

    def forward(self, x: Tensor) -> Any:
        """``(N, C, L)`` or ``(C, L)`` -> window maxima ``(..., L_out)`` (and indices if asked)."""
        return _c1.max_pool1d(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            self.return_indices,
        )

    def extra_repr(self) -> str:
        """Its settings for the repr: kernel size, stride and padding."""
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(Module):
    """Average pooling over L of ``(N, C, L)``; stride defaults to ``kernel_size``."""

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, x: Tensor) -> Tensor:
        """``(N, C, L)`` or ``(C, L)`` -> window means ``(..., L_out)``."""
        return _c1.avg_pool1d(
            x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad
        )

    def extra_repr(self) -> str:
        """Its settings for the repr: kernel size, stride and padding."""
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool1d(Module):
    """Average pooling of ``(N, C, L)`` to ``(N, C, output_size)``."""

    def __init__(self, output_size: int) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        """``(N, C, L)`` or ``(C, L)`` -> ``(..., output_size)``."""
        return _c1.adaptive_avg_pool1d(x, self.output_size)

    def extra_repr(self) -> str:
        """Its setting for the repr: ``output_size``."""
        return f"output_size={self.output_size}"
