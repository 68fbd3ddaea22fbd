"""Plain-text tables of evaluation results, as ``tapegrad evaluate`` and ``train --seeds``
print them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..gan.evaluate import IMAGE_KEYS, MIXTURE_KEYS, _is_number

_FORMATS: dict[str, tuple[str, str]] = {
    "fid": ("FD", "{:.3f}"),
    "kid": ("KID", "{:.1f}"),
    "kid_std": ("KID std", "{:.1f}"),
    "precision": ("precision", "{:.3f}"),
    "recall": ("recall", "{:.3f}"),
    "density": ("density", "{:.3f}"),
    "coverage": ("coverage", "{:.3f}"),
    "modes": ("modes", "{:.1f}"),
    "kl_to_uniform": ("KL to uniform", "{:.4f}"),
    "high_quality_fraction": ("high quality %", "{:.1f}"),
    "reverse_kl": ("reverse KL", "{:.3f}"),
}


def _cell(key: str, v: Any) -> str:
    if v is None or not _is_number(v):
        return "-"
    v = float(v)
    if math.isnan(v):
        return "nan"
    if key == "high_quality_fraction":
        v *= 100.0
    if key == "modes" and v.is_integer():
        return str(int(v))
    return _FORMATS.get(key, (key, "{:.4g}"))[1].format(v)


def _table(rows: Sequence[tuple[str, dict[str, Any]] | str], keys: Sequence[str]) -> str:
    """A plain-text table: one line per ``(label, values)`` row, a string row as a heading."""
    cells = [(r[0], [_cell(k, r[1].get(k)) for k in keys]) for r in rows if not isinstance(r, str)]
    width = max([len(lab) for lab, _ in cells] + [0])
    heads = [_FORMATS.get(k, (k, ""))[0] for k in keys]
    col = [max([len(h)] + [len(c[i]) for _, c in cells]) for i, h in enumerate(heads)]
    lines = [" " * width + "".join(f"  {h:>{w}}" for h, w in zip(heads, col))]
    for r in rows:
        if isinstance(r, str):
            lines.append(r)
            continue
        values = [_cell(k, r[1].get(k)) for k in keys]
        lines.append(f"{r[0]:<{width}}" + "".join(f"  {v:>{w}}" for v, w in zip(values, col)))
    return "\n".join(lines)


def _reference_rows(reference: dict[str, Any] | None) -> list[tuple[str, dict[str, Any]] | str]:
    if not reference:
        return []
    what = reference["source"]
    if "classifier" in reference:
        what = (
            f"{reference['classifier']}, {reference['n']:,} real MNIST training images against "
            f"{reference['n']:,} test images, as they are or corrupted; docs/metrics.md"
        )
    return [f"reference points ({what}):", *reference["rows"].items()]


def _metric_keys(metrics: dict[str, Any]) -> tuple[str, ...]:
    return MIXTURE_KEYS if "high_quality_fraction" in metrics else IMAGE_KEYS


def print_result(res: dict[str, Any]) -> None:
    """A short human summary of one :func:`~tapegrad.gan.evaluate.evaluate_run` result."""
    print(
        f"{res['checkpoint']} (step {res['step']}, epoch {res['epoch']}): "
        f"{res['n_samples']:,} samples, seed {res['sample_seed']}"
    )
    if res.get("real_set"):
        print(f"compared with {res['real_set']}")
    if res.get("note"):
        print(res["note"])
    if res["metrics"]:
        rows = [("this run", res["metrics"]), *_reference_rows(res.get("reference"))]
        print(_table(rows, _metric_keys(res["metrics"])))
    for w in res.get("warnings", ()):
        print(f"note: {w}")


def summary_table(labels: Sequence[str], doc: dict[str, Any]) -> str:
    """Per-run rows, the mean and std over the scored runs, then the reference points."""
    runs = doc["runs"]
    scored = [e["metrics"] for e in runs if e.get("metrics")]
    if not scored:
        return "no metrics for these runs"
    keys = _metric_keys(scored[0])
    s = doc["summary"]
    rows: list[tuple[str, dict[str, Any]] | str] = [
        (lab, e.get("metrics") or {}) for lab, e in zip(labels, runs)
    ]
    rows.append((f"mean ({len(scored)} runs)", {k: s[k]["mean"] for k in keys if k in s}))
    rows.append(("std", {k: s[k]["std"] for k in keys if k in s}))
    rows += _reference_rows(doc.get("reference"))
    lines = [_table(rows, keys)]
    for k in keys:
        n_def = s[k]["n_runs"] if k in s else len(scored)
        if n_def == 0:
            lines.append(f"note: {k} is undefined (NaN) in every run")
        elif n_def < len(scored):
            lines.append(f"note: {k}: mean and std over the {n_def} runs where it is defined")
    failed = [lab for lab, e in zip(labels, runs) if not e.get("metrics")]
    if failed:
        lines.append(f"note: not scored (diverged): {', '.join(failed)}")
    notes = dict.fromkeys(w for e in runs for w in e.get("warnings", ()))
    lines += [f"note: {w}" for w in notes]
    return "\n".join(lines)


def one_line(metrics: dict[str, Any]) -> str:
    """The metrics as one line, "FD 12.345, KID 3.1, ..." (or a note when there are none)."""
    if not metrics:
        return "no metrics for this data"
    return ", ".join(f"{_FORMATS[k][0]} {_cell(k, metrics[k])}" for k in _metric_keys(metrics))
