"""The ``tapegrad`` command: train, resume, sample and evaluate GANs.

Usage::

    tapegrad train [--model NAME] [--loss NAME] [--data DATA] [--spectral-norm]
                   [--epochs E] [--steps N] [--seed S] [--seeds K] [--out OUT] ...
    tapegrad resume RUN [--epochs E] [--steps N]
    tapegrad sample RUN_OR_CHECKPOINT [--n N] [--out FILE] [--format png|npy]
    tapegrad evaluate RUN_OR_CHECKPOINT [RUN_OR_CHECKPOINT ...] [--n N] [--seed S]

``tapegrad train`` with no arguments trains the seed's MNIST GAN (MLP generator and
discriminator, non-saturating loss, Adam 2e-4 with betas (0.5, 0.999), batch 64) on
the full MNIST training set when it is found, else on the 10,000 test images shipped
with tapegrad, for about 9,600 steps (a few minutes on two cores). ``--model`` and
``--loss`` take the names ``tapegrad train --help`` lists; conditional models
(``cgan-mlp``, ``cdcgan``, ``projection``) get the data's labels. ``--spectral-norm``
normalises every layer of D; with ``--loss wgan-gp`` a DCGAN-style D has no batch norm
(the gradient penalty is per sample).

``--seeds K`` (K > 1) trains K independent runs with seeds S, S+1, ..., S+K-1 into
``OUT/seed_<S>/`` (each an ordinary run folder: ``tapegrad resume OUT/seed_<S>``
continues it), evaluates each as ``tapegrad evaluate`` does, prints the per-seed values
with their mean and standard deviation and writes ``OUT/summary.json``.

``tapegrad evaluate`` draws N samples (seeded) and scores them:

* ``--data mnist``: Fréchet distance (FD) in the shipped classifier's features, KID,
  precision, recall, density and coverage against the MNIST test images, and modes and
  KL to uniform of the classifier's digits, beside the reference points of
  ``reference_v1.json`` (real-vs-real floor, corrupted real images; N = 10,000 default);
* other 1x28x28 data: the same metrics against the training data (no reference points);
* ``ring`` / ``grid``: PacGAN's modes, high-quality fraction and reverse KL (N = 2,500),
  beside PacGAN's published result and the score of real samples of the mixture.

Several runs, or a ``--seeds`` folder (which gets a new ``summary.json``), give each
run's values and their mean and standard deviation. docs/metrics.md explains how to
read the numbers.

Exit codes: 0 success, 1 training diverged, 2 bad input (message on stderr),
130 interrupted (a checkpoint is written; ``tapegrad resume RUN`` continues).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["main", "load_data", "build_trainer", "evaluate_run", "CLIError"]

DEFAULT_STEPS = 9600
DATA_CHOICES = "mnist, ring, grid, a folder of images or a .npy file"
_IMAGE_EXT = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


class CLIError(Exception):
    """Bad input: printed on stderr, exit code 2."""


# ------------------------------------------------------------------ data
def load_data(spec: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray | None, str]:
    """``(samples, labels or None, description)`` for a ``--data`` value.

    ``mnist``: the training split if found, else the shipped test split (uint8
    ``(N, 1, 28, 28)``). ``ring``/``grid``: 10,000 points of the 2-D mixtures drawn
    with ``seed``. A folder: every image in it (same size; greyscale unless any is
    colour). A ``.npy`` file: ``(N, H, W)``, ``(N, C, H, W)`` or ``(N, D)`` points.
    """
    from .data import load_mnist_arrays, toy

    if spec == "mnist":
        try:
            x, y = load_mnist_arrays(train=True)
            what = "MNIST training split (60,000 images)"
        except FileNotFoundError:
            x, y = load_mnist_arrays(train=False)
            what = "MNIST test split shipped with tapegrad (10,000 images; full MNIST not found)"
        return x[:, None], y, what
    if spec in ("ring", "grid"):
        pts, modes = (toy.ring if spec == "ring" else toy.grid)(10_000, generator=seed)
        return pts.data, modes.data, f"{spec} mixture (10,000 points)"
    p = Path(spec).expanduser()
    if p.is_dir():
        return _load_folder(p), None, f"images in {p}"
    if p.suffix == ".npy":
        if not p.is_file():
            raise CLIError(f"dataset not found: no file {p}")
        a = np.load(p, allow_pickle=False)
        if a.ndim == 3:
            a = a[:, None]
        if a.ndim not in (2, 4) or a.shape[0] == 0:
            raise CLIError(f"{p}: expected (N, H, W), (N, C, H, W) or (N, D), got {a.shape}")
        return a, None, f"array {p} {a.shape}"
    raise CLIError(f"dataset not found: {spec!r} is not {DATA_CHOICES}")


def _load_folder(folder: Path) -> np.ndarray:
    from PIL import Image

    files = sorted(f for f in folder.iterdir() if f.suffix.lower() in _IMAGE_EXT)
    if not files:
        raise CLIError(f"dataset not found: no images ({', '.join(_IMAGE_EXT)}) in {folder}")
    images = [Image.open(f) for f in files]
    colour = any(im.mode not in ("L", "1", "I", "I;16", "F") for im in images)
    arrays = [np.asarray(im.convert("RGB" if colour else "L")) for im in images]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise CLIError(f"images in {folder} differ in size: {sorted(shapes)[:4]}")
    x = np.stack(arrays)
    return x.transpose(0, 3, 1, 2) if colour else x[:, None]


# ------------------------------------------------------------------ building
def build_trainer(cfg: dict[str, Any], out_dir: str | Path | None, quiet: bool = True) -> Any:
    """A :class:`~tapegrad.gan.Trainer` from a run configuration (what ``train`` writes)."""
    from . import random as _random
    from .gan.losses import LOSSES
    from .gan.models import MODELS, build_models
    from .gan.trainer import Trainer

    if cfg["model"] not in MODELS:
        raise CLIError(f"unknown model {cfg['model']!r}; valid models: {', '.join(MODELS)}")
    if cfg["loss"] not in LOSSES:
        raise CLIError(f"unknown loss {cfg['loss']!r}; valid losses: {', '.join(LOSSES)}")
    x, labels, what = load_data(cfg["data"], cfg["seed"])
    shape = tuple(x.shape[1:])
    conditional = cfg["model"] in ("cgan-mlp", "cdcgan", "projection")
    n_classes = None
    if conditional:
        if labels is None:
            raise CLIError(f"model {cfg['model']!r} is conditional and needs labelled data")
        n_classes = int(labels.max()) + 1
    _random.manual_seed(cfg["seed"])
    try:
        G, D = build_models(cfg["model"], shape, cfg["z_dim"], n_classes, **cfg["model_kwargs"])
    except ValueError as e:
        raise CLIError(f"model {cfg['model']!r} cannot make samples of shape {shape}: {e}") from e
    extra = {k: cfg[k] for k in ("model", "model_kwargs", "data", "epochs", "data_description")}
    try:
        return Trainer(
            G,
            D,
            cfg["loss"],
            x,
            z_dim=cfg["z_dim"],
            batch_size=cfg["batch_size"],
            lr_g=cfg["lr_g"],
            lr_d=cfg["lr_d"],
            betas_g=tuple(cfg["betas_g"]),
            betas_d=tuple(cfg["betas_d"]),
            n_critic=cfg["n_critic"],
            ema_decay=cfg["ema"],
            seed=cfg["seed"],
            out_dir=out_dir,
            labels=labels if conditional else None,
            quiet=quiet,
            config={**extra, "data_description": what, "cli": cfg},
        )
    except ValueError as e:
        raise CLIError(str(e)) from e


def _model_from_checkpoint(path: str) -> tuple[Any, Any, dict[str, Any], Path | None]:
    """``(trainer, checkpoint path, cli config, run folder)`` rebuilt from a run or checkpoint."""
    from .gan.runs import find_checkpoint
    from .serialization import load

    try:
        ckpt, run = find_checkpoint(path)
    except FileNotFoundError as e:
        raise CLIError(f"{path} is not a run folder or checkpoint: {e}") from e
    try:
        state = load(ckpt)
    except (ValueError, OSError) as e:
        raise CLIError(f"{path} is not a run folder or checkpoint: {e}") from e
    if not isinstance(state, dict) or "config" not in state:
        raise CLIError(f"{ckpt} is not a tapegrad GAN checkpoint")
    cfg = json.loads(state["config"]).get("cli")
    if cfg is None:
        raise CLIError(f"{ckpt} was not written by `tapegrad train`; load it with Trainer")
    tr = build_trainer(cfg, None)
    tr.load_state_dict(state)
    return tr, ckpt, cfg, run


# ------------------------------------------------------------------ train
def _train_config(a: argparse.Namespace) -> dict[str, Any]:
    data = a.data
    model = a.model or ("mixture" if data in ("ring", "grid") else "mlp")
    if data not in ("mnist", "ring", "grid"):
        # a path: stored absolute, so that resume and evaluate work from any folder
        data = str(Path(data).expanduser().absolute())
    kwargs: dict[str, Any] = {}
    if a.spectral_norm:
        kwargs["spectral_norm"] = True
    if a.loss == "wgan-gp" and model in _DCGAN_D:
        # the gradient penalty is per sample; batch norm in D mixes the samples of a batch
        kwargs["batch_norm"] = False
    return {
        "model": model,
        "model_kwargs": kwargs,
        "loss": a.loss,
        "data": data,
        "data_description": "",
        "z_dim": a.z_dim if a.z_dim is not None else (2 if model == "mixture" else 100),
        "batch_size": a.batch_size,
        "lr_g": a.lr_g,
        "lr_d": a.lr_d,
        "betas_g": list(a.betas),
        "betas_d": list(a.betas),
        "n_critic": a.n_critic,
        "ema": a.ema,
        "seed": a.seed,
        "epochs": a.epochs,
        "steps": a.steps,
    }


def _betas(text: str) -> tuple[float, float]:
    """``"0.5,0.9"`` -> ``(0.5, 0.9)``; argparse turns the ValueError into a usage error."""
    parts = text.split(",")
    try:
        b = tuple(float(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--betas wants two numbers B1,B2, got {text!r}") from None
    if len(b) != 2 or not all(0.0 <= x < 1.0 for x in b):
        raise argparse.ArgumentTypeError(
            f"--betas wants two numbers in [0, 1) as B1,B2, got {text!r}"
        )
    return b[0], b[1]


_DCGAN_D = ("dcgan", "cdcgan", "projection")  # models whose D is a DCGANDiscriminator


def _cmd_train_dp(a: argparse.Namespace) -> int:
    """``--recipe dp``: the private conditional GAN of :mod:`tapegrad.privacy`."""
    from .privacy.recipe import run_dp_recipe

    if a.epsilon is not None and not a.epsilon > 0:
        raise CLIError(f"--epsilon must be positive, got {a.epsilon}")
    if not 0 < a.delta < 1:
        raise CLIError(f"--delta must be in (0, 1), got {a.delta}")
    if a.steps is not None and a.steps < 1:
        raise CLIError(f"--steps must be positive, got {a.steps}")
    root = None if a.data == "mnist" else a.data
    if root is not None and not Path(root).is_dir():
        raise CLIError(f"--recipe dp trains on MNIST: --data must be mnist or a folder, got {root}")
    out = Path(a.out) if a.out else Path("runs") / time.strftime("dp-%Y%m%d-%H%M%S")
    try:
        rep = run_dp_recipe(
            a.epsilon, out, delta=a.delta, d_steps=a.steps, seed=a.seed, data_root=root
        )
    except (ImportError, ValueError) as e:
        raise CLIError(str(e)) from e
    spent = (
        "not private"
        if rep["epsilon"] is None
        else f"epsilon {rep['epsilon']:.3g}, delta {rep['delta']:g}"
    )
    print(f"wrote {out}: {spent}, {rep['d_steps_done']} D steps, {rep['wall_s']} s", flush=True)
    return 0


def _cmd_train(a: argparse.Namespace) -> int:
    if a.recipe == "dp":
        return _cmd_train_dp(a)
    if a.seeds < 1:
        raise CLIError(f"--seeds must be a positive number of runs, got {a.seeds}")
    if a.batch_size < 1:
        raise CLIError(f"--batch-size must be positive, got {a.batch_size}")
    if a.steps is not None and a.steps < 1:
        raise CLIError(f"--steps must be positive, got {a.steps}")
    if a.eval_n is not None and a.eval_n < 1:
        raise CLIError(f"--eval-n must be positive, got {a.eval_n}")
    cfg = _train_config(a)
    default = Path("runs") / time.strftime(f"{cfg['model']}-{a.loss}-%Y%m%d-%H%M%S")
    out = Path(a.out) if a.out else default
    if a.seeds > 1:
        return _train_seeds(a, cfg, out)
    if (out / "checkpoints" / "last.safetensors").exists():
        raise CLIError(f"{out} already holds a run; use `tapegrad resume {out}` or another --out")
    return _train_one(cfg, out, a.quiet)


def _train_one(cfg: dict[str, Any], out: Path, quiet: bool) -> int:
    """Train one run into ``out``; the exit code (0, 1 diverged, 130 interrupted)."""
    tr = build_trainer(cfg, out, quiet=quiet)
    if cfg["epochs"] is None:
        cfg["epochs"] = max(1, round(DEFAULT_STEPS / len(tr.loader)))
    tr.config["epochs"] = cfg["epochs"]
    tr.config["cli"] = cfg
    tr.run.write_config(tr.config)
    print(f"run folder: {out}", flush=True)
    sn = " with spectral norm in D" if cfg["model_kwargs"].get("spectral_norm") else ""
    print(
        f"training {cfg['model']} GAN ({cfg['loss']} loss{sn}) on "
        f"{tr.config['data_description']} for {cfg['epochs']} epochs of {len(tr.loader)} steps"
        + (f" (at most {cfg['steps']} steps)" if cfg.get("steps") else ""),
        flush=True,
    )
    return _run(tr, cfg, out)


def _train_seeds(a: argparse.Namespace, cfg: dict[str, Any], out: Path) -> int:
    seeds = list(range(a.seed, a.seed + a.seeds))
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CLIError(
            f"--seeds {a.seeds}: {out} exists and is not empty; give a new or empty --out "
            f"folder (the runs go into {out / 'seed_<S>'})"
        )
    print(f"training {a.seeds} runs with seeds {seeds[0]}..{seeds[-1]} into {out}", flush=True)
    entries: list[dict[str, Any]] = []
    reference = None
    for s in seeds:
        run = out / f"seed_{s}"
        cfg_s = {**cfg, "seed": s, "model_kwargs": dict(cfg["model_kwargs"])}
        code = _train_one(cfg_s, run, a.quiet)
        if s == seeds[0]:
            cfg = {**cfg_s}  # with the epochs the first run worked out
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
        print(f"evaluated {run}: {_one_line(res['metrics'])}", flush=True)
    doc = {
        "command": "tapegrad train --seeds",
        "config": {**cfg, "seed": seeds[0]},
        "seeds": seeds,
        **_summary_doc(entries, reference),
    }
    print(_summary_table([f"seed {e['train_seed']}" for e in entries], doc))
    _write_json(out / SUMMARY, doc)
    print(f"wrote {out / SUMMARY}", flush=True)
    return 1 if any(e["status"] != "finished" for e in entries) else 0


def _run(tr: Any, cfg: dict[str, Any], out: Path) -> int:
    from .gan.trainer import TrainingDiverged

    try:
        status = tr.train(cfg["epochs"], max_steps=cfg.get("steps"))
    except TrainingDiverged as e:
        print(f"tapegrad: error: {e} ({out / 'checkpoints' / 'last.safetensors'})", file=sys.stderr)
        return 1
    print(f"{status} at step {tr.step}, epoch {tr.epoch}; run folder: {out}", flush=True)
    return 130 if status == "interrupted" else 0


def _cmd_resume(a: argparse.Namespace) -> int:
    from .gan.runs import read_config

    run = Path(a.run)
    try:
        cfg = read_config(run)["cli"]
    except (FileNotFoundError, KeyError) as e:
        raise CLIError(f"cannot resume {run}: {e}") from e
    if a.epochs is not None:
        cfg["epochs"] = a.epochs
    cfg["steps"] = a.steps  # the original --steps limit was reached already
    tr = build_trainer(cfg, run, quiet=a.quiet)
    tr.config["epochs"] = cfg["epochs"]
    tr.config["cli"] = cfg
    tr.run.write_config(tr.config)
    tr.load_checkpoint()
    print(f"resuming {run} at step {tr.step}, epoch {tr.epoch}", flush=True)
    return _run(tr, cfg, run)


# ------------------------------------------------------------------ sample
def _cmd_sample(a: argparse.Namespace) -> int:
    from .gan.runs import image_grid, save_png, save_scatter

    if a.n < 1:
        raise CLIError(f"--n must be positive, got {a.n}")
    tr, _, cfg, _ = _model_from_checkpoint(a.run)
    gen = np.random.Generator(np.random.PCG64(a.seed))
    z = gen.standard_normal((a.n, tr.z_dim)).astype(tr.fixed_z.dtype)
    x = tr.generate(z=z)
    out = Path(a.out) if a.out else Path("samples." + ("npy" if a.format == "npy" else "png"))
    if a.format == "npy":
        if x.ndim == 2:
            arr = x.astype(np.float32)  # 2-D points are returned as they are
        else:
            arr = np.clip((x + 1.0) * 0.5, 0.0, 1.0).astype(np.float32)
            if arr.shape[1] == 1:
                arr = arr[:, 0]
        from ._atomic import atomic_open

        with atomic_open(out, "wb") as f:
            np.save(f, arr)
    elif x.ndim == 2:
        save_scatter(out, x, None, title=f"{a.n} samples")
    else:
        save_png(out, image_grid((x + 1.0) * 0.5))
    print(f"wrote {a.n} samples to {out}")
    return 0


# ------------------------------------------------------------------ evaluate
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


def _metric_kind(cfg: dict[str, Any], sample_shape: tuple[int, ...]) -> str | None:
    if sample_shape == (1, 28, 28):
        return "mnist" if cfg["data"] == "mnist" else "images28"
    if cfg["data"] in _MIXTURE_STD and sample_shape == (2,):
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
    tr, ckpt, cfg, run = _model_from_checkpoint(str(path))
    kind = _metric_kind(cfg, tuple(tr.data.shape[1:]))
    if n is None:
        n = {"mnist": REFERENCE_N, "mixture": 2500}.get(kind or "", 2000)
        if kind == "images28":
            n = min(REFERENCE_N, tr.data.shape[0])
    if n < 1:
        raise CLIError(f"--n must be positive, got {n}")
    gen = np.random.Generator(np.random.PCG64(seed))
    z = gen.standard_normal((n, tr.z_dim)).astype(tr.fixed_z.dtype)
    x = tr.generate(z=z).astype(np.float64)
    res: dict[str, Any] = {
        "checkpoint": str(ckpt),
        "data": cfg["data"],
        "train_seed": cfg["seed"],
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
            scored = _score(kind, x, tr, cfg)
            res["metrics"] = scored.pop("metrics")
            res.update(scored)
        except ValueError as e:
            raise CLIError(f"cannot score {n} samples of {ckpt}: {e}") from e
    notes = list(dict.fromkeys(str(w.message) for w in caught))
    if kind in ("mnist", "images28") and n != REFERENCE_N:
        notes.append(
            f"FD, precision, recall, density and coverage depend on the number of samples; "
            f"the reference points were measured with {REFERENCE_N:,} per set, this with {n:,}"
        )
    if notes:
        res["warnings"] = notes
    if run is not None:
        _write_json(run / "evaluation.json", res)
    return res


def _score(kind: str | None, x: np.ndarray, tr: Any, cfg: dict[str, Any]) -> dict[str, Any]:
    from .gan import metrics as M

    if kind is None:
        return {"metrics": {}, "note": "no metrics for this data (they need 1x28x28 or ring/grid)"}
    if kind == "mixture":
        from .data import grid_modes, ring_modes, toy

        data = cfg["data"]
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
                        real.data, modes, std
                    ),
                },
            },
        }
    if not np.all(np.isfinite(x)):
        raise CLIError(f"the samples of {cfg['data']!r} hold NaN or infinite values")
    out: dict[str, Any] = {}
    if kind == "mnist":
        from .data import load_mnist_arrays

        m = min(len(x), REFERENCE_N)
        key = ("mnist-test", m)
        if key not in _REAL_FEATURES:
            real, _ = load_mnist_arrays(train=False)
            _REAL_FEATURES[key] = M.features(real[:m])
        out["real_set"] = f"the first {m:,} MNIST test images"
        if "test split" in tr.config.get("data_description", ""):
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
        key = (f"data:{cfg['data']}", m)
        if key not in _REAL_FEATURES:
            pick = np.sort(np.random.default_rng(0).permutation(tr.data.shape[0])[:m])
            _REAL_FEATURES[key] = M.features(tr.data[pick])
        out["real_set"] = f"{m:,} training images ({cfg['data']}; reference points: MNIST only)"
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


def _expand(paths: Sequence[str]) -> tuple[list[str], Path | None]:
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


def _cmd_evaluate(a: argparse.Namespace) -> int:
    if a.n is not None and a.n < 1:
        raise CLIError(f"--n must be positive, got {a.n}")
    paths, folder = _expand(a.runs)
    if len(paths) == 1 and folder is None:
        res = evaluate_run(paths[0], a.n, a.seed)
        _print_result(res)
        print(_dumps(res))
        return 0
    _check_same_data(paths)
    entries = []
    reference = None
    for p in paths:
        print(f"evaluating {p}", flush=True)
        res = evaluate_run(p, a.n, a.seed)
        reference = res.get("reference", reference)
        entries.append({"run": p, **{k: v for k, v in res.items() if k != "reference"}})
    doc: dict[str, Any] = {"command": "tapegrad evaluate"}
    if folder is not None:  # the same layout as `train --seeds` writes
        from .gan.runs import read_config

        cfgs = [
            read_config(Path(p).parent.parent)["cli"] for p in (e["checkpoint"] for e in entries)
        ]
        doc["config"] = cfgs[0]
        doc["seeds"] = [c["seed"] for c in cfgs]
    doc.update(_summary_doc(entries, reference))
    names = [Path(p).name for p in paths]
    labels = names if len(set(names)) == len(names) else list(paths)
    print(_summary_table(labels, doc))
    print(_dumps(doc))
    if folder is not None:
        _write_json(folder / SUMMARY, doc)
        print(f"wrote {folder / SUMMARY}", flush=True)
    return 0


def _check_same_data(paths: Sequence[str]) -> None:
    """Averages only make sense over runs on the same data: checked from the runs' configs
    before anything is evaluated."""
    from .gan.runs import find_checkpoint, read_config

    seen: dict[str, str] = {}
    for p in paths:
        try:
            _, run = find_checkpoint(p)
        except FileNotFoundError as e:
            raise CLIError(f"{p} is not a run folder or checkpoint: {e}") from e
        if run is None:
            continue
        try:
            data = read_config(run)["cli"]["data"]
        except (FileNotFoundError, KeyError, ValueError):
            continue
        seen.setdefault(data, p)
        if len(seen) > 1:
            (d1, p1), (d2, p2) = list(seen.items())[:2]
            raise CLIError(f"cannot average runs on different data: {p1} ({d1}) and {p2} ({d2})")


# ------------------------------------------------------------------ summaries and tables
def summarize(results: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """``{metric: {"mean", "std", "n_runs"}}`` over runs' metric dicts, by
    :func:`~tapegrad.gan.metrics.mean_std_over_seeds` (sample std, ddof 1). A NaN value
    (reverse KL with no high-quality sample) is left out; ``n_runs`` counts the others."""
    from .gan.metrics import mean_std_over_seeds

    out: dict[str, dict[str, float]] = {}
    for k in results[0] if results else ():
        vals = [r.get(k) for r in results]
        ok = [v for v in vals if _is_number(v) and math.isfinite(v)]
        mean = std = math.nan
        if ok:
            mean, std = mean_std_over_seeds([{k: v} for v in ok])[k]
        out[k] = {"mean": mean, "std": std, "n_runs": len(ok)}
    return out


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _summary_doc(entries: list[dict[str, Any]], reference: Any) -> dict[str, Any]:
    scored = [e["metrics"] for e in entries if e.get("metrics")]
    doc: dict[str, Any] = {"runs": entries, "summary": summarize(scored)}
    if reference is not None:
        doc["reference"] = reference
    return doc


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


def _print_result(res: dict[str, Any]) -> None:
    info = {k: v for k, v in res.items() if k not in ("metrics", "reference", "warnings")}
    width = max(len(k) for k in info)
    for k, v in info.items():
        print(f"{k:<{width}}  {v:.4f}" if isinstance(v, float) else f"{k:<{width}}  {v}")
    if res["metrics"]:
        rows = [("this run", res["metrics"]), *_reference_rows(res.get("reference"))]
        print(_table(rows, _metric_keys(res["metrics"])))
    for w in res.get("warnings", ()):
        print(f"note: {w}")


def _summary_table(labels: Sequence[str], doc: dict[str, Any]) -> str:
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


def _one_line(metrics: dict[str, Any]) -> str:
    if not metrics:
        return "no metrics for this data"
    return ", ".join(f"{_FORMATS[k][0]} {_cell(k, metrics[k])}" for k in _metric_keys(metrics))


def _json_safe(v: Any) -> Any:
    """``v`` with NumPy scalars as Python numbers and NaN/infinities as None (strict JSON)."""
    if isinstance(v, dict):
        return {str(k): _json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    if isinstance(v, (np.integer, np.bool_)):
        return v.item()
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    return v


def _dumps(doc: dict[str, Any]) -> str:
    return json.dumps(_json_safe(doc), indent=2, allow_nan=False)


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    from ._atomic import atomic_open

    with atomic_open(path, "w") as f:
        f.write(_dumps(doc) + "\n")


# ------------------------------------------------------------------ parser
def _parser() -> argparse.ArgumentParser:
    from .gan.losses import LOSSES
    from .gan.models import MODELS

    p = argparse.ArgumentParser(prog="tapegrad", description="Train and inspect GANs.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a GAN (default: the seed's MNIST GAN)")
    t.add_argument(
        "--model",
        default=None,
        metavar="NAME",
        help=f"one of {', '.join(MODELS)} (default mlp; mixture for ring/grid); "
        "cgan-mlp, cdcgan and projection are conditional and need labelled data (mnist)",
    )
    t.add_argument(
        "--loss", default="ns", metavar="NAME", help=f"one of {', '.join(LOSSES)} (default ns)"
    )
    t.add_argument("--data", default="mnist", help=DATA_CHOICES)
    t.add_argument(
        "--spectral-norm", action="store_true", help="spectral normalisation on D's layers"
    )
    t.add_argument("--epochs", type=int, default=None, help="default: about 9,600 steps")
    t.add_argument("--steps", type=int, default=None, help="stop after this many steps")
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--lr-g", type=float, default=2e-4)
    t.add_argument("--lr-d", type=float, default=2e-4)
    t.add_argument(
        "--betas",
        type=_betas,
        default=(0.5, 0.999),
        metavar="B1,B2",
        help="Adam betas of both players (default 0.5,0.999; WGAN-GP is usually run with 0.5,0.9)",
    )
    t.add_argument("--n-critic", type=int, default=1)
    t.add_argument("--ema", type=float, default=None, help="EMA decay of G's weights")
    t.add_argument("--z-dim", type=int, default=None)
    t.add_argument("--seed", type=int, default=0, help="seeds the weights, noise and data order")
    t.add_argument(
        "--seeds",
        type=int,
        default=1,
        metavar="K",
        help="K > 1: K runs with seeds SEED..SEED+K-1 into OUT/seed_<S>/, each evaluated; "
        "prints mean and std and writes OUT/summary.json",
    )
    t.add_argument(
        "--eval-n", type=int, default=None, metavar="N", help="samples per evaluation with --seeds"
    )
    t.add_argument("--out", default=None, help="run folder (default runs/<model>-<loss>-<time>)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument(
        "--recipe",
        choices=("dp",),
        default=None,
        help="dp: the differentially private conditional GAN on MNIST (uses --epsilon, "
        "--delta, --steps as D steps, --seed, --out, --data)",
    )
    t.add_argument(
        "--epsilon", type=float, default=10.0, help="privacy budget of --recipe dp (default 10)"
    )
    t.add_argument("--delta", type=float, default=1e-5, help="delta of --recipe dp (default 1e-5)")

    r = sub.add_parser("resume", help="continue a run from its last checkpoint")
    r.add_argument("run")
    r.add_argument("--epochs", type=int, default=None, help="train to this many epochs")
    r.add_argument("--steps", type=int, default=None)
    r.add_argument("--quiet", action="store_true")

    s = sub.add_parser("sample", help="draw samples from a run or checkpoint")
    s.add_argument("run", metavar="RUN_OR_CHECKPOINT")
    s.add_argument("--n", type=int, default=64)
    s.add_argument("--out", default=None)
    s.add_argument("--format", choices=("png", "npy"), default="png")
    s.add_argument("--seed", type=int, default=0)

    e = sub.add_parser(
        "evaluate",
        help="metrics with their reference points; mean and std over several runs",
    )
    e.add_argument(
        "runs",
        nargs="+",
        metavar="RUN_OR_CHECKPOINT",
        help="run folders, checkpoints, or a --seeds folder (then its summary.json is rewritten)",
    )
    e.add_argument(
        "--n",
        type=int,
        default=None,
        help="samples (default 10,000 images; 2,500 ring/grid points)",
    )
    e.add_argument("--seed", type=int, default=0, help="seed of the samples' noise")
    return p


_COMMANDS = {
    "train": _cmd_train,
    "resume": _cmd_resume,
    "sample": _cmd_sample,
    "evaluate": _cmd_evaluate,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tapegrad`` command with ``argv`` (default ``sys.argv[1:]``); returns the
    exit code."""
    args = _parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except CLIError as e:
        print(f"tapegrad: error: {e}", file=sys.stderr)
        return 2
    except FileNotFoundError as e:
        print(f"tapegrad: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
