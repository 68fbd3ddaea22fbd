"""``tapegrad train``: train a GAN into a run folder.

With no arguments it trains the ``default`` recipe (:mod:`tapegrad.gan.recipes`): a
conditional DCGAN at half width (ngf = ndf = 32; non-saturating loss, Adam 2e-4 with
betas (0.5, 0.999), batch 64) on MNIST's 60,000 training images (``TAPEGRAD_DATA`` or
the copy shipped with tapegrad), sampled with every digit in equal shares; its sample
grids show digit r in row r. A folder of images or an array file (no labels) starts
from the ``mlp`` recipe, the backpropagation and GANs tutorial's MLP GAN.
``--recipe NAME`` starts from another named recipe (``tapegrad recipes`` lists
them); ``--data ring``/``grid`` without one starts from the 2-D record
(``mixture-ring``/``mixture-grid``). Flags given beside a recipe override its values;
``config.json`` records the result and the recipe's name.
Conditional models (``cgan-mlp``, ``cdcgan``, ``projection``) get the data's labels.
``--seeds K`` (K > 1) trains K runs with seeds S..S+K-1 into ``OUT/seed_<S>/``,
evaluates each and writes ``OUT/summary.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..data.files import DATA_CHOICES
from ..gan.config import MIXTURE_DATA, OPTIMIZERS, RunConfig, read_run_config
from ..gan.evaluate import SUMMARY, evaluate_run, summary_doc
from ..gan.losses import LOSSES
from ..gan.models import DCGAN_D_MODELS, MODELS
from ..gan.recipes import RECIPES, get_recipe, recipe_for_data
from ..gan.runner import build_trainer
from ..gan.trainer import Trainer, TrainingDiverged
from ._common import CLIError, positive_int, write_json_file
from ._tables import one_line, summary_table

NAME = "train"
HELP = "train a GAN into a run folder (default: the `default` recipe, a conditional DCGAN)"

_R = RECIPES["default"]  # the values flags a recipe controls show as their defaults
#: ``tapegrad train`` flags that override a recipe's value (None when not given)
_RECIPE_FLAGS = ("model", "loss", "z_dim", "batch_size", "lr_g", "lr_d", "betas", "n_critic",
                 "ema", "anneal", "epochs", "steps")  # fmt: skip


def _betas(text: str) -> tuple[float, float]:
    """``"0.5,0.9"`` -> ``(0.5, 0.9)``; argparse turns the error into a usage error."""
    try:
        b = tuple(float(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"wants two numbers B1,B2, got {text!r}") from None
    if len(b) != 2 or not all(0.0 <= x < 1.0 for x in b):
        raise argparse.ArgumentTypeError(f"wants two numbers in [0, 1) as B1,B2, got {text!r}")
    return b[0], b[1]


def add_arguments(t: argparse.ArgumentParser) -> None:
    """The options of ``tapegrad train``: recipe, model, loss, data and training settings."""
    t.add_argument(
        "--recipe",
        choices=(*RECIPES, "dp"),
        default=None,
        metavar="NAME",
        help=f"start from a named recipe: {', '.join(RECIPES)} (`tapegrad recipes` lists "
        "them with their measured metrics; the flags below override its values), or dp: "
        "the differentially private conditional GAN on MNIST (uses --epsilon, --delta, "
        "--steps as D steps, --seed, --out, --data, and the batch size, D steps per G step "
        "(n-critic), learning rates and EMA flags when given). By default `default` "
        "(MNIST), the 2-D record for --data ring/grid, or mlp for a folder of images or an "
        "array",
    )
    t.add_argument(
        "--model",
        default=None,
        metavar="NAME",
        help=f"one of {', '.join(MODELS)} (default: the recipe's, cdcgan); cgan-mlp, "
        "cdcgan and projection are conditional and need labelled data (mnist)",
    )
    t.add_argument(
        "--loss", default=None, metavar="NAME", help=f"one of {', '.join(LOSSES)} (default ns)"
    )
    t.add_argument("--data", default=None, help=f"{DATA_CHOICES} (default mnist)")
    t.add_argument("--spectral-norm", action="store_true", help="spectral normalisation on D")
    t.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="epochs to train, replacing the recipe's --steps when given alone (default: as "
        "many as the recipe's steps need, else about 9,600 steps)",
    )
    t.add_argument(
        "--steps",
        type=int,
        default=None,
        metavar="TOTAL",
        help="stop at this total number of steps (kept by `tapegrad resume`)",
    )
    t.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help=f"real samples (points) per step (default {_R.batch_size})",
    )
    t.add_argument("--optimizer", default="adam", choices=OPTIMIZERS, help="both players'")
    t.add_argument(
        "--lr-g", type=float, default=None, help=f"G's learning rate (default {_R.lr_g:g})"
    )
    t.add_argument(
        "--lr-d", type=float, default=None, help=f"D's learning rate (default {_R.lr_d:g})"
    )
    t.add_argument(
        "--betas",
        type=_betas,
        default=None,
        metavar="B1,B2",
        help="Adam betas of both players (WGAN-GP is usually run with 0.5,0.9) "
        f"(default {_R.betas[0]},{_R.betas[1]})",
    )
    t.add_argument("--momentum", type=float, default=0.0, help="for --optimizer sgd or rmsprop")
    t.add_argument(
        "--n-critic", type=int, default=None, help=f"D steps per G step (default {_R.n_critic})"
    )
    t.add_argument("--ema", type=float, default=None, help="EMA decay of G's weights (default off)")
    t.add_argument(
        "--anneal",
        type=float,
        default=None,
        metavar="F",
        help="both learning rates fall linearly to 0 over this last fraction of the steps "
        "(default 0: constant)",
    )
    t.add_argument(
        "--pack",
        type=int,
        default=None,
        metavar="K",
        help="samples per D input, PacGAN (mixture model; default: the recipe's)",
    )
    t.add_argument(
        "--g-batch-norm",
        choices=("on", "off"),
        default=None,
        help="batch norm in the mixture model's G (default: the recipe's)",
    )
    t.add_argument(
        "--n-points",
        type=int,
        default=None,
        metavar="N",
        help="ring/grid: training points drawn with the seed (default 100,000, PacGAN's)",
    )
    t.add_argument(
        "--r1", type=float, default=None, metavar="GAMMA", help="R1 penalty weight on D (off)"
    )
    t.add_argument("--z-dim", type=int, default=None, help="noise size (default 100; 2 mixture)")
    t.add_argument("--seed", type=int, default=0, help="seeds the weights, noise and data order")
    t.add_argument(
        "--seeds",
        type=positive_int,
        default=1,
        metavar="K",
        help="K > 1: K runs with seeds SEED..SEED+K-1 into OUT/seed_<S>/, each evaluated; "
        "prints mean and std and writes OUT/summary.json",
    )
    t.add_argument(
        "--eval-n",
        type=positive_int,
        default=None,
        metavar="N",
        help="samples per evaluation with --seeds (default as in `tapegrad evaluate`)",
    )
    t.add_argument("--out", default=None, help="run folder (default runs/<model>-<loss>-<time>)")
    t.add_argument(
        "--tensorboard",
        action="store_true",
        help="also write TensorBoard files to OUT/tensorboard (needs tapegrad[tensorboard])",
    )
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--epsilon", type=float, default=10.0, help="privacy budget of --recipe dp")
    t.add_argument("--delta", type=float, default=1e-5, help="delta of --recipe dp")


def _train_dp(a: argparse.Namespace) -> int:
    """``--recipe dp``: the private conditional GAN of :mod:`tapegrad.privacy`."""
    from ..privacy.recipe import run_dp_recipe

    if not a.epsilon > 0:
        raise CLIError(f"--epsilon must be positive, got {a.epsilon}")
    if not 0 < a.delta < 1:
        raise CLIError(f"--delta must be in (0, 1), got {a.delta}")
    if a.steps is not None and a.steps < 1:
        raise CLIError(f"--steps must be positive, got {a.steps}")
    for flag, n in (("--batch-size", a.batch_size), ("--n-critic", a.n_critic)):
        if n is not None and n < 1:
            raise CLIError(f"{flag} must be a positive integer, got {n}")
    for flag, lr in (("--lr-g", a.lr_g), ("--lr-d", a.lr_d)):
        if lr is not None and not lr > 0:
            raise CLIError(f"{flag} must be positive, got {lr}")
    if a.ema is not None and not 0 < a.ema < 1:
        raise CLIError(f"--ema must be in (0, 1), got {a.ema}")
    root = None if a.data in (None, "mnist") else a.data
    if root is not None and not Path(root).is_dir():
        raise CLIError(f"--recipe dp trains on MNIST: --data must be mnist or a folder, got {root}")
    flags = {
        "batch_size": a.batch_size,
        "d_steps_per_g": a.n_critic,
        "lr_g": a.lr_g,
        "lr_d": a.lr_d,
        "ema": a.ema,
    }
    overrides = {k: v for k, v in flags.items() if v is not None}
    out = Path(a.out) if a.out else Path("runs") / time.strftime("dp-%Y%m%d-%H%M%S")
    try:
        rep = run_dp_recipe(
            a.epsilon,
            out,
            delta=a.delta,
            d_steps=a.steps,
            seed=a.seed,
            data_root=root,
            **overrides,
        )
    except (ImportError, ValueError) as e:
        raise CLIError(str(e)) from e
    eps = rep["epsilon"]
    spent = "not private" if eps is None else f"epsilon {eps:.3g}, delta {rep['delta']:g}"
    print(f"wrote {out}: {spent}, {rep['d_steps_done']} D steps, {rep['wall_s']} s", flush=True)
    return 0


def run(a: argparse.Namespace) -> int:
    """Train one run (or one per seed) into ``--out``; 0 on success."""
    if a.recipe == "dp":
        return _train_dp(a)
    cfg = run_config(a)
    default = Path("runs") / time.strftime(f"{cfg.model}-{cfg.loss}-%Y%m%d-%H%M%S")
    out = Path(a.out) if a.out else default
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {out}: is an existing file; give a folder for the run")
    if a.seeds > 1:
        return _train_seeds(a, cfg, out)
    if (out / "checkpoints" / "last.safetensors").exists():
        raise CLIError(
            f"--out {out} already holds a run; use `tapegrad resume {out}` or another --out"
        )
    return train_one(cfg, out, a.quiet)


def run_config(a: argparse.Namespace) -> RunConfig:
    """The RunConfig of ``tapegrad train``'s arguments: the recipe's values, with the
    flags given beside it in their place; a path in ``--data`` is made absolute (so
    resume works from any folder); with ``wgan-gp`` a DCGAN-style D has no batch norm
    (the gradient penalty is per sample)."""
    if a.pack is not None and a.pack < 1:
        raise CLIError(f"--pack must be a positive number of samples, got {a.pack}")
    data = a.data
    try:
        recipe = get_recipe(a.recipe) if a.recipe else recipe_for_data(data or "mnist")
    except ValueError as e:
        raise CLIError(str(e)) from e
    if data is not None and data not in ("mnist", *MIXTURE_DATA):
        data = str(Path(data).expanduser().absolute())
    kwargs: dict[str, Any] = {}
    if a.spectral_norm:
        kwargs["spectral_norm"] = True
    if a.pack is not None:
        kwargs["pack"] = a.pack
    if a.g_batch_norm is not None:
        kwargs["g_batch_norm"] = a.g_batch_norm == "on"
    given = {k: getattr(a, k) for k in _RECIPE_FLAGS}
    settings = recipe.settings({**given, "data": data, "model_kwargs": kwargs})
    if a.epochs is not None and a.steps is None:
        settings["steps"] = None  # --epochs N alone trains N epochs, past the recipe's steps
    pack = settings["model_kwargs"].get("pack", 1)
    if settings["batch_size"] % pack:
        raise CLIError(
            f"--pack {pack} must divide --batch-size {settings['batch_size']} "
            "(a D input is pack samples)"
        )
    if settings["loss"] == "wgan-gp" and settings["model"] in DCGAN_D_MODELS:
        settings["model_kwargs"]["batch_norm"] = False
    extra = {"optimizer": a.optimizer, "momentum": a.momentum, "r1": a.r1, "seed": a.seed}
    if a.n_points is not None:
        if settings["data"] not in MIXTURE_DATA:
            raise CLIError(f"--n-points is for --data ring or grid, not {settings['data']}")
        extra["n_points"] = a.n_points
    return RunConfig(**settings, **extra, tensorboard=a.tensorboard)


def train_one(cfg: RunConfig, out: Path, quiet: bool) -> int:
    """Train one run into ``out``; the exit code (0, 1 diverged, 130 interrupted)."""
    tr, cfg = build_trainer(cfg, out, quiet=quiet)
    print(f"run folder: {out}", flush=True)
    sn = " with spectral norm in D" if cfg.model_kwargs.get("spectral_norm") else ""
    print(
        f"training {cfg.model} GAN ({cfg.loss} loss{sn}) on "
        f"{tr.config['data_description']} for {cfg.epochs} epochs of {len(tr.loader)} steps"
        + (f", to step {cfg.steps}" if cfg.steps else ""),
        flush=True,
    )
    return run_training(tr, cfg, out)


def run_training(tr: Trainer, cfg: RunConfig, out: Path) -> int:
    """Train to ``cfg``'s targets, print how it ended; returns the exit code."""
    assert cfg.epochs is not None
    from ..explain.observer import default_callbacks

    try:  # health records, alarms and report.html; TensorBoard files with --tensorboard
        tr.callbacks += default_callbacks(cfg.tensorboard)
    except ImportError as e:
        raise CLIError(str(e)) from e
    try:
        status = tr.train(cfg.epochs, max_steps=cfg.steps)
    except TrainingDiverged as e:
        print(f"tapegrad: error: {_diverged(e, out)}", file=sys.stderr)
        return 1
    where = f"step {tr.step}, epoch {tr.epoch}"
    if status == "aborted":
        print(
            f"tapegrad: stopped at once at {where}; the last checkpoint is kept: "
            f"`tapegrad resume {out}` continues from it",
            file=sys.stderr,
        )
        return 130
    if status == "interrupted":
        print(
            f"tapegrad: interrupted at {where}; checkpoint written: `tapegrad resume {out}` "
            f"continues",
            file=sys.stderr,
        )
        return 130
    what = "reached the step target" if status == "max_steps" else "finished"
    print(f"{what} at {where}; run folder: {out}", flush=True)
    return 0


