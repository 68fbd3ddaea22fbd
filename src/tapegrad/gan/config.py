"""``RunConfig``: how a GAN run is made, validated once and stored in the run's ``config.json``.

A run folder's ``config.json`` holds ``{"format": "tapegrad.gan.RunConfig/1", "run": {...
the fields below ...}, "data_description": ..., "trainer": {...}}``. Run folders written
before this format (a ``"cli"`` entry) load too: their ``steps`` was the step target of
the original ``tapegrad train --steps``, which is what ``steps`` means here.

Error messages name the command-line flag of a field (``--lr-g``), since that is where
users set it; :data:`FLAGS` maps fields to flags.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .models import CONDITIONAL_MODELS, MODELS

__all__ = [
    "RunConfig",
    "ConfigError",
    "CONFIG_FORMAT",
    "OPTIMIZERS",
    "FLAGS",
    "read_run_config",
    "config_document",
]

CONFIG_FORMAT = "tapegrad.gan.RunConfig/1"
OPTIMIZERS = ("adam", "sgd", "rmsprop")
MIXTURE_DATA = ("ring", "grid")
#: ring/grid training points of run folders written before ``n_points`` was stored
LEGACY_N_POINTS = 10_000

FLAGS = {
    "model": "--model",
    "loss": "--loss",
    "data": "--data",
    "z_dim": "--z-dim",
    "batch_size": "--batch-size",
    "lr_g": "--lr-g",
    "lr_d": "--lr-d",
    "betas_g": "--betas",
    "betas_d": "--betas",
    "momentum": "--momentum",
    "optimizer": "--optimizer",
    "n_critic": "--n-critic",
    "ema": "--ema",
    "anneal": "--anneal",
    "recipe": "--recipe",
    "r1": "--r1",
    "seed": "--seed",
    "epochs": "--epochs",
    "steps": "--steps",
    "n_points": "--n-points",
    "model_kwargs": "--spectral-norm",
}


class ConfigError(ValueError):
    """A run configuration that cannot be used; the message names the flag or file."""


@dataclass
class RunConfig:
    """Everything ``tapegrad train`` needs to build and train a run.

    ``epochs`` None means "about :data:`~tapegrad.gan.trainer.DEFAULT_STEPS` steps",
    fixed once the data's batches per epoch are known; ``steps`` is the total step
    target (None: run all ``epochs``). ``data`` is ``mnist``, ``ring``, ``grid`` or an
    absolute path. ``anneal``: both learning rates fall linearly to 0 over this last
    fraction of the steps. ``recipe``: the name of the recipe the run started from
    (:mod:`tapegrad.gan.recipes`), a record only. ``n_points``: for ``ring``/``grid``,
    the size of the training set drawn with ``seed`` (PacGAN's 100,000; run folders
    written before this setting drew :data:`LEGACY_N_POINTS` and load with that).
    """

    model: str = "mlp"
    loss: str = "ns"
    data: str = "mnist"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    z_dim: int = 100
    batch_size: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas_g: tuple[float, float] = (0.5, 0.999)
    betas_d: tuple[float, float] = (0.5, 0.999)
    optimizer: str = "adam"
    momentum: float = 0.0
    n_critic: int = 1
    ema: float | None = None
    anneal: float = 0.0
    r1: float | None = None
    seed: int = 0
    epochs: int | None = None
    steps: int | None = None
    tensorboard: bool = False
    recipe: str | None = None
    n_points: int = 100_000

    def __post_init__(self) -> None:
        self.betas_g = tuple(float(b) for b in self.betas_g)  # type: ignore[assignment]
        self.betas_d = tuple(float(b) for b in self.betas_d)  # type: ignore[assignment]
        self.model_kwargs = dict(self.model_kwargs)
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first bad setting's flag."""
        from .losses import LOSSES

        if self.model not in MODELS:
            raise ConfigError(f"--model {self.model}: unknown model; valid: {', '.join(MODELS)}")
        if self.loss not in LOSSES:
            raise ConfigError(f"--loss {self.loss}: unknown loss; valid: {', '.join(LOSSES)}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(
                f"--optimizer {self.optimizer}: unknown optimizer; valid: {', '.join(OPTIMIZERS)}"
            )
        for name in ("z_dim", "batch_size", "n_critic", "n_points"):
            _positive(self, name, int)
        for name in ("epochs", "steps"):
            if getattr(self, name) is not None:
                _positive(self, name, int)
        for name in ("lr_g", "lr_d"):
            _positive(self, name, float)
        for name in ("betas_g", "betas_d"):
            b = getattr(self, name)
            if len(b) != 2 or not all(0.0 <= x < 1.0 for x in b):
                raise ConfigError(f"--betas wants two numbers in [0, 1), got {list(b)}")
        if not (math.isfinite(self.momentum) and 0.0 <= self.momentum < 1.0):
            raise ConfigError(f"--momentum must be in [0, 1), got {self.momentum}")
        if self.ema is not None and not 0.0 <= self.ema < 1.0:
            raise ConfigError(f"--ema must be a decay in [0, 1), got {self.ema}")
        a = self.anneal
        if isinstance(a, bool) or not (isinstance(a, (int, float)) and 0.0 <= a < 1.0):
            raise ConfigError(f"--anneal must be a fraction in [0, 1), got {self.anneal!r}")
        if self.r1 is not None:
            _positive(self, "r1", float)
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ConfigError(f"--seed must be an integer, got {self.seed!r}")

    @property
    def conditional(self) -> bool:
        """Whether the models take labels."""
        return self.model in CONDITIONAL_MODELS

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON-ready values (tuples as lists)."""
        d = dataclasses.asdict(self)
        d["betas_g"], d["betas_d"] = list(self.betas_g), list(self.betas_d)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "config") -> RunConfig:
        """A validated config from :meth:`to_dict`'s output; ConfigError naming ``where``
        and the bad entry for unknown or ill-typed entries."""
        if not isinstance(d, dict):
            raise ConfigError(f"{where}: the run settings are not a JSON object")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"{where}: unknown run settings {', '.join(unknown)}")
        d = {"n_points": LEGACY_N_POINTS, **d}  # stored by every run since it existed
        try:
            return cls(**d)
        except ConfigError as e:
            raise ConfigError(f"{where}: {e}") from None
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{where}: malformed run settings ({e})") from None


def _positive(cfg: RunConfig, name: str, kind: type) -> None:
    v = getattr(cfg, name)
    ok = isinstance(v, (int, float)) and not isinstance(v, bool)
    if ok and kind is int:
        ok = isinstance(v, int)
    if not ok or not math.isfinite(v) or v <= 0:
        what = "a positive integer" if kind is int else "a positive number"
        raise ConfigError(f"{FLAGS.get(name, name)} must be {what}, got {v!r}")


def config_document(cfg: RunConfig, data_description: str) -> dict[str, Any]:
    """The ``config.json`` content for ``cfg`` (the trainer adds its ``"trainer"`` entry)."""
    return {"format": CONFIG_FORMAT, "run": cfg.to_dict(), "data_description": data_description}


_LEGACY_KEYS = ("data_description",)  # stored inside the old "cli" entry; not a setting


def read_run_config(run: str | os.PathLike[str]) -> tuple[RunConfig, dict[str, Any]]:
    """``(RunConfig, the whole config.json document)`` of a run folder.

    Raises ConfigError naming ``RUN/config.json`` when it is missing, not JSON, or holds
    no valid run settings (the current format and the older ``"cli"`` entry both load).
    """
    p = Path(run) / "config.json"
    if not p.is_file():
        raise ConfigError(f"{run} is not a run folder: {p} is missing")
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{p} is damaged: not valid JSON ({e})") from None
    return config_from_document(doc, str(p)), doc


def config_from_document(doc: Any, where: str) -> RunConfig:
    """The RunConfig inside a ``config.json`` document (current or older format)."""
    if not isinstance(doc, dict):
        raise ConfigError(f"{where} is damaged: not a JSON object")
    if doc.get("format") == CONFIG_FORMAT and "run" in doc:
        return RunConfig.from_dict(doc["run"], where)
    legacy = doc.get("cli")
    if isinstance(legacy, dict):
        settings = {k: v for k, v in legacy.items() if k not in _LEGACY_KEYS}
        return RunConfig.from_dict(settings, where)
    raise ConfigError(f"{where} holds no run settings: it was not written by `tapegrad train`")
