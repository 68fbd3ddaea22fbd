"""Named GAN training recipes: settings that were measured to work, as plain data.

A :class:`Recipe` holds the values it gives a run (model, loss, data, optimiser,
batch, length, EMA, schedule) and what they measured (metrics and time, from the
document named in ``source``). ``tapegrad train --recipe NAME`` starts from
:meth:`Recipe.config` (a :class:`~tapegrad.gan.config.RunConfig`) and lets any flag
given beside it override a value; ``tapegrad recipes`` lists :data:`RECIPES`.

The metrics quoted are those of the recorded runs, on the machine and under the load
their documents describe; ``fd`` is the Fréchet distance in the shipped classifier's
features to the 10,000 MNIST test images (lower is better), at the sample count
``fd_n``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .config import RunConfig

__all__ = ["Recipe", "RECIPES", "format_recipes", "get_recipe", "recipe_for_data"]


def _frozen(d: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(d or {}))


@dataclass(frozen=True)
class Recipe:
    """A named set of training settings and the measurements behind it.

    ``batch_size`` counts samples per step (for a packed discriminator, points:
    ``pack`` of them make one D input). ``steps`` caps the run; ``epochs`` (None: as
    many as ``steps`` needs) bounds it too. ``anneal``: the final fraction of the steps
    over which both learning rates fall linearly to 0. ``metrics``: measured values
    (floats or short strings); ``time``: what one run cost; ``source``: the document
    with the commands and the full tables.
    """

    name: str
    description: str
    model: str
    loss: str = "ns"
    data: str = "mnist"
    model_kwargs: Mapping[str, Any] = field(default_factory=_frozen)
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    batch_size: int = 64
    steps: int | None = None
    epochs: int | None = None
    n_critic: int = 1
    ema: float | None = None
    anneal: float = 0.0
    z_dim: int = 100
    metrics: Mapping[str, Any] = field(default_factory=_frozen)
    time: str = ""
    source: str = ""

    def settings(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The run settings this recipe gives, as :class:`RunConfig` field values.

        ``overrides`` (None values ignored) replace single settings; ``betas`` sets
        both players' betas and ``model_kwargs`` is merged into the recipe's. Naming
        another model drops the recipe's model arguments and noise size (which belong
        to its model): z is then 2-D for ``mixture``, else 100-D. ValueError naming
        unknown settings.
        """
        over = {k: v for k, v in (overrides or {}).items() if v is not None}
        cfg = self._values()
        if over.get("model", self.model) != self.model:
            cfg["model_kwargs"] = {}
            cfg["z_dim"] = 2 if over["model"] == "mixture" else 100
        if "betas" in over:
            cfg["betas_g"] = cfg["betas_d"] = tuple(over.pop("betas"))
        cfg["model_kwargs"].update(over.pop("model_kwargs", {}))
        unknown = sorted(set(over) - set(cfg))
        if unknown:
            raise ValueError(f"Recipe.config: unknown settings {unknown}")
        cfg.update(over)
        return cfg

    def config(self, overrides: Mapping[str, Any] | None = None, **fields: Any) -> RunConfig:
        """The validated :class:`RunConfig` of :meth:`settings` (``overrides``), with
        ``fields`` (settings no recipe holds: ``seed``, ``tensorboard``, ...) added;
        :class:`~tapegrad.gan.config.ConfigError` naming the flag of a bad value."""
        return RunConfig(**self.settings(overrides), **fields)

    def _values(self) -> dict[str, Any]:
        return {
            "recipe": self.name,
            "model": self.model,
            "model_kwargs": dict(self.model_kwargs),
            "loss": self.loss,
            "data": self.data,
            "z_dim": self.z_dim,
            "batch_size": self.batch_size,
            "lr_g": self.lr_g,
            "lr_d": self.lr_d,
            "betas_g": tuple(self.betas),
            "betas_d": tuple(self.betas),
            "n_critic": self.n_critic,
            "ema": self.ema,
            "anneal": self.anneal,
            "epochs": self.epochs,
            "steps": self.steps,
        }

    def summary(self) -> str:
        """One line of the measured metrics and time, e.g. for ``tapegrad recipes``."""
        parts = [f"{k} {v}" for k, v in self.metrics.items()]
        return "; ".join(parts) + (f" ({self.time})" if self.time else "")


_MIXTURE = _frozen(
    {
        "pack": 2,
        "g_batch_norm": False,
        "g_hidden": 128,
        "g_n_hidden": 3,
        "d_hidden": 128,
        "d_n_hidden": 3,
    }
)


def _mixture(data: str, lr: float, metrics: Mapping[str, Any]) -> Recipe:
    return Recipe(
        name=f"mixture-{data}",
        description=f"the 2-D {data} record: PacGAN2, G without BatchNorm, learning rate annealed",
        model="mixture",
        data=data,
        model_kwargs=_MIXTURE,
        lr_g=lr,
        lr_d=lr,
        betas=(0.0, 0.9),
        batch_size=512,  # 256 packed pairs
        steps=24_000,
        anneal=0.5,
        z_dim=2,
        metrics=_frozen({**metrics, "seeds": 5}),
        time="24,000 steps, about 190 CPU-s per run, one thread",
        source="docs/gan_mixture.md",
    )


