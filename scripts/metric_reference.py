"""Reference values of the MNIST GAN metrics: the real-vs-real floor and corrupted images.

    python scripts/metric_reference.py --data DIR

Reference set: 10,000 training images drawn without replacement (seed 0). Each row
compares it with 10,000 test images, as they are or corrupted (all in [0, 1], corrupted
values clipped to [0, 1]), in the shipped classifier's features: Fréchet distance, KID
(100 subsets of 1,000, seed 0), precision/recall/density/coverage (k = 3), and the
classifier's mode metrics on the compared images (modes covered, KL to uniform over 10).

The rows are printed as a Markdown table (docs/metrics.md) and written as JSON to
``--out`` (default ``src/tapegrad/gan/metrics/reference_v1.json``, read by
``tapegrad.gan.metrics.reference()``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from tapegrad.data import load_mnist_arrays
from tapegrad.gan import metrics as M

N = 10_000


def gaussian_blur(x: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """Separable Gaussian blur (5 taps, zero padding) of images ``(N, 28, 28)``."""
    t = np.arange(-2, 3, dtype=np.float64)
    w = np.exp(-(t**2) / (2 * sigma**2))
    w /= w.sum()
    out = x.astype(np.float64)
    for axis in (1, 2):
        padded = np.pad(out, [(0, 0), (2, 2), (0, 0)] if axis == 1 else [(0, 0), (0, 0), (2, 2)])
        size = out.shape[axis]
        out = sum(wi * np.take(padded, np.arange(i, i + size), axis=axis) for i, wi in enumerate(w))
    return out.astype(np.float32)


def salt_and_pepper(x: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Sets a random ``fraction`` of pixels to 0 or 1 (equally likely)."""
    out = x.copy()
    hit = rng.random(x.shape) < fraction
    out[hit] = (rng.random(int(hit.sum())) < 0.5).astype(np.float32)
    return out


def row(ref_feats: np.ndarray, images: np.ndarray, kid_subset: int) -> dict[str, float]:
    """Every metric of ``images`` (float32 in [0, 1]) against the reference features."""
    f = M.features(images, input_range=(0.0, 1.0))
    k = M.kid(ref_feats, f, n_subsets=100, subset_size=kid_subset, seed=0)
    labels = M.predict(images, input_range=(0.0, 1.0))
    return {
        "n": int(images.shape[0]),
        "fid": M.frechet_distance(ref_feats, f),
        "kid": k.mean,
        "kid_std": k.std,
        **M.precision_recall(ref_feats, f, k=3),
        "modes": M.modes_covered(labels, n_classes=10),
        "kl_to_uniform": M.kl_to_uniform(labels, 10),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=None, help="folder with the MNIST IDX files")
    p.add_argument("--out", default=str(M.REFERENCE_PATH))
    a = p.parse_args()
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    xtr, _ = load_mnist_arrays(train=True, root=a.data)
    xte, yte = load_mnist_arrays(train=False, root=a.data)
    ref = xtr[rng.choice(xtr.shape[0], N, replace=False)].astype(np.float32) / 255.0
    test = xte.astype(np.float32) / 255.0
    acc = float((M.predict(test, input_range=(0.0, 1.0)) == yte).mean())
    ref_feats = M.features(ref, input_range=(0.0, 1.0))

    cases = {
        "real test images (floor)": test,
        "gaussian noise sigma 0.1": np.clip(test + 0.1 * rng.standard_normal(test.shape), 0, 1),
        "gaussian noise sigma 0.3": np.clip(test + 0.3 * rng.standard_normal(test.shape), 0, 1),
        "gaussian blur sigma 1": gaussian_blur(test, 1.0),
        "salt and pepper 10%": salt_and_pepper(test, 0.1, rng),
        "digits 0-4 only (half the classes)": test[yte < 5],
    }
    rows = {}
    for name, imgs in cases.items():
        rows[name] = row(ref_feats, imgs.astype(np.float32), 1000)
        print(f"{name}: {rows[name]}", flush=True)

    out = {
        "classifier": {"version": M.VERSION, "sha256": M.SHA256, "test_accuracy": acc},
        "command": "python scripts/metric_reference.py --data <folder with full MNIST>",
        "reference_set": f"{N} MNIST training images drawn without replacement, seed 0",
        "compared_sets": "the 10,000 MNIST test images, as they are or corrupted",
        "settings": {
            "frechet": "classifier features (128, fc pre-activation), unbiased covariances",
            "kid": {"n_subsets": 100, "subset_size": 1000, "seed": 0, "std": "ddof 0"},
            "precision_recall": {"k": 3},
            "modes": "classifier labels of the compared images; KL to uniform over 10, nats",
        },
        "rows": rows,
    }
    Path(a.out).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")

    print(f"\nclassifier {M.VERSION}: test accuracy {acc:.4f}\n")
    print(
        "| compared with 10,000 real train images | N | FD | KID (std) | precision | recall "
        "| density | coverage | modes | KL to uniform |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(
            f"| {name} | {r['n']} | {r['fid']:.3f} | {r['kid']:.5f} ({r['kid_std']:.5f}) "
            f"| {r['precision']:.3f} | {r['recall']:.3f} | {r['density']:.3f} "
            f"| {r['coverage']:.3f} | {r['modes']} | {r['kl_to_uniform']:.4f} |"
        )
    print(f"\nwrote {a.out} in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
