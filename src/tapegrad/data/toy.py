"""Synthetic distributions with known modes, for measuring GAN mode collapse.

These follow the PacGAN protocol (Lin et al., 2018, "PacGAN: the power of two
samples in generative adversarial networks", and VEEGAN before it):

* **ring**: a mixture of 8 two-dimensional Gaussians with equal weights, means
  evenly spaced on the unit circle, standard deviation 0.01;
* **grid**: a mixture of 25 Gaussians, means on the grid {-4,-2,0,2,4}^2,
  standard deviation 0.05;
* **Stacked MNIST**: three MNIST digits drawn independently and stacked as the
  R, G and B channels of one image, 1000 modes (labels 000-999).

Every sampler draws from ``generator``: a ``numpy.random.Generator``, an ``int``
seed, or ``None`` for tapegrad's global generator (see :func:`tapegrad.manual_seed`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor, _wrap
from ..utils.data._rng import resolve_generator

__all__ = ["ring", "ring_modes", "grid", "grid_modes", "stacked_mnist"]


def ring_modes(n_modes: int = 8, radius: float = 1.0) -> np.ndarray:
    """Mode centres of :func:`ring`: float32 ``(n_modes, 2)``, mode k at angle 2*pi*k/n_modes."""
    if n_modes < 1:
        raise ValueError(f"ring_modes: n_modes must be positive, got {n_modes}")
    angles = 2.0 * np.pi * np.arange(n_modes) / n_modes
    return (radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)).astype(np.float32)


def grid_modes() -> np.ndarray:
    """Mode centres of :func:`grid`: float32 ``(25, 2)``; mode ``5*i + j`` is at
    ``(-4 + 2i, -4 + 2j)``."""
    axis = np.arange(-4.0, 5.0, 2.0)
    xs, ys = np.meshgrid(axis, axis, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)


def _mixture(
    n: int, centres: np.ndarray, std: float, generator: Any, who: str
) -> tuple[Tensor, Tensor]:
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"{who}: n must be a non-negative int, got {n!r}")
    if std < 0:
        raise ValueError(f"{who}: std must be non-negative, got {std}")
    gen = resolve_generator(generator, who)
    modes = gen.integers(0, centres.shape[0], size=int(n), dtype=np.int64)
    noise = gen.standard_normal((int(n), 2))
    samples = (centres.astype(np.float64)[modes] + std * noise).astype(np.float32)
    return _wrap(samples), _wrap(modes)


def ring(
    n: int,
    n_modes: int = 8,
    radius: float = 1.0,
    std: float = 0.01,
    generator: np.random.Generator | int | None = None,
) -> tuple[Tensor, Tensor]:
    """``n`` samples of the ring mixture (modes equally likely, isotropic noise ``std``).

    Returns:
        ``(samples, modes)``: float32 Tensor ``(n, 2)`` and the int64 Tensor ``(n,)`` of
        the mode each sample came from (an index into :func:`ring_modes`).
    """
    return _mixture(n, ring_modes(n_modes, radius), std, generator, "ring")


def grid(
    n: int, std: float = 0.05, generator: np.random.Generator | int | None = None
) -> tuple[Tensor, Tensor]:
    """``n`` samples of the 5x5 grid mixture (modes equally likely, noise ``std``).

    Returns:
        ``(samples, modes)``: float32 Tensor ``(n, 2)`` and the int64 Tensor ``(n,)`` of
        mode indices into :func:`grid_modes`.
    """
    return _mixture(n, grid_modes(), std, generator, "grid")


def stacked_mnist(
    images: Any,
    labels: Any,
    n: int,
    generator: np.random.Generator | int | None = None,
) -> tuple[Tensor, Tensor]:
    """``n`` Stacked-MNIST images: three random digits as the R, G, B channels.

    Args:
        images: MNIST images ``(N, 28, 28)`` or ``(N, 1, 28, 28)``, NumPy array or
            Tensor; uint8 values are scaled to [0, 1], float values kept.
        labels: their digit labels ``(N,)`` (0-9).
        n: how many stacked images to draw (digits drawn uniformly, independently).
        generator: see the module docstring.

    Returns:
        ``(stacked, label)``: float32 Tensor ``(n, 3, 28, 28)`` and int64 Tensor ``(n,)``
        with ``label = 100 * d_R + 10 * d_G + d_B`` (one of 1000 modes).
    """
    imgs = np.asarray(images._array if isinstance(images, Tensor) else images)
    labs = np.asarray(labels._array if isinstance(labels, Tensor) else labels).astype(np.int64)
    if imgs.ndim == 4 and imgs.shape[1] == 1:
        imgs = imgs[:, 0]
    if imgs.ndim != 3 or labs.shape != (imgs.shape[0],):
        raise ValueError(
            f"stacked_mnist: expected images (N, H, W) or (N, 1, H, W) and labels (N,), got "
            f"shapes {tuple(np.shape(images))} and {tuple(np.shape(labels))}"
        )
    if imgs.shape[0] == 0:
        raise ValueError("stacked_mnist: no images to draw from")
    if labs.size and (labs.min() < 0 or labs.max() > 9):
        raise ValueError(
            f"stacked_mnist: labels must be digits 0-9, got range [{labs.min()}, {labs.max()}]"
        )
    gen = resolve_generator(generator, "stacked_mnist")
    idx = gen.integers(0, imgs.shape[0], size=(int(n), 3), dtype=np.int64)
    stacked = imgs[idx]  # (n, 3, H, W)
    if stacked.dtype == np.uint8:
        stacked = stacked.astype(np.float32) / np.float32(255.0)
    else:
        stacked = stacked.astype(np.float32)
    d = labs[idx]
    return _wrap(stacked), _wrap(100 * d[:, 0] + 10 * d[:, 1] + d[:, 2])