RECIPES: Mapping[str, Recipe] = _frozen(
    {
        r.name: r
        for r in (
            Recipe(
                name="default",
                description="what `tapegrad train` runs on MNIST: the conditional DCGAN at "
                "half width (ngf = ndf = 32), sampled with every digit in equal shares",
                model="cdcgan",
                model_kwargs=_frozen({"ngf": 32, "ndf": 32}),
                steps=3000,
                metrics=_frozen(
                    {
                        "fd": "70.5 ± 2.8",
                        "fd_n": 10_000,
                        "PyTorch DCGAN fd, same CPU time": "222.1 ± 3.6",
                        "conf>=0.9": "0.843 ± 0.021",
                        "rarest digit": "6.3% or more",
                        "label accuracy": "0.896 ± 0.027",
                        "seeds": 3,
                    }
                ),
                time="3,000 steps, 336-367 CPU-s on a busy machine, one thread",
                source="docs/gan_quality.md",
            ),
            Recipe(
                name="mlp",
                description="the backpropagation and GANs tutorial's MLP GAN; what "
                "`tapegrad train --data FOLDER` (unlabelled images) starts from",
                model="mlp",
                metrics=_frozen(
                    {"fd": "981.1 ± 88.0", "fd_n": 10_000, "digits": "9.3 ± 0.6", "seeds": 3}
                ),
                time="10 epochs = 9,370 steps, about 7 CPU ms a step",
                source="docs/gan_quality.md",
            ),
            Recipe(
                name="dcgan",
                description="DCGAN (BatchNorm, batch 64, no EMA) for 2,000 steps",
                model="dcgan",
                steps=2000,
                metrics=_frozen(
                    {"fd": 245.6, "fd_n": 10_000, "digits": 10, "conf>=0.9": 0.583, "seeds": 1}
                ),
                time="2,000 steps, 389 CPU-s",
                source="docs/gan_quality.md",
            ),
            Recipe(
                name="wgan-gp",
                description="WGAN-GP with the DCGAN (critic without BatchNorm), 5 critic steps",
                model="dcgan",
                loss="wgan-gp",
                model_kwargs=_frozen({"batch_norm": False}),
                lr_g=1e-4,
                lr_d=1e-4,
                betas=(0.5, 0.9),
                n_critic=5,
                steps=10_000,
                metrics=_frozen({"fd": 183.7, "fd_n": 10_000, "digits": 10, "conf>=0.9": 0.53}),
                time="10,000 critic steps, 2,421 CPU-s",
                source="docs/gan_gallery.md",
            ),
            Recipe(
                name="hinge-sn",
                description="hinge loss with spectral normalisation on every layer of D",
                model="dcgan",
                loss="hinge",
                model_kwargs=_frozen({"spectral_norm": True}),
                steps=2000,
                metrics=_frozen({"fd": 242.7, "fd_n": 10_000, "digits": 10}),
                time="2,000 steps, 514 CPU-s",
                source="docs/gan_gallery.md",
            ),
            Recipe(
                name="cdcgan",
                description="conditional DCGAN at half width (ngf = ndf = 32): labelled digits",
                model="cdcgan",
                model_kwargs=_frozen({"ngf": 32, "ndf": 32}),
                steps=2000,
                metrics=_frozen(
                    {"fd": 143.0, "fd_n": 2000, "conf>=0.9": 0.773, "label accuracy": 0.844}
                ),
                time="2,000 steps, 409 CPU-s",
                source="docs/gan_gallery.md",
            ),
            # lr 1e-3 left the grid's centre column empty in one of 5 runs (seed 3);
            # the metrics are the means of `tapegrad train --data grid|ring --seeds 5`
            _mixture(
                "grid",
                5e-4,
                {"modes": "25.0 / 25", "HQ": "95.2% (lowest run 89.7%)", "reverse KL": 0.007},
            ),
            _mixture("ring", 1e-3, {"modes": "8.0 / 8", "HQ": "97.6%", "reverse KL": 0.002}),
        )
    }
)


def format_recipes() -> str:
    """Every recipe: its name, description, settings and measured metrics (text)."""
    lines = []
    for r in RECIPES.values():
        kw = ", ".join(f"{k}={v}" for k, v in r.model_kwargs.items())
        length = (
            f"{r.steps} steps"
            if r.steps
            else f"{r.epochs} epoch(s)"
            if r.epochs
            else "about 9,600 steps"
        )
        extra = [f"EMA {r.ema}"] if r.ema is not None else []
        extra += [f"anneal {r.anneal}"] if r.anneal else []
        extra += [f"n_critic {r.n_critic}"] if r.n_critic != 1 else []
        lines += [
            f"{r.name}: {r.description}",
            f"    {r.model}{f' ({kw})' if kw else ''}, {r.loss} loss, data {r.data}, batch "
            f"{r.batch_size}, Adam lr {r.lr_g:g}/{r.lr_d:g} betas {r.betas}, {length}"
            + "".join(f", {e}" for e in extra),
            f"    measured: {r.summary()} [{r.source}]",
        ]
    return "\n".join(lines)


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``; ValueError listing the valid names otherwise."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; valid recipes: {', '.join(RECIPES)}")
    return RECIPES[name]


def recipe_for_data(data: str) -> Recipe:
    """The recipe a run on ``data`` starts from when none is named: ``default`` for
    ``mnist``, the 2-D record for ``ring``/``grid``, and ``mlp`` for a folder of images
    or an array file (no labels for a conditional model, any image size)."""
    if data == "mnist":
        return RECIPES["default"]
    return RECIPES.get(f"mixture-{data}", RECIPES["mlp"])
