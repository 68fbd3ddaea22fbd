"""The PacGAN 2-D mixture benchmark: mode collapse on ``ring`` (8 modes) and ``grid`` (25).

Trains tapegrad's :class:`~tapegrad.gan.MixtureGenerator` against a
:class:`~tapegrad.gan.MixtureDiscriminator` with packing ``pack`` for each requested
loss and seed, with :class:`~tapegrad.gan.Trainer`, then scores 2,500 generated points
with :func:`~tapegrad.gan.metrics.mixture_metrics` (modes captured, fraction of
high-quality samples within 3 std of a mode, reverse KL over the modes) and prints the
mean ± std over seeds for each (data, loss, pack), with the training wall time.

The defaults follow the official PacGAN code (github.com/fjxmlzn/PacGAN,
``synthetic_data_experiments/2D{Grid,Ring}_GAN&PacGAN/config.py``):

* data: 100,000 points of the VEEGAN ring (std 0.01) or grid (std 0.05);
* G: z 2 -> 4 x [Linear(400, no bias) + BatchNorm + ReLU] -> Linear(2);
  D: (2 * pack) -> 3 x 200 -> 1 logit; weights N(0, 0.02), zero biases;
* non-saturating loss (``ns``), Adam lr 1e-4, beta1 0.8, beta2 0.999;
* a step uses 100 *packed* samples, i.e. ``100 * pack`` real and ``100 * pack`` fake
  points (PacGAN keeps the number of D inputs per batch, not the number of points);
* the paper trains 400 epochs of 1,000 steps = 400,000 steps; ``--steps`` sets the
  budget here (CPU runs are far shorter, see docs/gan_mixture.md).

Differences from the paper: D uses LeakyReLU(0.2) instead of 5-piece maxout; the
Trainer alternates a D step and a G step (the paper's ALI algorithm updates both from
the same batch); BatchNorm statistics are over all ``100 * pack`` fakes of a step
rather than per group of 100. Samples are drawn with G in eval mode (running BatchNorm
statistics, momentum 0.05 as in the paper's population updates).

Every default above can be changed from the command line (model sizes, BatchNorm in
G, init, Adam betas, D's learning rate, a linear learning-rate anneal at the end,
n_critic); the record recipe of docs/gan_mixture.md (G without BatchNorm, PacGAN2) is::

    OPENBLAS_NUM_THREADS=1 python benchmarks/gan_mixture.py --data grid --losses ns \\
        --seeds 10 --pack 2 --batch-size 256 --steps 24000 --lr 1e-3 --beta1 0 \\
        --beta2 0.9 --anneal 0.5 --g-hidden 128 --g-layers 3 --d-hidden 128 \\
        --d-layers 3 --g-batch-norm off --init default --json out.json

(``--steps 16000`` is level with the record, 24000 beats it), and the earlier
fast recipe (docs/gan_mixture.md) is the same with ``--pack 1 --steps 4000 --g-batch-norm on``.
The paper's settings (shorter runs)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/gan_mixture.py --data grid --losses ns \\
        --pack 1,4 --seeds 3 --steps 2000 --json out.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

import tapegrad  # noqa: E402
from tapegrad._atomic import atomic_write_bytes  # noqa: E402
from tapegrad.data import grid, grid_modes, ring, ring_modes  # noqa: E402
from tapegrad.gan import Trainer, build_models, dcgan_init_  # noqa: E402
from tapegrad.gan.losses import LOSSES  # noqa: E402
from tapegrad.gan.metrics import mean_std_over_seeds, mixture_metrics  # noqa: E402
from tapegrad.nn.normalization import BatchNorm1d  # noqa: E402

DATASETS = {
    "ring": {"sampler": ring, "modes": ring_modes, "std": 0.01},
    "grid": {"sampler": grid, "modes": grid_modes, "std": 0.05},
}

# Published PacGAN results (Lin et al. 2018, Table 1; mean over 10 runs, 400 epochs).
REFERENCE = {
    ("grid", "ns", 4): {"modes": 24.8, "high_quality_fraction": 0.936, "reverse_kl": 0.04},
    ("ring", "ns", 2): {"modes": 7.9, "high_quality_fraction": 0.956},
}

# the pack degree of the published record on each data set (ns loss)
RECORD_PACK = {"grid": 4, "ring": 2}

METRIC_KEYS = ("modes", "high_quality_fraction", "reverse_kl", "seconds")
INITS = ("dcgan", "default")


def run_one(
    data: str,
    loss: str,
    pack: int,
    seed: int,
    steps: int,
    batch_size: int = 100,
    n_data: int = 100_000,
    n_eval: int = 2500,
    lr: float = 1e-4,
    beta1: float = 0.8,
    beta2: float = 0.999,
    lr_d: float | None = None,
    g_hidden: int = 400,
    g_layers: int = 4,
    d_hidden: int = 200,
    d_layers: int = 3,
    init: str = "dcgan",
    anneal: float = 0.0,
    n_critic: int = 1,
    ema: float | None = None,
    g_batch_norm: bool = True,
) -> dict[str, Any]:
    """Train one mixture GAN and score ``n_eval`` of its samples.

    Args:
        data: ``'ring'`` or ``'grid'``.
        loss: a name of :data:`tapegrad.gan.losses.LOSSES`.
        pack: samples per discriminator input.
        seed: seeds the weights, the data set and the trainer's noise and order.
        steps: training steps (one D update and one G update each).
        batch_size: packed samples per step (``batch_size * pack`` points).
        n_data: size of the training set.
        n_eval: generated points to score.
        lr, beta1, beta2: Adam settings of both players (``lr_d``, when given, is D's
            learning rate instead of ``lr``).
        g_hidden, g_layers, d_hidden, d_layers: width and depth of G's BatchNorm+ReLU
            stack and of D's LeakyReLU stack (the paper: 400 x 4 and 200 x 3).
        init: ``'dcgan'`` (the paper's N(0, 0.02) weights, zero biases) or
            ``'default'`` (tapegrad's/PyTorch's Kaiming-uniform Linear initialisation).
        anneal: decay both learning rates linearly to 0 over this final fraction of
            the steps (``Trainer``'s ``anneal``: updated every 10 steps); 0 keeps them fixed.
        n_critic: D steps per G step (``steps`` counts D steps).
        ema: keep an exponential moving average of G's weights and BatchNorm statistics
            with this decay and score its samples; None scores the live G.
        g_batch_norm: BatchNorm in G's hidden layers (the paper's); False gives plain
            Linear + ReLU layers, so that G samples the same function it was trained as.

    Returns:
        ``{"modes", "high_quality_fraction", "reverse_kl", "seconds"}`` (the last is
        the training wall time), plus ``"status"``: ``"ok"`` or ``"diverged"``; a
        diverged run scores the samples of its last good weights.
    """
    spec = DATASETS[data]
    tapegrad.manual_seed(seed)
    if init not in INITS:
        raise ValueError(f"run_one: init must be one of {', '.join(INITS)}, got {init!r}")
    if not 0.0 <= anneal <= 1.0:
        raise ValueError(f"run_one: anneal must be in [0, 1], got {anneal}")
    G, D = build_models(
        "mixture", (2,), z_dim=2, pack=pack, g_hidden=g_hidden, g_n_hidden=g_layers,
        d_hidden=d_hidden, d_n_hidden=d_layers, g_batch_norm=g_batch_norm,
    )  # fmt: skip
    if init == "dcgan":
        dcgan_init_(G)
        dcgan_init_(D)
    for m in G.modules():
        if isinstance(m, BatchNorm1d):
            m.momentum = 0.05
    x, _ = spec["sampler"](n_data, generator=np.random.Generator(np.random.PCG64([seed, 7])))
    trainer = Trainer(
        G,
        D,
        loss,
        x.detach().numpy(),
        batch_size=batch_size * pack,
        lr_g=lr,
        lr_d=lr if lr_d is None else lr_d,
        betas_g=(beta1, beta2),
        betas_d=(beta1, beta2),
        n_critic=n_critic,
        ema_decay=ema,
        anneal=anneal,
        seed=seed,
        log_every=10**9,
    )
    status = "ok"
    t0 = time.perf_counter()
    try:
        trainer.train(epochs=10**9, max_steps=steps)
    except FloatingPointError:
        status = "diverged"
    seconds = time.perf_counter() - t0
    m = evaluate(trainer.generate(n_eval), data)
    return {**m, "seconds": seconds, "status": status, "steps": trainer.step}


def evaluate(samples: Any, data: str) -> dict[str, float]:
    """PacGAN's metrics of generated points ``(N, 2)`` against the ``data`` mixture.

    Non-finite points (a diverged G) count as low quality. Returns
    :func:`~tapegrad.gan.metrics.mixture_metrics`' dict.
    """
    spec = DATASETS[data]
    x = np.asarray(samples, dtype=np.float64)
    x = np.where(np.isfinite(x), x, 1e9)
    return mixture_metrics(x, spec["modes"](), spec["std"])


def _fmt(mean: float, std: float, scale: float = 1.0, digits: int = 2) -> str:
    if math.isnan(mean):
        return "nan"
    return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"


def format_table(rows: list[dict[str, Any]]) -> str:
    """A plain-text table of the summarised rows (one per data/loss/pack), with the
    published record (PacGAN4 on the grid, PacGAN2 on the ring) after each data set."""
    head = (
        f"{'data':5} {'loss':8} {'pack':>4} {'seeds':>5} {'steps':>6}  {'modes':>13}  "
        f"{'high quality %':>15}  {'reverse KL':>13}  {'seconds/run':>13}"
    )
    note = "[k]: reverse KL averaged over the k runs with high-quality samples"
    lines = [head, "-" * len(head)]
    for r in rows:
        s = r["summary"]
        n_kl = int(s.get("reverse_kl_runs", (len(r["runs"]), 0))[0])
        kl_note = "" if n_kl == len(r["runs"]) else f" [{n_kl}]"
        lines.append(
            f"{r['data']:5} {r['loss']:8} {r['pack']:>4} {len(r['runs']):>5} {r['steps']:>6}  "
            f"{_fmt(*s['modes'], digits=1):>13}  "
            f"{_fmt(*s['high_quality_fraction'], scale=100, digits=1):>15}  "
            f"{_fmt(*s['reverse_kl']) + kl_note:>13}  {_fmt(*s['seconds'], digits=0):>13}"
        )
        last_of_data = r is rows[-1] or rows[rows.index(r) + 1]["data"] != r["data"]
        ref = REFERENCE.get((r["data"], "ns", RECORD_PACK[r["data"]])) if last_of_data else None
        if ref is not None:
            kl = ref.get("reverse_kl")
            kl_text = f"{kl:.2f}" if kl is not None else "-"
            lines.append(
                f"{'':5} {'(paper)':8} {RECORD_PACK[r['data']]:>4} {10:>5} {400000:>6}  "
                f"{ref['modes']:>13.1f}  "
                f"{100 * ref['high_quality_fraction']:>15.1f}  "
                f"{kl_text:>13}  {'-':>13}"
            )
    if any(" [" in line for line in lines):
        lines.append(note)
    return "\n".join(lines)


def _csv(kind: type, text: str) -> list[Any]:
    return [kind(t) for t in text.split(",") if t.strip()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="grid", help="ring, grid or ring,grid (default grid)")
    p.add_argument("--losses", default="ns", help=f"comma-separated from {', '.join(LOSSES)}")
    p.add_argument("--pack", default="1", help="comma-separated pack degrees, e.g. 1,2,4")
    p.add_argument("--seeds", type=int, default=3, help="runs per setting (seeds 0..K-1)")
    p.add_argument("--steps", type=int, default=2000, help="training steps per run")
    p.add_argument("--batch-size", type=int, default=100, help="packed samples per step")
    p.add_argument("--n-data", type=int, default=100_000, help="training points")
    p.add_argument("--n-eval", type=int, default=2500, help="generated points scored")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--beta1", type=float, default=0.8)
    p.add_argument("--beta2", type=float, default=0.999)
    p.add_argument("--lr-d", type=float, default=None, help="D's learning rate (default --lr)")
    p.add_argument("--g-hidden", type=int, default=400, help="G width (paper 400)")
    p.add_argument("--g-layers", type=int, default=4, help="G hidden layers (paper 4)")
    p.add_argument("--d-hidden", type=int, default=200, help="D width (paper 200)")
    p.add_argument("--d-layers", type=int, default=3, help="D hidden layers (paper 3)")
    p.add_argument("--init", default="dcgan", choices=INITS, help="weight init (paper: dcgan)")
    p.add_argument(
        "--g-batch-norm", default="on", choices=("on", "off"),
        help="BatchNorm in G's hidden layers (paper: on)",
    )  # fmt: skip
    p.add_argument(
        "--anneal", type=float, default=0.0,
        help="decay the learning rates linearly to 0 over this final fraction of the steps",
    )  # fmt: skip
    p.add_argument("--n-critic", type=int, default=1, help="D steps per G step")
    p.add_argument("--ema", type=float, default=None, help="score an EMA of G (decay)")
    p.add_argument("--json", default=None, help="write all runs and summaries here")
    p.add_argument("--quiet", action="store_true", help="no per-run lines")
    a = p.parse_args(argv)
    a.data = _csv(str, a.data)
    a.losses = _csv(str, a.losses)
    a.pack = _csv(int, a.pack)
    for d in a.data:
        if d not in DATASETS:
            p.error(f"unknown --data {d!r}; choose from ring, grid")
    for name in a.losses:
        if name not in LOSSES:
            p.error(f"unknown loss {name!r}; choose from {', '.join(LOSSES)}")
    sizes = (a.seeds, a.steps, a.batch_size, a.g_hidden, a.g_layers, a.d_hidden, a.d_layers)
    if min(sizes) < 1 or a.n_critic < 1 or any(k < 1 for k in a.pack):
        p.error(
            "--seeds, --steps, --batch-size, --pack, --n-critic and the layer sizes "
            "must be positive"
        )
    if not 0.0 <= a.anneal <= 1.0:
        p.error(f"--anneal must be in [0, 1], got {a.anneal}")
    if a.ema is not None and not 0.0 <= a.ema < 1.0:
        p.error(f"--ema must be in [0, 1), got {a.ema}")
    if a.json and not Path(a.json).absolute().parent.is_dir():
        # checked before hours of training, not when the results are written
        p.error(f"--json {a.json}: folder {Path(a.json).absolute().parent} does not exist")
    return a


def _json_safe(v: Any) -> Any:
    """``v`` with NaN and infinities as None (strict JSON has no NaN)."""
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; returns ``{"config": ..., "rows": [...]}`` (also written by --json).

    Each row has ``data``, ``loss``, ``pack``, ``steps``, ``runs`` (one metrics dict per
    seed, see :func:`run_one`) and ``summary`` (``{metric: (mean, std)}`` over seeds).
    """
    a = parse_args(argv)
    rows = []
    for data in a.data:
        for loss in a.losses:
            for pack in a.pack:
                runs = []
                for seed in range(a.seeds):
                    r = run_one(
                        data, loss, pack, seed, a.steps, a.batch_size, a.n_data, a.n_eval,
                        a.lr, a.beta1, a.beta2, a.lr_d, a.g_hidden, a.g_layers, a.d_hidden,
                        a.d_layers, a.init, a.anneal, a.n_critic, a.ema,
                        a.g_batch_norm == "on",
                    )  # fmt: skip
                    runs.append(r)
                    if not a.quiet:
                        print(
                            f"{data} {loss} pack={pack} seed={seed}: modes {r['modes']}, "
                            f"HQ {100 * r['high_quality_fraction']:.1f}%, "
                            f"KL {r['reverse_kl']:.3f}, {r['seconds']:.1f} s ({r['status']})",
                            flush=True,
                        )
                summary = mean_std_over_seeds([{k: r[k] for k in METRIC_KEYS} for r in runs])
                # reverse KL is undefined (NaN) for a run without high-quality samples:
                # average the others and say how many there were
                kl = np.array([r["reverse_kl"] for r in runs], dtype=np.float64)
                kl = kl[np.isfinite(kl)]
                summary["reverse_kl"] = (
                    (float(kl.mean()), float(kl.std(ddof=1)) if kl.size > 1 else 0.0)
                    if kl.size
                    else (math.nan, math.nan)
                )
                summary["reverse_kl_runs"] = (int(kl.size), 0.0)
                rows.append(
                    {"data": data, "loss": loss, "pack": pack, "steps": a.steps,
                     "runs": runs, "summary": summary}
                )  # fmt: skip
    result = {"config": {k: v for k, v in vars(a).items() if k != "json"}, "rows": rows}
    if not a.quiet:
        print(format_table(rows))
    if a.json:
        text = json.dumps(_json_safe(result), indent=2, allow_nan=False)
        atomic_write_bytes(a.json, text.encode())
    return result


if __name__ == "__main__":
    main()
