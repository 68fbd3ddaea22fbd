"""Offline GAN metrics (NumPy, float64), with a small MNIST classifier shipped in the package.

* :mod:`.classifier`: the versioned metric CNN (``load_classifier``, ``features``,
  ``predict``, ``probs``), trained by tapegrad (``scripts/train_metric_classifier.py``);
* :mod:`.frechet`: Fréchet distance (``frechet_distance``, ``fid_mnist``);
* :mod:`.kid`: Kernel Inception Distance (``kid``);
* :mod:`.prdc`: improved precision and recall, density and coverage (``precision_recall``);
* :mod:`.modes`: class histograms, modes covered, KL to uniform, PacGAN's 2-D mixture
  metrics, Stacked MNIST, and ``mean_std_over_seeds``;
* ``reference()``: the reference values of docs/metrics.md (real-vs-real floor and
  corrupted images), stored in ``reference_v1.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
]
