"""The private GAN recipe as the command line runs it: ``tapegrad train --recipe dp --epsilon 10``.

The recipe is :class:`~tapegrad.privacy.DPGANConfig`'s defaults trained on
MNIST's 60,000 training images. The run folder gets ``config.json`` (the
recipe, epsilon and delta spent, the noise multiplier, sampling rate, steps,
wall and CPU time), ``G.safetensors``, ``D.safetensors``, ``log.jsonl`` and
``samples.png`` (ten samples of each digit, one digit per column).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from .gan import DPGANConfig, load_mnist_for_dp, synthesize, train_dp_gan

__all__ = ["run_dp_recipe"]


def run_dp_recipe(
    epsilon: float | None,
    out: str | os.PathLike[str],
    *,
    delta: float = 1e-5,
    d_steps: int | None = None,
    seed: int = 0,
    data_root: str | os.PathLike[str] | None = None,
    log: Any = print,
    **overrides: Any,
) -> dict[str, Any]:
    """Train the private recipe on MNIST into ``out``; returns the run's report.

    Args:
        epsilon: the budget (None: the same recipe without privacy).
        out: the run folder (created).
        delta: the delta of (epsilon, delta)-DP.
        d_steps: D steps the budget is spread over (default: the recipe's).
        seed: seeds the models, the batches and the noise.
        data_root: where MNIST is looked for (default ``$TAPEGRAD_DATA``, then the cache).
        **overrides: other :class:`DPGANConfig` fields.
    """
    cfg = replace(DPGANConfig(), epsilon=epsilon, delta=delta, seed=seed, **overrides)
    if d_steps is not None:
        cfg = replace(cfg, d_steps=d_steps)
    cfg.check()
    images, labels = load_mnist_for_dp(data_root)
    G, _, report = train_dp_gan(cfg, images, labels, out_dir=out, log=log)
    from ..gan.runs import image_grid, save_png

    grid, _ = synthesize(G, 10, int(labels.max()) + 1, seed=seed)
    n_classes = int(labels.max()) + 1
    grid = grid.reshape((n_classes, 10) + grid.shape[1:]).swapaxes(0, 1)
    tiles = (grid.reshape((-1,) + grid.shape[2:]) + 1) / 2  # [-1, 1] -> [0, 1]
    save_png(Path(out) / "samples.png", image_grid(tiles, n_classes))
    return report
