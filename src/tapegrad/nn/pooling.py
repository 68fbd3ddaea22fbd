"""Pooling and resampling layers: ``MaxPool2d``, ``AvgPool2d``, ``AdaptiveAvgPool2d``,
``Upsample``, ``UpsamplingNearest2d``, ``UpsamplingBilinear2d``."""

from __future__ import annotations

from typing import Any

from ..ops import conv as _conv
from ..tensor import Tensor
from .module import Module

__all__ = [
    "MaxPool2d",
    "AvgPool2d",
    "AdaptiveAvgPool2d",
    "Upsample",
    "UpsamplingNearest2d",
    "UpsamplingBilinear2d",
]


def _check_4d(module: Module, x: Tensor) -> None:
    if x.ndim not in (3, 4):
        raise ValueError(
            f"{module!r}: expected input (N, C, H, W) or (C, H, W), got {tuple(x.shape)}"
        )


class MaxPool2d(Module):
    """Max over sliding windows: ``(N, C, H, W) -> (N, C, H_out, W_out)``.

    ``stride`` defaults to ``kernel_size``; ``padding`` pads with -inf;
    ``return_indices`` also returns the flat (H*W) index of each maximum.
    """

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
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, x: Tensor) -> Any:
        """``(N, C, H, W)`` or ``(C, H, W)`` -> pooled maxima (and indices if asked)."""
        _check_4d(self, x)
        return _conv.max_pool2d(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            ceil_mode=self.ceil_mode,
            return_indices=self.return_indices,
        )

    def extra_repr(self) -> str:
        """Its settings for the repr: kernel size, stride, padding, dilation, ceil_mode."""
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class AvgPool2d(Module):
    """Mean over sliding windows: ``(N, C, H, W) -> (N, C, H_out, W_out)``.

    ``stride`` defaults to ``kernel_size``; ``count_include_pad`` counts zero
    padding in the divisor; ``divisor_override`` replaces the divisor.
    """

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, x: Tensor) -> Tensor:
        """``(N, C, H, W)`` or ``(C, H, W)`` -> window means, ``(..., H_out, W_out)``."""
        _check_4d(self, x)
        return _conv.avg_pool2d(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )

    def extra_repr(self) -> str:
        """Its settings for the repr: kernel size, stride and padding."""
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average-pool to a fixed ``output_size`` (int or pair; None keeps that dim):
    ``(N, C, H, W) -> (N, C, *output_size)``."""

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        """``(N, C, H, W)`` or ``(C, H, W)`` -> ``(..., *output_size)``."""
        _check_4d(self, x)
        return _conv.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        """Its setting for the repr: ``output_size``."""
        return f"output_size={self.output_size}"


class Upsample(Module):
    """Resize ``(N, C, H, W)`` inputs to ``size`` or by ``scale_factor``.

    ``mode``: ``'nearest'`` or ``'bilinear'`` (with ``align_corners``), as far
    as :func:`tapegrad.interpolate` supports them.
    """

    def __init__(
        self,
        size: Any = None,
        scale_factor: Any = None,
        mode: str = "nearest",
        align_corners: bool | None = None,
        recompute_scale_factor: bool | None = None,
    ) -> None:
        super().__init__()
        if (size is None) == (scale_factor is None):
            raise ValueError("Upsample: give exactly one of size and scale_factor")
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor: Any = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor is not None else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, x: Tensor) -> Tensor:
        """``(N, C, H, W)`` -> the resized ``(N, C, H_out, W_out)``."""
        if self.recompute_scale_factor is None:
            return _conv.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners)
        return _conv.interpolate(
            x,
            self.size,
            self.scale_factor,
            self.mode,
            self.align_corners,
            recompute_scale_factor=self.recompute_scale_factor,
        )

    def extra_repr(self) -> str:
        """Its settings for the repr: ``scale_factor`` (or ``size``) and ``mode``."""
        if self.scale_factor is not None:
            info = "scale_factor=" + repr(self.scale_factor)
        else:
            info = "size=" + repr(self.size)
        return info + ", mode=" + repr(self.mode)


class UpsamplingNearest2d(Upsample):
    """``Upsample(mode='nearest')``."""

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(mode='bilinear', align_corners=True)``."""

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
