"""Improved precision and recall (Kynkäänniemi et al., NeurIPS 2019), with density and coverage.

Each set of features approximates its manifold by the union of balls centred on its
samples, each ball's radius the distance to the sample's k-th nearest neighbour in the
same set (the sample itself not counted). Then:

* **precision**: the fraction of fake samples inside the real manifold (quality);
* **recall**: the fraction of real samples inside the fake manifold (diversity);
* **density** (Naeem et al., ICML 2020): the mean number of real balls holding a fake
  sample, divided by k (about 1 when the sets match; above 1 when fakes crowd dense
  regions);
* **coverage** (Naeem et al.): the fraction of real balls holding at least one fake sample.

A point is inside a ball when its distance is at most the radius (so identical sets give
precision = recall = 1). Distances are Euclidean, computed in float64 in row blocks, so
memory stays at ``block x N`` however large the sets are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .frechet import _as_features

__all__ = ["precision_recall", "knn_radii"]

_BLOCK = 1024


def _sq_dists(a: np.ndarray, b: np.ndarray, b_sq: np.ndarray) -> np.ndarray:
    d = (a * a).sum(axis=1)[:, None] + b_sq[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d, 0.0, out=d)


def knn_radii(feats: Any, k: int = 3) -> np.ndarray:
    """Distance from each sample to its k-th nearest neighbour in the same set: ``(N,)``.

    The sample itself (distance 0) is not counted; duplicates of it are.
    """
    f = _as_features(feats, "knn_radii", "feats")
    return np.sqrt(_knn_sq_radii(f, k, "knn_radii"))


def _knn_sq_radii(f: np.ndarray, k: int, who: str) -> np.ndarray:
    # squared, and compared squared: a sqrt and square round trip could move the k-th
    # neighbour, which sits exactly on its ball's boundary, outside the ball
    if not isinstance(k, (int, np.integer)) or not 1 <= k < f.shape[0]:
        raise ValueError(f"{who}: need 1 <= k < N, got k={k!r} for features {f.shape}")
    f_sq = (f * f).sum(axis=1)
    out = np.empty(f.shape[0])
    for i in range(0, f.shape[0], _BLOCK):
        d = _sq_dists(f[i : i + _BLOCK], f, f_sq)
        # sorted position 0 is the sample itself
        out[i : i + _BLOCK] = np.partition(d, k, axis=1)[:, k]
    return out


def precision_recall(real_feats: Any, fake_feats: Any, k: int = 3) -> dict[str, float]:
    """Precision, recall, density and coverage of fake features against real ones.

    Args:
        real_feats: real features ``(N, D)`` (NumPy array or Tensor), N > k.
        fake_feats: generated features ``(M, D)``, M > k.
        k: the neighbour whose distance sets each ball's radius (the paper uses 3;
            Naeem et al. use 5 for density and coverage).

    Returns:
        ``{"precision", "recall", "density", "coverage"}`` as Python floats in [0, 1]
        (density may exceed 1).
    """
    r = _as_features(real_feats, "precision_recall", "real_feats")
    f = _as_features(fake_feats, "precision_recall", "fake_feats")
    if r.shape[1] != f.shape[1]:
        raise ValueError(f"precision_recall: feature widths differ: shapes {r.shape} and {f.shape}")
    rad_r2 = _knn_sq_radii(r, k, "precision_recall")
    rad_f2 = _knn_sq_radii(f, k, "precision_recall")
    r_sq = (r * r).sum(axis=1)
    fake_in_real = np.zeros(f.shape[0], dtype=bool)
    real_in_fake = np.zeros(r.shape[0], dtype=bool)
    balls_per_fake = np.zeros(f.shape[0], dtype=np.int64)
    real_ball_hit = np.zeros(r.shape[0], dtype=bool)
    for i in range(0, f.shape[0], _BLOCK):
        d = _sq_dists(f[i : i + _BLOCK], r, r_sq)  # (block of fakes, all reals)
        inside_real = d <= rad_r2[None, :]
        fake_in_real[i : i + _BLOCK] = inside_real.any(axis=1)
        balls_per_fake[i : i + _BLOCK] = inside_real.sum(axis=1)
        real_ball_hit |= inside_real.any(axis=0)
        real_in_fake |= (d <= rad_f2[i : i + _BLOCK, None]).any(axis=0)
    return {
        "precision": float(fake_in_real.mean()),
        "recall": float(real_in_fake.mean()),
        "density": float(balls_per_fake.sum() / (k * f.shape[0])),
        "coverage": float(real_ball_hit.mean()),
    }
