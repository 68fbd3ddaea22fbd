"""Offline GAN metrics (NumPy, float64), with a small MNIST classifier shipped in the package.

* :mod:`.classifier`: the versioned metric CNN (``load_classifier``, ``features``,
  ``predict``, ``probs``), trained by tapegrad (``scripts/train_metric_classifier.py``);
* :mod:`.frechet`: Fréchet distance (``frechet_distance``, ``fid_mnist``);
* :mod:`.kid`: Kernel Inception Distance (``kid``);
* :mod:`.prdc`: improved precision and recall, density and coverage (``precision_recall``);
* :mod:`.modes`: class histograms, modes covered, KL to uniform, PacGAN's 2-D mixture
  metrics, Stacked MNIST, and ``mean_std_over_seeds``;
* ``reference()``: the reference values of docs/metrics.md (real-vs-real floor and
  corrupted images), stored in ``reference_v1.json``; ``mixture_reference(data)``:
  PacGAN's published 2-D mixture results;
* ``predict_from_features``: the classifier's digits from its feature layer (no second
  pass over the images).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .classifier import (
    FEATURE_DIM,
    SHA256,
    VERSION,
    WEIGHTS_PATH,
    MNISTClassifier,
    features,
    load_classifier,
    logits,
    predict,
    prepare_images,
    probs,
)
from .frechet import feature_stats, fid_mnist, frechet_distance, frechet_distance_from_stats
from .kid import KIDResult, kid, mmd2_unbiased, polynomial_kernel
from .modes import (
    class_histogram,
    kl_to_uniform,
    mean_std_over_seeds,
    mixture_metrics,
    modes_covered,
    stacked_mnist_metrics,
)
from .prdc import knn_radii, precision_recall

REFERENCE_PATH = Path(__file__).with_name("reference_v1.json")


def reference() -> dict[str, Any]:
    """The reference metric values (see docs/metrics.md), made by
    ``scripts/metric_reference.py`` with classifier :data:`VERSION`."""
    with open(REFERENCE_PATH, encoding="utf-8") as f:
        return json.load(f)


# Lin et al. 2018 (PacGAN), Table 1: means over 10 runs of 400,000 steps (docs/gan_mixture.md).
# The paper gives no reverse KL for the ring.
_PACGAN = {
    "grid": {"model": "PacGAN4", "modes": 24.8, "high_quality_fraction": 0.936, "reverse_kl": 0.04},
    "ring": {"model": "PacGAN2", "modes": 7.9, "high_quality_fraction": 0.956, "reverse_kl": None},
}


def mixture_reference(data: str) -> dict[str, Any]:
    """PacGAN's published result on a 2-D mixture (``'ring'`` or ``'grid'``).

    Returns ``{"model", "modes", "high_quality_fraction", "reverse_kl", "source"}``
    (``reverse_kl`` None where the paper gives none); the keys match
    :func:`mixture_metrics`. ValueError for another name.
    """
    if data not in _PACGAN:
        raise ValueError(f"mixture_reference: no published reference for {data!r} (ring, grid)")
    return {
        **_PACGAN[data],
        "source": "Lin et al. 2018 (PacGAN), Table 1: mean of 10 runs of 400,000 steps",
    }


def predict_from_features(feats: Any) -> np.ndarray:
    """The digits :func:`predict` gives, from :func:`features`' output ``(N, 128)``: int64 ``(N,)``.

    Runs only the classifier's head (ReLU, dropout in eval mode, fc), in float32 as the full
    forward does, so the labels are those of :func:`predict` on the same images.
    """
    from ...autograd.grad_mode import no_grad
    from ...nn import functional as F
    from ...tensor import _wrap

    f = np.asarray(getattr(feats, "data", feats))
    if f.ndim != 2 or f.shape[1] != FEATURE_DIM:
        raise ValueError(
            f"predict_from_features: expected features (N, {FEATURE_DIM}), got shape {f.shape}"
        )
    model = load_classifier()
    head = next(model.parameters()).dtype
    with no_grad():
        z = model.fc2(model.drop(F.relu(_wrap(np.ascontiguousarray(f, dtype=head)))))._array
    return z.argmax(axis=1).astype(np.int64)


__all__ = [
    "VERSION",
    "SHA256",
    "FEATURE_DIM",
    "WEIGHTS_PATH",
    "REFERENCE_PATH",
    "MNISTClassifier",
    "load_classifier",
    "prepare_images",
    "features",
    "logits",
    "probs",
    "predict",
    "feature_stats",
    "frechet_distance",
    "frechet_distance_from_stats",
    "fid_mnist",
    "KIDResult",
    "kid",
    "mmd2_unbiased",
    "polynomial_kernel",
    "knn_radii",
    "precision_recall",
    "class_histogram",
    "modes_covered",
    "kl_to_uniform",
    "mixture_metrics",
    "stacked_mnist_metrics",
    "mean_std_over_seeds",
    "reference",
    "mixture_reference",
    "predict_from_features",
]
