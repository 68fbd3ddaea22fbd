"""Mode-collapse metrics: class histograms, modes covered, KL to uniform, PacGAN's 2-D
protocol and Stacked MNIST.

KL to uniform (natural log) of the empirical distribution ``p`` over ``K`` modes::

    KL(p || U_K) = sum_{c : p_c > 0} p_c log(p_c K) = log K - H(p)

Empty modes contribute 0 (``0 log 0 = 0``): this is the "reverse KL" of PacGAN (Lin et
al., 2018) and VEEGAN (Srivastava et al., 2017), from the generated distribution over
modes to the true, uniform one. It is 0 for a perfectly balanced generator and
``log(K / K')`` for one that puts equal mass on only ``K'`` of the ``K`` modes.

2-D mixtures (:func:`mixture_metrics`, the PacGAN/VEEGAN protocol, 2,500 samples):

* a sample is **high quality** when its distance to the nearest mode centre is at most
  ``3 * std`` (for samples drawn from the true mixture this happens with probability
  ``1 - exp(-9/2) = 0.98889`` per sample, the chi-square(2) mass within radius 3);
* a mode is **captured** when it is the nearest mode of at least one high-quality sample;
* **reverse KL** is ``KL(p || U)`` above, with ``p`` the histogram of the nearest modes of
  the high-quality samples (low-quality samples are left out).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "class_histogram",
    "modes_covered",
    "kl_to_uniform",
    "mixture_metrics",
    "stacked_mnist_metrics",
    "mean_std_over_seeds",
]


def _labels(labels: Any, who: str, n_classes: int | None = None) -> np.ndarray:
    y = np.asarray(getattr(labels, "data", labels))
    if y.ndim != 1 or (y.size and y.dtype.kind not in "iu"):
        raise ValueError(f"{who}: labels must be a 1-D integer array, got {y.dtype} {y.shape}")
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        raise ValueError(f"{who}: labels must be non-negative, got minimum {y.min()}")
    if n_classes is not None:
        if n_classes < 1:
            raise ValueError(f"{who}: n_classes must be positive, got {n_classes}")
        if y.size and y.max() >= n_classes:
            raise ValueError(f"{who}: label {y.max()} is out of range for n_classes={n_classes}")
    return y


def class_histogram(labels: Any, n_classes: int = 10) -> np.ndarray:
    """Counts of each class: int64 ``(n_classes,)`` for integer labels ``(N,)`` in
    ``[0, n_classes)``."""
    y = _labels(labels, "class_histogram", n_classes)
    return np.bincount(y, minlength=n_classes).astype(np.int64)


def modes_covered(labels: Any, min_count: int = 1, n_classes: int | None = None) -> int:
    """How many classes occur at least ``min_count`` times among ``labels`` ``(N,)``."""
    if min_count < 1:
        raise ValueError(f"modes_covered: min_count must be >= 1, got {min_count}")
    y = _labels(labels, "modes_covered", n_classes)
    counts = np.bincount(y, minlength=n_classes or 0)
    return int((counts >= min_count).sum())


def _kl_hist(counts: np.ndarray) -> float:
    total = counts.sum()
    if total == 0:
        return float("nan")
    p = counts[counts > 0] / total
    return float(np.sum(p * np.log(p * counts.shape[0])))


def kl_to_uniform(labels: Any, n_classes: int) -> float:
    """``KL(p || uniform over n_classes)`` of the label histogram (natural log; see the
    module docstring). NaN when ``labels`` is empty."""
    return _kl_hist(class_histogram(labels, n_classes))


def mixture_metrics(samples: Any, modes: Any, std: float, n_std: float = 3.0) -> dict[str, float]:
    """PacGAN's metrics for samples of a 2-D Gaussian mixture (see the module docstring).

    Args:
        samples: generated points ``(N, 2)`` (NumPy or Tensor); the protocol uses N = 2,500.
        modes: mode centres ``(K, 2)``, e.g. :func:`tapegrad.data.ring_modes` or
            :func:`tapegrad.data.grid_modes`.
        std: the mixture's standard deviation (ring 0.01, grid 0.05).
        n_std: the high-quality radius in units of ``std``.

    Returns:
        ``{"modes": captured modes (int, 0..K), "high_quality_fraction": float,
        "reverse_kl": float}``; ``reverse_kl`` is NaN when no sample is high quality.
    """
    x = np.asarray(getattr(samples, "data", samples), dtype=np.float64)
    c = np.asarray(getattr(modes, "data", modes), dtype=np.float64)
    if x.ndim != 2 or c.ndim != 2 or x.shape[1] != c.shape[1] or c.shape[0] < 1:
        raise ValueError(
            f"mixture_metrics: expected samples (N, D) and modes (K, D), got shapes "
            f"{x.shape} and {c.shape}"
        )
    if not std > 0:
        raise ValueError(f"mixture_metrics: std must be positive, got {std}")
    if x.shape[0] == 0:
        raise ValueError("mixture_metrics: no samples")
    d2 = ((x[:, None, :] - c[None, :, :]) ** 2).sum(axis=2)  # (N, K)
    nearest = d2.argmin(axis=1)
    hq = d2[np.arange(x.shape[0]), nearest] <= (n_std * std) ** 2
    counts = np.bincount(nearest[hq], minlength=c.shape[0])
    return {
        "modes": int((counts > 0).sum()),
        "high_quality_fraction": float(hq.mean()),
        "reverse_kl": _kl_hist(counts),
    }


def stacked_mnist_metrics(
    images: Any, input_range: tuple[float, float] = (-1.0, 1.0), batch_size: int = 500
) -> dict[str, Any]:
    """Stacked-MNIST mode metrics: each of the 3 channels classified by the shipped classifier.

    Args:
        images: ``(N, 3, 28, 28)`` NumPy array or Tensor (see :mod:`.classifier` for
            ``input_range`` and uint8).
        input_range: value range of float images.
        batch_size: images per classifier forward pass.

    Returns:
        ``{"modes": modes covered out of 1000 (int), "reverse_kl": KL(p || uniform over
        1000), "labels": int64 (N,) with 100 * d_R + 10 * d_G + d_B}``.
    """
    from .classifier import predict

    x = np.asarray(getattr(images, "data", images))
    if x.ndim != 4 or x.shape[1:] != (3, 28, 28):
        raise ValueError(
            f"stacked_mnist_metrics: expected images of shape (N, 3, 28, 28), got {x.shape}"
        )
    digits = predict(x.reshape(-1, 28, 28), batch_size=batch_size, input_range=input_range).reshape(
        -1, 3
    )
    labels = digits @ np.array([100, 10, 1], dtype=np.int64)
    return {
        "modes": modes_covered(labels, n_classes=1000),
        "reverse_kl": kl_to_uniform(labels, 1000),
        "labels": labels,
    }


def mean_std_over_seeds(results: list[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    """Mean and standard deviation of each numeric entry over runs with different seeds.

    Args:
        results: one dict per seed, all with the same keys (e.g. what
            :func:`mixture_metrics` returns); entries that are not real numbers (arrays,
            strings) are skipped.

    Returns:
        ``{key: (mean, std)}`` with the sample standard deviation (ddof 1; 0.0 for a
        single run), for ``--seeds K`` reports.
    """
    if not results:
        raise ValueError("mean_std_over_seeds: no results")
    keys = list(results[0])
    for i, r in enumerate(results):
        if list(r) != keys and set(r) != set(keys):
            raise ValueError(
                f"mean_std_over_seeds: result {i} has keys {sorted(r)}, expected {sorted(keys)}"
            )
    out: dict[str, tuple[float, float]] = {}
    for k in keys:
        vals = [r[k] for r in results]
        if not all(
            isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            for v in vals
        ):
            continue
        a = np.asarray(vals, dtype=np.float64)
        out[k] = (float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0)
    return out
