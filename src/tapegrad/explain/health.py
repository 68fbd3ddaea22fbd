"""GAN health: what the samples cover, and alarms for collapse, a winning D and NaNs.

A **health record** summarises one stretch of training (see :func:`health_record`):
the mean D(x) and D(G(z)) over the stretch, the gradient norms of G and D, and the
histogram of what a batch of samples covers:

* MNIST-like images ``(N, 1, 28, 28)``: the digit the shipped classifier
  (:mod:`tapegrad.gan.metrics.classifier`) sees in each sample;
* 2-D mixtures (ring, grid): the nearest mode centre of each sample
  (:func:`tapegrad.data.ring_modes`, :func:`tapegrad.data.grid_modes`);
* anything else (a folder of images): no histogram.

Alarms (:func:`check_alarms`), with the thresholds of :class:`HealthThresholds`:

``collapse``
    A class is *covered* when it holds at least ``min_share`` of its uniform share of
    the samples (10 classes, 500 samples: at least 5). The alarm fires when coverage
    *falls*: the run once covered at least ``min_coverage`` of the classes and now
    covers fewer, or more than ``max_drop`` fewer than its best so far; or when, from
    ``warmup_steps`` on, it covers fewer than ``min_coverage`` of them without ever
    having done better. The warm-up exists because a young G draws blobs: the
    default MNIST GAN covers 2 to 4 digits for its first 600 steps and 8 to 10 from
    step 1,000 on (the 3,000-step run in docs/gan_health.md); a collapsed one stays on
    one or two.
``d_wins``
    The discriminator wins outright: mean D(G(z)) below ``d_fake_max`` (a probability,
    so only for the losses whose D output is one: ``minimax`` and ``ns``) while G's
    gradient norm has fallen below ``g_grad_vanish`` times its reference value (the
    median over the run's first ``reference_records`` health records). G then gets
    no signal to improve from; the non-saturating loss usually keeps G's gradient
    alive, so it seldom trips this.
``non_finite``
    A loss, a mean D output or a gradient norm is NaN or infinite.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..tensor import Tensor

__all__ = [
    "HealthThresholds",
    "grad_norm",
    "coverage",
    "coverage_kind",
    "health_record",
    "check_alarms",
]

PROBABILITY_LOSSES = ("minimax", "ns")


@dataclass(frozen=True)
class HealthThresholds:
    """The thresholds of the alarms (see the module docstring for what each means).

    Attributes:
        min_share: a class is covered when it holds at least this fraction of its
            uniform share of the samples (default 0.1).
        min_coverage: ``collapse`` when fewer than this fraction of the classes are
            covered (default 0.5: fewer than 5 of 10 digits, 4 of 8 ring modes).
        max_drop: ``collapse`` when the covered count falls by more than this fraction
            below the run's best (default 0.3).
        warmup_steps: before this step low coverage alarms only once it has fallen
            from a better value (default 2,000).
        d_fake_max: ``d_wins`` needs mean D(G(z)) below this probability (default 0.05).
        g_grad_vanish: ... and G's gradient norm below this fraction of its reference
            (default 0.1).
        reference_records: the reference G gradient norm is the median over this many
            first health records of the run (default 3).
    """

    min_share: float = 0.1
    min_coverage: float = 0.5
    max_drop: float = 0.3
    warmup_steps: int = 2000
    d_fake_max: float = 0.05
    g_grad_vanish: float = 0.1
    reference_records: int = 3


def grad_norm(module: Any) -> float | None:
    """The L2 norm of all of ``module``'s parameter gradients together (float64);
    None when no parameter has a gradient yet."""
    total = 0.0
    seen = False
    for p in module.parameters():
        g = getattr(p, "grad", None)
        if g is None:
            continue
        a = np.asarray(g._array if isinstance(g, Tensor) else g, dtype=np.float64)
        total += float(np.sum(a * a))
        seen = True
    return math.sqrt(total) if seen else None


def coverage_kind(data: Any, sample_shape: tuple[int, ...]) -> str | None:
    """Which histogram suits a run: ``"mnist"`` for 1x28x28 images of the MNIST data,
    ``"ring"`` / ``"grid"`` for 2-D points of those mixtures, None otherwise.

    ``data`` is the run's ``--data`` value (``config.json``'s ``data``), or None."""
    if data == "mnist" and tuple(sample_shape) == (1, 28, 28):
        return "mnist"
    if data in ("ring", "grid") and tuple(sample_shape) == (2,):
        return str(data)
    return None


def _mode_centres(kind: str) -> np.ndarray:
    from ..data import toy

    return toy.ring_modes() if kind == "ring" else toy.grid_modes()


def coverage(
    samples: np.ndarray, kind: str | None, min_share: float = 0.1
) -> dict[str, Any] | None:
    """The histogram of what ``samples`` cover.

    Args:
        samples: ``(N, 1, 28, 28)`` images in [-1, 1] for ``"mnist"``, ``(N, 2)`` points
            for ``"ring"`` / ``"grid"``.
        kind: ``"mnist"``, ``"ring"``, ``"grid"`` or None (returns None).
        min_share: fraction of the uniform share that makes a class covered.

    Returns:
        ``{"kind", "n", "counts": [K ints], "covered": int, "n_classes": K,
        "effective": exp(entropy) of the histogram, "kl_to_uniform": float}``; for the
        mixtures also ``"high_quality_fraction"`` (within 3 std of the nearest mode).
    """
    if kind is None:
        return None
    x = np.asarray(samples)
    if x.shape[0] == 0:
        raise ValueError("coverage: no samples")
    extra: dict[str, Any] = {}
    if kind == "mnist":
        from ..gan.metrics import predict

        if x.shape[1:] != (1, 28, 28):
            raise ValueError(f"coverage: 'mnist' needs (N, 1, 28, 28) images, got {x.shape}")
        labels = predict(x)
        k = 10
    elif kind in ("ring", "grid"):
        if x.ndim != 2 or x.shape[1] != 2:
            raise ValueError(f"coverage: {kind!r} needs (N, 2) points, got {x.shape}")
        centres = _mode_centres(kind).astype(np.float64)
        d2 = ((x.astype(np.float64)[:, None, :] - centres[None]) ** 2).sum(axis=2)
        labels = d2.argmin(axis=1)
        std = 0.01 if kind == "ring" else 0.05
        extra["high_quality_fraction"] = float((d2.min(axis=1) <= (3 * std) ** 2).mean())
        k = centres.shape[0]
    else:
        raise ValueError(f"coverage: kind must be 'mnist', 'ring', 'grid' or None, got {kind!r}")
    counts = np.bincount(labels, minlength=k).astype(np.int64)
    p = counts[counts > 0] / counts.sum()
    entropy = float(-(p * np.log(p)).sum())
    return {
        "kind": kind,
        "n": int(x.shape[0]),
        "counts": [int(c) for c in counts],
        "n_classes": int(k),
        "covered": int((counts >= min_share * x.shape[0] / k).sum()),
        "effective": math.exp(entropy),
        "kl_to_uniform": math.log(k) - entropy,
        **extra,
    }


def health_record(
    step: int,
    records: list[dict[str, Any]],
    g_grad_norm: float | None,
    d_grad_norm: float | None,
    samples: np.ndarray | None = None,
    kind: str | None = None,
    min_share: float = 0.1,
) -> dict[str, Any]:
    """A ``{"kind": "health", ...}`` record for the stretch of training ending at ``step``.

    Args:
        step: the last step of the stretch.
        records: the step records of the stretch (``d_loss``, ``g_loss``, ``d_real``,
            ``d_fake``; None entries, e.g. ``g_loss`` of a D-only step, are skipped).
        g_grad_norm, d_grad_norm: the models' gradient norms (:func:`grad_norm`).
        samples, kind: a batch of samples and its :func:`coverage` kind.

    Returns:
        ``{"kind": "health", "step", "d_loss", "g_loss", "d_real", "d_fake"`` (means over
        the stretch, None when absent), ``"g_grad_norm", "d_grad_norm", "coverage"``
        (None without a histogram) ``, "alarms": []}`` (see :func:`check_alarms`).
    """
    rec: dict[str, Any] = {"kind": "health", "step": int(step)}
    for key in ("d_loss", "g_loss", "d_real", "d_fake"):
        vals = [r[key] for r in records if r.get(key) is not None]
        # a mean would hide one NaN among finite values: keep the non-finite one
        bad = [v for v in vals if not math.isfinite(v)]
        rec[key] = bad[0] if bad else (float(np.mean(vals)) if vals else None)
    rec["g_grad_norm"] = g_grad_norm
    rec["d_grad_norm"] = d_grad_norm
    rec["coverage"] = None
    if samples is not None and kind is not None and np.isfinite(samples).all():
        rec["coverage"] = coverage(samples, kind, min_share)
    rec["alarms"] = []
    return rec


def _alarm(name: str, message: str) -> dict[str, str]:
    return {"name": name, "message": message}


def check_alarms(
    record: dict[str, Any],
    history: list[dict[str, Any]],
    loss: str,
    thresholds: HealthThresholds | None = None,
) -> list[dict[str, str]]:
    """The alarms ``record`` raises, given the run's earlier health records.

    Args:
        record: a :func:`health_record`.
        history: the run's earlier health records, oldest first.
        loss: the GAN loss's name (``d_wins`` only for ``minimax`` and ``ns``).
        thresholds: see :class:`HealthThresholds`.

    Returns:
        ``[{"name": "collapse" | "d_wins" | "non_finite", "message": str}, ...]``.
    """
    t = thresholds or HealthThresholds()
    alarms: list[dict[str, str]] = []
    bad = [
        f"{k} = {record[k]}"
        for k in ("d_loss", "g_loss", "d_real", "d_fake", "g_grad_norm", "d_grad_norm")
        if record.get(k) is not None and not math.isfinite(record[k])
    ]
    if bad:
        alarms.append(_alarm("non_finite", "non-finite values: " + ", ".join(bad)))

    cov = record.get("coverage")
    if cov is not None:
        k, covered = cov["n_classes"], cov["covered"]
        floor = t.min_coverage * k
        best = max([h["coverage"]["covered"] for h in history if h.get("coverage")] + [covered])
        what = "digits" if cov["kind"] == "mnist" else "modes"
        if best >= floor and (covered < floor or covered < (1.0 - t.max_drop) * best):
            alarms.append(
                _alarm(
                    "collapse",
                    f"coverage fell: samples cover {covered} of {k} {what}, "
                    f"down from {best} earlier in the run",
                )
            )
        elif covered < floor and record["step"] >= t.warmup_steps:
            alarms.append(
                _alarm(
                    "collapse",
                    f"mode collapse: samples cover {covered} of {k} {what} at step "
                    f"{record['step']} (alarm below {floor:g})",
                )
            )

    d_fake, g_norm = record.get("d_fake"), record.get("g_grad_norm")
    if loss in PROBABILITY_LOSSES and d_fake is not None and g_norm is not None:
        refs = [h["g_grad_norm"] for h in history if h.get("g_grad_norm") is not None]
        refs = [r for r in refs if math.isfinite(r)][: t.reference_records]
        ref = float(np.median(refs)) if refs else None
        if d_fake < t.d_fake_max and ref is not None and g_norm < t.g_grad_vanish * ref:
            alarms.append(
                _alarm(
                    "d_wins",
                    f"D wins outright: mean D(G(z)) = {d_fake:.4f} and G's gradient norm "
                    f"{g_norm:.3g} is below {t.g_grad_vanish:g} x its early value {ref:.3g}",
                )
            )
    return alarms
