"""Fréchet distance between Gaussians fitted to two feature sets (FID, Heusel et al. 2017).

For means ``mu1, mu2`` and covariances ``S1, S2``::

    FD = ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1^{1/2} S2 S1^{1/2})^{1/2})

The last trace equals ``tr((S1 S2)^{1/2})`` of the usual formula, but ``S1^{1/2} S2 S1^{1/2}``
is symmetric positive semi-definite, so it is computed from two symmetric eigen-decompositions
(eigenvalues below zero, from rounding, are clipped to zero) with no complex numbers, no
SciPy and no ``sqrtm`` iterations that may fail on singular covariances.

With features from the shipped MNIST classifier (:mod:`.classifier`) this is an "FID" for
MNIST (:func:`fid_mnist`); values are only comparable between runs that use the same
classifier version and the same numbers of samples (the estimate is biased upwards at
small N).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

__all__ = ["feature_stats", "frechet_distance", "frechet_distance_from_stats", "fid_mnist"]


def _as_features(x: Any, who: str, name: str) -> np.ndarray:
    a = np.asarray(getattr(x, "data", x), dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{who}: {name} must be a 2-D (N, D) feature array, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{who}: {name} holds NaN or infinite values")
    return a


def feature_stats(feats: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(D,)`` and unbiased covariance ``(D, D)`` (float64) of features ``(N, D)``, N >= 2."""
    f = _as_features(feats, "feature_stats", "feats")
    if f.shape[0] < 2:
        raise ValueError(f"feature_stats: need at least 2 samples, got shape {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((s + s.T) * 0.5)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance_from_stats(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

    Args:
        mu1, mu2: means ``(D,)``.
        sigma1, sigma2: symmetric positive semi-definite covariances ``(D, D)``.

    Returns:
        The distance (the squared 2-Wasserstein distance between the Gaussians) as a
        Python float, clipped at 0 against rounding.
    """
    m1, m2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    d = m1.shape[0] if m1.ndim == 1 else -1
    if m1.ndim != 1 or m2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(
            f"frechet_distance: expected means (D,) and covariances (D, D), got shapes "
            f"{m1.shape}, {s1.shape}, {m2.shape}, {s2.shape}"
        )
    r1 = _psd_sqrt(s1)
    m = r1 @ s2 @ r1
    w = np.linalg.eigvalsh((m + m.T) * 0.5)
    tr_cross = float(np.sqrt(np.clip(w, 0.0, None)).sum())
    diff = m1 - m2
    fd = float(diff @ diff) + float(np.trace(s1)) + float(np.trace(s2)) - 2.0 * tr_cross
    return max(fd, 0.0)


def frechet_distance(feats_a: Any, feats_b: Any) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets.

    Args:
        feats_a: features ``(N_a, D)`` (NumPy array or Tensor), N_a >= 2.
        feats_b: features ``(N_b, D)``, N_b >= 2.

    Returns:
        The distance as a Python float (0 for identical sets).

    Warns:
        UserWarning: a set has fewer samples than feature dimensions, so its covariance
        is singular and the distance is strongly biased (use more samples).
    """
    a = _as_features(feats_a, "frechet_distance", "feats_a")
    b = _as_features(feats_b, "frechet_distance", "feats_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"frechet_distance: feature widths differ: shapes {a.shape} and {b.shape}")
    if min(a.shape[0], b.shape[0]) < 2:
        raise ValueError(
            f"frechet_distance: need at least 2 samples per set, got shapes {a.shape} and {b.shape}"
        )
    if min(a.shape[0], b.shape[0]) < a.shape[1]:
        warnings.warn(
            f"frechet_distance: fewer samples than feature dimensions (shapes {a.shape} and "
            f"{b.shape}): the covariance is singular and the distance strongly biased; "
            f"use at least {a.shape[1]} (better 10,000) samples per set",
            stacklevel=2,
        )
    return frechet_distance_from_stats(*feature_stats(a), *feature_stats(b))


def fid_mnist(
    images_a: Any,
    images_b: Any,
    input_range: tuple[float, float] = (-1.0, 1.0),
    batch_size: int = 500,
) -> float:
    """Fréchet distance between two MNIST image sets in the shipped classifier's features.

    Args:
        images_a, images_b: images ``(N, 28, 28)``, ``(N, 1, 28, 28)`` or ``(N, 784)``
            (NumPy or Tensor; see :mod:`.classifier` for ``input_range`` and uint8).
        input_range: value range of float images (both sets).
        batch_size: images per classifier forward pass.

    Returns:
        The distance (see :func:`frechet_distance`); docs/metrics.md lists reference values.
    """
    from .classifier import features

    fa = features(images_a, batch_size=batch_size, input_range=input_range)
    fb = features(images_b, batch_size=batch_size, input_range=input_range)
    return frechet_distance(fa, fb)
