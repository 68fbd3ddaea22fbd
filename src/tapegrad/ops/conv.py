"""The 2-D spatial ops in one namespace: convolution, transposed convolution, pooling, resizing.

Each lives in its own module (``convolution``, ``conv_transpose``, ``pooling``,
``resize``; the array kernels in ``conv_kernels``); this module re-exports
their public functions so ``from tapegrad.ops.conv import *`` keeps working.
"""

from __future__ import annotations

from .conv_transpose import conv_transpose2d
from .convolution import conv2d
from .pooling import adaptive_avg_pool2d, avg_pool2d, max_pool2d
from .resize import interpolate, upsample

__all__ = [
    "conv2d",
    "conv_transpose2d",
    "max_pool2d",
    "avg_pool2d",
    "adaptive_avg_pool2d",
    "interpolate",
    "upsample",
]
