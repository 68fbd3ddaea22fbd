"""A tapegrad MNIST recipe (e.g. `--recipe dcgan`) against PyTorch's DCGAN recipe given
the same training time.

Three steps, each its own process so that they can run side by side:

* ``tapegrad train ...`` (the recipe under test, run from the command line as a user
  would, timed with ``/usr/bin/time``);
* ``python benchmarks/gan_default.py torch --seed S --cpu-budget SEC --json OUT.json``:
  PyTorch's DCGAN recipe (the loop of ``benchmarks/gan_quality.py``: batch 64, Adam 2e-4
  (0.5, 0.999), non-saturating loss, BatchNorm, no EMA) trained until the process has
  spent ``SEC`` seconds of CPU time training, then scored;
* ``python benchmarks/gan_default.py score RUN --json OUT.json``: scores a run folder
  of ``tapegrad train`` (the EMA generator and, for comparison, the live one).

``python benchmarks/gan_default.py table OUT.json ...`` prints the per-run and mean ±
std table. Every score uses 10,000 samples against the 10,000 MNIST test images with
tapegrad's metrics (classifier ``mnist-classifier-v1``), as ``gan_quality.py`` does,
plus the fraction of samples classified with confidence >= 0.9 and the rarest digit's
share of the samples.

Usage (one BLAS thread, PyTorch set to one thread too)::

    export OPENBLAS_NUM_THREADS=1 TAPEGRAD_DATA=/path/to/mnist
    python benchmarks/gan_default.py torch --seed 0 --cpu-budget 600 --json torch_s0.json
    tapegrad train --recipe dcgan --seed 0 --out runs/dcgan_s0 --quiet
    python benchmarks/gan_default.py score runs/dcgan_s0 --cpu-s SEC --json tg_s0.json
    python benchmarks/gan_default.py table tg_s*.json torch_s*.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT / "src", ROOT / "benchmarks"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import gan_quality as Q  # noqa: E402

import tapegrad  # noqa: E402
from tapegrad._atomic import atomic_open  # noqa: E402
from tapegrad.gan import metrics as M  # noqa: E402

KEYS = ("fd", "kid", "modes", "kl", "conf09", "min_class", "label_acc")


def score(scorer: Q.Scorer, samples: np.ndarray, labels: Any = None) -> dict[str, Any]:
    """``gan_quality``'s scores of ``samples`` (N, 1, 28, 28) in [-1, 1], plus ``conf09``
    (fraction classified with probability >= 0.9), ``min_class`` (the rarest digit's
    fraction), ``hist`` (predicted digits 0-9) and, given the ``labels`` (N,) a
    conditional G was asked for, ``label_acc`` (fraction predicted as asked)."""
    out: dict[str, Any] = scorer.score(samples)
    feats = M.features(samples)
    model = M.load_classifier()
    with tapegrad.no_grad():
        h = tapegrad.as_tensor(np.asarray(feats, dtype=np.float32)).relu()
        logits = model.fc2(h).numpy().astype(np.float64)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    hist = np.bincount(p.argmax(axis=1), minlength=10)
    out["conf09"] = float((p.max(axis=1) >= 0.9).mean())
    out["min_class"] = float(hist.min() / hist.sum())
    out["hist"] = hist.tolist()
    if labels is not None:
        out["label_acc"] = float((p.argmax(axis=1) == np.asarray(labels)).mean())
    return out


def _write(path: str, doc: dict[str, Any]) -> None:
    with atomic_open(path, "w") as f:
        json.dump(doc, f, indent=1)


def cmd_torch(a: argparse.Namespace) -> dict[str, Any]:
    Q._set_threads()
    x, test = Q.load_data(a.data)
    G, info = Q.train_torch("dcgan", x, a.seed, epochs=10**6, max_cpu_s=a.cpu_budget)
    res = {"framework": "torch", "recipe": "dcgan", "seed": a.seed, **info}
    res.update(score(Q.Scorer(test), Q.sample_torch(G, a.n_samples, a.seed)))
    return res


def cmd_score(a: argparse.Namespace) -> dict[str, Any]:
    from tapegrad.data import load_mnist_arrays
    from tapegrad.gan.models import balanced_labels
    from tapegrad.gan.runner import open_run

    opened = open_run(a.run)
    tr, cfg = opened.trainer, opened.config.to_dict()
    test, _ = load_mnist_arrays(train=False, root=a.data)
    scorer = Q.Scorer(test)
    res: dict[str, Any] = {"framework": "tapegrad", "run": a.run, "seed": cfg["seed"]}
    res["steps"] = tr.step
    if a.cpu_s is not None:
        res["command_cpu_s"] = a.cpu_s
    res["config"] = cfg
    # a conditional G is asked for every digit equally often (Trainer.generate's labels)
    labels = balanced_labels(a.n_samples, tr.G.n_classes) if tr.conditional else None
    res.update(score(scorer, tr.generate(a.n_samples).reshape(-1, 1, 28, 28), labels))
    if tr.ema is not None:
        live = tr.generate(a.n_samples, use_ema=False).reshape(-1, 1, 28, 28)
        res["live"] = score(scorer, live, labels)
    return res


def _mean_std(v: list[float]) -> str:
    a = np.asarray(v, dtype=np.float64)
    s = a.std(ddof=1) if len(a) > 1 else 0.0
    return f"{a.mean():.3f} ± {s:.3f}" if abs(a.mean()) < 10 else f"{a.mean():.1f} ± {s:.1f}"


def cmd_table(a: argparse.Namespace) -> None:
    runs = [json.loads(Path(p).read_text()) for p in a.files]
    cols = ("steps", "command_cpu_s", "train_cpu_s", *KEYS)
    print("| framework | seed | " + " | ".join(cols) + " |")
    for r in runs:
        cells = [f"{r.get(k, float('nan')):.3f}" if isinstance(r.get(k), float) else
                 str(r.get(k, "-")) for k in cols]  # fmt: skip
        print(f"| {r['framework']} | {r['seed']} | " + " | ".join(cells) + " |")
        if "live" in r:
            live = [f"{r['live'][k]:.3f}" if k in r["live"] else "-" for k in cols]
            print(f"| {r['framework']} (live G) | {r['seed']} | " + " | ".join(live) + " |")
    for fw in sorted({r["framework"] for r in runs}):
        sel = [r for r in runs if r["framework"] == fw]
        cells = [_mean_std([r[k] for r in sel]) if all(k in r for r in sel) else "-" for k in cols]
        print(f"| {fw} mean ± std | {len(sel)} | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("torch", help="train and score PyTorch's DCGAN recipe")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--cpu-budget", type=float, required=True, help="CPU seconds of training")
    s = sub.add_parser("score", help="score a `tapegrad train` run folder")
    s.add_argument("run")
    s.add_argument(
        "--cpu-s", type=float, default=None, help="CPU seconds the training command took"
    )
    for q in (t, s):
        q.add_argument("--data", default=None, help="MNIST folder (default: tapegrad's search)")
        q.add_argument("--n-samples", type=int, default=10_000)
        q.add_argument("--json", required=True)
    tb = sub.add_parser("table", help="print the runs of JSON files as a table")
    tb.add_argument("files", nargs="+")
    a = p.parse_args(argv)
    if a.cmd == "table":
        cmd_table(a)
        return
    t0 = time.perf_counter()
    res = cmd_torch(a) if a.cmd == "torch" else cmd_score(a)
    res["total_s"] = time.perf_counter() - t0
    _write(a.json, res)
    print(json.dumps({k: v for k, v in res.items() if k != "config"}, default=str), flush=True)


if __name__ == "__main__":
    main()
