"""Shape-only modules: ``Identity``, ``Flatten``, ``Unflatten``, ``PixelShuffle``,
``PixelUnshuffle``, ``Unfold``, ``Fold``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..ops import fold as _fold
from ..tensor import Tensor
from .module import Module

__all__ = ["Identity", "Flatten", "Unflatten", "PixelShuffle", "PixelUnshuffle", "Unfold", "Fold"]


class Identity(Module):
    """Returns its input unchanged (constructor arguments are ignored, as in PyTorch)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        """Returns ``x``."""
        return x


class Flatten(Module):
    """Merge dims ``start_dim..end_dim`` into one: ``(N, C, H, W) -> (N, C*H*W)`` by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x: Tensor) -> Tensor:
        """``x`` with dims ``start_dim..end_dim`` merged into one."""
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        """Its settings for the repr: ``start_dim`` and ``end_dim``."""
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size``: ``(N, 50) -> (N, 2, 5, 5)``.

    One entry of ``unflattened_size`` may be -1 (inferred).
    """

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        if not isinstance(dim, int):
            raise TypeError(f"Unflatten: dim must be an int, got {type(dim).__name__}")
        if not isinstance(unflattened_size, (tuple, list)) or not all(
            isinstance(s, int) for s in unflattened_size
        ):
            raise TypeError(
                f"Unflatten: unflattened_size must be a tuple of ints, got {unflattened_size!r}"
            )
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, x: Tensor) -> Tensor:
        """``x`` with dim ``dim`` split into ``unflattened_size``."""
        shape = tuple(x.shape)
        d = self.dim + len(shape) if self.dim < 0 else self.dim
        if not 0 <= d < len(shape):
            raise IndexError(f"{self!r}: dim {self.dim} is out of range for input {shape}")
        sizes = tuple(self.unflattened_size)
        known = math.prod(s for s in sizes if s != -1)
        ok = shape[d] == known if -1 not in sizes else known > 0 and shape[d] % known == 0
        if not ok:
            raise ValueError(
                f"{self!r}: cannot split dim {self.dim} of size {shape[d]} into {sizes} "
                f"(input {shape})"
            )
        return x.reshape(shape[:d] + sizes + shape[d + 1 :])

    def extra_repr(self) -> str:
        """Its settings for the repr: ``dim`` and ``unflattened_size``."""
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class PixelShuffle(Module):
    """``(N, C*r*r, H, W) -> (N, C, H*r, W*r)``, r = ``upscale_factor``."""

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, x: Tensor) -> Tensor:
        """``(N, C*r*r, H, W) -> (N, C, H*r, W*r)`` with r the upscale factor."""
        return _fold.pixel_shuffle(x, self.upscale_factor)

    def extra_repr(self) -> str:
        """Its setting for the repr: ``upscale_factor``."""
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """``(N, C, H*r, W*r) -> (N, C*r*r, H, W)``, r = ``downscale_factor``."""

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, x: Tensor) -> Tensor:
        """``(N, C, H*r, W*r) -> (N, C*r*r, H, W)`` with r the downscale factor."""
        return _fold.pixel_unshuffle(x, self.downscale_factor)

    def extra_repr(self) -> str:
        """Its setting for the repr: ``downscale_factor``."""
        return f"downscale_factor={self.downscale_factor}"


class Unfold(Module):
    """Sliding blocks as columns: ``(N, C, H, W) -> (N, C*kh*kw, L)`` (see ``F.unfold``)."""

    def __init__(
        self, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1
    ) -> None:
        super().__init__()
        self.kernel_size, self.dilation = kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, x: Tensor) -> Tensor:
        """Sliding blocks: ``(N, C, H, W) -> (N, C*kh*kw, L)``, L the number of blocks."""
        return _fold.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)


class Fold(Module):
    """Columns back to an image, summing overlaps: ``(N, C*kh*kw, L) -> (N, C, H, W)``."""

    def __init__(
        self,
        output_size: Any,
        kernel_size: Any,
        dilation: Any = 1,
        padding: Any = 0,
        stride: Any = 1,
    ) -> None:
        super().__init__()
        self.output_size, self.kernel_size, self.dilation = output_size, kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, x: Tensor) -> Tensor:
        """Blocks back into images: ``(N, C*kh*kw, L) -> (N, C, *output_size)``, overlaps summed."""
        return _fold.fold(
            x, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride
        )
