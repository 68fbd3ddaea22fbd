"""Scoring GAN runs: what ``tapegrad evaluate`` computes, as functions.

:func:`evaluate_run` draws N samples (seeded) from a run folder or checkpoint and scores
them:

* MNIST runs: Fréchet distance (FD) in the shipped classifier's features, KID,
  precision, recall, density and coverage against the MNIST test images, and modes and
  KL to uniform of the classifier's digits, beside the reference points of
  ``reference_v1.json`` (real-vs-real floor, corrupted real images; N = 10,000 default);
* other 1x28x28 data: the same metrics against the training data (no reference points);
* ``ring`` / ``grid``: PacGAN's modes, high-quality fraction and reverse KL (N = 2,500),
  beside PacGAN's published result and the score of real samples of the mixture.

:func:`summarize` gives the mean and standard deviation over several runs. docs/metrics.md
explains how to read the numbers.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, SupportsFloat, TypeGuard

import numpy as np

from .config import read_run_config
from .runner import RunError, open_run
from .runs import RunDir, find_checkpoint

__all__ = [
    "evaluate_run",
    "summarize",
    "summary_doc",
    "expand_runs",
    "check_same_data",
    "json_safe",
    "dumps",
    "IMAGE_KEYS",
    "MIXTURE_KEYS",
    "SUMMARY",
    "REFERENCE_N",
]

SUMMARY = "summary.json"
REFERENCE_N = 10_000  # the sample size of reference_v1.json's rows
IMAGE_KEYS = (
    "fid",
    "kid",
    "kid_std",
    "precision",
    "recall",
    "density",
    "coverage",
    "modes",
    "kl_to_uniform",
)
MIXTURE_KEYS = ("modes", "high_quality_fraction", "reverse_kl")
_MIXTURE_STD = {"ring": 0.01, "grid": 0.05}

# real-image features, computed once per process (--seeds K and several runs share them)
_REAL_FEATURES: dict[tuple[str, int], np.ndarray] = {}


def _metric_kind(data: str, sample_shape: tuple[int, ...]) -> str | None:
    if sample_shape == (1, 28, 28):
        return "mnist" if data == "mnist" else "images28"
    if data in _MIXTURE_STD and sample_shape == (2,):
        return "mixture"
    return None


def evaluate_run(path: str | Path, n: int | None = None, seed: int = 0) -> dict[str, Any]:
    """Evaluate a run folder or checkpoint as ``tapegrad evaluate`` does.

    Args:
        path: a run folder or a checkpoint file written by ``tapegrad train``.
        n: samples to draw (default 10,000 for 28x28 images, at most the training set's
            size for data other than MNIST; 2,500 for ring/grid; 2,000 otherwise).
        seed: seeds the noise the samples are drawn from.

    Returns:
        The result (also written to ``RUN/evaluation.json`` when ``path`` is in a run
        folder): checkpoint, step, epoch, sample statistics, ``metrics`` (``{}`` when
        none apply; keys :data:`IMAGE_KEYS` or :data:`MIXTURE_KEYS`), and where they
        apply ``real_set``, ``reference`` and ``warnings``.
    """
    opened = open_run(path)
    tr, ckpt, cfg, run = opened.trainer, opened.checkpoint, opened.config, opened.run
    kind = _metric_kind(cfg.data, tuple(tr.data.shape[1:]))
    if n is None:
        n = {"mnist": REFERENCE_N, "mixture": 2500}.get(kind or "", 2000)
        if kind == "images28":
            n = min(REFERENCE_N, tr.data.shape[0])
    if n < 1:
        raise RunError(f"--n must be positive, got {n}")
    gen = np.random.Generator(np.random.PCG64(seed))
    z = gen.standard_normal((n, tr.z_dim)).astype(tr.fixed_z.dtype)
    x = tr.generate(z=z).astype(np.float64)
    res: dict[str, Any] = {
        "checkpoint": str(ckpt),
        "data": cfg.data,
        "train_seed": cfg.seed,
        "step": tr.step,
        "epoch": tr.epoch,
        "n_samples": int(n),
        "sample_seed": int(seed),
        "sample_mean": float(x.mean()),
        "sample_std": float(x.std()),
        "sample_min": float(x.min()),
        "sample_max": float(x.max()),
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            scored = _score(kind, x, tr, cfg.data, opened.data_description)
            res["metrics"] = scored.pop("metrics")
            res.update(scored)
        except ValueError as e:
            raise RunError(f"cannot score {n} samples of {ckpt}: {e}") from e
    notes = list(dict.fromkeys(str(w.message) for w in caught))
    if kind in ("mnist", "images28") and n != REFERENCE_N:
        notes.append(
            f"FD, precision, recall, density and coverage depend on the number of samples; "
            f"the reference points were measured with {REFERENCE_N:,} per set, this with {n:,}"
        )
    if notes:
        res["warnings"] = notes
    if run is not None:
        RunDir(run).write_json("evaluation.json", json_safe(res))
    return res


def _score(kind: str | None, x: np.ndarray, tr: Any, data: str, described: str) -> dict[str, Any]:
    from . import metrics as M

    if kind is None:
        return {"metrics": {}, "note": "no metrics for this data (they need 1x28x28 or ring/grid)"}
    if kind == "mixture":
        from ..data import grid_modes, ring_modes, toy

        modes = ring_modes() if data == "ring" else grid_modes()
        std = _MIXTURE_STD[data]
        pts = np.where(np.isfinite(x), x, 1e9)  # a non-finite point is of low quality
        real, _ = (toy.ring if data == "ring" else toy.grid)(len(x), generator=0)
        paper = M.mixture_reference(data)
        return {
            "metrics": M.mixture_metrics(pts, modes, std),
            "reference": {
                "source": paper["source"],
                "rows": {
                    f"{paper['model']} on the {data} (paper)": {k: paper[k] for k in MIXTURE_KEYS},
                    f"real samples of the {data} (N={len(x)}, seed 0)": M.mixture_metrics(
                        np.asarray(real), modes, std
                    ),
                },
            },
        }
    if not np.all(np.isfinite(x)):
        raise RunError(f"the samples of the {data!r} run hold NaN or infinite values")
    out: dict[str, Any] = {}
    if kind == "mnist":
        from ..data import load_mnist_arrays

        m = min(len(x), REFERENCE_N)
        key = ("mnist-test", m)
        if key not in _REAL_FEATURES:
            test_images, _ = load_mnist_arrays(train=False)
            _REAL_FEATURES[key] = M.features(test_images[:m])
        out["real_set"] = f"the first {m:,} MNIST test images"
        if "test split" in described:
            out["real_set"] += " (this run was trained on them: full MNIST was not found)"
        ref = M.reference()
        out["reference"] = {
            "source": "src/tapegrad/gan/metrics/reference_v1.json",
            "classifier": ref["classifier"]["version"],
            "n": REFERENCE_N,
            "reference_set": ref["reference_set"],
            "compared_sets": ref["compared_sets"],
            "rows": ref["rows"],
        }
    else:
        m = min(len(x), tr.data.shape[0])
        key = (f"data:{data}", m)
        if key not in _REAL_FEATURES:
            pick = np.sort(np.random.default_rng(0).permutation(tr.data.shape[0])[:m])
            _REAL_FEATURES[key] = M.features(tr.data[pick])
        out["real_set"] = f"{m:,} training images ({data}; reference points: MNIST only)"
    fr = _REAL_FEATURES[key]
    ff = M.features(x)
    kid = M.kid(fr, ff, n_subsets=100, subset_size=1000, seed=0)
    labels = M.predict_from_features(ff)
    out["metrics"] = {
        "fid": M.frechet_distance(fr, ff),
        "kid": kid.mean,
        "kid_std": kid.std,
        **M.precision_recall(fr, ff, k=3),
        "modes": M.modes_covered(labels, n_classes=10),
        "kl_to_uniform": M.kl_to_uniform(labels, 10),
    }
    return out


def expand_runs(paths: Sequence[str]) -> tuple[list[str], Path | None]:
    """The runs to evaluate: a ``--seeds`` folder stands for its ``seed_<S>`` runs.
    Returns ``(paths, the --seeds folder when it was the only argument)``."""
    out: list[str] = []
    folder = None
    for p in paths:
        d = Path(p)
        subs = []
        if d.is_dir() and not (d / "checkpoints").exists():
            subs = [s for s in d.glob("seed_*") if s.is_dir() and s.name[5:].lstrip("-").isdigit()]
        if subs:
            out += [str(s) for s in sorted(subs, key=lambda s: int(s.name[5:]))]
            folder = d if len(paths) == 1 else None
        else:
            out.append(p)
    return out, folder


def check_same_data(paths: Sequence[str]) -> None:
    """Averages only make sense over runs on the same data: checked from the runs' configs
    before anything is evaluated."""
    seen: dict[str, str] = {}
    for p in paths:
        try:
            _, run = find_checkpoint(p)
        except FileNotFoundError as e:
            raise RunError(f"{p} is not a run folder or checkpoint: {e}") from e
        if run is None:
            continue
        try:
            data = read_run_config(run)[0].data
        except ValueError:
            continue
        seen.setdefault(data, p)
        if len(seen) > 1:
            (d1, p1), (d2, p2) = list(seen.items())[:2]
            raise RunError(f"cannot average runs on different data: {p1} ({d1}) and {p2} ({d2})")


def summarize(results: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """``{metric: {"mean", "std", "n_runs"}}`` over runs' metric dicts, by
    :func:`~tapegrad.gan.metrics.mean_std_over_seeds` (sample std, ddof 1). A NaN value
    (reverse KL with no high-quality sample) is left out; ``n_runs`` counts the others."""
    from .metrics import mean_std_over_seeds

    out: dict[str, dict[str, float]] = {}
    for k in results[0] if results else ():
        vals = [r.get(k) for r in results]
        ok = [v for v in vals if _is_number(v) and math.isfinite(v)]
        mean = std = math.nan
        if ok:
            mean, std = mean_std_over_seeds([{k: v} for v in ok])[k]
        out[k] = {"mean": mean, "std": std, "n_runs": len(ok)}
    return out


def _is_number(v: Any) -> TypeGuard[SupportsFloat]:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def summary_doc(entries: list[dict[str, Any]], reference: Any) -> dict[str, Any]:
    """The evaluation document: the runs' entries, their metric summary and the reference."""
    scored = [e["metrics"] for e in entries if e.get("metrics")]
    doc: dict[str, Any] = {"runs": entries, "summary": summarize(scored)}
    if reference is not None:
        doc["reference"] = reference
    return doc


def json_safe(v: Any) -> Any:
    """``v`` with NumPy scalars as Python numbers and NaN/infinities as None (strict JSON)."""
    if isinstance(v, dict):
        return {str(k): json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_safe(x) for x in v]
    if isinstance(v, (np.integer, np.bool_)):
        return v.item()
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    return v


def dumps(doc: dict[str, Any]) -> str:
    """``doc`` as indented JSON, non-finite numbers made JSON-safe."""
    return json.dumps(json_safe(doc), indent=2, allow_nan=False)
