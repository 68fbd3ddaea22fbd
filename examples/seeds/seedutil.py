"""Helpers shared by the tutorials' examples: MNIST in [-1, 1] and saving a grid of samples.

Pillow is not a tapegrad dependency: :func:`save_grid` writes a PNG when Pillow
is importable and a ``.npy`` array of the same grid otherwise.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from tapegrad.data import load_mnist_arrays


def mnist_scaled(
    root: str | None = None, limit: int | None = None
) -> tuple[np.ndarray, np.ndarray, str]:
    """MNIST images as float32 ``(N, 1, 28, 28)`` in [-1, 1] (a tanh generator's range),
    their int64 labels ``(N,)``, and a note saying which split was used.

    The 60,000-image training split when it is found (``root``, ``$TAPEGRAD_DATA``
    or the user cache), else the 10,000-image test split shipped with tapegrad.
    """
    try:
        x, y = load_mnist_arrays(train=True, root=root)
        note = "MNIST training split (60,000 images)"
    except FileNotFoundError:
        x, y = load_mnist_arrays(train=False, root=root)
        note = "MNIST test split shipped with tapegrad (10,000 images; no training split found)"
    if limit:
        x, y = x[:limit], y[:limit]
    x = (x.astype(np.float32) / np.float32(127.5) - np.float32(1.0)).reshape(-1, 1, 28, 28)
    return x, y.astype(np.int64), note


def grid(images: np.ndarray, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile ``(N, C, H, W)`` images in [-1, 1] into one uint8 image ``(H', W')`` or
    ``(H', W', 3)``, ``nrow`` per row (default: a square), with ``pad`` pixels between."""
    n, c, h, w = images.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / nrow)
    out = np.zeros((c, rows * (h + pad) + pad, nrow * (w + pad) + pad), dtype=np.float32)
    for i in range(n):
        r, q = divmod(i, nrow)
        top, left = pad + r * (h + pad), pad + q * (w + pad)
        out[:, top : top + h, left : left + w] = images[i]
    u8 = np.clip((out + 1.0) * 127.5, 0, 255).round().astype(np.uint8)
    return u8[0] if c == 1 else u8.transpose(1, 2, 0)


def save_grid(images: np.ndarray, path: str | Path) -> Path:
    """Save :func:`grid` of ``images`` to ``path`` with suffix ``.png`` (Pillow) or
    ``.npy`` (without Pillow); returns the path written."""
    g = grid(images)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        from PIL import Image
    except ImportError:
        out = path.with_suffix(".npy")
        np.save(out, g)
        return out
    out = path.with_suffix(".png")
    Image.fromarray(g).save(out)
    return out
