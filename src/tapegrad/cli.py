"""The ``tapegrad`` command: train, resume, sample and evaluate GANs.

``tapegrad train`` with no arguments trains the seed's MNIST GAN (MLP generator and
discriminator, non-saturating loss, Adam 2e-4 with betas (0.5, 0.999), batch 64) on
the full MNIST training set when it is found, else on the 10,000 test images shipped
with tapegrad, for about 9,600 steps (a few minutes on two cores).

Exit codes: 0 success, 1 training diverged, 2 bad input (message on stderr),
130 interrupted (a checkpoint is written; ``tapegrad resume RUN`` continues).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["main", "load_data", "build_trainer", "CLIError"]

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
        raise CLIError(str(e)) from e
    state = load(ckpt)
    if not isinstance(state, dict) or "config" not in state:
        raise CLIError(f"{ckpt} is not a tapegrad GAN checkpoint")
    cfg = json.loads(state["config"]).get("cli")
    if cfg is None:
        raise CLIError(f"{ckpt} was not written by `tapegrad train`; load it with Trainer")
    tr = build_trainer(cfg, None)
    tr.load_state_dict(state)
    return tr, ckpt, cfg, run


# ------------------------------------------------------------------ commands
def _cmd_train(a: argparse.Namespace) -> int:
    data = a.data
    model = a.model or ("mixture" if data in ("ring", "grid") else "mlp")
    cfg: dict[str, Any] = {
        "model": model,
        "model_kwargs": {},
        "loss": a.loss,
        "data": data,
        "data_description": "",
        "z_dim": a.z_dim if a.z_dim is not None else (2 if model == "mixture" else 100),
        "batch_size": a.batch_size,
        "lr_g": a.lr_g,
        "lr_d": a.lr_d,
        "betas_g": [0.5, 0.999],
        "betas_d": [0.5, 0.999],
        "n_critic": a.n_critic,
        "ema": a.ema,
        "seed": a.seed,
        "epochs": a.epochs,
        "steps": a.steps,
    }
    if a.batch_size < 1:
        raise CLIError(f"--batch-size must be positive, got {a.batch_size}")
    out = Path(a.out) if a.out else Path("runs") / time.strftime(f"{model}-{a.loss}-%Y%m%d-%H%M%S")
    if (out / "checkpoints" / "last.safetensors").exists():
        raise CLIError(f"{out} already holds a run; use `tapegrad resume {out}` or another --out")
    tr = build_trainer(cfg, out, quiet=a.quiet)
    if cfg["epochs"] is None:
        cfg["epochs"] = max(1, round(DEFAULT_STEPS / len(tr.loader)))
    tr.config["epochs"] = cfg["epochs"]
    tr.config["cli"] = cfg
    tr.run.write_config(tr.config)
    print(f"run folder: {out}", flush=True)
    print(
        f"training {model} GAN ({a.loss} loss) on {tr.config['data_description']} for "
        f"{cfg['epochs']} epochs of {len(tr.loader)} steps"
        + (f" (at most {a.steps} steps)" if a.steps else ""),
        flush=True,
    )
    return _run(tr, cfg, out)


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


def _cmd_evaluate(a: argparse.Namespace) -> int:
    tr, ckpt, cfg, run = _model_from_checkpoint(a.run)
    gen = np.random.Generator(np.random.PCG64(a.seed))
    z = gen.standard_normal((a.n, tr.z_dim)).astype(tr.fixed_z.dtype)
    x = tr.generate(z=z).astype(np.float64)
    res: dict[str, Any] = {
        "checkpoint": str(ckpt),
        "step": tr.step,
        "epoch": tr.epoch,
        "n_samples": int(a.n),
        "sample_mean": float(x.mean()),
        "sample_std": float(x.std()),
        "sample_min": float(x.min()),
        "sample_max": float(x.max()),
    }
    try:
        from .gan import metrics
    except Exception as e:  # metrics are another module's work; report rather than fail
        metrics = None
        res["metrics"] = f"pending (tapegrad.gan.metrics not importable: {e})"
    if metrics is not None:
        _add_metrics(res, metrics, x, cfg)
    width = max(len(k) for k in res)
    for k, v in res.items():
        val = f"{v:.4f}" if isinstance(v, float) else str(v)
        print(f"{k:<{width}}  {val}")
    text = json.dumps(res, indent=2)
    print(text)
    if run is not None:
        from ._atomic import atomic_open

        with atomic_open(run / "evaluation.json", "w") as f:
            f.write(text + "\n")
    return 0


def _add_metrics(res: dict[str, Any], metrics: Any, x: np.ndarray, cfg: dict[str, Any]) -> None:
    if tuple(x.shape[1:]) == (1, 28, 28) and cfg["data"] == "mnist":
        from .data import load_mnist_arrays

        real, _ = load_mnist_arrays(train=False)
        res["fid_mnist_test"] = float(metrics.fid_mnist(x, real[: max(len(x), 2000)]))
        pred = metrics.predict(x)
        res["modes_covered"] = int(metrics.modes_covered(pred, n_classes=10))
        res["kl_to_uniform"] = float(metrics.kl_to_uniform(pred, 10))
    elif x.ndim == 2 and cfg["data"] in ("ring", "grid"):
        from .data import grid_modes, ring_modes

        modes, std = (ring_modes(), 0.01) if cfg["data"] == "ring" else (grid_modes(), 0.05)
        res.update(metrics.mixture_metrics(x, modes, std))
    else:
        res["metrics"] = "none for this data (FID needs MNIST-shaped samples)"


# ------------------------------------------------------------------ parser
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tapegrad", description="Train and inspect GANs.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a GAN (default: the seed's MNIST GAN)")
    t.add_argument("--model", default=None, help="mlp (default), dcgan, mixture, cgan-mlp, ...")
    t.add_argument("--loss", default="ns", help="minimax, ns (default), wgan, wgan-gp, ...")
    t.add_argument("--data", default="mnist", help=DATA_CHOICES)
    t.add_argument("--epochs", type=int, default=None, help="default: about 9,600 steps")
    t.add_argument("--steps", type=int, default=None, help="stop after this many steps")
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--lr-g", type=float, default=2e-4)
    t.add_argument("--lr-d", type=float, default=2e-4)
    t.add_argument("--n-critic", type=int, default=1)
    t.add_argument("--ema", type=float, default=None, help="EMA decay of G's weights")
    t.add_argument("--z-dim", type=int, default=None)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", default=None, help="run folder (default runs/<model>-<loss>-<time>)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")

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

    e = sub.add_parser("evaluate", help="sample statistics and metrics (FID for MNIST)")
    e.add_argument("run", metavar="RUN_OR_CHECKPOINT")
    e.add_argument("--n", type=int, default=2000)
    e.add_argument("--seed", type=int, default=0)
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
