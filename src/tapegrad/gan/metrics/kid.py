"""Kernel Inception Distance: unbiased MMD^2 with a cubic polynomial kernel.

Binkowski, Sutherland, Arbel and Gretton, "Demystifying MMD GANs" (ICLR 2018). With the
kernel ``k(x, y) = (x . y / D + 1)^3`` on D-dimensional features and two subsets
``X, Y`` of ``m`` samples each, the unbiased estimate is::

    MMD^2 = sum_{i != j} k(x_i, x_j) / (m (m - 1)) + sum_{i != j} k(y_i, y_j) / (m (m - 1))
            - 2 sum_{i, j} k(x_i, y_j) / m^2

Its expectation is zero when X and Y come from the same distribution (so single
estimates can be negative). :func:`kid` averages it over ``n_subsets`` pairs of subsets
drawn without replacement from a seeded generator, as the reference implementation does.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import numpy as np

from .frechet import _as_features

__all__ = ["KIDResult", "kid", "mmd2_unbiased", "polynomial_kernel"]


class KIDResult(NamedTuple):
    """:func:`kid`'s result: the mean and standard deviation (ddof 0) over subsets."""

    mean: float
    std: float


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``(x y^T / D + 1)^3`` for ``x`` ``(N, D)`` and ``y`` ``(M, D)``: ``(N, M)`` float64."""
    k = x @ y.T
    k /= x.shape[1]
    k += 1.0
    # k * k * k: NumPy's ** 3 goes through pow, three times slower than the product
    return k * k * k


def mmd2_unbiased(x: Any, y: Any) -> float:
    """Unbiased MMD^2 of two equal-size feature sets ``(m, D)``, m >= 2 (formula above)."""
    a = _as_features(x, "mmd2_unbiased", "x")
    b = _as_features(y, "mmd2_unbiased", "y")
    m = a.shape[0]
    if b.shape != a.shape or m < 2:
        raise ValueError(
            f"mmd2_unbiased: expected two (m, D) sets of the same shape with m >= 2, got "
            f"{a.shape} and {b.shape}"
        )
    kxx = polynomial_kernel(a, a)
    kyy = polynomial_kernel(b, b)
    kxy = polynomial_kernel(a, b)
    off = m * (m - 1)
    return float(
        (kxx.sum() - np.trace(kxx)) / off
        + (kyy.sum() - np.trace(kyy)) / off
        - 2.0 * kxy.sum() / (m * m)
    )


def kid(
    feats_a: Any,
    feats_b: Any,
    n_subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> KIDResult:
    """KID between two feature sets: unbiased MMD^2 averaged over random subsets.

    Args:
        feats_a: features ``(N_a, D)`` (NumPy array or Tensor).
        feats_b: features ``(N_b, D)``.
        n_subsets: how many pairs of subsets to draw.
        subset_size: samples per subset, drawn without replacement from each set; when
            a set is smaller, its size is used instead (with a warning).
        seed: seed of the NumPy generator that draws the subsets (same seed, same value).

    Returns:
        ``KIDResult(mean, std)``; ``std`` is over the ``n_subsets`` estimates (ddof 0),
        a measure of the subset-to-subset spread, not a standard error.
    """
    a = _as_features(feats_a, "kid", "feats_a")
    b = _as_features(feats_b, "kid", "feats_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"kid: feature widths differ: shapes {a.shape} and {b.shape}")
    if not isinstance(n_subsets, (int, np.integer)) or n_subsets < 1:
        raise ValueError(f"kid: n_subsets must be a positive int, got {n_subsets!r}")
    m = min(int(subset_size), a.shape[0], b.shape[0])
    if m < 2:
        raise ValueError(
            f"kid: need subsets of at least 2 samples; got shapes {a.shape} and {b.shape} "
            f"and subset_size={subset_size}"
        )
    if m < subset_size:
        warnings.warn(
            f"kid: subset_size={subset_size} exceeds a set's size (shapes {a.shape} and "
            f"{b.shape}); using subsets of {m}",
            stacklevel=2,
        )
    rng = np.random.default_rng(seed)
    est = np.empty(int(n_subsets))
    for i in range(int(n_subsets)):
        ia = rng.choice(a.shape[0], m, replace=False)
        ib = rng.choice(b.shape[0], m, replace=False)
        est[i] = mmd2_unbiased(a[ia], b[ib])
    return KIDResult(float(est.mean()), float(est.std()))
