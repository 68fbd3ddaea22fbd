"""From a :class:`~tapegrad.gan.config.RunConfig` to a trained run, and back from a run
folder or checkpoint to a trainer: what ``tapegrad train``, ``resume``, ``sample`` and
``evaluate`` do, without the command line.

Bad input raises a ``ValueError`` subclass whose one-line message names the file or
flag: :class:`RunError` here, :class:`~tapegrad.gan.config.ConfigError`,
:class:`~tapegrad.data.files.DataError`, :class:`~tapegrad.gan.checkpoint.CheckpointError`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .. import random as _random
from ..data.files import load_dataset
from .checkpoint import CheckpointError, first_non_finite, load_checkpoint
from .config import (
    MIXTURE_DATA,
    ConfigError,
    RunConfig,
    config_document,
    config_from_document,
    read_run_config,
)
from .losses import get_loss
from .models import DCGAN_D_MODELS, build_models
from .runs import find_checkpoint
from .trainer import Trainer

__all__ = [
    "RunError",
    "OpenedRun",
    "DEFAULT_STEPS",
    "default_config",
    "build_trainer",
    "fix_epochs",
    "open_run",
    "prepare_resume",
    "resume_trainer",
]

DEFAULT_STEPS = 9600


class RunError(ValueError):
    """A run folder or checkpoint that cannot be used as asked; the message names it."""


def default_config(
    data: str = "mnist",
    model: str | None = None,
    loss: str = "ns",
    spectral_norm: bool = False,
    z_dim: int | None = None,
    **settings: Any,
) -> RunConfig:
    """The RunConfig ``tapegrad train`` makes: the model defaults to ``mixture`` for
    ring/grid data and ``mlp`` otherwise, ``z_dim`` to 2 or 100; a path in ``data`` is
    made absolute (so resume works from any folder); with ``wgan-gp`` a DCGAN-style D
    has no batch norm (the gradient penalty is per sample)."""
    model = model or ("mixture" if data in MIXTURE_DATA else "mlp")
    if data not in ("mnist", *MIXTURE_DATA):
        data = str(Path(data).expanduser().absolute())
    kwargs: dict[str, Any] = {}
    if spectral_norm:
        kwargs["spectral_norm"] = True
    if loss == "wgan-gp" and model in DCGAN_D_MODELS:
        kwargs["batch_norm"] = False
    z = z_dim if z_dim is not None else (2 if model == "mixture" else 100)
    return RunConfig(
        model=model, loss=loss, data=data, model_kwargs=kwargs, z_dim=z, **settings
    )  # fmt: skip


def build_trainer(
    cfg: RunConfig, out_dir: str | Path | None, quiet: bool = True, **trainer_kw: Any
) -> tuple[Trainer, RunConfig]:
    """``(trainer, cfg with epochs fixed)`` for ``cfg``: the data loaded, the models built
    and seeded; with ``out_dir`` the run folder's ``config.json`` is written (once)."""
    x, labels, what = load_dataset(cfg.data, cfg.seed, cfg.n_points)
    cfg = fix_epochs(cfg, max(1, x.shape[0] // cfg.batch_size))
    shape = tuple(x.shape[1:])
    n_classes = None
    if cfg.conditional:
        if labels is None:
            raise ConfigError(f"--model {cfg.model} is conditional and needs labelled data (mnist)")
        n_classes = int(labels.max()) + 1
        trainer_kw.setdefault("n_samples", n_classes**2)  # the grid's row r is label r
    _random.manual_seed(cfg.seed)
    try:
        G, D = build_models(cfg.model, shape, cfg.z_dim, n_classes, **cfg.model_kwargs)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"--model {cfg.model} cannot make samples of shape {shape}: {e}") from e
    try:
        tr = Trainer(
            G,
            D,
            get_loss(cfg.loss, cfg.r1),
            x,
            z_dim=cfg.z_dim,
            batch_size=cfg.batch_size,
            lr_g=cfg.lr_g,
            lr_d=cfg.lr_d,
            betas_g=cfg.betas_g,
            betas_d=cfg.betas_d,
            optimizer=cfg.optimizer,
            momentum=cfg.momentum,
            n_critic=cfg.n_critic,
            ema_decay=cfg.ema,
            anneal=cfg.anneal,
            seed=cfg.seed,
            out_dir=out_dir,
            labels=labels if cfg.conditional else None,
            quiet=quiet,
            config=config_document(cfg, what),
            **trainer_kw,
        )
    except TypeError as e:
        raise ConfigError(f"--data {cfg.data}: {e}") from e
    except ValueError as e:
        if "batch" in str(e):
            raise ConfigError(f"--batch-size {cfg.batch_size}: {e}") from e
        raise ConfigError(f"--data {cfg.data}: {e}") from e
    return tr, cfg


def fix_epochs(cfg: RunConfig, batches_per_epoch: int) -> RunConfig:
    """``cfg`` with ``epochs`` set when it was None: about :data:`DEFAULT_STEPS` steps,
    or as many epochs as ``cfg.steps`` needs when that is more."""
    if cfg.epochs is not None:
        return cfg
    need = math.ceil((cfg.steps or 0) / batches_per_epoch)
    return replace(cfg, epochs=max(1, round(DEFAULT_STEPS / batches_per_epoch), need))


def prepare_resume(
    run: str | Path, steps: int | None = None, more: int | None = None, epochs: int | None = None
) -> tuple[RunConfig, int]:
    """``(config, checkpoint step)`` for resuming ``run`` with a new target.

    ``steps`` is the new total step target, ``more`` adds steps to the checkpoint's step,
    ``epochs`` the new epoch count; without them the stored targets hold. ConfigError
    or RunError naming the flag or file."""
    cfg, _ = read_run_config(run)
    ckpt, _ = _find(run)
    step = int(_load_verified(ckpt).get("step", 0))
    if steps is not None and more is not None:
        raise ConfigError("--steps and --more contradict each other; give one")
    if more is not None:
        if more < 1:
            raise ConfigError(f"--more must be a positive number of steps, got {more}")
        steps = step + more
    if steps is not None:
        if steps < 1:
            raise ConfigError(f"--steps must be a positive integer, got {steps}")
        if steps <= step:
            raise ConfigError(
                f"--steps {steps} is the total step target, and {run} is already at step "
                f"{step}; give a larger total, or --more N for N more steps"
            )
        cfg = replace(cfg, steps=steps)
    if epochs is not None:
        cfg = replace(cfg, epochs=epochs)
    return cfg, step


@dataclass
class OpenedRun:
    """A trainer restored from a checkpoint (for sampling and evaluation)."""

    trainer: Trainer
    checkpoint: Path
    config: RunConfig
    run: Path | None
    data_description: str


def _find(path: str | Path) -> tuple[Path, Path | None]:
    try:
        return find_checkpoint(path)
    except FileNotFoundError as e:
        raise RunError(f"{path} is not a run folder or checkpoint: {e}") from None


def _load_verified(ckpt: Path) -> dict[str, Any]:
    state = load_checkpoint(ckpt)
    if "config" not in state or "G" not in state:
        raise CheckpointError(f"{ckpt} is not a tapegrad GAN trainer checkpoint")
    return state


def open_run(path: str | Path, check_finite: bool = True) -> OpenedRun:
    """The trainer of a run folder or checkpoint file, with the checkpoint's weights.

    Raises RunError/CheckpointError/ConfigError naming the file: not a run, damaged,
    written by other code, from another model than its config describes, or (with
    ``check_finite``) holding NaN or infinite weights in G or its EMA.
    """
    ckpt, run = _find(path)
    state = _load_verified(ckpt)
    try:
        doc = json.loads(state["config"])
    except (TypeError, json.JSONDecodeError):
        raise CheckpointError(f"checkpoint {ckpt} is damaged: its config is not JSON") from None
    if not isinstance(doc, dict) or ("run" not in doc and "cli" not in doc):
        raise RunError(f"{ckpt} was not written by `tapegrad train`; load it with Trainer")
    cfg = config_from_document(doc, f"the config stored in {ckpt}")
    if check_finite:
        bad = first_non_finite({"G": state["G"], "ema": state.get("ema")})
        if bad is not None:
            raise RunError(
                f"checkpoint {ckpt} holds NaN or infinite weights ({bad}); the run diverged "
                f"before this checkpoint, so its samples would be meaningless"
            )
    tr, cfg = build_trainer(cfg, None)
    try:
        tr.load_state_dict(state)
    except (ValueError, KeyError, RuntimeError, TypeError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise RunError(
            f"checkpoint {ckpt} does not fit the {cfg.model} model its config describes: {first}"
        ) from None
    what = doc.get("data_description", "")
    return OpenedRun(tr, ckpt, cfg, run, what)


def resume_trainer(
    run: str | Path, cfg: RunConfig, quiet: bool = True
) -> tuple[Trainer, RunConfig]:
    """``(trainer, cfg)`` on run folder ``run`` with its last checkpoint loaded."""
    ckpt, _ = _find(run)
    tr, cfg = build_trainer(cfg, run, quiet=quiet)
    try:
        tr.load_checkpoint(ckpt)
    except CheckpointError:
        raise
    except (ValueError, KeyError, RuntimeError, TypeError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise RunError(
            f"checkpoint {ckpt} does not fit the {cfg.model} model of {run}/config.json: {first}"
        ) from None
    return tr, cfg
