"""``make_grid`` and ``save_image``, with torchvision's arguments and layout.

``make_grid`` tiles a batch of images (B, C, H, W) into one (3, H', W') image:
``nrow`` images per row, ``padding`` pixels of ``pad_value`` around and between
them; one-channel images are repeated to three channels; ``normalize`` maps
``value_range`` (or the batch's own min and max, per image with
``scale_each``) to [0, 1]. ``save_image`` writes that grid as an 8-bit image
file (PNG, JPEG, ... from the file name or ``format``), rounding ``x * 255``
and clamping to [0, 255] as torchvision does. Nothing here records a graph.
"""

from __future__ import annotations

import math
import os
from typing import IO, Any

import numpy as np

from .._atomic import atomic_path
from ..backend import to_numpy
from ..tensor import Tensor, _wrap

__all__ = ["make_grid", "save_image"]


def _as_array(tensor: Any) -> np.ndarray:
    if isinstance(tensor, (list, tuple)):
        if not tensor:
            raise ValueError("make_grid: got an empty list of images")
        return np.stack([_as_array(t) for t in tensor])
    if isinstance(tensor, Tensor):
        return to_numpy(tensor._array)
    if isinstance(tensor, np.ndarray):
        return tensor
    raise TypeError(
        f"make_grid: expected a Tensor or a list of Tensors, got {type(tensor).__name__}"
    )


def make_grid(
    tensor: Any,
    nrow: int = 8,
    padding: int = 2,
    normalize: bool = False,
    value_range: tuple[float, float] | None = None,
    scale_each: bool = False,
    pad_value: float = 0.0,
) -> Tensor:
    """Tile images into a grid.

    Args:
        tensor: (B, C, H, W), a list of (C, H, W), one (C, H, W) or one (H, W) image.
        nrow: images per row (the last row may be shorter).
        padding: pixels between images and around the grid.
        normalize: shift and scale to [0, 1] using ``value_range`` (clamped
            first) or the min and max of the images.
        value_range: ``(low, high)`` for ``normalize``.
        scale_each: normalise each image by its own min and max.
        pad_value: the value of the padding pixels.

    Returns:
        (C, (H + padding) * rows + padding, (W + padding) * min(nrow, B) + padding),
        C = 3 for one-channel input; a single image is returned unpadded.
    """
    a = _as_array(tensor)
    if a.ndim == 2:
        a = a[None]
    if a.ndim == 3:
        if a.shape[0] == 1:
            a = np.concatenate([a, a, a], 0)
        a = a[None]
    if a.ndim != 4:
        raise ValueError(f"make_grid: expected 2-D, 3-D or 4-D images, got shape {a.shape}")
    if a.shape[1] == 1:
        a = np.concatenate([a, a, a], 1)
    if normalize:
        if value_range is not None and not isinstance(value_range, tuple):
            raise TypeError("make_grid: value_range has to be a tuple (min, max)")
        a = a.astype(np.result_type(a.dtype, np.float32), copy=True)
        for img in a if scale_each else [a]:
            lo, hi = value_range if value_range is not None else (img.min(), img.max())
            np.clip(img, lo, hi, out=img)
            img -= lo
            img /= max(hi - lo, 1e-5)
    if a.shape[0] == 1:
        return _wrap(a[0].copy())
    n, c, h, w = a.shape
    cols = min(nrow, n)
    rows = int(math.ceil(n / cols))
    ph, pw = h + padding, w + padding
    grid = np.full((c, ph * rows + padding, pw * cols + padding), pad_value, dtype=a.dtype)
    for k in range(n):
        y, x = divmod(k, cols)
        grid[:, y * ph + padding : (y + 1) * ph, x * pw + padding : (x + 1) * pw] = a[k]
    return _wrap(grid)


def save_image(
    tensor: Any, fp: str | os.PathLike[str] | IO[bytes], format: str | None = None, **kwargs: Any
) -> None:
    """Write ``make_grid(tensor, **kwargs)`` as an 8-bit image file.

    ``fp`` is a path (written atomically: the old file or the new one, never a
    part) or a binary file object; ``format`` overrides the file name's
    extension (needed for a file object).
    """
    from PIL import Image

    grid = _as_array(make_grid(tensor, **kwargs))
    arr = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    img = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr)
    if isinstance(fp, (str, os.PathLike)):
        fmt = format or Image.registered_extensions().get(os.path.splitext(str(fp))[1].lower())
        if fmt is None:
            raise ValueError(
                f"save_image: cannot tell the image format from {str(fp)!r}; pass format="
            )
        with atomic_path(fp) as tmp:
            img.save(tmp, format=fmt)
    else:
        img.save(fp, format=format)