def _diverged(e: TrainingDiverged, out: Path) -> str:
    """The trainer's message, with what is left of the run."""
    from ..gan.checkpoint import load_checkpoint

    text = str(e).split("; ")[0]
    ckpt = out / "checkpoints" / "last.safetensors"
    if not ckpt.exists():
        return f"{text}; no checkpoint had been written yet"
    step = load_checkpoint(ckpt)["step"]
    return f"{text}; the last finite checkpoint (step {step}) is kept: {ckpt}"


def _train_seeds(a: argparse.Namespace, cfg: RunConfig, out: Path) -> int:
    seeds = list(range(a.seed, a.seed + a.seeds))
    if out.exists() and any(out.iterdir()):
        raise CLIError(
            f"--seeds {a.seeds}: --out {out} exists and is not empty; give a new or empty "
            f"folder (the runs go into {out / 'seed_<S>'})"
        )
    print(f"training {a.seeds} runs with seeds {seeds[0]}..{seeds[-1]} into {out}", flush=True)
    entries: list[dict[str, Any]] = []
    reference = None
    for s in seeds:
        run = out / f"seed_{s}"
        code = train_one(replace(cfg, seed=s), run, a.quiet)
        if code == 130:
            rest = f"; seeds {s + 1}..{seeds[-1]} were not started" if s < seeds[-1] else ""
            print(
                f"tapegrad: interrupted in {run}{rest}. Continue it with `tapegrad resume {run}`, "
                f"then `tapegrad evaluate {out}` writes {out / SUMMARY}",
                file=sys.stderr,
            )
            return 130
        if code != 0:
            entries.append(
                {"run": str(run), "status": "diverged", "train_seed": s, "metrics": None}
            )
            continue
        res = evaluate_run(run, a.eval_n, seed=0)
        reference = res.get("reference", reference)
        entry = {k: v for k, v in res.items() if k != "reference"}
        entries.append({"run": str(run), "status": "finished", **entry})
        print(f"evaluated {run}: {one_line(res['metrics'])}", flush=True)
    stored, _ = read_run_config(out / f"seed_{seeds[0]}")  # with the epochs worked out
    doc = {
        "command": "tapegrad train --seeds",
        "config": stored.to_dict(),
        "seeds": seeds,
        **summary_doc(entries, reference),
    }
    print(summary_table([f"seed {e['train_seed']}" for e in entries], doc))
    write_json_file(out / SUMMARY, doc)
    print(f"wrote {out / SUMMARY}", flush=True)
    return 1 if any(e["status"] != "finished" for e in entries) else 0
