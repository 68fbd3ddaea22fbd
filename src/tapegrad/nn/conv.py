"""2-D convolution layers: ``Conv2d`` and ``ConvTranspose2d``, with PyTorch's parameters,
padding modes and default initialisation."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..backend import xp
from ..dtypes import get_default_dtype
from ..ops import conv as _conv
from ..ops import padding as _pad
from ..tensor import Tensor
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Conv2d", "ConvTranspose2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _pair(v: Any, name: str = "value") -> tuple[int, int]:
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}")
        return (int(v[0]), int(v[1]))
    return (int(v), int(v))


class _ConvNd(Module):
    """What Conv2d and ConvTranspose2d share: hyperparameters, parameters, init, repr."""

    _name = "Conv2d"

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any,
        padding: Any,
        dilation: Any,
        transposed: bool,
        output_padding: Any,
        groups: int,
        bias: bool,
        padding_mode: str,
        dtype: Any,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups}")
        if in_channels % groups != 0:
            raise ValueError(
                f"{name}: in_channels ({in_channels}) must be divisible by groups ({groups})"
            )
        if out_channels % groups != 0:
            raise ValueError(
                f"{name}: out_channels ({out_channels}) must be divisible by groups ({groups})"
            )
        if padding_mode not in _PADDING_MODES:
            raise ValueError(
                f"{name}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = _pair(stride, "stride")
        self.dilation = _pair(dilation, "dilation")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(
                    f"{name}: padding must be 'same', 'valid', an int or a pair, got {padding!r}"
                )
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(
                    f"{name}: padding='same' is not supported for strided convolutions"
                )
            self.padding: Any = padding
        else:
            self.padding = _pair(padding, "padding")
        self.transposed = transposed
        self.output_padding = _pair(output_padding, "output_padding")
        self.groups = groups
        self.padding_mode = padding_mode
        # Per-side padding (top, bottom, left, right): 'same' may need one more on the far side.
        self._side_padding = self._sides()
        dt = get_default_dtype() if dtype is None else dtype
        if transposed:
            shape = (in_channels, out_channels // groups, *self.kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = Parameter(xp.empty(shape, dtype=dt))
        if bias:
            self.bias = Parameter(xp.empty((out_channels,), dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def _sides(self) -> tuple[int, int, int, int]:
        if self.padding == "valid":
            return (0, 0, 0, 0)
        if self.padding == "same":
            sides: list[int] = []
            for d, k in zip(self.dilation, self.kernel_size):
                total = d * (k - 1)
                sides += [total // 2, total - total // 2]
            return (sides[0], sides[1], sides[2], sides[3])
        ph, pw = self.padding
        return (ph, ph, pw, pw)

    def reset_parameters(self) -> None:
        """Redraw weight and bias as PyTorch does: kaiming_uniform_(a=sqrt(5)) for the
        weight, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the bias."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def _check_input(self, x: Tensor) -> None:
        shape = tuple(x.shape)
        if len(shape) not in (3, 4) or shape[-3] != self.in_channels:
            raise ValueError(
                f"{self._get_name()}({self.extra_repr()}): expected input "
                f"(N, {self.in_channels}, H, W) or ({self.in_channels}, H, W) with "
                f"{self.in_channels} channels, got {shape}"
            )

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv2d(_ConvNd):
    """2-D cross-correlation: ``(N, C_in, H, W) -> (N, C_out, H_out, W_out)``.

    Args:
        in_channels, out_channels: channel counts (each divisible by ``groups``).
        kernel_size, stride, dilation: int or pair.
        padding: int, pair, ``'valid'`` (none) or ``'same'`` (output size equals
            input size; stride 1 only; an odd total puts the extra row/column at
            the bottom/right, as in PyTorch).
        groups: split channels into this many independent groups.
        bias: learn a per-output-channel bias.
        padding_mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.

    Parameters: ``weight`` ``(C_out, C_in // groups, kH, kW)``, ``bias`` ``(C_out,)``.
    An unbatched ``(C_in, H, W)`` input gives a ``(C_out, H_out, W_out)`` output.
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
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            False,
            0,
            groups,
            bias,
            padding_mode,
            dtype,
        )

    def forward(self, x: Tensor) -> Tensor:
        """``(N, C_in, H, W) -> (N, C_out, H_out, W_out)`` (or the unbatched 3-D forms)."""
        self._check_input(x)
        unbatched = x.ndim == 3
        if unbatched:
            x = x.unsqueeze(0)
        top, bottom, left, right = self._side_padding
        if self.padding_mode != "zeros" or top != bottom or left != right:
            mode = "constant" if self.padding_mode == "zeros" else self.padding_mode
            if (top, bottom, left, right) != (0, 0, 0, 0):
                x = _pad.pad(x, (left, right, top, bottom), mode=mode)
            padding: tuple[int, int] = (0, 0)
        else:
            padding = (top, left)
        y = _conv.conv2d(
            x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups
        )
        return y.squeeze(0) if unbatched else y


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution (the gradient of Conv2d w.r.t. its input).

    ``H_out = (H - 1) * stride - 2 * padding + dilation * (kH - 1) + output_padding + 1``.

    Args: as :class:`Conv2d`, plus ``output_padding`` (extra rows/columns on one
    side, smaller than stride or dilation); ``padding_mode`` must be ``'zeros'``.

    Parameters: ``weight`` ``(C_in, C_out // groups, kH, kW)``, ``bias`` ``(C_out,)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        output_padding: Any = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: Any = 1,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        if padding_mode != "zeros":
            raise ValueError(
                f'ConvTranspose2d: only "zeros" padding_mode is supported, got {padding_mode!r}'
            )
        if isinstance(padding, str):
            raise ValueError(f"ConvTranspose2d: padding must be an int or a pair, got {padding!r}")
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            True,
            output_padding,
            groups,
            bias,
            padding_mode,
            dtype,
        )

    def _output_padding(self, x: Tensor, output_size: Sequence[int] | None) -> tuple[int, int]:
        if output_size is None:
            return self.output_padding
        size = [int(s) for s in output_size]
        if len(size) in (3, 4):
            size = size[-2:]
        if len(size) != 2:
            raise ValueError(
                f"ConvTranspose2d: output_size must have 2 (or 4) entries, got {output_size!r}"
            )
        pad: list[int] = []
        for d in range(2):
            n_in = x.shape[d - 2]
            lo = (
                (n_in - 1) * self.stride[d]
                - 2 * self.padding[d]
                + self.dilation[d] * (self.kernel_size[d] - 1)
                + 1
            )
            hi = lo + self.stride[d] - 1
            if not lo <= size[d] <= hi:
                raise ValueError(
                    f"ConvTranspose2d: requested an output size of {tuple(size)}, but valid "
                    f"sizes for input {tuple(x.shape)} range from ({lo}) to ({hi}) in dim {d}"
                )
            pad.append(size[d] - lo)
        return (pad[0], pad[1])

    def forward(self, x: Tensor, output_size: Sequence[int] | None = None) -> Tensor:
        """``(N, C_in, H, W) -> (N, C_out, H_out, W_out)``; ``output_size`` picks the
        output padding that gives that size."""
        self._check_input(x)
        unbatched = x.ndim == 3
        if unbatched:
            x = x.unsqueeze(0)
        op = self._output_padding(x, output_size)
        y = _conv.conv_transpose2d(
            x, self.weight, self.bias, self.stride, self.padding, op, self.groups, self.dilation
        )
        return y.squeeze(0) if unbatched else y
